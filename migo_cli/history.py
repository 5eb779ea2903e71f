"""What each RUC looked like before: the history behind ``cambio`` and ``migo historial``.

A nightly run is for noticing what changed since the last one (SPEC §8). The
cache keeps one answer per RUC and forgets the one before; this store keeps,
per RUC, one entry the first time it is seen and one more each time its estado,
condición, razón social or dirección (or its existence) changes: one row per RUC
plus one per change, in SQLite next to the cache. Like the cache, it keeps each
upstream apart (one file per scope): what a local simulator answered is never
compared with what APIMIGO answers.

Crash safety comes from the order the client follows for each fresh answer:
history first (the new entry and the change to report, in one transaction),
then the cache, then the output row. A change is "pending" until an output that
shows it is published (``delivered``): a run killed after the history write
reports the same change on the rerun, even though the answer then comes from
the cache; once delivered, a rerun from the cache shows none.

WAL journal with ``synchronous=NORMAL``: a commit survives the process dying
(``kill -9``), which is the failure that matters here, and costs no fsync. Two
processes share the file through SQLite's own locking (``busy_timeout``). From
the event loop, the answers of one loop turn are recorded in one transaction
(``HistoryScope.keep``), as the cache commits its writes.
"""

from __future__ import annotations

import json
import math
import operator
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlsplit

from migo_cli.config import DEFAULT_BASE_URL

if TYPE_CHECKING:  # the event loop's answers use it; the padrón's, recorded at once, need not
    import asyncio

__all__ = [
    "APIMIGO_SCOPE",
    "HISTORY_FILE",
    "Change",
    "HistoryEntry",
    "HistoryScope",
    "HistoryStore",
    "describe_change",
    "history_file",
]

HISTORY_FILE: Final = "historial.sqlite3"
#: The scope of APIMIGO's answers (``cache_scope_for`` of its URL): the one ``HISTORY_FILE`` holds.
APIMIGO_SCOPE: Final = urlsplit(DEFAULT_BASE_URL).hostname or DEFAULT_BASE_URL

#: The fields whose change is news, with the word a person reads, most serious first.
TRACKED: Final = (
    ("condicion_de_domicilio", "condición"),
    ("estado_del_contribuyente", "estado"),
    ("nombre_o_razon_social", "razón social"),
    ("direccion", "dirección"),
)

_FIELDS: Final = tuple(field for field, _ in TRACKED)
_COLUMNS: Final = ", ".join(("fecha", "existe", *_FIELDS))
_INSERT: Final = f"INSERT INTO entries (ruc, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
#: The last entry and the pending change of several RUCs (a JSON array of them), in one
#: query: what every burst of fresh answers reads.
_LAST_OF_MANY: Final = (
    "SELECT entries.ruc, "
    + ", ".join(f"entries.{column}" for column in ("fecha", "existe", *_FIELDS))
    + ", pending.cambio, pending.severidad FROM entries"
    " LEFT JOIN pending ON pending.ruc = entries.ruc"
    " WHERE entries.id IN (SELECT max(id) FROM entries WHERE ruc IN"
    " (SELECT value FROM json_each(?)) GROUP BY ruc)"
)
#: ``_LAST_OF_MANY`` with only the date of each last entry (and the pending change): what
#: ``record_dated`` needs to see that nothing is newer, in half the columns.
_DATES_OF_MANY: Final = (
    "SELECT entries.ruc, entries.fecha, pending.cambio, pending.severidad FROM entries"
    " LEFT JOIN pending ON pending.ruc = entries.ruc"
    " WHERE entries.id IN (SELECT max(id) FROM entries WHERE ruc IN"
    " (SELECT value FROM json_each(?)) GROUP BY ruc)"
)
#: How long a row answered from the cache may miss a change another process has just
#: recorded (``HistoryScope.pending``): it shows on the next run instead, as it is still pending.
PENDING_FRESH_S: Final = 1.0
_VALUES: Final = operator.attrgetter(*_FIELDS)

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
        get = data.get  # one per fresh answer: no dict of keyword arguments built
        return cls(
            fecha,
            True,
            _text(get("estado_del_contribuyente")),
            _text(get("condicion_de_domicilio")),
            _text(get("nombre_o_razon_social")),
            _text(get("direccion")),
        )

    def values(self) -> tuple[str | None, ...]:
        """The tracked values, in ``_FIELDS`` order."""
        values: tuple[str | None, ...] = _VALUES(self)
        return values

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
    """The history of one cache directory: one file per upstream, as the cache's scopes.

    ``scope(name)`` is one upstream's history (``cache_scope_for`` names it);
    ``MigoClient`` picks the one its base URL answers for, so a simulator's
    answers never become a real RUC's past. APIMIGO's own history keeps the
    file name it always had (``HISTORY_FILE``); every other upstream gets its
    own file beside it. Use as a context manager, or ``close()``.
    """

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self._scopes: dict[str, HistoryScope] = {}

    def scope(self, name: str) -> HistoryScope:
        """One upstream's history, opened (and created) on first use."""
        scope = self._scopes.get(name)
        if scope is None:
            scope = self._scopes[name] = HistoryScope(self.directory / history_file(name), name)
        return scope

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        scopes, self._scopes = list(self._scopes.values()), {}
        for scope in scopes:
            scope.close()


