"""SPEC §1 over real HTTP: the client against the simulator speaking APIMIGO's two dialects.

``tests/test_client.py`` pins each row of the classification table with a faked
network (aioresponses); here every row is met again against the simulator, which
answers as APIMIGO documents (Laravel's behaviour included), in v1 and in v2. The
rows that stop a run are also run through the real ``python -m migo_cli``
process, with their exit codes and what the simulator received.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from migo_cli.cache import ResultCache
from migo_cli.client import MigoClient
from migo_cli.config import Limits, Retry
from migo_cli.dialects import V1, V2, Operation
from migo_cli.exceptions import (
    AccessDeniedError,
    AuthenticationError,
    EndpointNotFoundError,
    QuotaExceededError,
)
from migo_cli.models import Origin, Status
from migo_cli.simulator import (
    RUC_ACTIVO_HABIDO,
    RUC_NO_EXISTE,
    RUC_NO_HABIDO,
    SimulatorConfig,
    SimulatorThread,
)
from tests.conftest import TOKEN, make_rucs

RUN_TIMEOUT = 120.0
V1_RUC = V1.path(Operation.RUC)
V2_RUC = V2.path(Operation.RUC)


@pytest.fixture(params=["v1", "v2"])
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def ruc_route(dialect: str) -> str:
    return V1_RUC if dialect == "v1" else V2_RUC


@pytest.fixture
async def client(
    no_sleep: None, sim: SimulatorThread, dialect: str, tmp_path: Path
) -> AsyncIterator[MigoClient]:
    with ResultCache(tmp_path / "cache") as cache:
        async with MigoClient(
            TOKEN,
            base_url=sim.base_url,
            api=dialect,
            cache=cache,
            limits=Limits(concurrency=4),
            retry=Retry(retries=2),
        ) as c:
            yield c


def lookups(sim: SimulatorThread, dialect: str) -> int:
    return sim.stats.by_endpoint.get(ruc_route(dialect), 0)


# -- answers: one row of the table each, in both dialects -----------------------------


def test_the_route_table_is_apimigos_documentation() -> None:
    """SPEC §1's endpoints, written out once: every other test takes its paths from the table."""
    documented = {
        ("v1", Operation.RUC): ("POST", "/api/v1/ruc"),
        ("v1", Operation.COLLECTION): ("POST", "/api/v1/ruc/collection"),
        ("v1", Operation.DNI): ("POST", "/api/v1/dni"),
        ("v1", Operation.REPRESENTATIVES): ("POST", "/api/v1/ruc/representantes-legales"),
        ("v1", Operation.EXCHANGE_LATEST): ("POST", "/api/v1/exchange/latest"),
        ("v1", Operation.EXCHANGE_DATE): ("POST", "/api/v1/exchange/date"),
        ("v1", Operation.EXCHANGE_RANGE): ("POST", "/api/v1/exchange"),
        ("v1", Operation.ACCOUNT): ("POST", "/api/v1/account"),
        ("v2", Operation.RUC): ("GET", "/api/v2/ruc/{ruc}"),
        ("v2", Operation.EXCHANGE_DATE): ("GET", "/api/v2/tipo-cambio/sunat"),
        ("v2", Operation.EXCHANGE_SBS): ("GET", "/api/v2/tipo-cambio/sbs"),
    }
    table = {
        (dialect.name, route.operation): (route.method, route.path)
        for dialect in (V1, V2)
        for route in dialect.own_routes()
    }
    assert table == documented
    assert V2.path(Operation.DNI) == V1.path(Operation.DNI)  # what v2 lacks comes from v1
    with pytest.raises(KeyError):
        V1.path(Operation.EXCHANGE_SBS)


async def test_found_is_valido(client: MigoClient, sim: SimulatorThread, dialect: str) -> None:
    result = await client.lookup_ruc(RUC_ACTIVO_HABIDO)
    assert (result.status, result.origin) == (Status.VALID, Origin.API)
    assert result.billable
    assert lookups(sim, dialect) == 1


