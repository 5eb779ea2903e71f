"""The history store (SPEC §8): one row per RUC plus one per change, pending until delivered."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from migo_cli import history
from migo_cli.cache import cache_scope_for
from migo_cli.history import (
    APIMIGO_SCOPE,
    HISTORY_FILE,
    Change,
    HistoryEntry,
    HistoryScope,
    HistoryStore,
    describe_change,
)

RUC = "20100038146"
DATA = {
    "estado_del_contribuyente": "ACTIVO",
    "condicion_de_domicilio": "HABIDO",
    "nombre_o_razon_social": "EMPRESA S.A.C.",
    "direccion": "JR. GRAU 123 LIMA",
    "ubigeo": "150101",  # not tracked
}


def entry(day: str, **changes: str | None) -> HistoryEntry:
    return HistoryEntry.of(f"{day}T02:00:00-05:00", {**DATA, **changes})


@contextlib.contextmanager
def apimigo(directory: Path) -> Iterator[HistoryScope]:
    """The history of APIMIGO's answers in ``directory``."""
    with HistoryStore(directory) as store:
        yield store.scope(APIMIGO_SCOPE)


def test_the_first_answer_is_an_entry_and_no_change(tmp_path: Path) -> None:
    with apimigo(tmp_path) as store:
        assert store.record(RUC, entry("2026-11-30")) is None
        assert store.pending(RUC) is None
        assert [e.fecha[:10] for e in store.timeline(RUC)] == ["2026-11-30"]


def test_the_same_answer_again_adds_nothing(tmp_path: Path) -> None:
    with apimigo(tmp_path) as store:
        store.record(RUC, entry("2026-11-30"))
        # Case and spacing are how SUNAT's text comes, not news.
        assert store.record(RUC, entry("2026-12-01", estado_del_contribuyente=" activo")) is None
        assert len(store.timeline(RUC)) == 1


def test_a_change_is_described_recorded_and_pending_until_delivered(tmp_path: Path) -> None:
    with apimigo(tmp_path) as store:
        store.record(RUC, entry("2026-11-30"))
        change = store.record(RUC, entry("2026-12-01", condicion_de_domicilio="NO HABIDO"))
        assert change is not None
        assert change.text == "condición: HABIDO → NO HABIDO (antes: 2026-11-30)"
        assert store.pending(RUC) == change
        timeline = store.timeline(RUC)
        assert [e.condicion_de_domicilio for e in timeline] == ["HABIDO", "NO HABIDO"]
        store.delivered([RUC])
        assert store.pending(RUC) is None
    with apimigo(tmp_path) as store:  # it is all on disk
        assert len(store.timeline(RUC)) == 2


def test_disappearing_and_several_fields(tmp_path: Path) -> None:
    before = entry("2026-11-30")
    gone = describe_change(before, HistoryEntry.of("2026-12-01", None))
    assert gone is not None
    assert gone.text == "ya no existe en SUNAT (antes: 2026-11-30)"
    both = describe_change(before, entry("2026-12-01", nombre_o_razon_social="NUEVA S.A.C.",
                                          direccion="AV. SOL 1"))  # fmt: skip
    assert both is not None
    assert both.text == (
        "razón social: EMPRESA S.A.C. → NUEVA S.A.C.; dirección: JR. GRAU 123 LIMA → AV. SOL 1 "
        "(antes: 2026-11-30)"
    )


def test_serious_changes_sort_first() -> None:
    before = entry("2026-11-30")
    kinds = {
        "gone": HistoryEntry.of("x", None),
        "no habido": entry("x", condicion_de_domicilio="NO HABIDO"),
        "baja": entry("x", estado_del_contribuyente="BAJA DE OFICIO"),
        "name": entry("x", nombre_o_razon_social="OTRA"),
        "address": entry("x", direccion="OTRA"),
    }
    severity = {}
    for name, now in kinds.items():
        change = describe_change(before, now)
        assert change is not None
        severity[name] = change.severity
    assert sorted(severity, key=severity.__getitem__) == list(kinds)


