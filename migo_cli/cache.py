"""The disk cache: every paid answer is kept the moment it arrives.

Built on diskcache (SQLite in WAL mode), which is safe for several processes
sharing one directory and survives ``kill -9`` of a writer. Writes use
``retry=True``: a write dropped on a busy database would mean paying again.

Keys read ``v{SCHEMA}|{scope}|{kind}|{id}``: never the token; ``scope`` keeps
answers from different upstreams apart (the simulator's fake data must not
answer for the real API); ``SCHEMA`` lets a future migo ignore entries it no
longer understands. A damaged directory is moved aside and rebuilt, with a
warning; if even that fails the run goes on without a cache.

Answers go in and out by the burst: one statement writes a burst of answers and
one reads a run of RUCs (``_UPSERT``, ``_SELECT_MANY``), in diskcache's own
table layout, which diskcache then reads and counts as its own entries. A
RUC missing from the cache cost 10 µs read alone and 0.6 µs read with its run;
an answer kept cost 36 µs through ``set`` and 28 µs in a burst of ten. That
layout has been diskcache's since 4.0; a store that does not have it (or a
custom ``Disk``) is written and read key by key through diskcache's API.
"""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import diskcache

from migo_cli.config import LOCAL_SCOPE, CacheTTL, cache_scope_for
from migo_cli.models import Origin, RucResult, Status

__all__ = ["LOCAL_SCOPE", "CacheInfo", "CacheScope", "ResultCache", "cache_scope_for"]

log = logging.getLogger("migo.cache")

SCHEMA = 1
#: The scope of every server on this machine, whatever its port: the simulator's.
SIZE_LIMIT = 4 * 2**30  # a million RUC answers take about 1 GiB
_ERRORS = (sqlite3.Error, OSError, pickle.PickleError, EOFError, ValueError, TypeError)
#: Answers worth keeping; a 422 (formato_invalido from APIMIGO) is one, like not found.
_CACHED = (Status.VALID, Status.NOT_FOUND, Status.INVALID)


@dataclass(frozen=True, slots=True)
class CacheInfo:
    path: Path
    entries: int
    size_bytes: int


_Write = tuple[str, Any, float, str | None]

#: diskcache's ``Cache`` table, as every release since 4.0 creates it.
_LAYOUT = (
    "rowid", "key", "raw", "store_time", "expire_time", "access_time",
    "access_count", "tag", "size", "mode", "filename", "value",
)  # fmt: skip
_MODE_PICKLE = 4  # diskcache.core.MODE_PICKLE: a pickled value kept in the row
#: What ``Cache.set`` writes for a str key (``raw``) and a value pickled under
#: ``min_file_size``; an entry whose old value lives in a file is left alone
#: (``set`` removes that file) and so counts no change.
_UPSERT = (
    "INSERT INTO Cache (key, raw, store_time, expire_time, access_time, access_count,"
    f" tag, size, mode, filename, value) VALUES (?, 1, ?, ?, ?, 0, ?, 0, {_MODE_PICKLE}, NULL, ?)"
    " ON CONFLICT (key, raw) DO UPDATE SET store_time = excluded.store_time,"
    " expire_time = excluded.expire_time, access_time = excluded.access_time,"
    " access_count = 0, tag = excluded.tag, size = 0, mode = excluded.mode,"
    " filename = NULL, value = excluded.value WHERE Cache.filename IS NULL"
)
#: What ``Cache.get`` reads, for a run of str keys given as one JSON array.
_SELECT_MANY = (
    "SELECT key, expire_time, mode, filename, value FROM Cache"
    " WHERE raw = 1 AND key IN (SELECT value FROM json_each(?))"
    " AND (expire_time IS NULL OR expire_time > ?)"
)
_FILED = (
    "SELECT key FROM Cache WHERE raw = 1 AND filename IS NOT NULL"
    " AND key IN (SELECT value FROM json_each(?))"
)