@pytest.mark.parametrize("not_found_status", [404, 200])
async def test_unknown_is_no_existe_and_cached(
    client: MigoClient, sim: SimulatorThread, dialect: str, not_found_status: int
) -> None:
    sim.config.not_found_status = not_found_status
    first = await client.lookup_ruc(RUC_NO_EXISTE)
    second = await client.lookup_ruc(RUC_NO_EXISTE)
    assert (first.status, second.status) == (Status.NOT_FOUND, Status.NOT_FOUND)
    assert second.origin is Origin.CACHE
    assert lookups(sim, dialect) == 1


async def test_422_is_formato_invalido_with_apimigo_words_and_cached(
    client: MigoClient, sim: SimulatorThread, dialect: str
) -> None:
    sim.config.reject_422 = {RUC_NO_HABIDO}
    first = await client.lookup_ruc(RUC_NO_HABIDO)
    second = await client.lookup_ruc(RUC_NO_HABIDO)
    assert (first.status, first.origin) == (Status.INVALID, Origin.API)
    assert first.reason.startswith("APIMIGO: ")
    assert len(first.reason) > len("APIMIGO: ")
    assert (second.status, second.origin) == (Status.INVALID, Origin.CACHE)
    assert lookups(sim, dialect) == 1


async def test_429_waits_and_retries(client: MigoClient, sim: SimulatorThread) -> None:
    sim.config.rate_limit_share = 0.5
    rucs = make_rucs(20)
    results = [r async for r in client.lookup_many(rucs)]
    assert {r.status for r in results} <= {Status.VALID, Status.NOT_FOUND}
    assert len(results) == 20
    assert sim.stats.by_status.get(429, 0) > 0
    assert client.stats.rate_limited == sim.stats.by_status[429]


async def test_5xx_is_retried_then_answered(
    client: MigoClient, sim: SimulatorThread, dialect: str
) -> None:
    sim.config.fail_first = 2
    result = await client.lookup_ruc(RUC_ACTIVO_HABIDO)
    assert result.status is Status.VALID
    assert lookups(sim, dialect) == 3


@pytest.mark.parametrize(
    "knobs",
    [
        {"always_500": [RUC_ACTIVO_HABIDO]},
        {"html_502_share": 1.0},
        {"missing_success_share": 1.0},
        {"drop_share": 1.0},
    ],
    ids=["500", "502 HTML", "sin success", "conexión cortada"],
)
async def test_transient_failures_end_as_error_and_are_not_cached(
    client: MigoClient, sim: SimulatorThread, dialect: str, knobs: dict[str, Any]
) -> None:
    sim.config.update(knobs)
    result = await client.lookup_ruc(RUC_ACTIVO_HABIDO)
    assert result.status is Status.ERROR
    attempts = lookups(sim, dialect)
    if dialect == "v2" and "drop_share" in knobs:
        # aiohttp sends an idempotent GET once more when a reused keep-alive connection
        # drops before any answer (RFC 9112 §9.3.1); no answer came, so nothing was paid.
        assert 3 <= attempts <= 6
    else:
        assert attempts == 3  # first attempt + 2 retries
    assert "Error" not in result.reason  # Spanish, never a Python class name
    sim.config.clear_faults()
    assert (await client.lookup_ruc(RUC_ACTIVO_HABIDO)).origin is Origin.API


# -- answers that stop everything ---------------------------------------------------------


STOPS: list[tuple[str, dict[str, Any], type[Exception]]] = [
    ("token rechazado", {"token": "otro-token-valido"}, AuthenticationError),
    ("success false de token", {"token_message": True}, AuthenticationError),
    ("403", {"forbidden": True}, AccessDeniedError),
    ("sin créditos", {"credits": 0}, QuotaExceededError),
]


@pytest.mark.parametrize(("knobs", "error"), [s[1:] for s in STOPS], ids=[s[0] for s in STOPS])
async def test_answers_that_stop_the_run_cost_one_call_and_cache_nothing(
    no_sleep: None,
    sim: SimulatorThread,
    *,
    dialect: str,
    tmp_path: Path,
    knobs: dict[str, Any],
    error: type[Exception],
) -> None:
    sim.config.update(knobs)
    with ResultCache(tmp_path / "cache") as cache:
        async with MigoClient(TOKEN, base_url=sim.base_url, api=dialect, cache=cache) as client:
            with pytest.raises(error):
                _ = [r async for r in client.lookup_many(make_rucs(30))]
        assert cache.info().entries == 0
    assert sim.stats.requests_total == 1
    assert sim.stats.credits_used == 0


