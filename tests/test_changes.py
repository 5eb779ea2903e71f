"""Issue 13 end to end: ``cambio`` rows, the resumen count, history kept across runs.

Two ``migo masivo`` runs against the simulator with SUNAT's data changed in
between (``SimulatorConfig.overrides``) must report exactly the RUCs that
changed; a third run, answered from the cache, reports none.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from migo_cli.batch import BatchReport
from migo_cli.cache import LOCAL_SCOPE, ResultCache, cache_scope_for
from migo_cli.cli import app
from migo_cli.client import MigoClient
from migo_cli.history import APIMIGO_SCOPE, HistoryEntry, HistoryScope, HistoryStore
from migo_cli.models import RucResult, Status
from migo_cli.render import summary_table
from migo_cli.simulator import (
    RUC_ACTIVO_HABIDO,
    RUC_BAJA_DE_OFICIO,
    RUC_NO_EXISTE,
    RUC_PERSONA_NATURAL,
    SimulatorConfig,
    SimulatorThread,
    ruc_answer,
)
from tests.conftest import TOKEN, make_rucs
from tests.test_faults import Workspace, wait_for
from tests.test_masivo import (
    assert_clean_exit,
    masivo,
    read_jsonl,
    read_summary,
    sheet_records,
    summary_sheet,
    workbook,
)

runner = CliRunner()
RUCS = [RUC_ACTIVO_HABIDO, RUC_NO_EXISTE, RUC_BAJA_DE_OFICIO, RUC_PERSONA_NATURAL]


pytestmark = pytest.mark.usefixtures("restore_migo_logger")


def _input(directory: Path) -> Path:
    path = directory / "rucs.txt"
    path.write_text("\n".join(RUCS) + "\n", encoding="utf-8")
    return path


def _run(sim: SimulatorThread, source: Path, out: Path, *extra: str) -> list[dict[str, Any]]:
    result = masivo(sim, str(source), "-o", str(out), "--json-resumen", f"{out}.json", *extra)
    assert_clean_exit(result, 0)
    return read_jsonl(out)


def _changes(rows: list[dict[str, Any]]) -> dict[str, str]:
    return {row["ruc"]: row["cambio"] for row in rows if row["cambio"]}


def test_two_runs_report_exactly_what_changed_and_a_cached_third_run_nothing(
    env: Path, sim: SimulatorThread
) -> None:
    source = _input(env)
    first = _run(sim, source, env / "uno.jsonl")
    assert all("cambio" in row for row in first)
    assert _changes(first) == {}  # nothing was known before
    assert read_summary(env / "uno.jsonl.json")["cambios"] == 0

    sim.config.overrides = {
        RUC_ACTIVO_HABIDO: {"condicion_de_domicilio": "NO HABIDO"},
        RUC_PERSONA_NATURAL: {"nombre_o_razon_social": "OTRO NOMBRE SAC"},
    }
    second = _run(sim, source, env / "dos.jsonl", "--refrescar")
    changes = _changes(second)
    assert set(changes) == {RUC_ACTIVO_HABIDO, RUC_PERSONA_NATURAL}
    assert changes[RUC_ACTIVO_HABIDO].startswith("condición: HABIDO → NO HABIDO (antes: ")
    assert changes[RUC_PERSONA_NATURAL].startswith("razón social: ")
    assert "→ OTRO NOMBRE SAC (antes: " in changes[RUC_PERSONA_NATURAL]
    assert read_summary(env / "dos.jsonl.json")["cambios"] == 2

    third = _run(sim, source, env / "tres.jsonl")
    assert {row["origen"] for row in third if row["estado_consulta"] != "formato_invalido"} == {
        "cache"
    }
    assert _changes(third) == {}
    assert read_summary(env / "tres.jsonl.json")["cambios"] == 0

    timeline = _historial(sim, RUC_ACTIVO_HABIDO, "--json")
    assert [e["condicion_de_domicilio"] for e in timeline] == ["HABIDO", "NO HABIDO"]
    assert set(timeline[0]) == {
        "fecha",
        "existe",
        "estado_del_contribuyente",
        "condicion_de_domicilio",
        "nombre_o_razon_social",
        "direccion",
    }
    assert timeline[0]["existe"] is True
    assert timeline[0]["fecha"] <= timeline[1]["fecha"]
    gone = _historial(sim, RUC_NO_EXISTE, "--json")
    assert [(e["existe"], e["estado_del_contribuyente"]) for e in gone] == [(False, None)]
    table = runner.invoke(app, ["historial", RUC_ACTIVO_HABIDO, "--base-url", sim.base_url])
    assert_clean_exit(table, 0)
    assert "NO HABIDO" in table.stdout
    assert f"Historial del RUC {RUC_ACTIVO_HABIDO}" in table.stdout

    # ``cache limpiar`` leaves history alone; ``historial --borrar`` does not.
    assert_clean_exit(runner.invoke(app, ["cache", "limpiar"]), 0)
    assert len(_historial(sim, RUC_ACTIVO_HABIDO, "--json")) == 2
    erased = runner.invoke(
        app, ["historial", RUC_ACTIVO_HABIDO, "--borrar", "--base-url", sim.base_url]
    )
    assert_clean_exit(erased, 0)
    assert "borradas: 2" in erased.stdout
    assert _historial(sim, RUC_ACTIVO_HABIDO, "--json") == []
    assert len(_historial(sim, RUC_PERSONA_NATURAL, "--json")) == 2
    assert_clean_exit(runner.invoke(app, ["historial", "--borrar", "--simulado"]), 0)
    assert _historial(sim, RUC_PERSONA_NATURAL, "--json") == []


def _historial(sim: SimulatorThread | None, *args: str) -> Any:
    """``migo historial ARGS --json``: of ``sim``'s answers, or APIMIGO's when None."""
    where = [] if sim is None else ["--base-url", sim.base_url]
    result = runner.invoke(app, ["historial", *args, *where])
    assert_clean_exit(result, 0)
    return json.loads(result.stdout)


def test_historial_refuses_a_bad_ruc_or_no_ruc(env: Path) -> None:
    for args in (["historial", "123"], ["historial"]):
        result = runner.invoke(app, args)
        assert_clean_exit(result, 2)
        assert "Error:" in result.stderr


def test_without_cache_no_history_is_kept(env: Path, sim: SimulatorThread) -> None:
    source = _input(env)
    _run(sim, source, env / "uno.jsonl", "--sin-cache")
    sim.config.overrides = {RUC_ACTIVO_HABIDO: {"condicion_de_domicilio": "NO HABIDO"}}
    rows = _run(sim, source, env / "dos.jsonl", "--sin-cache")
    assert _changes(rows) == {}
    assert list((env / "cache").glob("historial*")) == []


def test_simulated_runs_keep_their_history_apart(env: Path) -> None:
    result = runner.invoke(app, ["masivo", str(_input(env)), "-o", "sim.jsonl", "--simulado"])
    assert_clean_exit(result, 0)
    assert all(row["cambio"] == "" for row in read_jsonl(env / "sim.jsonl"))
    assert _historial(None, RUC_ACTIVO_HABIDO, "--json") == []  # APIMIGO's
    simulated = runner.invoke(app, ["historial", RUC_ACTIVO_HABIDO, "--json", "--simulado"])
    assert_clean_exit(simulated, 0)
    assert [entry["simulado"] for entry in json.loads(simulated.stdout)] == [True]


def test_a_local_simulator_never_becomes_a_real_rucs_past(env: Path, sim: SimulatorThread) -> None:
    """``--base-url http://127.0.0.1:…`` keeps its history apart, as the cache keeps its answers."""
    with HistoryStore(env / "cache") as history:  # what APIMIGO said some night before
        real = history.scope(APIMIGO_SCOPE)
        real.record(RUC_ACTIVO_HABIDO, HistoryEntry.of("2026-11-30T02:00:00-05:00", _no_habido()))
    rows = _run(sim, _input(env), env / "uno.jsonl")
    assert _changes(rows) == {}  # the simulator's HABIDO is not compared with APIMIGO's past
    assert [e["condicion_de_domicilio"] for e in _historial(None, RUC_ACTIVO_HABIDO, "--json")] == [
        "NO HABIDO"
    ]
    assert [e["condicion_de_domicilio"] for e in _historial(sim, RUC_ACTIVO_HABIDO, "--json")] == [
        "HABIDO"
    ]
    erased = runner.invoke(app, ["historial", "--borrar", "--base-url", sim.base_url])
    assert_clean_exit(erased, 0)
    assert "borradas: 4" in erased.stdout  # one first entry per RUC
    assert _historial(sim, RUC_ACTIVO_HABIDO, "--json") == []
    assert len(_historial(None, RUC_ACTIVO_HABIDO, "--json")) == 1
    refused = runner.invoke(app, ["historial", RUC_ACTIVO_HABIDO, "--base-url", "http://x.pe"])
    assert_clean_exit(refused, 2)