def _in_bulk(store: diskcache.Cache | None) -> bool:
    """Whether ``store`` has the layout ``_UPSERT`` and ``_SELECT_MANY`` are written for."""
    if store is None or type(store.disk) is not diskcache.Disk:
        return False
    try:
        columns = tuple(row[1] for row in store._sql("PRAGMA table_info(Cache)"))
        indexes = {row[1] for row in store._sql("PRAGMA index_list(Cache)")}
    except _ERRORS:
        return False
    return columns == _LAYOUT and "Cache_key_raw" in indexes


class _GroupCommit:
    """Writes made in one turn of the event loop, committed together at its end.

    Answers arrive in bursts (one ``epoll`` wake-up hands over many responses);
    one transaction for the burst costs a fraction of one per answer, on the
    loop's own thread (no lock ping-pong with a writer thread). Each caller awaits
    the commit of its write, so "stored before moving on" still holds.
    """

    def __init__(self, cache: ResultCache) -> None:
        self._cache = cache
        self._writes: list[_Write] = []
        self._done: asyncio.Future[None] | None = None

    def submit(self, write: _Write) -> asyncio.Future[None]:
        if self._done is None:
            loop = asyncio.get_running_loop()
            self._done = loop.create_future()
            loop.call_soon(self._commit)
        self._writes.append(write)
        return self._done

    def _commit(self) -> None:
        writes, done = self._writes, self._done
        self._writes, self._done = [], None
        self._cache._put_many(writes)
        if done is not None and not done.done():
            done.set_result(None)