async def test_a_wrong_base_url_stops_at_once_and_caches_nothing(
    no_sleep: None, sim: SimulatorThread, dialect: str, tmp_path: Path
) -> None:
    with ResultCache(tmp_path / "cache") as cache:
        wrong = f"{sim.base_url}/apimigo"
        async with MigoClient(TOKEN, base_url=wrong, api=dialect, cache=cache) as client:
            with pytest.raises(EndpointNotFoundError) as info:
                _ = [r async for r in client.lookup_many(make_rucs(30))]
        assert cache.info().entries == 0
    assert sim.stats.requests_total == 1
    assert wrong in str(info.value)
    assert "--base-url" in str(info.value)


async def test_a_redirect_to_another_host_never_carries_the_token(
    sim: SimulatorThread, dialect: str
) -> None:
    """A 307 would make a client that follows it re-send the body (and the token) there."""
    with SimulatorThread(SimulatorConfig(), host="127.0.0.2") as elsewhere:
        sim.config.redirect_to = f"{elsewhere.base_url}/api/v1/ruc"
        async with MigoClient(TOKEN, base_url=sim.base_url, api=dialect) as client:
            with pytest.raises(AuthenticationError, match="redirección"):
                await client.lookup_ruc(RUC_ACTIVO_HABIDO)
        assert elsewhere.stats.requests_total == 0
    assert sim.stats.requests_total == 1


async def test_the_token_is_never_in_a_v2_url(no_sleep: None, sim: SimulatorThread) -> None:
    seen: list[tuple[str, dict[str, str]]] = []

    async def on_start(
        session: aiohttp.ClientSession, context: SimpleNamespace, params: Any
    ) -> None:
        seen.append((str(params.url), dict(params.headers)))

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    async with (
        aiohttp.ClientSession(trace_configs=[trace]) as session,
        MigoClient(TOKEN, base_url=sim.base_url, api="v2", session=session) as client,
    ):
        await client.lookup_ruc(RUC_ACTIVO_HABIDO)
        await client.exchange_rate("2024-05-31")
    assert len(seen) == 2
    for url, headers in seen:
        assert "/api/v2/" in url
        assert TOKEN not in url
        assert headers["Authorization"] == f"Bearer {TOKEN}"
        assert headers["Accept"] == "application/json"


async def test_v2_exchange_rate_prices_arrive_as_text_and_become_numbers(
    no_sleep: None, sim: SimulatorThread
) -> None:
    async with MigoClient(TOKEN, base_url=sim.base_url, api="v2") as client:
        rate = await client.exchange_rate("2024-05-31")
    assert isinstance(rate.buy, float)
    assert isinstance(rate.sell, float)
    assert sim.stats.by_endpoint == {V2.path(Operation.EXCHANGE_DATE): 1}


# -- through the real process --------------------------------------------------------------


