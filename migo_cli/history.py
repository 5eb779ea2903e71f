"""What each RUC looked like before: the history behind ``cambio`` and ``migo historial``.

A nightly run is for noticing what changed since the last one (SPEC §8). The
cache keeps one answer per RUC and forgets the one before; this store keeps,
per RUC, one entry the first time it is seen and one more each time its estado,
condición, razón social or dirección (or its existence) changes: one row per RUC
plus one per change, in SQLite next to the cache.

Crash safety comes from the order the client follows for each fresh answer:
history first (the new entry and the change to report, in one transaction),
then the cache, then the output row. A change is "pending" until an output that
shows it is published (``delivered``): a run killed after the history write
reports the same change on the rerun, even though the answer then comes from
the cache; once delivered, a rerun from the cache shows none.

WAL journal with ``synchronous=NORMAL``: a commit survives the process dying
(``kill -9``), which is the failure that matters here, and costs no fsync. Two
processes share the file through SQLite's own locking (``busy_timeout``).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

__all__ = ["HISTORY_FILE", "Change", "HistoryEntry", "HistoryStore", "describe_change"]

HISTORY_FILE: Final = "historial.sqlite3"

#: The fields whose change is news, with the word a person reads, most serious first.
TRACKED: Final = (
    ("condicion_de_domicilio", "condición"),
    ("estado_del_contribuyente", "estado"),
    ("nombre_o_razon_social", "razón social"),
    ("direccion", "dirección"),
)

_FIELDS: Final = tuple(field for field, _ in TRACKED)
_COLUMNS: Final = ", ".join(("fecha", "existe", *_FIELDS))
#: RUCs per ``IN (...)`` query: well under SQLite's bound on parameters.
_CHUNK: Final = 500
_INSERT: Final = f"INSERT INTO entries (ruc, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY,
    ruc TEXT NOT NULL,
    fecha TEXT NOT NULL,
    existe INTEGER NOT NULL,
    estado_del_contribuyente TEXT,
    condicion_de_domicilio TEXT,
    nombre_o_razon_social TEXT,
    direccion TEXT
);
CREATE INDEX IF NOT EXISTS entries_by_ruc ON entries (ruc, id);
CREATE TABLE IF NOT EXISTS pending (
    ruc TEXT PRIMARY KEY,
    cambio TEXT NOT NULL,
    severidad INTEGER NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One point of a RUC's timeline: what it was from ``fecha`` on."""

    fecha: str
    existe: bool
    estado_del_contribuyente: str | None = None
    condicion_de_domicilio: str | None = None
    nombre_o_razon_social: str | None = None
    direccion: str | None = None

    @classmethod
    def of(cls, fecha: str, data: Mapping[str, Any] | None) -> HistoryEntry:
        """The entry for an answer: ``data`` is APIMIGO's fields, None when it does not exist."""
        if data is None:
            return cls(fecha, False)
        values = {field: _text(data.get(field)) for field, _ in TRACKED}
        return cls(fecha, True, **values)

    def values(self) -> tuple[str | None, ...]:
        """The tracked values, in ``_FIELDS`` order."""
        return tuple(getattr(self, field) for field in _FIELDS)

    def to_dict(self) -> dict[str, Any]:
        return {
            "fecha": self.fecha,
            "existe": self.existe,
            **{field: getattr(self, field) for field, _ in TRACKED},
        }


@dataclass(frozen=True, slots=True)
class Change:
    """What changed for one RUC: the Spanish text of ``cambio`` and how serious it is."""

    text: str
    severity: int  # lower is more serious: sorts the ``cambios`` sheet


def describe_change(before: HistoryEntry, now: HistoryEntry) -> Change | None:
    """``condición: HABIDO → NO HABIDO (antes: 2026-11-30)``; None when nothing changed."""
    since = f"(antes: {before.fecha[:10]})"
    if before.existe and not now.existe:
        return Change(f"ya no existe en SUNAT {since}", 0)
    if not before.existe and now.existe:
        return Change(f"ahora existe en SUNAT {since}", 5)
    parts: list[str] = []
    severity = 9
    for rank, (field, label) in enumerate(TRACKED):
        old, new = getattr(before, field), getattr(now, field)
        if _norm(old) != _norm(new):
            parts.append(f"{label}: {old or '-'} → {new or '-'}")
            severity = min(severity, _severity(rank, field, new))
    if not parts:
        return None
    return Change(f"{'; '.join(parts)} {since}", severity)


def _severity(rank: int, field: str, new: str | None) -> int:
    """Becoming NO HABIDO or leaving ACTIVO first, then any other estado/condición change."""
    value = _norm(new)
    if field == "condicion_de_domicilio" and value != "HABIDO":
        return 1
    if field == "estado_del_contribuyente" and value != "ACTIVO":
        return 2
    return 3 + rank