def _no_habido() -> dict[str, Any]:
    answer = ruc_answer(RUC_ACTIVO_HABIDO)
    assert answer is not None
    return {**answer, "condicion_de_domicilio": "NO HABIDO"}


def _consultar(sim: SimulatorThread, *args: str) -> Any:
    """``migo consultar ARGS`` against ``sim``: the JSON rows with ``--json``, else the text."""
    result = runner.invoke(
        app,
        ["consultar", *args, "--base-url", sim.base_url, "--token", TOKEN],
        env={"COLUMNS": "200"},
    )
    assert_clean_exit(result, 0)
    if "--json" not in args:
        return result.stdout
    rows = json.loads(result.stdout)
    return {row["ruc"]: row["cambio"] for row in (rows if isinstance(rows, list) else [rows])}


def test_consultar_shows_a_change_once(env: Path, sim: SimulatorThread) -> None:
    both = (RUC_ACTIVO_HABIDO, RUC_PERSONA_NATURAL)
    assert _consultar(sim, *both, "--json") == dict.fromkeys(both, "")
    sim.config.overrides = {
        RUC_ACTIVO_HABIDO: {"condicion_de_domicilio": "NO HABIDO"},
        RUC_PERSONA_NATURAL: {"nombre_o_razon_social": "OTRO NOMBRE SAC"},
    }
    # --sin-historial neither shows a change nor records the answer that brings it.
    quiet = _consultar(sim, *both, "--json", "--refrescar", "--sin-historial")
    assert quiet == dict.fromkeys(both, "")

    card = _consultar(sim, RUC_ACTIVO_HABIDO, "--refrescar")
    assert "Cambio" in card
    assert "condición: HABIDO → NO HABIDO (antes: " in card
    table = _consultar(sim, *both, "--refrescar")  # the first one's change was shown above
    lines = [line for line in table.splitlines() if " cambio: " in line]
    assert len(lines) == 1
    assert lines[0].startswith(f"{RUC_PERSONA_NATURAL} cambio: razón social: ")
    assert "→ OTRO NOMBRE SAC (antes: " in lines[0]
    assert _consultar(sim, *both, "--json") == dict.fromkeys(both, "")  # from the cache
    assert _consultar(sim, *both, "--json", "--refrescar") == dict.fromkeys(both, "")