def run_migo(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MIGO_")}
    environ |= {
        "MIGO_CACHE_DIR": str(tmp_path / "cache"),
        "MIGO_CONFIG": str(tmp_path / "no-config.toml"),
        "COLUMNS": "200",
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "migo_cli", *args],
        env=environ,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


@pytest.fixture
def rucs_file(tmp_path: Path) -> Path:
    path = tmp_path / "rucs.txt"
    rucs = [RUC_ACTIVO_HABIDO, RUC_NO_EXISTE, *make_rucs(28, start=1000)]
    path.write_text("ruc\n" + "\n".join(rucs) + "\n", encoding="utf-8")
    return path


PROCESS_STOPS: list[tuple[str, dict[str, Any], int, str]] = [
    ("token rechazado", {"token": "otro-token-valido"}, 3, "rechazó el token"),
    ("403", {"forbidden": True}, 3, "denegó el acceso"),
    ("sin créditos", {"credits": 0, "quota_status": 402}, 3, "APIMIGO"),
]


@pytest.mark.parametrize(
    ("knobs", "code", "said"),
    [s[1:] for s in PROCESS_STOPS],
    ids=[s[0] for s in PROCESS_STOPS],
)
def test_masivo_stops_with_its_exit_code_after_one_lookup(
    sim: SimulatorThread,
    tmp_path: Path,
    *,
    rucs_file: Path,
    dialect: str,
    knobs: dict[str, Any],
    code: int,
    said: str,
) -> None:
    sim.config.update(knobs)
    done = run_migo(
        tmp_path, "masivo", str(rucs_file), "-o", "out.jsonl", "--json-resumen", "r.json",
        "--base-url", sim.base_url, "--token", TOKEN, "--api", dialect,
    )  # fmt: skip
    assert done.returncode == code, done.stderr
    assert said in done.stderr
    assert "Traceback" not in done.stderr
    assert TOKEN not in done.stderr
    assert lookups(sim, dialect) <= 1  # the credit check may be the one that met it
    assert sim.stats.credits_used == 0
    summary = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert summary["completo"] is False
    assert summary["validos"] == 0


def test_consultar_with_a_wrong_token_exits_3_after_one_call(
    sim: SimulatorThread, tmp_path: Path, dialect: str
) -> None:
    done = run_migo(
        tmp_path, "consultar", RUC_ACTIVO_HABIDO, "20131312955",
        "--base-url", sim.base_url, "--token", "otro-token-valido", "--api", dialect,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert "rechazó el token" in done.stderr
    assert sim.stats.requests_total == 1


def test_wrong_base_url_then_right_one_pays_for_every_ruc_and_gets_them_right(
    sim: SimulatorThread, tmp_path: Path, rucs_file: Path, dialect: str
) -> None:
    common = ["masivo", str(rucs_file), "--token", TOKEN, "--api", dialect, "--json-resumen"]
    wrong = run_migo(
        tmp_path, *common, "wrong.json", "-o", "wrong.jsonl", "--base-url", f"{sim.base_url}/v9"
    )
    assert wrong.returncode == 2, wrong.stderr
    assert f"{sim.base_url}/v9" in wrong.stderr
    assert "--base-url" in wrong.stderr
    assert sim.stats.credits_used == 0
    assert sim.stats.by_ruc == {}
    with ResultCache(tmp_path / "cache") as cache:
        assert cache.info().entries == 0

    right = run_migo(
        tmp_path, *common, "right.json", "-o", "right.jsonl", "--base-url", sim.base_url
    )
    assert right.returncode == 0, right.stderr
    rows = [json.loads(line) for line in (tmp_path / "right.jsonl").read_text().splitlines()]
    assert len(rows) == 30
    assert all(row["origen"] == "api" for row in rows)  # none came from a false cached answer
    by_ruc = {row["ruc"]: row["estado_consulta"] for row in rows}
    assert by_ruc[RUC_ACTIVO_HABIDO] == "valido"
    assert by_ruc[RUC_NO_EXISTE] == "no_existe"
    assert sorted(sim.stats.by_ruc) == sorted(by_ruc)
    assert set(sim.stats.by_ruc.values()) == {1}  # each RUC paid for once, the second time


def test_masivo_and_consultar_give_the_same_rows_in_both_dialects(
    sim: SimulatorThread, tmp_path: Path, rucs_file: Path
) -> None:
    rows: dict[str, list[dict[str, Any]]] = {}
    for dialect in ("v1", "v2"):
        done = run_migo(
            tmp_path, "masivo", str(rucs_file), "-o", f"{dialect}.jsonl", "--sin-cache",
            "--base-url", sim.base_url, "--token", TOKEN, "--api", dialect,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        lines = (tmp_path / f"{dialect}.jsonl").read_text(encoding="utf-8").splitlines()
        rows[dialect] = [
            {k: v for k, v in json.loads(line).items() if k != "consultado_en"} for line in lines
        ]
    assert sim.stats.by_endpoint[V1_RUC] == 30
    assert sim.stats.by_endpoint[V2_RUC] == 30
    v1 = {row["ruc"]: row for row in rows["v1"]}
    for row in rows["v2"]:  # same verdicts; v2 sends every value as text
        mine = v1[row["ruc"]]
        assert (row["estado_consulta"], row["apto_facturacion"]) == (
            mine["estado_consulta"],
            mine["apto_facturacion"],
        )
        assert row.get("nombre_o_razon_social") == mine.get("nombre_o_razon_social")

    done = run_migo(
        tmp_path, "consultar", RUC_ACTIVO_HABIDO, "--json",
        "--base-url", sim.base_url, "--token", TOKEN, "--api", "v2",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["estado_consulta"] == "valido"


def test_tipo_cambio_fecha_in_v2(sim: SimulatorThread, tmp_path: Path) -> None:
    done = run_migo(
        tmp_path, "tipo-cambio", "--fecha", "2024-05-31", "--json",
        "--base-url", sim.base_url, "--token", TOKEN, "--api", "v2",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rate = json.loads(done.stdout)
    assert rate["fecha"] == "2024-05-31"
    assert isinstance(rate["precio_venta"], float)
    assert sim.stats.by_endpoint == {V2.path(Operation.EXCHANGE_DATE): 1}


def test_unknown_api_version_is_a_usage_error(tmp_path: Path) -> None:
    done = run_migo(tmp_path, "consultar", RUC_ACTIVO_HABIDO, "--simulado", "--api", "v3")
    assert done.returncode == 2
    assert "v3" in done.stderr
    assert "Traceback" not in done.stderr
    done = run_migo(tmp_path, "consultar", RUC_ACTIVO_HABIDO, "--simulado", env={"MIGO_API": "x"})
    assert done.returncode == 2
    assert "MIGO_API" in done.stderr


# -- migo diagnostico ----------------------------------------------------------------------


@pytest.fixture
def credits_sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(SimulatorConfig(token=TOKEN, credits=500)) as simulator:
        yield simulator


def test_diagnostico_passes_with_a_good_token_and_spends_nothing(
    credits_sim: SimulatorThread, tmp_path: Path, dialect: str
) -> None:
    done = run_migo(
        tmp_path, "diagnostico", "--base-url", credits_sim.base_url, "--api", dialect,
        env={"MIGO_TOKEN": TOKEN},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert all(line.split()[0] in {"ok", "info"} for line in lines), done.stdout
    assert any("MIGO_TOKEN" in line for line in lines)
    assert any("500 consultas disponibles" in line for line in lines)
    assert TOKEN not in done.stdout + done.stderr
    assert credits_sim.stats.credits_used == 0
    assert credits_sim.config.credits == 500


def test_diagnostico_with_a_bad_token_fails_in_one_spanish_line_and_spends_nothing(
    credits_sim: SimulatorThread, tmp_path: Path, dialect: str
) -> None:
    done = run_migo(
        tmp_path, "diagnostico", "--base-url", credits_sim.base_url, "--api", dialect,
        "--token", "otro-token-valido",
    )  # fmt: skip
    assert done.returncode == 3, done.stdout + done.stderr
    failed = [line for line in done.stdout.splitlines() if line.startswith("falla")]
    assert len(failed) == 1
    assert "rechazó el token" in failed[0]
    assert credits_sim.stats.credits_used == 0
    assert credits_sim.stats.requests_total == 1


def test_diagnostico_names_configuration_problems_with_exit_2(
    credits_sim: SimulatorThread, tmp_path: Path
) -> None:
    no_token = run_migo(tmp_path, "diagnostico", "--base-url", credits_sim.base_url)
    assert no_token.returncode == 2
    assert "falta el token" in no_token.stdout
    wrong_url = run_migo(
        tmp_path, "diagnostico", "--base-url", f"{credits_sim.base_url}/otra", "--token", TOKEN
    )
    assert wrong_url.returncode == 2
    assert "no existe" in wrong_url.stdout
    assert credits_sim.stats.credits_used == 0


def test_diagnostico_json(credits_sim: SimulatorThread, tmp_path: Path) -> None:
    done = run_migo(
        tmp_path, "diagnostico", "--json", "--base-url", credits_sim.base_url, "--token", TOKEN
    )
    assert done.returncode == 0, done.stderr
    checks = json.loads(done.stdout)
    assert [c["control"] for c in checks] == [
        "token", "url base", "ruta", "token aceptado", "créditos", "caché", "padrón"
    ]  # fmt: skip
    assert checks[-1]["resultado"] == "info"
