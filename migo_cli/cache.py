"""The disk cache: every paid answer is kept the moment it arrives.

Built on diskcache (SQLite in WAL mode), which is safe for several processes
sharing one directory and survives ``kill -9`` of a writer. Writes use
``retry=True``: a write dropped on a busy database would mean paying again.

Keys read ``v{SCHEMA}|{scope}|{kind}|{id}``: never the token; ``scope`` keeps
answers from different upstreams apart (the simulator's fake data must not
answer for the real API); ``SCHEMA`` lets a future migo ignore entries it no
longer understands. A damaged directory is moved aside and rebuilt, with a
warning; if even that fails the run goes on without a cache.
"""

from __future__ import annotations

import logging
import pickle
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import diskcache

from migo_cli.config import CacheTTL
from migo_cli.models import Origin, RucResult, Status

__all__ = ["CacheInfo", "CacheScope", "ResultCache"]

log = logging.getLogger("migo.cache")

SCHEMA = 1
SIZE_LIMIT = 4 * 2**30  # a million RUC answers take about 1 GiB
_ERRORS = (sqlite3.Error, OSError, pickle.PickleError, EOFError, ValueError, TypeError)
_CACHED = (Status.VALID, Status.NOT_FOUND)


@dataclass(frozen=True, slots=True)
class CacheInfo:
    path: Path
    entries: int
    size_bytes: int


class ResultCache:
    """One cache directory. ``read=False`` is ``--refrescar``: ask again, keep the answers."""

    def __init__(self, directory: Path | str, ttl: CacheTTL | None = None, *, read: bool = True):
        self.path = Path(directory)
        self.ttl = ttl or CacheTTL()
        self.read = read
        self._warned = False
        self._store: diskcache.Cache | None = self._open()

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
        store = diskcache.Cache(
            str(self.path), timeout=60, size_limit=SIZE_LIMIT, tag_index=True, statistics=False
        )
        try:
            store.get("", retry=True)  # touch the tables: a damaged file fails here, not later
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
            return self._store.get(key, retry=True)
        except Exception as exc:
            self._failed("leer", exc)
            self._forget(key)
            return None

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
            self._store.set(key, value, expire=expire, tag=tag, retry=True)
        except _ERRORS as exc:
            self._failed("guardar", exc)

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
        entry = self._cache._get(f"{self._prefix}ruc|{ruc}")
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
        if self._cache is None or result.status not in _CACHED:
            return
        ttl = self._cache.ttl
        expire = ttl.valid if result.status is Status.VALID else ttl.not_found
        value = (result.status.value, result.reason, dict(result.data), result.queried_at)
        self._cache._put(f"{self._prefix}ruc|{result.ruc}", value, expire, _ruc_tag(result.ruc))

    def get(self, kind: str, key: str) -> Any:
        if self._cache is None:
            return None
        return self._cache._get(f"{self._prefix}{kind}|{key}")

    def put(self, kind: str, key: str, value: Any, expire: float) -> None:
        if self._cache is not None:
            self._cache._put(f"{self._prefix}{kind}|{key}", value, expire)