class ResultCache:
    """One cache directory. ``read=False`` is ``--refrescar``: ask again, keep the answers.

    ``clock`` is the wall clock TTLs are counted on: tests move one forward instead
    of waiting for an entry to expire (it must not run behind ``time.time``, which
    diskcache itself still uses to drop what has expired).
    """

    def __init__(
        self,
        directory: Path | str,
        ttl: CacheTTL | None = None,
        *,
        read: bool = True,
        clock: Callable[[], float] = time.time,
    ):
        self.path = Path(directory)
        self.ttl = ttl or CacheTTL()
        self.read = read
        self._clock = clock
        self._warned = False
        self._store: diskcache.Cache | None = self._open()
        self._bulk = _in_bulk(self._store)
        self._committers: dict[asyncio.AbstractEventLoop, _GroupCommit] = {}

    def _open(self) -> diskcache.Cache | None:
        try:
            return self._connect()
        except _ERRORS as exc:
            log.warning("la caché en %s está dañada (%s); se reconstruye", self.path, exc)
        try:
            aside = self.path.with_name(f"{self.path.name}.danada-{int(time.time())}")
            self.path.rename(aside)
            log.warning("la caché dañada quedó en %s", aside)
            return self._connect()
        except _ERRORS as exc:
            log.warning("no se pudo reconstruir la caché (%s); se continúa sin caché", exc)
            return None

    def _connect(self) -> diskcache.Cache:
        # Each write is on a paid answer's path, so it does only the write: no
        # culling on set (``cull_limit=0``; expired and excess entries go here, once
        # per open) and no tag index (only ``limpiar --ruc`` reads tags).
        store = diskcache.Cache(
            str(self.path),
            timeout=60,
            size_limit=SIZE_LIMIT,
            cull_limit=0,
            tag_index=False,
            statistics=False,
        )
        try:
            store.cull(retry=True)  # also touches the tables: a damaged file fails here
        except BaseException:
            store.close()
            raise
        return store

    @property
    def available(self) -> bool:
        return self._store is not None

    def scope(self, name: str) -> CacheScope:
        """The view one upstream sees (see the module docstring)."""
        return CacheScope(self, name)

    def _failed(self, action: str, exc: BaseException) -> None:
        if not self._warned:
            self._warned = True
            log.warning("falló la caché al %s (%s); se continúa sin ella", action, exc)

    def _get(self, key: str) -> Any:
        if self._store is None or not self.read:
            return None
        try:
            value, expires = self._store.get(key, expire_time=True, retry=True)
        except Exception as exc:
            self._failed("leer", exc)
            self._forget(key)
            return None
        return value if self._fresh(expires) else None

    def _fresh(self, expires: float | None) -> bool:
        """Not expired on ``clock`` (diskcache drops only what ``time.time`` says expired)."""
        return expires is None or expires > self._clock()

    def _get_many(self, keys: Sequence[str]) -> dict[str, Any]:
        """``_get`` of several keys, in one query; the keys not found (or expired) are absent."""
        if self._store is None or not self.read or not keys:
            return {}
        if not self._bulk:
            found = {key: self._get(key) for key in keys}
            return {key: value for key, value in found.items() if value is not None}
        try:
            rows = self._store._sql(_SELECT_MANY, (json.dumps(keys), time.time())).fetchall()
        except _ERRORS as exc:
            self._failed("leer", exc)
            return {}
        fetch = self._store.disk.fetch
        found = {}
        for key, expires, mode, filename, value in rows:
            if not self._fresh(expires):
                continue
            try:
                found[key] = fetch(mode, filename, value, False)
            except Exception as exc:  # as ``_get``: unreadable means absent (and is dropped)
                self._failed("leer", exc)
                self._forget(key)
        return found

    def _expire(self, seconds: float) -> float:
        """``seconds`` from now on ``clock``, as diskcache counts them (from ``time.time()``)."""
        return seconds + (self._clock() - time.time())

    def _forget(self, key: str) -> None:
        try:
            if self._store is not None:
                self._store.delete(key, retry=True)
        except _ERRORS:
            pass

    def _put(self, key: str, value: Any, expire: float, tag: str | None = None) -> None:
        if self._store is None:
            return
        try:
            self._store.set(key, value, expire=self._expire(expire), tag=tag, retry=True)
        except _ERRORS as exc:
            self._failed("guardar", exc)

    def _put_many(self, writes: Sequence[_Write]) -> None:
        """``_put`` of a burst, in one transaction (expiry already on ``clock``: ``_expire``)."""
        store = self._store
        if store is None:
            return
        try:
            with store.transact(retry=True):
                rest = self._upsert(store, writes) if self._bulk else writes
                for key, value, expire, tag in rest:
                    store.set(key, value, expire=expire, tag=tag, retry=True)
        except _ERRORS as exc:
            self._failed("guardar", exc)

    @staticmethod
    def _upsert(store: diskcache.Cache, writes: Sequence[_Write]) -> list[_Write]:
        """Write what ``_UPSERT`` can, in one statement; returns what ``set`` must write."""
        disk = store.disk
        now = time.time()
        rows, rest = [], []
        for write in writes:
            key, value, expire, tag = write
            pickled = pickle.dumps(value, protocol=disk.pickle_protocol)
            if len(pickled) < disk.min_file_size:
                rows.append((key, now, now + expire, now, tag, pickled))
            else:  # to a file of its own, as diskcache stores large values
                rest.append(write)
        if rows and store._con.executemany(_UPSERT, rows).rowcount < len(rows):
            keys = json.dumps([row[0] for row in rows])
            filed = {key for (key,) in store._sql(_FILED, (keys,))}
            rest.extend(write for write in writes if write[0] in filed)
        return rest

    def _putting(
        self, key: str, value: Any, expire: float, tag: str | None
    ) -> asyncio.Future[None] | None:
        """``_put`` from the event loop: the future of this turn's group commit, shared by
        the burst's writers (shield it: a caller cancelled must cancel only itself);
        None without a store."""
        if self._store is None:
            return None
        loop = asyncio.get_running_loop()
        committer = self._committers.get(loop)
        if committer is None:
            committer = self._committers[loop] = _GroupCommit(self)
        return committer.submit((key, value, self._expire(expire), tag))

    def info(self) -> CacheInfo:
        if self._store is None:
            return CacheInfo(self.path, 0, 0)
        self._store.expire(retry=True)
        return CacheInfo(self.path, len(self._store), int(self._store.volume()))

    def clear(self, ruc: str | None = None) -> int:
        """Remove every entry, or every entry about one RUC; returns how many."""
        if self._store is None:
            return 0
        if ruc is None:
            return int(self._store.clear(retry=True))
        return int(self._store.evict(_ruc_tag(ruc), retry=True))

    def close(self) -> None:
        self._committers.clear()
        if self._store is not None:
            self._store.close()

    def __enter__(self) -> ResultCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _ruc_tag(ruc: str) -> str:
    return f"ruc:{ruc}"