async def test_library_rows_carry_the_change_and_the_timeline(
    tmp_path: Path, sim: SimulatorThread
) -> None:
    with ResultCache(tmp_path, read=False) as cache, HistoryStore(tmp_path) as history:
        async with MigoClient(TOKEN, base_url=sim.base_url, cache=cache, history=history) as c:
            before = await c.lookup_batch(RUCS)
            sim.config.overrides = {RUC_BAJA_DE_OFICIO: {"direccion": "AV. NUEVA 123"}}
            after = await c.lookup_batch(RUCS)
            single = await c.lookup_ruc(RUC_BAJA_DE_OFICIO)
            timeline = c.history_of(RUC_BAJA_DE_OFICIO)
        assert [r.change for r in before.results] == ["", "", "", ""]
        changed = {r.ruc: r.change for r in after.results if r.change}
        assert list(changed) == [RUC_BAJA_DE_OFICIO]
        assert "dirección: " in changed[RUC_BAJA_DE_OFICIO]
        assert after.to_dict()["validos"][1]["cambio"] == changed[RUC_BAJA_DE_OFICIO]
        assert single.change == ""  # same answer again, and the change was delivered
        assert [e.direccion for e in timeline][-1] == "AV. NUEVA 123"
        assert len(timeline) == 2
        local = history.scope(cache_scope_for(sim.base_url))
        assert [e.existe for e in local.timeline(RUC_NO_EXISTE)] == [False]
        assert before.results[1].status is Status.NOT_FOUND


