"""The history store (SPEC §8): one row per RUC plus one per change, pending until delivered."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from migo_cli.history import HistoryEntry, HistoryStore, describe_change

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


def test_the_first_answer_is_an_entry_and_no_change(tmp_path: Path) -> None:
    with HistoryStore(tmp_path) as store:
        assert store.record(RUC, entry("2026-11-30")) is None
        assert store.pending(RUC) is None
        assert [e.fecha[:10] for e in store.timeline(RUC)] == ["2026-11-30"]


def test_the_same_answer_again_adds_nothing(tmp_path: Path) -> None:
    with HistoryStore(tmp_path) as store:
        store.record(RUC, entry("2026-11-30"))
        # Case and spacing are how SUNAT's text comes, not news.
        assert store.record(RUC, entry("2026-12-01", estado_del_contribuyente=" activo")) is None
        assert len(store.timeline(RUC)) == 1


def test_a_change_is_described_recorded_and_pending_until_delivered(tmp_path: Path) -> None:
    with HistoryStore(tmp_path) as store:
        store.record(RUC, entry("2026-11-30"))
        change = store.record(RUC, entry("2026-12-01", condicion_de_domicilio="NO HABIDO"))
        assert change is not None
        assert change.text == "condición: HABIDO → NO HABIDO (antes: 2026-11-30)"
        assert store.pending(RUC) == change
        timeline = store.timeline(RUC)
        assert [e.condicion_de_domicilio for e in timeline] == ["HABIDO", "NO HABIDO"]
        store.delivered([RUC])
        assert store.pending(RUC) is None
    with HistoryStore(tmp_path) as store:  # it is all on disk
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
    with HistoryStore(tmp_path) as store:
        store.record(RUC, entry("2026-11-30"))
        store.record(RUC, entry("2026-12-01", condicion_de_domicilio="NO HABIDO"))
        store.record("20131312955", entry("2026-11-30"))
        assert store.erase(RUC) == 2
        assert store.timeline(RUC) == []
        assert store.pending(RUC) is None
        assert store.erase() == 1


_WRITER = """
import sys
from migo_cli.history import HistoryEntry, HistoryStore
start, day = int(sys.argv[2]), sys.argv[3]
with HistoryStore(sys.argv[1]) as store:
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
    with HistoryStore(tmp_path) as store:
        shared = [store.timeline(f"R{n}") for n in range(100, 300)]
        alone = [store.timeline(f"R{n}") for n in [*range(100), *range(300, 400)]]
    assert all(len(t) == 2 for t in shared)  # first sighting + the other process's value
    assert {t[0].condicion_de_domicilio for t in shared} <= {"2026-12-01", "2026-12-02"}
    assert all(len(t) == 1 for t in alone)