class CacheScope:
    """Typed access to one upstream's entries."""

    def __init__(self, cache: ResultCache | None, name: str) -> None:
        self._cache = cache
        self._prefix = f"v{SCHEMA}|{name}|"

    @property
    def ttl(self) -> CacheTTL:
        return self._cache.ttl if self._cache is not None else CacheTTL()

    def get_ruc(self, ruc: str) -> RucResult | None:
        if self._cache is None:
            return None
        return self._answer(ruc, self._cache._get(f"{self._prefix}ruc|{ruc}"))

    def get_rucs(self, rucs: Sequence[str]) -> dict[str, RucResult]:
        """``get_ruc`` of several RUCs, read in one query: RUC → answer, for those kept."""
        if self._cache is None:
            return {}
        prefix = f"{self._prefix}ruc|"
        found = self._cache._get_many([prefix + ruc for ruc in rucs])
        answers = {}
        for key, entry in found.items():
            answer = self._answer(key[len(prefix) :], entry)
            if answer is not None:
                answers[answer.ruc] = answer
        return answers

    @staticmethod
    def _answer(ruc: str, entry: Any) -> RucResult | None:
        if not isinstance(entry, tuple) or len(entry) != 4:
            return None
        status, reason, data, queried_at = entry
        try:
            return RucResult(ruc, Status(status), reason, data, Origin.CACHE, queried_at)
        except ValueError:
            return None

    def has_ruc(self, ruc: str) -> bool:
        return self.get_ruc(ruc) is not None

    def put_ruc(self, result: RucResult) -> None:
        """Keep an answer (valid or not found); errors are never cached, so reruns ask again."""
        if self._cache is not None and result.status in _CACHED:
            self._cache._put(*self._ruc_write(result))

    async def keep_ruc(self, result: RucResult) -> None:
        """``put_ruc`` from async code: returns once committed, without blocking the loop."""
        kept = self.keeping_ruc(result)
        if kept is not None:
            await asyncio.shield(kept)

    def keeping_ruc(self, result: RucResult) -> asyncio.Future[None] | None:
        """``keep_ruc`` without the wait: the future of the commit at the end of this
        loop turn (shared: shield it), or None when there is nothing to keep. Scheduled
        now, so it commits after any write scheduled earlier in this turn (the history's).
        """
        if self._cache is None or result.status not in _CACHED:
            return None
        return self._cache._putting(*self._ruc_write(result))

    def _ruc_write(self, result: RucResult) -> _Write:
        ttl = self.ttl
        expire = ttl.valid if result.status is Status.VALID else ttl.not_found
        value = (result.status.value, result.reason, dict(result.data), result.queried_at)
        return f"{self._prefix}ruc|{result.ruc}", value, expire, _ruc_tag(result.ruc)

    def get(self, kind: str, key: str) -> Any:
        if self._cache is None:
            return None
        return self._cache._get(f"{self._prefix}{kind}|{key}")

    def put(self, kind: str, key: str, value: Any, expire: float) -> None:
        if self._cache is not None:
            self._cache._put(f"{self._prefix}{kind}|{key}", value, expire)
