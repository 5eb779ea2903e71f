"""`migo dni`, `tipo-cambio`, `representantes`, `cuenta`, their client methods, the credit check.

Commands run in-process (``CliRunner``) against the real simulator, and count
what reached it: bad input is refused with exit 2, one line and not one
request; answers are cached as SPEC §3 says. The client methods are also
driven against a faked network (aioresponses) for the shapes the simulator
never sends.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from aioresponses import aioresponses
from typer.testing import CliRunner, Result

from migo_cli.answers import AccountInfo, ExchangeRate
from migo_cli.cache import ResultCache
from migo_cli.cli import app
from migo_cli.client import MigoClient
from migo_cli.config import CacheTTL, Retry
from migo_cli.dialects import V1, Operation
from migo_cli.exceptions import (
    AuthenticationError,
    InvalidResponseError,
    InvalidValueError,
    NotFoundError,
    ServerError,
)
from migo_cli.models import (
    Origin,
    Status,
    check_dni,
    parse_date,
    today_in_lima,
)
from migo_cli.simulator import (
    DNI_EXISTE,
    DNI_NO_EXISTE,
    RUC_ACTIVO_HABIDO,
    RUC_DIGITO_INVALIDO,
    RUC_NO_EXISTE,
    SimulatorThread,
)
from tests.conftest import TOKEN, FakeClock, make_rucs

runner = CliRunner()

EP_DNI = V1.path(Operation.DNI)
EP_REPRESENTATIVES = V1.path(Operation.REPRESENTATIVES)
EP_LATEST = V1.path(Operation.EXCHANGE_LATEST)
EP_DATE = V1.path(Operation.EXCHANGE_DATE)
EP_RANGE = V1.path(Operation.EXCHANGE_RANGE)
EP_ACCOUNT = V1.path(Operation.ACCOUNT)
BASE = "https://api.migo.pe"
PAST = "2024-05-31"


pytestmark = pytest.mark.usefixtures("restore_migo_logger")


def migo(*args: str) -> Result:
    return runner.invoke(app, list(args))


def against(sim: SimulatorThread, *args: str, token: str = TOKEN) -> Result:
    return migo(*args, "--base-url", sim.base_url, "--token", token)


def calls(sim: SimulatorThread, endpoint: str) -> int:
    return sim.stats.by_endpoint.get(endpoint, 0)


def assert_usage_error(result: Result, *fragments: str) -> None:
    """Exit 2 on purpose: one ``Error:`` line naming the problem, no traceback, no stdout."""
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr.replace("\n", " ")


# -- migo dni -------------------------------------------------------------------------


def test_dni_json_found(env: Path, sim: SimulatorThread) -> None:
    result = against(sim, "dni", DNI_EXISTE, "--json")
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["dni"] == DNI_EXISTE
    assert record["estado_consulta"] == "valido"
    assert record["nombre"].endswith("SIMULADO")
    assert record["origen"] == "api"
    assert calls(sim, EP_DNI) == 1


def test_dni_exits_1_unless_all_are_found(env: Path, sim: SimulatorThread) -> None:
    result = against(sim, "dni", DNI_EXISTE, DNI_NO_EXISTE, DNI_EXISTE, "--json")
    assert result.exit_code == 1
    records = json.loads(result.stdout)
    assert [(r["dni"], r["estado_consulta"]) for r in records] == [
        (DNI_EXISTE, "valido"),
        (DNI_NO_EXISTE, "no_existe"),
    ]
    assert "RENIEC" in records[1]["motivo"]
    assert calls(sim, EP_DNI) == 2  # the repeated DNI once


def test_dni_table(env: Path, sim: SimulatorThread) -> None:
    result = against(sim, "dni", DNI_EXISTE, DNI_NO_EXISTE)
    assert result.exit_code == 1
    assert DNI_EXISTE in result.stdout
    assert "no existe" in result.stdout  # the label people read, not the machine value


def test_dni_simulado(env: Path) -> None:
    result = migo("dni", DNI_EXISTE, "--simulado", "--json")
    assert result.exit_code == 0
    record = json.loads(result.stdout)
    assert record["simulado"] is True
    assert "SIMULADOS" in result.stderr


@pytest.mark.parametrize("bad", ["1234567", "123456789", "1234567a", "12 345678", "", "١٢٣٤٥٦٧٨"])
def test_dni_bad_input_exit_2_without_a_request(env: Path, sim: SimulatorThread, bad: str) -> None:
    result = against(sim, "dni", DNI_EXISTE, bad)
    assert_usage_error(result, "DNI no válido", "8 dígitos")
    assert sim.stats.requests_total == 0


def test_dni_bad_input_needs_no_token(env: Path) -> None:
    result = migo("dni", "123")
    assert_usage_error(result, "DNI no válido")
    assert "MIGO_TOKEN" not in result.stderr


def test_dni_is_cached_and_the_cache_options_work(env: Path, sim: SimulatorThread) -> None:
    assert against(sim, "dni", DNI_EXISTE, DNI_NO_EXISTE).exit_code == 1
    again = against(sim, "dni", DNI_EXISTE, DNI_NO_EXISTE, "--json")
    assert [r["origen"] for r in json.loads(again.stdout)] == ["cache", "cache"]
    assert calls(sim, EP_DNI) == 2  # the not-found one is kept too

    assert against(sim, "dni", DNI_EXISTE, "--sin-cache").exit_code == 0
    assert calls(sim, EP_DNI) == 3
    refreshed = against(sim, "dni", DNI_EXISTE, "--refrescar", "--json")
    assert json.loads(refreshed.stdout)["origen"] == "api"
    assert calls(sim, EP_DNI) == 4


def test_dni_wrong_token_exits_3(env: Path, sim: SimulatorThread) -> None:
    result = against(sim, "dni", DNI_EXISTE, "87654321", token="token-que-no-vale")
    assert result.exit_code == 3
    assert "rechazó el token" in result.stderr
    assert "token-que-no-vale" not in result.stderr
    assert sim.stats.requests_total == 1


def test_dni_server_errors_after_the_retries_exit_1(
    env: Path, sim: SimulatorThread, no_sleep: None
) -> None:
    sim.config.error_share = 1.0
    result = against(sim, "dni", DNI_EXISTE, "--json", "--reintentos", "1")
    assert result.exit_code == 1
    record = json.loads(result.stdout)
    assert record["estado_consulta"] == "error"
    assert "HTTP 5" in record["motivo"]
    assert calls(sim, EP_DNI) == 2


# -- migo tipo-cambio --------------------------------------------------------------------


def test_tipo_cambio_latest_table_and_json(env: Path, sim: SimulatorThread) -> None:
    table = against(sim, "tipo-cambio")
    assert table.exit_code == 0, table.stderr
    assert today_in_lima().isoformat() in table.stdout
    assert "USD" in table.stdout

    record = json.loads(against(sim, "tipo-cambio", "--json").stdout)
    assert record["fecha"] == today_in_lima().isoformat()
    assert record["precio_venta"] > record["precio_compra"] > 3
    assert record["origen"] == "cache"  # today's latest, asked a moment ago
    assert calls(sim, EP_LATEST) == 1


def test_tipo_cambio_past_date_is_asked_once(env: Path, sim: SimulatorThread) -> None:
    first = json.loads(against(sim, "tipo-cambio", "--fecha", PAST, "--json").stdout)
    second = json.loads(against(sim, "tipo-cambio", "--fecha", PAST, "--json").stdout)
    assert calls(sim, EP_DATE) == 1
    assert (first["origen"], second["origen"]) == ("api", "cache")
    assert first["fecha"] == second["fecha"] == PAST
    assert first["precio_compra"] == second["precio_compra"]


def test_tipo_cambio_range(env: Path, sim: SimulatorThread) -> None:
    result = against(sim, "tipo-cambio", "--desde", "2024-05-01", "--hasta", "2024-05-07", "--json")
    assert result.exit_code == 0, result.stderr
    records = json.loads(result.stdout)
    assert [r["fecha"] for r in records] == [f"2024-05-0{d}" for d in range(1, 8)]

    again = json.loads(
        against(
            sim, "tipo-cambio", "--desde", "2024-05-01", "--hasta", "2024-05-07", "--json"
        ).stdout
    )
    assert {r["origen"] for r in again} == {"cache"}
    assert calls(sim, EP_RANGE) == 1
    # Each past day of the range is kept for single-day questions too.
    day = json.loads(against(sim, "tipo-cambio", "--fecha", "2024-05-03", "--json").stdout)
    assert day["origen"] == "cache"
    assert day["precio_venta"] == records[2]["precio_venta"]
    assert calls(sim, EP_DATE) == 0


def test_tipo_cambio_range_table_until_today(env: Path, sim: SimulatorThread) -> None:
    start = today_in_lima() - timedelta(days=2)
    result = against(sim, "tipo-cambio", "--desde", start.isoformat())
    assert result.exit_code == 0, result.stderr
    assert today_in_lima().isoformat() in result.stdout
    assert start.isoformat() in result.stdout


def test_tipo_cambio_simulado(env: Path) -> None:
    result = migo("tipo-cambio", "--fecha", PAST, "--simulado", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["simulado"] is True


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--fecha", "2024-02-30"], "fecha no válida"),
        (["--fecha", "31/05/2024"], "AAAA-MM-DD"),
        (["--fecha", "20240531"], "AAAA-MM-DD"),
        (["--fecha", "2024-5-31"], "AAAA-MM-DD"),
        (["--fecha", "ayer"], "--fecha"),
        (["--desde", "2024-05-31", "--hasta", "2024-05-01"], "posterior"),
        (["--desde", "2024-13-01", "--hasta", "2024-12-31"], "--desde"),
        (["--desde", "2024-05-01", "--hasta", "mañana"], "--hasta"),
        (["--fecha", PAST, "--desde", "2024-05-01"], "no ambos"),
        (["--fecha", PAST, "--hasta", "2024-05-01"], "no ambos"),
        (["--hasta", "2024-05-01"], "--hasta necesita --desde"),
        (["--desde", "2999-01-01"], "posterior a hoy"),
    ],
)
def test_tipo_cambio_bad_input_exit_2_without_a_request(
    env: Path, sim: SimulatorThread, args: list[str], fragment: str
) -> None:
    result = against(sim, "tipo-cambio", *args)
    assert_usage_error(result, fragment)
    assert sim.stats.requests_total == 0


def test_tipo_cambio_without_a_rate_exits_1(env: Path, sim: SimulatorThread) -> None:
    future = (today_in_lima() + timedelta(days=30)).isoformat()
    result = against(sim, "tipo-cambio", "--fecha", future)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert f"no tiene tipo de cambio para el {future}" in result.stderr.replace("\n", " ")
    assert "Traceback" not in result.stderr
    against(sim, "tipo-cambio", "--fecha", future)
    assert calls(sim, EP_DATE) == 2  # "no rate yet" is not cached: it may come later


def test_tipo_cambio_empty_range_exits_1(env: Path, sim: SimulatorThread) -> None:
    result = against(sim, "tipo-cambio", "--desde", "2999-01-01", "--hasta", "2999-01-05")
    assert result.exit_code == 1
    assert "no tiene tipos de cambio entre" in result.stderr.replace("\n", " ")
    assert calls(sim, EP_RANGE) == 1


def test_tipo_cambio_api_failure_exits_1_with_one_line(
    env: Path, sim: SimulatorThread, no_sleep: None
) -> None:
    sim.config.error_share = 1.0
    result = against(sim, "tipo-cambio", "--reintentos", "2")
    assert result.exit_code == 1
    assert "HTTP 5" in result.stderr
    assert calls(sim, EP_LATEST) == 3


# -- migo representantes ------------------------------------------------------------------


def test_representantes_table_and_json(env: Path, sim: SimulatorThread) -> None:
    table = against(sim, "representantes", RUC_ACTIVO_HABIDO)
    assert table.exit_code == 0, table.stderr
    assert "GERENTE GENERAL" in table.stdout

    record = json.loads(against(sim, "representantes", RUC_ACTIVO_HABIDO, "--json").stdout)
    assert record["ruc"] == RUC_ACTIVO_HABIDO
    assert record["estado_consulta"] == "valido"
    assert record["origen"] == "cache"
    people = record["representantes"]
    assert people
    assert people[0]["cargo"] == "GERENTE GENERAL"
    assert {"numero_de_documento", "nombre", "fecha_desde"} <= set(people[0])
    assert calls(sim, EP_REPRESENTATIVES) == 1


def test_representantes_accepts_a_disguised_ruc(env: Path, sim: SimulatorThread) -> None:
    result = against(sim, "representantes", " 20-100.038.146 ", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["ruc"] == RUC_ACTIVO_HABIDO


def test_representantes_unknown_ruc_exits_1_and_is_cached(env: Path, sim: SimulatorThread) -> None:
    result = against(sim, "representantes", RUC_NO_EXISTE)
    assert result.exit_code == 1
    assert "no existe" in result.stdout
    record = json.loads(against(sim, "representantes", RUC_NO_EXISTE, "--json").stdout)
    assert (record["estado_consulta"], record["origen"]) == ("no_existe", "cache")
    assert record["representantes"] == []
    assert calls(sim, EP_REPRESENTATIVES) == 1


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        (RUC_DIGITO_INVALIDO, "dígito verificador"),
        ("2010003814", "longitud"),
        ("30100038146", "prefijo"),
        ("N/A", "caracteres"),
        ("  ", "vacío"),
    ],
)
def test_representantes_bad_ruc_exit_2_without_a_request(
    env: Path, sim: SimulatorThread, bad: str, fragment: str
) -> None:
    result = against(sim, "representantes", bad)
    assert_usage_error(result, fragment)
    assert sim.stats.requests_total == 0


def test_representantes_simulado(env: Path) -> None:
    result = migo("representantes", RUC_ACTIVO_HABIDO, "--simulado")
    assert result.exit_code == 0
    assert "SIMULADOS" in result.stdout


# -- migo cuenta ---------------------------------------------------------------------------


def test_cuenta_shows_the_credits_and_is_never_cached(env: Path, sim: SimulatorThread) -> None:
    sim.config.credits = 1234
    table = against(sim, "cuenta")
    assert table.exit_code == 0, table.stderr
    assert "1,234" in table.stdout  # thousands with a comma: in Peru 1.234 reads as a decimal
    assert "Cuenta simulada" in table.stdout

    record = json.loads(against(sim, "cuenta", "--json").stdout)
    assert record["consultas_disponibles"] == 1234
    assert record["email"] == "simulador@migo.invalid"
    assert calls(sim, EP_ACCOUNT) == 2
    assert sim.stats.lookup_requests == 0
    assert sim.config.credits == 1234  # asking costs nothing


def test_cuenta_simulado_unlimited(env: Path) -> None:
    result = migo("cuenta", "--simulado", "--json")
    assert result.exit_code == 0
    record = json.loads(result.stdout)
    assert record["consultas_disponibles"] is None
    assert record["simulado"] is True
    table = migo("cuenta", "--simulado")
    assert "no informadas" in table.stdout


def test_cuenta_wrong_token_exits_3(env: Path, sim: SimulatorThread) -> None:
    result = against(sim, "cuenta", token="otro-token-que-no-vale")
    assert result.exit_code == 3
    assert "otro-token-que-no-vale" not in result.stderr


def test_cuenta_failure_exits_1(env: Path, sim: SimulatorThread, no_sleep: None) -> None:
    sim.config.error_share = 1.0
    result = against(sim, "cuenta", "--reintentos", "0")
    assert result.exit_code == 1
    assert "no se pudo consultar la cuenta" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["dni", DNI_EXISTE],
        ["tipo-cambio"],
        ["representantes", RUC_ACTIVO_HABIDO],
        ["cuenta"],
    ],
)
def test_new_commands_need_a_token_and_never_print_it(
    env: Path, sim: SimulatorThread, args: list[str]
) -> None:
    missing = migo(*args, "--base-url", sim.base_url)
    assert_usage_error(missing, "MIGO_TOKEN")
    assert sim.stats.requests_total == 0
    shown = against(sim, *args, "-v", "--json")
    assert shown.exit_code == 0, shown.stderr
    assert TOKEN not in shown.stdout + shown.stderr


def test_new_commands_validate_the_timeout(env: Path) -> None:
    assert_usage_error(migo("cuenta", "--simulado", "--timeout", "0"), "--timeout")


# -- the credit check before masivo -----------------------------------------------------------


def masivo(sim: SimulatorThread, *args: str) -> Result:
    return against(sim, "masivo", *args)


def rucs_file(env: Path, count: int, start: int = 0) -> Path:
    path = env / f"rucs-{count}-{start}.txt"
    path.write_text("\n".join(make_rucs(count, start)) + "\n", encoding="utf-8")
    return path


def test_credit_check_warns_when_credits_are_short(env: Path, sim: SimulatorThread) -> None:
    sim.config.credits = 3
    out = env / "out.jsonl"
    result = masivo(sim, str(rucs_file(env, 5)), "-o", str(out), "--concurrencia", "1")
    assert result.exit_code == 3  # it ran, and stopped when the credits ran out
    text = result.stderr.replace("\n", " ")
    assert "3 consultas disponibles" in text
    assert "necesita 5" in text
    assert calls(sim, EP_ACCOUNT) == 1
    assert sim.stats.credits_used == 3
    assert out.is_file()


def test_estricto_refuses_without_spending_a_lookup(env: Path, sim: SimulatorThread) -> None:
    sim.config.credits = 3
    out = env / "out.jsonl"
    result = masivo(sim, str(rucs_file(env, 5)), "-o", str(out), "--estricto")
    assert_usage_error(result, "3 consultas disponibles", "necesita 5", "--estricto")
    assert sim.stats.lookup_requests == 0
    assert calls(sim, EP_ACCOUNT) == 1
    assert sim.config.credits == 3
    assert not out.exists()


def test_enough_credits_no_warning_and_the_account_call_is_not_a_lookup(
    env: Path, sim: SimulatorThread
) -> None:
    sim.config.credits = 5
    resumen = env / "resumen.json"
    source = rucs_file(env, 5)
    result = masivo(
        sim, str(source), "-o", str(env / "out.jsonl"), "--estricto", "--json-resumen", str(resumen)
    )
    assert result.exit_code == 0, result.stderr
    assert "consultas disponibles" not in result.stderr
    summary = json.loads(resumen.read_text(encoding="utf-8"))
    assert summary["llamadas_api"] == sim.stats.lookup_requests == 5
    assert calls(sim, EP_ACCOUNT) == 1

    # A rerun answered by the cache needs nothing: the account is not even asked.
    again = masivo(sim, str(source), "-o", str(env / "out2.jsonl"), "--estricto")
    assert again.exit_code == 0
    assert calls(sim, EP_ACCOUNT) == 1
    assert sim.stats.lookup_requests == 5


def test_credit_check_counts_only_uncached_rucs(env: Path, sim: SimulatorThread) -> None:
    assert masivo(sim, str(rucs_file(env, 4)), "-o", str(env / "a.jsonl")).exit_code == 0
    sim.config.credits = 2  # 4 cached + 2 new: enough
    result = masivo(sim, str(rucs_file(env, 6)), "-o", str(env / "b.jsonl"), "--estricto")
    assert result.exit_code == 0, result.stderr
    assert sim.stats.lookup_requests == 4 + 2


def test_credit_check_in_collection_mode_counts_rucs_not_calls(
    env: Path, sim: SimulatorThread
) -> None:
    sim.config.credits = 50  # more than the 2 calls, fewer than the 120 RUCs they carry
    result = masivo(
        sim,
        str(rucs_file(env, 120)),
        "-o",
        str(env / "o.jsonl"),
        "--modo",
        "coleccion",
        "--estricto",
    )
    assert_usage_error(result, "50 consultas disponibles", "necesita 120")
    assert sim.stats.lookup_requests == 0


def test_credit_check_unknown_credits_proceeds(env: Path, sim: SimulatorThread) -> None:
    # The simulator without a credits knob answers consultas_disponibles: null.
    result = masivo(sim, str(rucs_file(env, 3)), "-o", str(env / "o.jsonl"), "--estricto")
    assert result.exit_code == 0, result.stderr
    assert calls(sim, EP_ACCOUNT) == 1
    assert sim.stats.lookup_requests == 3


def test_credit_check_account_failure_proceeds_with_a_note_under_v(
    env: Path, sim: SimulatorThread, no_sleep: None
) -> None:
    sim.config.credits = 1  # would be refused, if the account answered
    sim.config.fail_first = 1  # the account's one attempt fails; lookups are retried
    result = masivo(sim, str(rucs_file(env, 1)), "-o", str(env / "o.jsonl"), "--estricto", "-v")
    assert result.exit_code == 0, result.stderr
    assert "no se pudo consultar la cuenta" in result.stderr
    assert calls(sim, EP_ACCOUNT) == 1  # one attempt, no retries
    assert sim.stats.credits_used == 1


def test_credit_check_rejected_token_costs_one_lookup_at_most(
    env: Path, sim: SimulatorThread
) -> None:
    result = against(
        sim, "masivo", str(rucs_file(env, 3)), "-o", str(env / "o.jsonl"), token="no-vale-nada"
    )
    assert result.exit_code == 3
    # The account call, and the first lookup if it left before the account's 401 came
    # back (they overlap, see test_batch_credits); the other lookups were never sent.
    assert calls(sim, EP_ACCOUNT) == 1
    assert sim.stats.lookup_requests <= 1
    assert sim.stats.requests_total == 1 + sim.stats.lookup_requests
    rows = [json.loads(line) for line in (env / "o.jsonl").read_text().splitlines()]
    assert {r["estado_consulta"] for r in rows} == {"error"}


def test_dry_run_and_solo_validar_never_ask_the_account(env: Path, sim: SimulatorThread) -> None:
    source = str(rucs_file(env, 3))
    assert masivo(sim, source, "--dry-run", "--estricto").exit_code == 0
    assert masivo(sim, source, "--solo-validar", "-o", str(env / "o.jsonl")).exit_code == 0
    assert sim.stats.requests_total == 0


# -- the client methods against a faked network -------------------------------------------------


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


@pytest.fixture
async def client(no_sleep: None) -> AsyncIterator[MigoClient]:
    async with MigoClient(TOKEN, retry=Retry(retries=2)) as c:
        yield c


def sent(m: aioresponses, endpoint: str) -> list[dict[str, Any]]:
    return [
        call.kwargs["json"]
        for (_, url), items in m.requests.items()
        if str(url) == BASE + endpoint
        for call in items
    ]


async def test_lookup_dni_classification(client: MigoClient, mocked: aioresponses) -> None:
    mocked.post(BASE + EP_DNI, payload={"success": True, "dni": DNI_EXISTE, "nombre": "ANA"})
    mocked.post(BASE + EP_DNI, status=404, payload={"success": False, "message": "No existe"})
    mocked.post(BASE + EP_DNI, status=503, repeat=True)
    found = await client.lookup_dni(f" {DNI_EXISTE} ")
    assert (found.status, found.name, found.origin) == (Status.VALID, "ANA", Origin.API)
    assert found.found
    missing = await client.lookup_dni(DNI_NO_EXISTE)
    assert missing.status is Status.NOT_FOUND
    assert "No existe" in missing.reason
    failed = await client.lookup_dni("87654321")
    assert failed.status is Status.ERROR
    assert "503" in failed.reason
    assert sent(mocked, EP_DNI)[0] == {"dni": DNI_EXISTE, "token": TOKEN}
    assert len(sent(mocked, EP_DNI)) == 2 + 3


async def test_lookup_dni_rejects_bad_values_before_sending(
    client: MigoClient, mocked: aioresponses
) -> None:
    for bad in ("1234567", "abcdefgh", None, 12.5, True):
        with pytest.raises(InvalidValueError, match="DNI no válido"):
            await client.lookup_dni(bad)
    assert mocked.requests == {}


async def test_lookup_dni_wrong_token_raises(client: MigoClient, mocked: aioresponses) -> None:
    mocked.post(BASE + EP_DNI, status=401, payload={"success": False})
    with pytest.raises(AuthenticationError):
        await client.lookup_dni(DNI_EXISTE)


async def test_exchange_rate_payloads_and_tolerant_parsing(
    client: MigoClient, mocked: aioresponses
) -> None:
    mocked.post(
        BASE + EP_LATEST,
        payload={"success": True, "fecha": "2024-06-03", "precio_compra": "3.751", "extra": 1},
    )
    mocked.post(BASE + EP_DATE, payload={"success": True, "precio_venta": None})
    latest = await client.exchange_rate()
    assert (latest.day, latest.buy, latest.sell, latest.currency) == (
        "2024-06-03",
        3.751,
        None,
        None,
    )
    assert latest.to_dict()["extra"] == 1
    assert latest.data["precio_compra"] == "3.751"  # as sent
    dated = await client.exchange_rate(date(2024, 5, 31))
    assert dated.day == "2024-05-31"  # the answer lacked it: the day asked for
    assert sent(mocked, EP_LATEST) == [{"token": TOKEN}]
    assert sent(mocked, EP_DATE) == [{"fecha": "2024-05-31", "token": TOKEN}]


async def test_exchange_rate_not_found_and_bad_dates(
    client: MigoClient, mocked: aioresponses
) -> None:
    mocked.post(BASE + EP_DATE, status=404, payload={"success": False, "message": "sin dato"})
    with pytest.raises(NotFoundError):
        await client.exchange_rate("2024-05-31")
    with pytest.raises(InvalidValueError):
        await client.exchange_rate("2024-02-30")
    with pytest.raises(InvalidValueError, match="posterior"):
        await client.exchange_rates("2024-05-02", "2024-05-01")
    assert len(sent(mocked, EP_DATE)) == 1


async def test_exchange_rates_envelope_or_list(client: MigoClient, mocked: aioresponses) -> None:
    day = {"fecha": "2024-05-01", "moneda": "USD", "precio_compra": 3.7, "precio_venta": 3.71}
    mocked.post(BASE + EP_RANGE, payload={"success": True, "data": [day, "basura"]})
    mocked.post(BASE + EP_RANGE, payload={"success": True, "data": None}, repeat=True)
    rates = await client.exchange_rates("2024-05-01", "2024-05-02")
    assert [r.to_dict()["precio_venta"] for r in rates] == [3.71]
    assert sent(mocked, EP_RANGE)[0] == {
        "fecha_inicio": "2024-05-01",
        "fecha_fin": "2024-05-02",
        "token": TOKEN,
    }
    with pytest.raises(InvalidResponseError):
        await client.exchange_rates("2024-06-01", "2024-06-02")


async def test_a_day_answered_with_another_days_rate_is_cached_under_both(
    mocked: aioresponses, tmp_path: Path
) -> None:
    saturday = {"success": True, "fecha": "2024-06-01", "precio_compra": 3.7}
    mocked.post(BASE + EP_DATE, payload=saturday, repeat=True)
    with ResultCache(tmp_path / "c") as cache:
        async with MigoClient(TOKEN, cache=cache) as client:
            sunday = await client.exchange_rate("2024-06-02")
            assert sunday.day == "2024-06-01"
            assert (await client.exchange_rate("2024-06-02")).origin is Origin.CACHE
            assert (await client.exchange_rate("2024-06-01")).origin is Origin.CACHE
    assert len(sent(mocked, EP_DATE)) == 1


async def test_an_empty_range_is_not_cached(mocked: aioresponses, tmp_path: Path) -> None:
    mocked.post(BASE + EP_RANGE, payload={"success": True, "data": []}, repeat=True)
    with ResultCache(tmp_path / "c") as cache:
        async with MigoClient(TOKEN, cache=cache) as client:
            assert await client.exchange_rates("2024-06-01", "2024-06-02") == []
            assert await client.exchange_rates("2024-06-01", "2024-06-02") == []
    assert len(sent(mocked, EP_RANGE)) == 2


async def test_exchange_rate_server_errors_raise_after_the_retries(
    client: MigoClient, mocked: aioresponses
) -> None:
    mocked.post(BASE + EP_LATEST, status=502, repeat=True)
    with pytest.raises(ServerError):
        await client.exchange_rate()
    assert len(sent(mocked, EP_LATEST)) == 3


async def test_account_credits_from_any_known_key(client: MigoClient, mocked: aioresponses) -> None:
    mocked.post(BASE + EP_ACCOUNT, payload={"success": True, "nombre": "X", "consultas": "1.500"})
    info = await client.account()
    assert (info.credits, info.name, info.email) == (1500, "X", "")
    assert AccountInfo.from_api({"consultas_disponibles": 7, "consultas": 99}).credits == 7
    assert AccountInfo.from_api({"consultas_disponibles": None}).credits is None
    assert AccountInfo.from_api({"consultas": True}).credits is None
    assert client.stats.lookup_requests == 0


async def test_remaining_credits_is_one_quick_attempt(mocked: aioresponses, no_sleep: None) -> None:
    mocked.post(BASE + EP_ACCOUNT, status=503, repeat=True)
    async with MigoClient(TOKEN) as client:
        assert await client.remaining_credits() is None
    assert len(sent(mocked, EP_ACCOUNT)) == 1


async def test_remaining_credits_gives_up_on_a_hang(mocked: aioresponses) -> None:
    async def hang(url: Any, **kwargs: Any) -> None:
        await asyncio.sleep(30)

    mocked.post(BASE + EP_ACCOUNT, callback=hang)
    async with MigoClient(TOKEN) as client:
        assert await client.remaining_credits(patience=0.2) is None


async def test_remaining_credits_rejected_token_stops_the_client(
    mocked: aioresponses, no_sleep: None
) -> None:
    mocked.post(BASE + EP_ACCOUNT, status=401, payload={"success": False})
    async with MigoClient(TOKEN) as client:
        assert await client.remaining_credits() is None
        with pytest.raises(AuthenticationError):
            await client.lookup_ruc(RUC_ACTIVO_HABIDO)
    assert len(mocked.requests) == 1


async def test_representatives_shapes(client: MigoClient, mocked: aioresponses) -> None:
    person = {"nombre": "ANA", "cargo": "GERENTE"}
    mocked.post(BASE + EP_REPRESENTATIVES, payload={"success": True, "data": [person, 3]})
    mocked.post(BASE + EP_REPRESENTATIVES, payload={"success": True, "data": "nada"})
    found = await client.legal_representatives(RUC_ACTIVO_HABIDO)
    assert found.people == (person,)
    odd = await client.legal_representatives("20131312955")
    assert odd.status is Status.ERROR
    with pytest.raises(InvalidValueError, match="dígito"):
        await client.legal_representatives(RUC_DIGITO_INVALIDO)
    with pytest.raises(InvalidValueError, match="vacío"):
        await client.legal_representatives(" ")
    assert len(sent(mocked, EP_REPRESENTATIVES)) == 2


# -- caching: TTLs per kind -----------------------------------------------------------------------


async def test_todays_rate_expires_a_past_days_rate_does_not(
    sim: SimulatorThread, tmp_path: Path
) -> None:
    clock = FakeClock()
    ttl = CacheTTL(exchange_today=600, exchange_past=3600)
    with ResultCache(tmp_path / "c", ttl, clock=clock) as cache:
        async with MigoClient(TOKEN, base_url=sim.base_url, cache=cache) as client:
            for _ in range(2):
                assert (await client.exchange_rate()).day == today_in_lima().isoformat()
                await client.exchange_rate(PAST)
            assert (calls(sim, EP_LATEST), calls(sim, EP_DATE)) == (1, 1)
            clock.advance(601)
            assert (await client.exchange_rate(PAST)).origin is Origin.CACHE
            assert (await client.exchange_rate()).origin is Origin.API
            # The fresh latest answer was also kept under its own date.
            assert (await client.exchange_rate(today_in_lima())).origin is Origin.CACHE
    assert (calls(sim, EP_LATEST), calls(sim, EP_DATE)) == (2, 1)


async def test_dni_and_representatives_use_their_ttls(sim: SimulatorThread, tmp_path: Path) -> None:
    clock = FakeClock()
    ttl = CacheTTL(dni=600, representatives=600, not_found=3600)
    with ResultCache(tmp_path / "c", ttl, clock=clock) as cache:
        async with MigoClient(TOKEN, base_url=sim.base_url, cache=cache) as client:
            await client.lookup_dni(DNI_EXISTE)
            await client.lookup_dni(DNI_NO_EXISTE)
            await client.legal_representatives(RUC_ACTIVO_HABIDO)
            clock.advance(601)
            assert (await client.lookup_dni(DNI_EXISTE)).origin is Origin.API
            assert (await client.lookup_dni(DNI_NO_EXISTE)).origin is Origin.CACHE
            again = await client.legal_representatives(RUC_ACTIVO_HABIDO)
            assert again.origin is Origin.API
    assert calls(sim, EP_DNI) == 3
    assert calls(sim, EP_REPRESENTATIVES) == 2


async def test_a_range_reaching_today_is_short_lived(sim: SimulatorThread, tmp_path: Path) -> None:
    clock = FakeClock()
    ttl = CacheTTL(exchange_today=600, exchange_past=3600)
    today = today_in_lima()
    with ResultCache(tmp_path / "c", ttl, clock=clock) as cache:
        async with MigoClient(TOKEN, base_url=sim.base_url, cache=cache) as client:
            await client.exchange_rates(today - timedelta(days=3), today)
            await client.exchange_rates(today - timedelta(days=3), today)
            await client.exchange_rates("2024-01-01", "2024-01-10")
            clock.advance(601)
            rates = await client.exchange_rates(today - timedelta(days=3), today)
            old = await client.exchange_rates("2024-01-01", "2024-01-10")
    assert [r.day for r in rates][-1] == today.isoformat()
    assert {r.origin for r in old} == {Origin.CACHE}
    assert calls(sim, EP_RANGE) == 3


async def test_damaged_cache_entries_are_ignored(sim: SimulatorThread, tmp_path: Path) -> None:
    with ResultCache(tmp_path / "c") as cache:
        async with MigoClient(TOKEN, base_url=sim.base_url, cache=cache) as client:
            for kind, key in (("dni", DNI_EXISTE), ("tc", PAST), ("tc-rango", f"{PAST}|{PAST}")):
                client.cache.put(kind, key, "not what migo writes", 60)
            client.cache.put("representantes", RUC_ACTIVO_HABIDO, ("bogus", "", [], ""), 60)
            assert (await client.lookup_dni(DNI_EXISTE)).origin is Origin.API
            assert (await client.exchange_rate(PAST)).origin is Origin.API
            assert (await client.exchange_rates(PAST, PAST))[0].origin is Origin.API
            reps = await client.legal_representatives(RUC_ACTIVO_HABIDO)
            assert reps.origin is Origin.API


# -- local checks --------------------------------------------------------------------------------


def test_check_dni_and_parse_date() -> None:
    assert check_dni(" 12345678\n") == "12345678"
    assert check_dni(12345678) == "12345678"
    assert parse_date("2024-02-29") == date(2024, 2, 29)
    assert parse_date(date(2024, 1, 1)) == date(2024, 1, 1)
    for bad in ("2023-02-29", "2024-1-01", "2024/01/01", "", None, 20240101):
        with pytest.raises(InvalidValueError):
            parse_date(bad)


def test_exchange_rate_from_cache_tolerates_garbage() -> None:
    assert ExchangeRate.from_cache(None) is None
    assert ExchangeRate.from_cache(({"fecha": 1},)) is None
    rate = ExchangeRate.from_cache(({"precio_compra": "x"}, "t"), requested=PAST)
    assert rate is not None
    assert (rate.day, rate.buy, rate.origin) == (PAST, None, Origin.CACHE)