def test_xlsx_gets_a_cambios_sheet_most_serious_first_and_the_summary_lists_them(
    env: Path, sim: SimulatorThread
) -> None:
    source = _input(env)
    first = masivo(sim, str(source), "-o", "uno.xlsx")
    assert_clean_exit(first, 0)
    with workbook(env / "uno.xlsx") as book:
        assert book.sheetnames == ["validos", "invalidos", "errores", "resumen"]

    sim.config.overrides = {
        RUC_PERSONA_NATURAL: {"nombre_o_razon_social": "OTRO NOMBRE SAC"},
        RUC_BAJA_DE_OFICIO: {"direccion": "AV. NUEVA 123"},
        RUC_ACTIVO_HABIDO: {"condicion_de_domicilio": "NO HABIDO"},
    }
    second = masivo(sim, str(source), "-o", "dos.xlsx", "--refrescar")
    assert_clean_exit(second, 0)
    with workbook(env / "dos.xlsx") as book:
        assert book.sheetnames == ["validos", "invalidos", "errores", "cambios", "resumen"]
        changed = sheet_records(book["cambios"])
        assert [r["ruc"] for r in changed] == [
            RUC_ACTIVO_HABIDO,  # NO HABIDO first, then the name, then the address
            RUC_PERSONA_NATURAL,
            RUC_BAJA_DE_OFICIO,
        ]
        assert all(r["cambio"] for r in changed)
        valid = {r["ruc"]: r["cambio"] for r in sheet_records(book["validos"])}
        assert {r["ruc"]: r["cambio"] for r in changed} == {k: v for k, v in valid.items() if v}
        assert summary_sheet(book["resumen"])["cambios"] == 3
    summary = " ".join(second.stderr.split())
    assert "│ Cambios │ 3 │" in summary
    for ruc in (RUC_ACTIVO_HABIDO, RUC_PERSONA_NATURAL, RUC_BAJA_DE_OFICIO):
        assert ruc in second.stderr
    assert "HABIDO → NO HABIDO" in summary


# -- kill -9 in the middle of the run that finds the changes --------------------------------


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """``migo masivo`` as a real process against a recording simulator (as in test_faults)."""
    with SimulatorThread(SimulatorConfig(token=TOKEN), journal=True) as thread:
        yield Workspace(tmp_path, thread)


def _changes_in(path: Path) -> dict[str, str]:
    return {str(row["ruc"]): str(row["cambio"]) for row in read_jsonl(path) if row["cambio"]}


def _night_then_news(ws: Workspace, source: Path, changed: dict[str, dict[str, str]]) -> None:
    """A first night that records every RUC, then SUNAT's news for the next one."""
    first = ws.run(source, ws.root / "noche-1.jsonl")
    assert first.code == 0, first.err
    ws.sim.config.overrides = changed


def _fit(ruc: str) -> bool:
    """Found, ACTIVO and HABIDO on the simulator: any override below is then a change."""
    answer = ruc_answer(ruc)
    return answer is not None and (
        (answer["estado_del_contribuyente"], answer["condicion_de_domicilio"])
        == ("ACTIVO", "HABIDO")
    )


