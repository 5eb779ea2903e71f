"""``Migo``: the synchronous face of ``MigoClient``, for scripts, Django sync views and Celery.

::

    from migo_cli.sync import Migo

    with Migo(cache="~/.cache/migo") as migo:     # token: MIGO_TOKEN, or token=...
        result = migo.lookup_ruc("20100038146")
        summary = migo.lookup_batch(rucs).to_dict()
        for result in migo.lookup_many(rucs):     # as they complete
            ...

How it works, and what follows from it:

* One ``Migo`` owns one background thread running an event loop, and one
  ``MigoClient`` on that loop (created on first use). Every method hands a
  coroutine to that loop and waits for its result. Connections, the pace
  (concurrency, ``rpm``, 429 cool-downs) and the stop after a rejected token
  are therefore shared by every call, from every thread.
* Thread-safe: any number of threads may call one ``Migo`` at once (Celery's
  ``threads`` pool, Django sync views under WSGI); their calls run concurrently
  on the loop, within the client's limits. Keep one per process.
* Fork-safe: a child process (Celery's prefork pool) that inherits a ``Migo``
  starts its own thread and client on first use; the parent's stay with it.
* Not for async code: a call from a thread whose event loop is running raises
  ``RuntimeError`` at once, instead of blocking that loop (and every request
  it serves) until APIMIGO answers. Use ``async with MigoClient(...)`` there,
  as a Django async view does, or call ``Migo`` through ``asyncio.to_thread``.
* ``close()`` (or the ``with`` block) closes the client, a cache it opened and
  the thread. A ``Migo`` never closed is closed when the interpreter exits.
* ``fuente`` (default ``MIGO_FUENTE``, then the config file, then ``api``), as
  ``--fuente``: with ``"padron"`` the RUC lookups are answered by the local
  padrón alone, with no token and no HTTP (a Celery task that must cost
  nothing); with ``"auto"``, the padrón first and APIMIGO only for the RUCs it
  does not hold. ``PadronMissingError`` on first use when no padrón is built
  (``migo padron actualizar``); ``padron_dir`` defaults to ``MIGO_PADRON_DIR``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Iterable
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from migo_cli.answers import AccountInfo, DniResult, ExchangeRate, LegalRepresentatives
from migo_cli.background import LoopThread
from migo_cli.cache import ResultCache
from migo_cli.client import ClientStats, LookupMode, MigoClient
from migo_cli.config import (
    Limits,
    Retry,
    Timeout,
    resolve_base_url,
    resolve_dialect,
    resolve_source,
    resolve_token,
)
from migo_cli.dialects import Dialect
from migo_cli.exceptions import UsageError
from migo_cli.models import (
    RucResult,
    Source,
)
from migo_cli.padron.lookup import PadronLookup
from migo_cli.padron.store import PadronIndex
from migo_cli.settle import LookupSummary

__all__ = ["Migo", "MigoSync"]

T = TypeVar("T")

#: How long ``close()`` waits for in-flight requests and the thread to finish.
CLOSE_TIMEOUT = 30.0

_IN_LOOP_MESSAGE = (
    "Migo es la interfaz síncrona y no puede usarse dentro de un event loop en marcha "
    "(bloquearía el loop hasta que APIMIGO responda): en código async use "
    "`async with MigoClient(...)`, o llame a Migo con asyncio.to_thread(...)"
)

_END = object()
#: Runners a forked child inherited: kept, never collected (their thread is in the parent).
_INHERITED: list[_Runner] = []


def _no_running_loop() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(_IN_LOOP_MESSAGE)


class _Runner(LoopThread):
    """The loop thread and the client living on it (kept apart from ``Migo`` for finalize).

    ``client`` is None with ``fuente`` ``padron``; ``lookup`` answers the RUC
    lookups: the client, or the padrón first (``PadronLookup``).
    """

    def __init__(
        self,
        settings: dict[str, Any],
        cache: ResultCache | Path | None,
        source: Source = Source.API,
        padron_dir: Path | None = None,
    ) -> None:
        self.pid = os.getpid()
        super().__init__("migo-sync")
        self.owned_cache: ResultCache | None = None
        self.cache = cache if isinstance(cache, ResultCache) else None
        self.client: MigoClient | None = None
        self.index: PadronIndex | None = None
        try:
            self.lookup: MigoClient | PadronLookup = self.call(
                self._open(settings, cache, source, padron_dir)
            )
        except BaseException:
            self.stop(CLOSE_TIMEOUT)
            raise

    async def _open(
        self,
        settings: dict[str, Any],
        cache: ResultCache | Path | None,
        source: Source,
        padron_dir: Path | None,
    ) -> MigoClient | PadronLookup:
        if source is not Source.API:  # opened and used on this thread only
            self.index = PadronIndex.open(padron_dir)
        if source is Source.PADRON:
            assert self.index is not None
            return PadronLookup(self.index)
        if isinstance(cache, Path):  # opened here: every connection to it lives on this thread
            self.owned_cache = self.cache = ResultCache(cache)
        client = MigoClient(cache=self.cache, **settings)
        self.client = await client.__aenter__()
        return self.client if self.index is None else PadronLookup(self.index, self.client)

    async def _shutdown(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            await client.aclose()
        await self.settle()
        if self.index is not None:
            self.index.close()
        if self.owned_cache is not None:
            self.owned_cache.close()
        elif self.cache is not None:
            self.cache.close()  # only this thread's connection: the caller's stay open

    def close(self) -> None:
        if os.getpid() != self.pid:  # a forked child: the thread and its loop stayed in the parent
            return
        if self.thread.is_alive():
            shutdown = asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop)
            with contextlib.suppress(Exception):  # closing must not fail; the loop stops anyway
                shutdown.result(CLOSE_TIMEOUT)
        self.stop(CLOSE_TIMEOUT)


class _Holder:
    """The current runner of a ``Migo``; what ``weakref.finalize`` closes."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.runner: _Runner | None = None
        self.closed = False

    def close(self) -> None:
        if os.getpid() != self.pid:
            return
        with self.lock:
            self.closed = True
            runner, self.runner = self.runner, None
        if runner is not None:
            runner.close()