def test_erase_one_or_all(tmp_path: Path) -> None:
    with apimigo(tmp_path) as store:
        store.record(RUC, entry("2026-11-30"))
        store.record(RUC, entry("2026-12-01", condicion_de_domicilio="NO HABIDO"))
        store.record("20131312955", entry("2026-11-30"))
        assert store.erase(RUC) == 2
        assert store.timeline(RUC) == []
        assert store.pending(RUC) is None
        assert store.erase() == 1


_WRITER = """
import sys
from migo_cli.history import APIMIGO_SCOPE, HistoryEntry, HistoryStore
start, day = int(sys.argv[2]), sys.argv[3]
with HistoryStore(sys.argv[1]) as history:
    store = history.scope(APIMIGO_SCOPE)
    print("listo", flush=True)
    sys.stdin.readline()  # both processes are open before either writes
    for n in range(start, start + 300):
        store.record(f"R{n % 400}", HistoryEntry.of(day, {"condicion_de_domicilio": day}))
"""


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    """Each writes 300 RUCs, 200 of them shared, each with its own value: nothing is lost."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(tmp_path), str(start), day],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for start, day in ((0, "2026-12-01"), (100, "2026-12-02"))
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "listo"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("\n")
            proc.stdin.close()
        for proc in procs:
            assert proc.wait(timeout=120) == 0
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None and not pipe.closed:
                    pipe.close()
    with apimigo(tmp_path) as store:
        shared = [store.timeline(f"R{n}") for n in range(100, 300)]
        alone = [store.timeline(f"R{n}") for n in [*range(100), *range(300, 400)]]
    assert all(len(t) == 2 for t in shared)  # first sighting + the other process's value
    assert {t[0].condicion_de_domicilio for t in shared} <= {"2026-12-01", "2026-12-02"}
    assert all(len(t) == 1 for t in alone)


def test_a_change_not_delivered_comes_back_with_the_next_equal_answer(tmp_path: Path) -> None:
    """A run that died before its output: the rerun's answer is the same, the change still due."""
    with apimigo(tmp_path) as store:
        store.record(RUC, entry("2026-11-30"))
        change = store.record(RUC, entry("2026-12-01", condicion_de_domicilio="NO HABIDO"))
        again = store.record(RUC, entry("2026-12-01", condicion_de_domicilio="NO HABIDO"))
        assert again == change
        store.delivered([RUC])
        assert store.record(RUC, entry("2026-12-02", condicion_de_domicilio="NO HABIDO")) is None
        assert len(store.timeline(RUC)) == 2


def test_record_many_is_record_for_each_in_one_transaction(tmp_path: Path) -> None:
    other = "20131312955"
    with apimigo(tmp_path) as store:
        assert store.record_many([(RUC, entry("2026-11-30")), (other, entry("2026-11-30"))]) == [
            None,
            None,
        ]
        changes = store.record_many(
            [
                (RUC, entry("2026-12-01", direccion="AV. SOL 1")),
                (other, entry("2026-12-01")),
                (RUC, entry("2026-12-01", direccion="AV. SOL 1")),  # twice in one batch
            ]
        )
        assert changes[0] is not None
        assert changes[0].text.startswith("dirección: JR. GRAU 123 LIMA → AV. SOL 1")
        assert changes[1] is None
        assert changes[2] == changes[0]
        assert len(store.timeline(RUC)) == 2


async def test_keep_records_one_loop_turn_in_one_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rucs = [f"2010003{n:04d}" for n in range(40)]
    with apimigo(tmp_path) as store:
        store.record_many([(ruc, entry("2026-11-30")) for ruc in rucs])
        batches: list[int] = []
        record_many = store.record_many

        def counted(answers: Sequence[tuple[str, HistoryEntry]]) -> list[Change | None]:
            batches.append(len(answers))
            return record_many(answers)

        monkeypatch.setattr(store, "record_many", counted)
        news = [entry("2026-12-01", estado_del_contribuyente="SUSPENSION TEMPORAL")] * 20
        same = [entry("2026-12-01")] * 20
        changes = await asyncio.gather(
            *(store.keep(ruc, now) for ruc, now in zip(rucs, [*news, *same], strict=True))
        )
        assert batches == [40]
        assert [c is not None for c in changes] == [True] * 20 + [False] * 20
    with apimigo(tmp_path) as store:  # committed: on disk for the next process
        assert all(store.pending(ruc) is not None for ruc in rucs[:20])