@pytest.mark.faults
def test_kill_9_mid_run_then_a_rerun_reports_the_same_cambios_as_an_uninterrupted_run(
    ws: Workspace,
) -> None:
    rucs = [ruc for ruc in make_rucs(120, start=3000) if _fit(ruc)][:60]
    changed = {
        rucs[2]: {"condicion_de_domicilio": "NO HABIDO"},
        rucs[10]: {"estado_del_contribuyente": "BAJA DE OFICIO"},
        rucs[30]: {"nombre_o_razon_social": "NUEVA RAZON SAC"},
    }
    source = ws.write_rucs(rucs)
    _night_then_news(ws, source, changed)

    # The reference: the same two nights in another cache, nobody killed.
    reference_cache = ws.root / "cache-referencia"
    ws.sim.config.overrides = {}
    assert ws.run(source, ws.root / "ref-1.jsonl", cache_dir=reference_cache).code == 0
    ws.sim.config.overrides = changed
    reference = ws.root / "ref-2.jsonl"
    clean = ws.run(source, reference, "--refrescar", cache_dir=reference_cache)
    assert clean.code == 0, clean.err
    expected = _changes_in(reference)
    assert set(expected) == set(changed)

    # The second night dies (kill -9) once the changes are recorded, before any output.
    ws.fresh_upstream(hang={rucs[-1]}, hang_seconds=3600.0)
    output = ws.root / "noche-2.jsonl"
    patient = ("--refrescar", "--timeout", "3600", "--concurrencia", "4")
    with (
        HistoryStore(ws.cache_dir) as history,
        ws.start(source, output, *patient, log=ws.root / "noche-2.log") as process,
    ):
        local = history.scope(LOCAL_SCOPE)
        wait_for(lambda: all(local.pending(ruc) for ruc in changed), process)
        process.kill()
        assert process.wait() == -signal.SIGKILL
    assert not output.exists()

    ws.fresh_upstream()
    rerun = ws.run(source, output)  # the same output, from the cache where it got answers
    assert rerun.code == 0, rerun.err
    rows = read_jsonl(output)
    assert any(row["origen"] == "cache" for row in rows)
    assert _changes_in(output) == expected

    third = ws.run(source, ws.root / "noche-3.jsonl")
    assert third.code == 0, third.err
    assert _changes_in(ws.root / "noche-3.jsonl") == {}


def test_the_summary_lists_ten_changes_most_serious_first_and_counts_the_rest() -> None:
    report = BatchReport(total=12, unique=12)
    for n in range(12):
        severity = 1 if n == 11 else 6
        result = RucResult(f"2010000{n:04d}", Status.VALID, change=f"cambio {n}")
        result.change_severity = severity
        report.settled.tally.add(result)
    console = Console(width=120, record=True)
    console.print(summary_table(report))
    text = console.export_text()
    assert report.summary()["cambios"] == 12
    lines = [line for line in text.splitlines() if "cambio " in line]
    assert len(lines) == 10
    assert "cambio 11" in lines[0]  # the most serious first, whatever its place
    assert "… y 2 más" in text


def test_sin_historial_neither_reports_nor_records_and_the_next_night_still_sees_the_news(
    ws: Workspace,
) -> None:
    """``--sin-historial`` as cron would pass it: the real process, its output and its history."""
    rucs = [ruc for ruc in make_rucs(40, start=6000) if _fit(ruc)][:10]
    source = ws.write_rucs(rucs)
    _night_then_news(ws, source, {rucs[3]: {"condicion_de_domicilio": "NO HABIDO"}})
    without = ws.run(source, ws.root / "sin.jsonl", "--refrescar", "--sin-historial")
    assert without.code == 0, without.err
    assert _changes_in(ws.root / "sin.jsonl") == {}
    with HistoryStore(ws.cache_dir) as history:
        assert len(history.scope(LOCAL_SCOPE).timeline(rucs[3])) == 1
    news = ws.run(source, ws.root / "con.jsonl", "--refrescar")
    assert news.code == 0, news.err
    assert list(_changes_in(ws.root / "con.jsonl")) == [rucs[3]]