class Migo:
    """Synchronous APIMIGO client; the same lookups as ``MigoClient``, without ``await``.

    Arguments are ``MigoClient``'s: ``token``/``base_url`` default to
    ``MIGO_TOKEN``/``MIGO_BASE_URL`` (then the config file), ``api`` to
    ``MIGO_API`` (then the config file, then v1), checked here, at once.
    ``cache`` is a ``ResultCache`` you own (and close), or a directory
    for one this ``Migo`` opens and closes; None: no cache. ``fuente``
    ``padron`` needs no token and calls nothing but the RUC lookups; see the
    module docstring for it, threads, processes and event loops.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str | None = None,
        limits: Limits | None = None,
        timeout: Timeout | None = None,
        retry: Retry | None = None,
        cache: ResultCache | str | os.PathLike[str] | None = None,
        api: Dialect | str | None = None,
        fuente: Source | str | None = None,
        padron_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.fuente = resolve_source(fuente)
        self._padron_dir = None if padron_dir is None else Path(padron_dir).expanduser()
        self._settings: dict[str, Any] = {
            "token": None if self.fuente is Source.PADRON else resolve_token(token),
            "base_url": resolve_base_url(base_url),
            "api": resolve_dialect(api),
            "limits": limits,
            "timeout": timeout,
            "retry": retry,
        }
        self.base_url: str = self._settings["base_url"]
        self._cache: ResultCache | Path | None = (
            cache if cache is None or isinstance(cache, ResultCache) else Path(cache).expanduser()
        )
        self._holder = _Holder()
        self._finalizer = weakref.finalize(self, self._holder.close)

    def __repr__(self) -> str:  # the token stays out of reprs, logs and tracebacks
        return f"Migo(base_url={self.base_url!r}, fuente={self.fuente.value!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the client, a cache this ``Migo`` opened, and its thread; idempotent."""
        self._finalizer()

    @property
    def closed(self) -> bool:
        return self._holder.closed

    def _runner(self) -> _Runner:
        _no_running_loop()
        holder = self._holder
        if holder.pid != os.getpid():  # forked: start afresh in this process
            if holder.runner is not None:
                _INHERITED.append(holder.runner)
            holder.pid, holder.lock, holder.runner = os.getpid(), threading.Lock(), None
        with holder.lock:
            if holder.closed:
                raise RuntimeError("este Migo ya fue cerrado")
            if holder.runner is None:
                holder.runner = _Runner(self._settings, self._cache, self.fuente, self._padron_dir)
            return holder.runner

    def _call(self, work: Callable[[MigoClient], Coroutine[Any, Any, T]]) -> T:
        runner = self._runner()
        if runner.client is None:
            raise UsageError(
                "con fuente='padron' este Migo solo consulta RUC en el padrón local, "
                "sin token ni APIMIGO: use fuente='auto' o 'api' para los demás servicios"
            )
        return runner.call(work(runner.client))

    def _lookup(self, work: Callable[[MigoClient | PadronLookup], Coroutine[Any, Any, T]]) -> T:
        runner = self._runner()
        return runner.call(work(runner.lookup))

    @property
    def stats(self) -> ClientStats:
        """The client's counters (requests, lookups, retries); zeros before the first call."""
        runner = self._holder.runner
        client = runner.client if runner is not None else None
        return client.stats if client is not None else ClientStats()

    # -- the lookups: see MigoClient for what each one does -----------------------

    def lookup_ruc(self, value: object) -> RucResult:
        """One RUC (``MigoClient.lookup_ruc``)."""
        return self._lookup(lambda lookup: lookup.lookup_ruc(value))

    def lookup_dni(self, dni: object) -> DniResult:
        """One DNI (``MigoClient.lookup_dni``)."""
        return self._call(lambda client: client.lookup_dni(dni))

    def legal_representatives(self, ruc: object) -> LegalRepresentatives:
        """The legal representatives of a RUC (``MigoClient.legal_representatives``)."""
        return self._call(lambda client: client.legal_representatives(ruc))

    def exchange_rate(self, day: date | str | None = None) -> ExchangeRate:
        """The dollar rate of a day, or the latest (``MigoClient.exchange_rate``)."""
        return self._call(lambda client: client.exchange_rate(day))

    def exchange_rates(self, start: date | str, end: date | str) -> list[ExchangeRate]:
        """The rates of a range of days (``MigoClient.exchange_rates``)."""
        return self._call(lambda client: client.exchange_rates(start, end))

    def account(self) -> AccountInfo:
        """The account and its credits (``MigoClient.account``)."""
        return self._call(lambda client: client.account())

    def lookup_batch(
        self, values: Iterable[object], *, mode: LookupMode = LookupMode.INDIVIDUAL
    ) -> LookupSummary:
        """A whole list at once (``MigoClient.lookup_batch``); ``.to_dict()``: the service shape."""
        items = list(values)  # read here, in the caller's thread
        return self._lookup(lambda lookup: lookup.lookup_batch(items, mode=mode))

    def lookup_many(
        self,
        values: Iterable[object],
        *,
        mode: LookupMode = LookupMode.INDIVIDUAL,
        ordered: bool = False,
    ) -> Generator[RucResult, None, None]:
        """Results one by one as they complete, or in input order (``MigoClient.lookup_many``).

        ``values`` is read lazily, on the client's thread, so a generator over a
        huge file is fine. Stopping the iteration early (``break``) cancels what
        is still pending.
        """
        runner = self._runner()
        lookup = runner.lookup
        stream = (
            lookup.lookup_many(values, mode=mode, ordered=ordered)
            if isinstance(lookup, MigoClient)
            else _results(lookup.stream(values, mode=mode))  # the padrón's: in input order
        )
        try:
            while (item := runner.call(_next(stream))) is not _END:
                assert isinstance(item, RucResult)
                yield item
        finally:
            _close_stream(runner, stream)


#: Another name for ``Migo``, for code that wants to say which one it uses.
MigoSync = Migo


async def _results(stream: AsyncIterator[tuple[int, RucResult]]) -> AsyncIterator[RucResult]:
    async for _, result in stream:
        yield result


async def _next(stream: AsyncIterator[RucResult]) -> object:
    try:
        return await anext(stream)
    except StopAsyncIteration:  # a Future cannot carry it across threads
        return _END


async def _aclose(stream: AsyncIterator[RucResult]) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


def _close_stream(runner: _Runner, stream: AsyncIterator[RucResult]) -> None:
    if not runner.thread.is_alive() or runner.loop.is_closed():
        return
    if threading.current_thread() is runner.thread:  # garbage-collected on the loop itself
        runner.loop.create_task(_aclose(stream))
        return
    with contextlib.suppress(RuntimeError):  # a cancelled step may still be unwinding
        runner.call(_aclose(stream))