async def test_keep_hands_a_failure_to_every_caller(tmp_path: Path) -> None:
    with apimigo(tmp_path) as store:
        store.close()
        outcomes = await asyncio.gather(
            store.keep(RUC, entry("2026-11-30")),
            store.keep("20131312955", entry("2026-11-30")),
            return_exceptions=True,
        )
    assert all(isinstance(outcome, sqlite3.ProgrammingError) for outcome in outcomes)


def test_each_upstream_has_its_own_history_and_apimigo_keeps_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MIGO_BASE_URL", raising=False)
    assert cache_scope_for() == APIMIGO_SCOPE == cache_scope_for("https://api.migo.pe/")
    local = cache_scope_for("http://127.0.0.1:8000")
    with HistoryStore(tmp_path) as history:
        real, simulated = history.scope(APIMIGO_SCOPE), history.scope(local)
        real.record(RUC, entry("2026-11-30"))
        assert (
            simulated.record(RUC, entry("2026-12-01", condicion_de_domicilio="NO HABIDO")) is None
        )
        assert [e.condicion_de_domicilio for e in real.timeline(RUC)] == ["HABIDO"]
        assert simulated.erase() == 1
        assert len(real.timeline(RUC)) == 1
        assert history.scope("proxy.example.com:8443") is not history.scope("proxy.example.com")
    assert real.path == tmp_path / HISTORY_FILE  # where it was before there were scopes
    assert sorted(path.name for path in tmp_path.glob("*.sqlite3")) == [
        "historial-local.sqlite3",
        "historial-proxy.example.com%3A8443.sqlite3",
        "historial-proxy.example.com.sqlite3",
        "historial.sqlite3",
    ]


async def test_a_cancelled_keep_does_not_cancel_the_others_of_its_burst(tmp_path: Path) -> None:
    rucs = [f"2010003{n:04d}" for n in range(3)]
    with apimigo(tmp_path) as store:
        tasks = [asyncio.create_task(store.keep(ruc, entry("2026-11-30"))) for ruc in rucs]
        await asyncio.sleep(0)  # every task is now waiting for the burst's commit
        tasks[0].cancel()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        assert isinstance(outcomes[0], asyncio.CancelledError)
        assert outcomes[1:] == [None, None]  # first seen: recorded, no change
        assert all(len(store.timeline(ruc)) == 1 for ruc in rucs)  # the commit still ran