def history_file(scope: str) -> str:
    """The file of one scope's history: ``historial.sqlite3`` for APIMIGO's, as before scopes.

    Other scope names are host names or ``local``; quoted, so any name maps to
    one file name of its own.
    """
    if scope == APIMIGO_SCOPE:
        return HISTORY_FILE
    return f"historial-{quote(scope, safe='.-')}.sqlite3"


class HistoryScope:
    """One upstream's history: one SQLite file."""

    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self.name = name
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._setup()
        self._batch: list[tuple[str, HistoryEntry, asyncio.Future[Change | None]]] = []
        self._turn_scheduled = False  # a commit is scheduled for this loop turn (join_turn)
        self._expect_news = False  # the last burst had news: the next likely has too
        self._pending: dict[str, Change] | None = None  # ``pending``'s copy of the table
        self._pending_version = -1
        self._pending_checked = -math.inf

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

    def close(self) -> None:
        self._db.close()

    def record(self, ruc: str, entry: HistoryEntry) -> Change | None:
        """Note a fresh answer; the change its row should show, if any.

        That is the change since the last answer (kept as pending), or else one
        recorded earlier and not yet delivered (a run that died before its
        output). The first answer for a RUC is its first entry and no change; an
        answer equal to the last entry adds nothing: the store grows only with news.
        """
        return self.record_many([(ruc, entry)])[0]

    def record_many(
        self, answers: Sequence[tuple[str, HistoryEntry]], *, newer_only: bool = False
    ) -> list[Change | None]:
        """``record`` for several answers, in one transaction (one commit, not one each).

        With ``newer_only`` (padrón answers), an answer dated no later than the
        RUC's last entry is older news and is not recorded: a padrón published
        before an API answer already recorded must not report the old values as a
        change (nor the API's again on the next run), and the same padrón read
        again adds nothing. Such a RUC still gets its pending change, if any.

        A burst with nothing new (most of them, night after night) only reads,
        and takes no lock: each RUC's answer then adds nothing, as if it came
        just before any other process's write the read did not see. Only a burst
        with news takes the write lock, and reads again under it; after one,
        the next burst goes straight to the lock (a first night is all news).
        """
        rucs = {ruc for ruc, _ in answers}
        if not self._expect_news:
            known = self._last_of(rucs)  # a snapshot: no lock taken
            if not any(_is_news(entry, known.get(ruc), newer_only) for ruc, entry in answers):
                return [_pending(known.get(ruc)) for ruc, _ in answers]  # most bursts of a night
        db = self._db
        db.execute("BEGIN IMMEDIATE")  # read-compare-write as one step across processes
        try:
            known = self._last_of(rucs)  # (again) under the lock
            self._expect_news = any(
                _is_news(entry, known.get(ruc), newer_only) for ruc, entry in answers
            )
            news: dict[str, Change] = {}
            changes = [self._record(ruc, entry, known, news, newer_only) for ruc, entry in answers]
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if self._pending is not None:
            self._pending.update(news)
        return changes

    def record_dated(
        self, fecha: str, answers: Sequence[tuple[str, Mapping[str, Any] | None]]
    ) -> list[Change | None]:
        """``record_many(newer_only=True)`` of answers all dated ``fecha`` (a padrón's), each
        given as its data (None: the RUC does not exist); same results.

        Night after night the same padrón is read again, and no answer is newer than
        its RUC's last entry: that shows in the dates alone, read without the values,
        and then no ``HistoryEntry`` is built at all (benchmarks, figure 13).
        """
        if not self._expect_news:
            day = fecha[:10]
            known = self._rows_of(_DATES_OF_MANY, {ruc for ruc, _ in answers})
            lasts = [known.get(ruc) for ruc, _ in answers]
            if all(last is not None and day <= str(last[0])[:10] for last in lasts):
                return [
                    None if last is None or last[1] is None else Change(last[1], last[2])
                    for last in lasts
                ]
        entries = [(ruc, HistoryEntry.of(fecha, data)) for ruc, data in answers]
        return self.record_many(entries, newer_only=True)

    def _last_of(self, rucs: set[str]) -> dict[str, tuple[Any, ...]]:
        """RUC → (fecha, existe, *values, cambio, severidad) of its last entry; absent if none.

        One query per burst rather than one per answer: each ``execute`` costs more
        than the lookup it runs (bench figure 11).
        """
        return self._rows_of(_LAST_OF_MANY, rucs)

    def _rows_of(self, query: str, rucs: set[str]) -> dict[str, tuple[Any, ...]]:
        """RUC → the rest of its row, for a query of RUCs given as one JSON array: bound as
        one parameter, so one query for any number of them (``IN (?, ?, …)`` is capped at
        SQLite's limit on parameters, and read 500 at a time cost 20 % more CPU)."""
        rows = self._db.execute(query, (json.dumps(list(rucs)),))
        return {row[0]: row[1:] for row in rows}

    def _record(
        self,
        ruc: str,
        entry: HistoryEntry,
        known: dict[str, tuple[Any, ...]],
        news: dict[str, Change],
        newer_only: bool = False,
    ) -> Change | None:
        """One answer inside ``record_many``'s transaction; ``known`` is kept up to date.

        A change found is also put in ``news`` (the pending changes written).
        """
        values_now = entry.values()
        last = known.get(ruc)
        if last is None:  # first seen
            self._db.execute(_INSERT, (ruc, entry.fecha, int(entry.existe), *values_now))
            known[ruc] = (entry.fecha, int(entry.existe), *values_now, None, None)
            return None
        pending = _pending(last)
        if not _is_news(entry, last, newer_only):  # older, or the same: the common case
            return pending
        change = describe_change(_entry(last[:-2]), entry)
        if change is None:  # only case or spacing differ: not news
            return pending
        self._db.execute(_INSERT, (ruc, entry.fecha, int(entry.existe), *values_now))
        self._db.execute(
            "INSERT OR REPLACE INTO pending (ruc, cambio, severidad) VALUES (?, ?, ?)",
            (ruc, change.text, change.severity),
        )
        news[ruc] = change
        known[ruc] = (entry.fecha, int(entry.existe), *values_now, change.text, change.severity)
        return change

    async def keep(self, ruc: str, entry: HistoryEntry) -> Change | None:
        """``record`` from the event loop: committed with the others of this loop turn.

        Answers arrive in bursts; one transaction per burst instead of one per
        answer is what keeps history cheap next to the lookups (bench figure 11).
        Each caller gets its own change once the burst is committed, so
        "recorded before the cache" still holds for every answer.
        """
        return await self.noting(ruc, entry)

    def noting(self, ruc: str, entry: HistoryEntry) -> asyncio.Future[Change | None]:
        """``keep`` without the wait: the future of the change, set once this turn's burst
        is committed (``join_turn``)."""
        import asyncio

        self.join_turn()
        done: asyncio.Future[Change | None] = asyncio.get_running_loop().create_future()
        self._batch.append((ruc, entry, done))
        return done  # one future each: a caller cancelled cancels no one else

    def join_turn(self) -> None:
        """Schedule this loop turn's commit now, if it is not yet.

        Callbacks run in the order they were scheduled: a write another store
        schedules after this call, in the same turn, commits after the history's.
        ``MigoClient`` calls it before caching any fresh answer, recorded or not, so
        that every answer of the turn is recorded before it is cached.
        """
        if not self._turn_scheduled:
            import asyncio

            asyncio.get_running_loop().call_soon(self._commit_batch)
            self._turn_scheduled = True

    def _commit_batch(self) -> None:
        self._turn_scheduled = False
        batch, self._batch = self._batch, []
        if not batch:
            return
        try:
            changes = self.record_many([(ruc, entry) for ruc, entry, _ in batch])
        except Exception as exc:  # each caller sees the failure, as with ``record``
            for *_, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        for (*_, done), change in zip(batch, changes, strict=True):
            if not done.done():
                done.set_result(change)

    def pending(self, ruc: str) -> Change | None:
        """A change recorded but not yet shown in a published output.

        Asked for every row answered from the cache (a million in a big warm
        run), so answered from a copy of the pending table, which holds only
        undelivered changes: read again when another process has written the
        file (SQLite's ``data_version``), looked at no more than once per
        ``PENDING_FRESH_S``; this process's own writes keep it up to date.
        """
        now = time.monotonic()
        if self._pending is None or now - self._pending_checked >= PENDING_FRESH_S:
            self._pending_checked = now
            version = self._db.execute("PRAGMA data_version").fetchone()[0]
            if self._pending is None or version != self._pending_version:
                rows = self._db.execute("SELECT ruc, cambio, severidad FROM pending")
                self._pending = {r: Change(text, severity) for r, text, severity in rows}
                self._pending_version = version
        return self._pending.get(ruc)

    def delivered(self, rucs: Iterable[str]) -> None:
        """These RUCs' changes reached a published output: a rerun from the cache shows none."""
        gone = list(rucs)
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("DELETE FROM pending WHERE ruc = ?", ((r,) for r in gone))
        if self._pending is not None:
            for ruc in gone:
                self._pending.pop(ruc, None)

    def timeline(self, ruc: str) -> list[HistoryEntry]:
        """Every entry of one RUC, oldest first."""
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM entries WHERE ruc = ? ORDER BY id", (ruc,)
        ).fetchall()
        return [_entry(row) for row in rows]

    def erase(self, ruc: str | None = None) -> int:
        """Forget one RUC's history, or all of it; how many entries went."""
        self._pending = None  # read again when next asked
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            if ruc is None:
                self._db.execute("DELETE FROM pending")
                return self._db.execute("DELETE FROM entries").rowcount
            self._db.execute("DELETE FROM pending WHERE ruc = ?", (ruc,))
            return self._db.execute("DELETE FROM entries WHERE ruc = ?", (ruc,)).rowcount


def _is_news(entry: HistoryEntry, last: tuple[Any, ...] | None, newer_only: bool) -> bool:
    """Whether recording ``entry`` after ``last`` (a ``_last_of`` row) would write anything.

    May say yes where ``describe_change`` then finds only case or spacing changed:
    that burst just takes the write path for nothing.
    """
    if last is None:
        return True
    fecha, existe, *values = last[:-2]
    if newer_only and entry.fecha[:10] <= str(fecha)[:10]:
        return False
    return bool(existe) != entry.existe or tuple(values) != entry.values()


def _pending(last: tuple[Any, ...] | None) -> Change | None:
    """The change a ``_last_of`` row holds as not yet delivered, if any."""
    if last is None or last[-2] is None:
        return None
    return Change(last[-2], last[-1])


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