class HistoryStore:
    """The history file of one cache directory. Use as a context manager, or ``close()``."""

    def __init__(self, directory: Path | str) -> None:
        self.path = Path(directory) / HISTORY_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._setup()

    def _setup(self) -> None:
        """WAL and the tables, once per file; a second process opening it meanwhile waits.

        Switching to WAL needs the file to itself, and SQLite answers "locked" at
        once (no busy wait) when another process has it open for the same: so the
        switch is retried, and skipped when the file is already in WAL (it stays so).
        """
        for attempt in range(200):
            try:
                mode = self._db.execute("PRAGMA journal_mode").fetchone()[0]
                if str(mode).lower() != "wal":
                    self._db.execute("PRAGMA journal_mode=WAL")
                self._db.executescript(_SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 199:
                    raise
                time.sleep(0.05)

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def record(self, ruc: str, entry: HistoryEntry) -> Change | None:
        """Note a fresh answer; the change since the last one (also kept as pending), if any.

        The first answer for a RUC is its first entry and no change. An answer
        equal to the last entry adds nothing: the store grows only with news.
        """
        db = self._db
        db.execute("BEGIN IMMEDIATE")  # read-compare-write as one step across processes
        try:
            last = self._last(ruc)
            change = None if last is None else describe_change(last, entry)
            if last is None or change is not None:
                db.execute(_INSERT, (ruc, entry.fecha, int(entry.existe), *entry.values()))
            if change is not None:
                db.execute(
                    "INSERT OR REPLACE INTO pending (ruc, cambio, severidad) VALUES (?, ?, ?)",
                    (ruc, change.text, change.severity),
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return change

    def record_many(
        self,
        answers: Sequence[tuple[str, str, Mapping[str, Any] | None]],
        *,
        newer_only: bool = False,
    ) -> None:
        """Note many fresh answers in one transaction (a window of padrón rows); see ``record``.

        Each answer is ``(ruc, fecha, data)`` as ``HistoryEntry.of`` takes them. With
        ``newer_only``, an answer dated no later than the RUC's last entry is older
        news and is skipped: a padrón published before an API answer already
        recorded must not report the old values as a change, nor the API's again
        on the next run (nor does the same padrón, read again, add anything).
        """
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            dates = self._last_dates([ruc for ruc, _, _ in answers])
            if newer_only:
                answers = [a for a in answers if dates.get(a[0], "")[:10] < a[1][:10]]
            last = self._last_many([ruc for ruc, _, _ in answers if ruc in dates])
            inserts: list[tuple[Any, ...]] = []
            changes: list[tuple[str, str, int]] = []
            for ruc, fecha, data in answers:
                entry = HistoryEntry.of(fecha, data)
                before = last.get(ruc)
                change = None if before is None else describe_change(before, entry)
                if before is None or change is not None:
                    inserts.append((ruc, entry.fecha, int(entry.existe), *entry.values()))
                    last[ruc] = entry  # a RUC twice in one call compares with the first
                if change is not None:
                    changes.append((ruc, change.text, change.severity))
            db.executemany(_INSERT, inserts)
            db.executemany(
                "INSERT OR REPLACE INTO pending (ruc, cambio, severidad) VALUES (?, ?, ?)",
                changes,
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def pending_many(self, rucs: Sequence[str]) -> dict[str, Change]:
        """``pending`` for many RUCs at once: those with a change not yet shown."""
        found: dict[str, Change] = {}
        for start in range(0, len(rucs), _CHUNK):
            chunk = rucs[start : start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT ruc, cambio, severidad FROM pending WHERE ruc IN ({marks})", chunk
            )
            found.update((ruc, Change(text, severity)) for ruc, text, severity in rows)
        return found

    def pending(self, ruc: str) -> Change | None:
        """A change recorded but not yet shown in a published output."""
        row = self._db.execute(
            "SELECT cambio, severidad FROM pending WHERE ruc = ?", (ruc,)
        ).fetchone()
        return None if row is None else Change(row[0], row[1])

    def delivered(self, rucs: Iterable[str]) -> None:
        """These RUCs' changes reached a published output: a rerun from the cache shows none."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("DELETE FROM pending WHERE ruc = ?", ((r,) for r in rucs))

    def timeline(self, ruc: str) -> list[HistoryEntry]:
        """Every entry of one RUC, oldest first."""
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM entries WHERE ruc = ? ORDER BY id", (ruc,)
        ).fetchall()
        return [_entry(row) for row in rows]

    def erase(self, ruc: str | None = None) -> int:
        """Forget one RUC's history, or all of it; how many entries went."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            if ruc is None:
                self._db.execute("DELETE FROM pending")
                return self._db.execute("DELETE FROM entries").rowcount
            self._db.execute("DELETE FROM pending WHERE ruc = ?", (ruc,))
            return self._db.execute("DELETE FROM entries WHERE ruc = ?", (ruc,)).rowcount

    def _last_dates(self, rucs: Sequence[str]) -> dict[str, str]:
        """Each known RUC's last ``fecha``: most of a nightly padrón window stops here."""
        dates: dict[str, str] = {}
        for start in range(0, len(rucs), _CHUNK):
            chunk = rucs[start : start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            rows = self._db.execute(
                "SELECT ruc, fecha FROM entries WHERE id IN "
                f"(SELECT max(id) FROM entries WHERE ruc IN ({marks}) GROUP BY ruc)",
                chunk,
            )
            dates.update(rows)
        return dates

    def _last_many(self, rucs: Sequence[str]) -> dict[str, HistoryEntry]:
        last: dict[str, HistoryEntry] = {}
        for start in range(0, len(rucs), _CHUNK):
            chunk = rucs[start : start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT ruc, {_COLUMNS} FROM entries WHERE id IN "
                f"(SELECT max(id) FROM entries WHERE ruc IN ({marks}) GROUP BY ruc)",
                chunk,
            )
            last.update((row[0], _entry(row[1:])) for row in rows)
        return last

    def _last(self, ruc: str) -> HistoryEntry | None:
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM entries WHERE ruc = ? ORDER BY id DESC LIMIT 1", (ruc,)
        ).fetchone()
        return None if row is None else _entry(row)


def _entry(row: tuple[Any, ...]) -> HistoryEntry:
    fecha, existe, *values = row
    return HistoryEntry(fecha, bool(existe), **dict(zip(_FIELDS, values, strict=True)))


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def _norm(value: str | None) -> str:
    return (value or "").upper()
