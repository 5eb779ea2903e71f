"""``--fuente padron|auto``: answers from SUNAT's padrón, APIMIGO paid only for the gaps.

Indexes are built from generated padrón files whose rows are the simulator's
answers (``write_padron``), so a padrón row and an API row can be compared field
by field, and the simulator's journal counts every request that reached it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from migo_cli.cli import app
from migo_cli.client import MigoClient
from migo_cli.config import Limits
from migo_cli.diagnostics import Outcome, diagnose
from migo_cli.exceptions import QuotaExceededError
from migo_cli.history import APIMIGO_SCOPE, HistoryEntry, HistoryScope, HistoryStore
from migo_cli.models import UPSTREAM_FIELDS, Origin, RucResult, Status, today_in_lima
from migo_cli.padron.build import build_index
from migo_cli.padron.lookup import PadronLookup
from migo_cli.padron.store import PadronIndex
from migo_cli.simulator import RUC_ACENTOS, SimulatorConfig, SimulatorThread, ruc_answer
from migo_cli.simulator.padron import write_padron
from tests.conftest import TOKEN, make_rucs
from tests.test_imports import HEAVY, NETWORK, loaded

runner = CliRunner()
#: RUCs the simulator finds (no not-found share), the padrón's candidates.
RUCS = make_rucs(40, start=61_000)
#: "Registered after the padrón": the simulator knows them, the padrón does not.
LATE = RUCS[:6]


def migo(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def build(directory: Path, fecha: date, rucs: list[str] = RUCS) -> Path:
    """An index of ``rucs`` minus ``LATE`` dated ``fecha`` in ``directory``."""
    source = write_padron(directory / "padron.zip", rucs=rucs, missing=LATE, not_found_share=0.0)
    build_index(source.path, directory, fecha=fecha)
    return directory


@pytest.fixture
def fecha() -> date:
    return today_in_lima() - timedelta(days=1)


@pytest.fixture
def padron(env: Path, fecha: date, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = build(env / "padron", fecha)
    monkeypatch.setenv("MIGO_PADRON_DIR", str(directory))
    monkeypatch.delenv("MIGO_FUENTE", raising=False)
    return directory


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    config = SimulatorConfig(token=TOKEN, not_found_share=0.0)
    with SimulatorThread(config, journal=True) as thread:
        yield thread


def asked(sim: SimulatorThread) -> list[str]:
    journal = sim.simulator.journal
    assert journal is not None
    return [key for exchange in journal for key in exchange.keys]


def write_input(path: Path, values: list[str]) -> Path:
    path.write_text("ruc\n" + "\n".join(values) + "\n", encoding="utf-8")
    return path


def rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_consultar_from_the_padron_needs_no_token_and_calls_nothing(
    padron: Path, sim: SimulatorThread, fecha: date
) -> None:
    ruc = RUCS[10]
    code, out, _ = migo(
        "consultar", ruc, "--fuente", "padron", "--json", "--base-url", sim.base_url
    )
    assert code == 0
    row = json.loads(out)
    assert (row["origen"], row["estado_consulta"], row["motivo"]) == ("padron", "valido", "")
    assert row["consultado_en"] == fecha.isoformat()
    assert list(row)[7:] == list(UPSTREAM_FIELDS)  # APIMIGO's names, in its order
    answer = ruc_answer(ruc, not_found_share=0.0)
    assert answer is not None
    for field in UPSTREAM_FIELDS[:-1]:  # all but actualizado_en: the padrón's date here
        assert row[field] == answer[field], field
    assert row["actualizado_en"] == fecha.isoformat()
    assert asked(sim) == []


def test_accents_ubigeo_names_and_the_composed_address(padron: Path) -> None:
    code, out, _ = migo("consultar", RUC_ACENTOS, "--fuente", "padron", "--json")
    assert code == 0
    row = json.loads(out)
    assert row["nombre_o_razon_social"] == "COMPAÑÍA SIMULADA DE CAFÉ PEÑA & NÚÑEZ S.A.C."
    assert (row["distrito"], row["provincia"], row["departamento"]) == ("BREÑA", "LIMA", "LIMA")
    assert row["direccion_simple"] == "JR. ÑAÑA NRO. 123 URB. PEÑA ÁLVAREZ"
    assert row["direccion"] == "JR. ÑAÑA NRO. 123 URB. PEÑA ÁLVAREZ LIMA - LIMA - BREÑA"


def test_a_ruc_the_padron_lacks_is_no_existe_naming_its_date(padron: Path, fecha: date) -> None:
    code, out, _ = migo("consultar", LATE[0], "--fuente", "padron", "--json")
    assert code == 1  # consultar: 0 only when every RUC is valido
    row = json.loads(out)
    assert (row["estado_consulta"], row["origen"]) == ("no_existe", "padron")
    assert fecha.isoformat() in row["motivo"]


def test_masivo_padron_zero_calls_and_desde_padron(
    padron: Path, sim: SimulatorThread, env: Path
) -> None:
    source = write_input(env / "in.csv", [*RUCS[:12], "123", RUCS[8]])
    code, _, err = migo(
        "masivo", str(source), "-o", "out.jsonl", "--fuente", "padron", "--base-url",
        sim.base_url, "--json-resumen", "res.json",
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads((env / "res.json").read_text(encoding="utf-8"))
    assert summary["desde_padron"] == 12  # found (6) and not found (6); "123" is local
    assert (summary["llamadas_api"], summary["validos"], summary["no_existe"]) == (0, 6, 6)
    assert asked(sim) == []
    out = rows(env / "out.jsonl")
    assert [r["ruc"] for r in out] == [*RUCS[:12], "123"]
    assert {r["origen"] for r in out[:12]} == {"padron"}
    assert "Desde el padrón" in err


def test_masivo_auto_pays_exactly_for_what_the_padron_lacks(
    padron: Path, sim: SimulatorThread, env: Path
) -> None:
    values = RUCS[:20]
    source = write_input(env / "in.csv", values)
    common = ("--base-url", sim.base_url, "--token", TOKEN, "--fuente", "auto", "-q")
    code, _, err = migo("masivo", str(source), "-o", "a.jsonl", "--json-resumen", "a.json", *common)
    assert code == 0, err
    assert sorted(asked(sim)) == sorted(LATE)
    summary = json.loads((env / "a.json").read_text(encoding="utf-8"))
    assert (summary["llamadas_api"], summary["desde_padron"]) == (len(LATE), 14)
    out = rows(env / "a.jsonl")
    assert [r["ruc"] for r in out] == values  # input order, whoever answered
    assert {r["ruc"] for r in out if r["origen"] == "api"} == set(LATE)
    assert all(r["estado_consulta"] == "valido" for r in out)
    # The paid answers were cached: a rerun pays nothing (--refrescar pays them again).
    code, _, _ = migo("masivo", str(source), "-o", "b.jsonl", "--json-resumen", "b.json", *common)
    assert code == 0
    assert json.loads((env / "b.json").read_text(encoding="utf-8"))["desde_cache"] == len(LATE)
    assert len(asked(sim)) == len(LATE)
    code, _, _ = migo("masivo", str(source), "-o", "c.jsonl", "--refrescar", *common)
    assert code == 0
    assert len(asked(sim)) == 2 * len(LATE)


def test_dry_run_with_auto_counts_only_what_would_be_paid(padron: Path, env: Path) -> None:
    bad = ["123", "2010003814X", RUCS[0][:-1] + str((int(RUCS[0][-1]) + 1) % 10)]
    source = write_input(env / "in.csv", [*RUCS[:20], *bad])
    code, _, err = migo(
        "masivo", str(source), "--fuente", "auto", "--dry-run", "--json-resumen", "d.json"
    )  # no token: nothing is sent
    assert code == 0, err
    said = " ".join(err.split())
    assert "Consultas pagadas que haría esta ejecución: 6" in said
    assert "(23 RUC distintos, 3 con formato inválido;" in said  # was "0 con formato inválido"
    summary = json.loads((env / "d.json").read_text(encoding="utf-8"))
    assert summary["llamadas_estimadas"] == len(LATE)
    assert (summary["unicos"], summary["formato_invalido"]) == (23, 3)
    for fuente in ("padron", "api"):
        code, _, err = migo("masivo", str(source), "--fuente", fuente, "--dry-run")
        assert code == 0, err
        paid = 0 if fuente == "padron" else 20
        assert f"haría esta ejecución: {paid} (23 RUC distintos, 3 con formato inválido;" in (
            " ".join(err.split())
        )


@pytest.mark.parametrize(
    "args",
    [
        ("consultar", RUCS[10], "--fuente", "padron"),
        ("consultar", RUCS[10], "--fuente", "auto"),
        ("masivo", "in.csv", "--fuente", "auto", "--token", TOKEN),
        ("masivo", "in.csv", "--fuente", "padron", "--dry-run"),
    ],
)
def test_no_padron_is_exit_2_saying_how_to_build_it(
    env: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    monkeypatch.setenv("MIGO_PADRON_DIR", str(env / "sin-padron"))
    write_input(env / "in.csv", RUCS[:3])
    code, _, err = migo(*args)
    assert code == 2
    assert "migo padron actualizar" in err
    assert not (env / "in_resultado.xlsx").exists()


def test_the_source_comes_from_migo_fuente(padron: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIGO_FUENTE", "padron")
    code, out, _ = migo("consultar", RUCS[10], "--json")  # no token: the padrón answered
    assert code == 0
    assert json.loads(out)["origen"] == "padron"
    monkeypatch.setenv("MIGO_FUENTE", "sunat")
    code, _, err = migo("consultar", RUCS[10])
    assert code == 2
    assert "MIGO_FUENTE" in err


def test_solo_validar_needs_no_padron(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIGO_PADRON_DIR", str(env / "sin-padron"))
    source = write_input(env / "in.csv", RUCS[:3])
    code, _, err = migo(
        "masivo", str(source), "-o", "v.jsonl", "--solo-validar", "--fuente", "auto"
    )
    assert code == 0, err
    assert {r["estado_consulta"] for r in rows(env / "v.jsonl")} == {"sin_consultar"}


def test_an_old_padron_is_a_warning(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = today_in_lima() - timedelta(days=9)
    monkeypatch.setenv("MIGO_PADRON_DIR", str(build(env / "viejo", old)))
    code, _, err = migo("consultar", RUCS[10], "--fuente", "padron")
    assert code == 0
    assert f"el padrón local es del {old.isoformat()} (9 días)" in " ".join(err.split())
    code, _, err = migo("consultar", RUCS[10], "--fuente", "padron", "-q")
    assert "9 días" in " ".join(err.split())  # a warning still shows with -q


def test_padron_answers_feed_the_history(padron: Path, env: Path, fecha: date) -> None:
    code, _, _ = migo("consultar", RUCS[10], "--fuente", "padron")
    assert code == 0
    code, out, _ = migo("historial", RUCS[10], "--json")
    assert code == 0
    [entry] = json.loads(out)
    assert entry["fecha"] == fecha.isoformat()
    assert entry["existe"] is True


def lookup_with_history(directory: Path, history: HistoryScope, ruc: str) -> tuple[str, str]:
    with PadronIndex.open(directory) as index:
        result = asyncio.run(PadronLookup(index, history=history).lookup_ruc(ruc))
    assert result.origin is Origin.PADRON
    assert result.status is Status.VALID
    return result.change, str(result.data["estado_del_contribuyente"])


def test_an_older_padron_after_a_newer_api_answer_reports_no_change(env: Path, fecha: date) -> None:
    ruc = RUCS[10]
    answer = ruc_answer(ruc, not_found_share=0.0)
    assert answer is not None
    assert answer["estado_del_contribuyente"] == "ACTIVO"
    directory = build(env / "padron", fecha)
    with HistoryStore(env / "cache") as store:
        history = store.scope(APIMIGO_SCOPE)
        # APIMIGO answered today: the taxpayer was dado de baja after the padrón's date.
        today = f"{today_in_lima().isoformat()}T09:00:00-05:00"
        newer = {**answer, "estado_del_contribuyente": "BAJA DE OFICIO"}
        history.record(ruc, HistoryEntry.of(today, newer))
        change, estado = lookup_with_history(directory, history, ruc)
        assert (change, estado) == ("", "ACTIVO")  # the row says what the padrón says...
        assert len(history.timeline(ruc)) == 1  # ...but it is not news, nor history


def test_a_newer_padron_reports_the_change(env: Path, fecha: date) -> None:
    ruc = RUCS[10]
    answer = ruc_answer(ruc, not_found_share=0.0)
    assert answer is not None
    with HistoryStore(env / "cache") as store:
        history = store.scope(APIMIGO_SCOPE)
        before = (fecha - timedelta(days=3)).isoformat()
        history.record(
            ruc, HistoryEntry.of(before, {**answer, "condicion_de_domicilio": "NO HABIDO"})
        )
        change, _ = lookup_with_history(build(env / "padron", fecha), history, ruc)
        assert change == f"condición: NO HABIDO → HABIDO (antes: {before})"
        assert [e.fecha for e in history.timeline(ruc)] == [before, fecha.isoformat()]
        # The same padrón again: nothing new is recorded.
        lookup_with_history(env / "padron", history, ruc)
        assert len(history.timeline(ruc)) == 2


async def test_diagnose_reports_the_padron_as_information(env: Path, fecha: date) -> None:
    report = await diagnose(cache_dir=env / "cache", padron_dir=env / "none")
    [check] = [c for c in report.checks if c.name == "padrón"]
    assert check.outcome is Outcome.INFO
    assert "migo padron actualizar" in check.detail
    report = await diagnose(cache_dir=env / "cache", padron_dir=build(env / "padron", fecha))
    [check] = [c for c in report.checks if c.name == "padrón"]
    assert check.outcome is Outcome.INFO
    assert check.detail.startswith(f"del {fecha.isoformat()} (1 días), ")


def test_consultar_from_the_padron_loads_no_network_code(padron: Path, env: Path) -> None:
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("MIGO_")}
    child_env["MIGO_CACHE_DIR"] = str(env / "cache")
    child_env["MIGO_CONFIG"] = str(env / "no-config.toml")
    child_env["MIGO_PADRON_DIR"] = str(padron)
    modules = loaded(child_env, "consultar", RUCS[10], "--fuente", "padron")
    assert not modules & (HEAVY | NETWORK)


def test_auto_with_a_rejected_token_still_answers_from_the_padron(
    padron: Path, sim: SimulatorThread, env: Path
) -> None:
    values = RUCS[:20]
    source = write_input(env / "in.csv", values)
    code, _, err = migo(
        "masivo", str(source), "-o", "t.jsonl", "--fuente", "auto", "--base-url", sim.base_url,
        "--token", "otro-token-que-no-vale", "-q",
    )  # fmt: skip
    assert code == 3, err
    # The credit check and the first lookup go together (tests/test_batch_credits.py):
    # a rejected token costs that one lookup at most, never the rest.
    assert len(asked(sim)) <= 1
    out = {r["ruc"]: r for r in rows(env / "t.jsonl")}
    assert list(out) == values
    assert {out[ruc]["estado_consulta"] for ruc in LATE} == {"error"}
    assert all(out[ruc]["origen"] == "padron" for ruc in values if ruc not in LATE)


def test_estricto_with_auto_counts_only_what_the_padron_lacks(padron: Path, env: Path) -> None:
    config = SimulatorConfig(token=TOKEN, not_found_share=0.0, credits=len(LATE))
    with SimulatorThread(config, journal=True) as thread:
        source = write_input(env / "in.csv", RUCS[:20])
        code, _, err = migo(
            "masivo", str(source), "-o", "e.jsonl", "--fuente", "auto", "--estricto",
            "--base-url", thread.base_url, "--token", TOKEN, "-q",
        )  # fmt: skip
        assert code == 0, err  # 6 credits are enough: the padrón answers the other 14
        assert sorted(asked(thread)) == sorted(LATE)


# -- --fuente auto goes through the client's one pool: no window barrier ------------------


def _auto_index(env: Path, fecha: date, rucs: list[str], late: set[str]) -> Path:
    directory = env / "padron-auto"
    source = write_padron(
        directory / "padron.zip", rucs=rucs, missing=late, specials=False, not_found_share=0.0
    )
    build_index(source.path, directory, fecha=fecha)
    return directory


async def test_auto_asks_a_later_gap_while_an_earlier_one_still_hangs(
    env: Path, fecha: date
) -> None:
    """A slow answer holds up only its own place in the output, never the requests after it.

    The two gaps are more than 10,000 values apart (the old per-window barrier):
    the later one is answered while the first still hangs at the server.
    """
    rucs = make_rucs(12_000, start=200_000)
    first, later = rucs[10], rucs[11_500]
    directory = _auto_index(env, fecha, rucs, {first, later})
    config = SimulatorConfig(token=TOKEN, not_found_share=0.0, hang={first}, hang_seconds=600.0)
    yielded: list[int] = []
    with SimulatorThread(config, journal=True) as sim, PadronIndex.open(directory) as index:
        async with MigoClient(TOKEN, base_url=sim.base_url) as client:

            async def consume() -> None:
                async for position, _ in PadronLookup(index, client).stream(rucs):
                    yielded.append(position)

            task = asyncio.create_task(consume())
            deadline = asyncio.get_running_loop().time() + 120
            while later not in asked(sim):  # the event: the later gap was answered
                assert not task.done(), "the stream ended before asking the later gap"
                assert asyncio.get_running_loop().time() < deadline, "the later gap was never asked"
                await asyncio.sleep(0.01)
            assert first not in asked(sim)  # still hanging
            assert yielded == list(range(10))  # in input order: everything before the hang
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_auto_out_of_credits_midway_still_answers_the_rest_from_the_padron(
    env: Path, fecha: date
) -> None:
    """A fatal error stops the paying, not the free answers: every padrón row is yielded."""
    rucs = make_rucs(3_000, start=300_000)
    late = {rucs[i] for i in range(5, 3_000, 100)}  # 30 gaps, spread over the input
    directory = _auto_index(env, fecha, rucs, late)
    config = SimulatorConfig(token=TOKEN, not_found_share=0.0, credits=10)
    got: dict[int, RucResult] = {}
    with SimulatorThread(config, journal=True) as sim, PadronIndex.open(directory) as index:
        async with MigoClient(TOKEN, base_url=sim.base_url, limits=Limits(concurrency=4)) as client:

            async def consume() -> None:
                async for position, result in PadronLookup(index, client).stream(rucs):
                    got[position] = result

            with pytest.raises(QuotaExceededError):
                await consume()
        paid = set(asked(sim))
    assert paid <= late
    held = [p for p, ruc in enumerate(rucs) if ruc not in late]
    assert all(got[p].origin is Origin.PADRON for p in held)  # all of them, after the stop too
    answered_gaps = {rucs[p] for p, r in got.items() if r.origin is Origin.API}
    assert len(answered_gaps) == 10  # the credits: no more, no fewer
    assert list(got) == sorted(got)  # input order, the unanswered gaps passed over