@pytest.fixture
def commits(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Each history and cache group commit, in the order they run, with its size."""
    from migo_cli import cache as cache_module

    log: list[tuple[str, int]] = []
    record_many = HistoryScope.record_many
    group_commit = cache_module._GroupCommit._commit

    def spy_history(self: HistoryScope, answers: Any, **kwargs: Any) -> Any:
        log.append(("history", len(answers)))
        return record_many(self, answers, **kwargs)

    def spy_cache(self: Any) -> None:
        log.append(("cache", len(self._writes)))
        group_commit(self)

    monkeypatch.setattr(HistoryScope, "record_many", spy_history)
    monkeypatch.setattr(cache_module._GroupCommit, "_commit", spy_cache)
    return log


async def test_a_fresh_answer_is_recorded_then_cached_in_one_loop_turn(
    tmp_path: Path, commits: list[tuple[str, int]]
) -> None:
    """History and cache commit back to back at the end of the answer's turn, the history
    first: the worker waits once, not once per store, and both see the same burst."""
    answers = [
        RucResult(RUC_ACTIVO_HABIDO, Status.VALID, "", ruc_answer(RUC_ACTIVO_HABIDO) or {}),
        RucResult(RUC_NO_EXISTE, Status.NOT_FOUND, "no existe"),
        RucResult(RUC_BAJA_DE_OFICIO, Status.VALID, "", ruc_answer(RUC_BAJA_DE_OFICIO) or {}),
    ]
    with ResultCache(tmp_path) as cache, HistoryStore(tmp_path) as history:
        client = MigoClient(TOKEN, base_url="http://127.0.0.1:9", cache=cache, history=history)
        tasks = [asyncio.create_task(client._keep(answer)) for answer in answers]
        await asyncio.sleep(0)  # each task has handed its answer over; nothing committed yet
        assert commits == []
        await asyncio.sleep(0)  # the end of that turn: both stores, history first
        assert commits == [("history", 3), ("cache", 3)]
        await asyncio.gather(*tasks)
        assert all(client.cache.get_ruc(answer.ruc) is not None for answer in answers)
        assert [len(client.history_of(answer.ruc)) for answer in answers] == [1, 1, 1]


async def test_a_history_failure_still_leaves_the_paid_answer_in_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer was paid for: a broken history must not make the next run pay again."""
    import sqlite3

    def broken(self: HistoryScope, answers: Any, **kwargs: Any) -> Any:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(HistoryScope, "record_many", broken)
    answer = RucResult(RUC_ACTIVO_HABIDO, Status.VALID, "", ruc_answer(RUC_ACTIVO_HABIDO) or {})
    with ResultCache(tmp_path) as cache, HistoryStore(tmp_path) as history:
        client = MigoClient(TOKEN, base_url="http://127.0.0.1:9", cache=cache, history=history)
        with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
            await client._keep(answer)
        assert client.cache.get_ruc(RUC_ACTIVO_HABIDO) is not None


async def test_the_history_commits_first_even_when_a_refused_value_opens_the_turn(
    tmp_path: Path, commits: list[tuple[str, int]]
) -> None:
    """A 422 (``formato_invalido``) is cached but not recorded: if it is the turn's first
    answer, the valid answers after it must still reach the history before the cache."""
    refused = RucResult("20100038147", Status.INVALID, "APIMIGO: formato inválido")
    valid = RucResult(RUC_ACTIVO_HABIDO, Status.VALID, "", ruc_answer(RUC_ACTIVO_HABIDO) or {})
    with ResultCache(tmp_path) as cache, HistoryStore(tmp_path) as history:
        client = MigoClient(TOKEN, base_url="http://127.0.0.1:9", cache=cache, history=history)
        await asyncio.gather(client._keep(refused), client._keep(valid))
        assert [kind for kind, _ in commits] == ["history", "cache"]
        assert len(client.history_of(RUC_ACTIVO_HABIDO)) == 1
        assert client.cache.get_ruc(refused.ruc) is not None