def test_a_burst_with_nothing_new_takes_no_write_lock(tmp_path: Path) -> None:
    """Night after night most answers repeat the last entry: those bursts only read."""
    with apimigo(tmp_path) as store:
        store.record_many([(RUC, entry("2026-11-30", estado_del_contribuyente="BAJA"))])
        store.record_many([(RUC, entry("2026-12-01"))])  # a change, not yet delivered
        store.record_many([(RUC, entry("2026-12-01"))])  # no news: the next burst reads first
        store._db.execute("PRAGMA busy_timeout = 50")  # a lock wait fails fast, not in 60 s
        other = sqlite3.connect(store.path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # another process is writing
            again = store.record_many([(RUC, entry("2026-12-02"))])
            assert [c.text if c else None for c in again] == [
                "estado: BAJA → ACTIVO (antes: 2026-11-30)"
            ]  # the pending change, read without the lock
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                store.record_many([(RUC, entry("2026-12-02", direccion="AV. NUEVA 1"))])
            other.execute("ROLLBACK")
        finally:
            other.close()
        assert len(store.timeline(RUC)) == 2  # nothing written while the other held the lock


def test_pending_reads_the_table_once_and_follows_its_own_writes(tmp_path: Path) -> None:
    """A big warm run asks ``pending`` for every cached row: no query per row."""
    rucs = [f"2010003{n:04d}" for n in range(3)]
    with apimigo(tmp_path) as store:
        store.record_many([(ruc, entry("2026-11-30")) for ruc in rucs])
        queries: list[str] = []
        store._db.set_trace_callback(queries.append)
        assert [store.pending(ruc) for ruc in rucs * 100] == [None] * 300
        assert len(queries) == 2  # data_version, then the table: once
        news = store.record_many([(rucs[0], entry("2026-12-01", direccion="AV. NUEVA 1"))])
        assert store.pending(rucs[0]) == news[0] is not None  # its own write, no reread
        store.delivered([rucs[0]])
        assert store.pending(rucs[0]) is None
        assert not any("FROM pending" in q for q in queries[2:] if q.startswith("SELECT"))


def test_pending_sees_another_process_change_once_the_copy_is_due(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with apimigo(tmp_path) as store, apimigo(tmp_path) as other:
        store.record_many([(RUC, entry("2026-11-30"))])
        assert store.pending(RUC) is None  # the copy is made
        other.record_many([(RUC, entry("2026-12-01", condicion_de_domicilio="NO HABIDO"))])
        monkeypatch.setattr(history, "PENDING_FRESH_S", 0.0)  # the copy is due at once
        change = store.pending(RUC)
        assert change is not None
        assert change.text.startswith("condición: HABIDO → NO HABIDO")
        other.delivered([RUC])
        assert store.pending(RUC) is None
        store.erase(RUC)
        assert store.pending(RUC) is None


def test_a_first_night_reads_each_burst_once(tmp_path: Path) -> None:
    """All news: after the first burst with news, the next ones go straight to the lock."""
    rucs = [f"2010003{n:04d}" for n in range(30)]
    with apimigo(tmp_path) as store:
        queries: list[str] = []
        store._db.set_trace_callback(queries.append)
        for first in range(0, 30, 10):
            store.record_many([(ruc, entry("2026-11-30")) for ruc in rucs[first : first + 10]])
        reads = [q for q in queries if q.startswith("SELECT")]
        assert len(reads) == 4  # the first burst read twice (no lock, then under it)
        assert queries.count("BEGIN IMMEDIATE") == 3
        assert all(len(store.timeline(ruc)) == 1 for ruc in rucs)


def test_record_dated_answers_as_record_many_does(tmp_path: Path) -> None:
    """Padrón answers by their data: first seen, the same date again, a newer one with news."""
    other = "20131312955"
    bursts: list[tuple[str, list[tuple[str, dict[str, str] | None]]]] = [
        ("2026-11-30", [(RUC, DATA), (other, None)]),
        ("2026-11-30", [(RUC, {**DATA, "condicion_de_domicilio": "NO HABIDO"}), (other, None)]),
        ("2026-12-01", [(RUC, {**DATA, "condicion_de_domicilio": "NO HABIDO"}), (other, DATA)]),
        ("2026-12-01", [(RUC, DATA), (other, DATA)]),  # the same padrón again: pending kept
        ("2026-11-29", [(RUC, DATA)]),  # an older padrón: older news
    ]
    with apimigo(tmp_path / "dated") as dated, apimigo(tmp_path / "many") as many:
        for day, answers in bursts:
            by_entry = [(ruc, HistoryEntry.of(day, data)) for ruc, data in answers]
            assert dated.record_dated(day, answers) == many.record_many(by_entry, newer_only=True)
        for ruc in (RUC, other):
            assert dated.timeline(ruc) == many.timeline(ruc)
        assert dated.pending(RUC) is not None
        assert dated.pending(RUC) == many.pending(RUC)


def test_the_same_padron_again_builds_no_entry_and_reads_no_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rucs = [f"2010003{n:04d}" for n in range(20)]
    with apimigo(tmp_path) as store:
        store.record_dated("2026-12-01", [(ruc, DATA) for ruc in rucs])
        store._expect_news = False  # a new night: a new process
        queries: list[str] = []
        store._db.set_trace_callback(queries.append)

        def built(*_: object) -> HistoryEntry:
            raise AssertionError("an entry was built for an answer that cannot be news")

        monkeypatch.setattr(HistoryEntry, "of", built)
        assert store.record_dated("2026-12-01", [(ruc, DATA) for ruc in rucs]) == [None] * 20
        assert len(queries) == 1
        assert "nombre_o_razon_social" not in queries[0]
