"""RUCs answered from the local padrón, and (``--fuente auto``) from APIMIGO only where it has none.

``PadronLookup`` is the one path for ``--fuente padron`` and ``--fuente auto``:
``migo consultar``, ``migo masivo`` (``batch.run_batch``) and a Django view or a
Celery task all go through it::

    with PadronIndex.open() as index:                      # padrón only: no token
        summary = await PadronLookup(index).lookup_batch(rucs)

    async with MigoClient(token, cache=cache) as client:   # the padrón, then APIMIGO
        with PadronIndex.open() as index:
            summary = await PadronLookup(index, client).lookup_batch(rucs)

With a client, the values go through one ``MigoClient.stream`` whose ``first``
answerer is the padrón: one batched ``get_many`` per ``FIRST_BATCH`` values
answers what it holds, and only the rest (well-formed RUCs registered after
its date) go to the cache, then APIMIGO, paid and cached as usual, through the
client's one pool of workers: a slow answer holds up nothing but its own row's
place in the output order. Without a client, the values are read in windows of
``WINDOW`` (one ``get_many`` each), and a RUC the padrón does not hold is
``no_existe``, its ``motivo`` naming the padrón's date.

A padrón row is ``valido`` with APIMIGO's field names in APIMIGO's order,
``origen`` ``padron`` and ``consultado_en`` the padrón's date; the place names
and the composed address come from ``padron.address``, as in the simulator.
With a history, padrón answers are recorded under the padrón's date, and only
when that date is later than the RUC's last entry (see ``HistoryScope.record_dated``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Iterable,
    Iterator,
    Sequence,
)
from datetime import date
from typing import TYPE_CHECKING, Any, Final

from migo_cli.config import PADRON_MAX_AGE_DAYS
from migo_cli.exceptions import InvalidValueError
from migo_cli.history import HistoryScope
from migo_cli.models import (
    UPSTREAM_FIELDS,
    Clock,
    LookupMode,
    Origin,
    RucResult,
    Source,
    Status,
    today_in_lima,
)
from migo_cli.padron.address import LOCATION_FIELDS, location_fields
from migo_cli.padron.format import FIELDS, PadronRecord
from migo_cli.ruc import RucCheck, check_ruc

if TYPE_CHECKING:
    import asyncio

    from migo_cli.client import MigoClient
    from migo_cli.padron.store import PadronIndex, PadronInfo
    from migo_cli.settle import LookupSummary

__all__ = ["WINDOW", "PadronLookup", "padron_data", "stale_warning"]

log = logging.getLogger("migo.padron")

#: Values read, looked up in the padrón (one ``get_many``) and recorded in the history
#: together: bounds memory on million-row inputs, and amortises each query.
WINDOW: Final = 10_000

_Window = list[tuple[int, RucCheck]]


#: A padrón row's fields, then the composed ones, then the date: APIMIGO's order exactly,
#: so ``padron_data`` builds its dict in order instead of sorting it.
if (*FIELDS[1:], *LOCATION_FIELDS, "actualizado_en") != UPSTREAM_FIELDS:  # pragma: no cover
    raise AssertionError("the padrón's fields no longer follow APIMIGO's order")


def padron_data(record: PadronRecord, fecha: date) -> dict[str, Any]:
    """A padrón row as APIMIGO answers it: its fields in its order; ``actualizado_en`` ``fecha``."""
    data: dict[str, Any] = record._asdict()
    del data["ruc"]
    data.update(location_fields(data, record.ubigeo))
    data["actualizado_en"] = fecha.isoformat()
    return data


def stale_warning(info: PadronInfo, today: date) -> str | None:
    """A Spanish warning when the padrón is older than ``PADRON_MAX_AGE_DAYS``, else None."""
    age = info.age_days(today)
    if age <= PADRON_MAX_AGE_DAYS:
        return None
    return (
        f"el padrón local es del {info.fecha.isoformat()} ({age} días): sus datos pueden estar "
        "desactualizados; actualícelo con: migo padron actualizar"
    )


class PadronLookup:
    """Answers from SUNAT's padrón (``--fuente padron``); with ``client``, the gaps from APIMIGO.

    ``history`` defaults to the client's. A padrón older than
    ``PADRON_MAX_AGE_DAYS`` is logged as a warning when the lookup is made.
    """

    def __init__(
        self,
        index: PadronIndex,
        client: MigoClient | None = None,
        *,
        history: HistoryScope | None = None,
        today: date | None = None,
    ) -> None:
        self.index = index
        self.client = client
        self.history = history if history is not None else getattr(client, "history", None)
        self.fecha = index.info.fecha
        self._stamp = self.fecha.isoformat()
        self._unknown = f"no figura en el padrón reducido de SUNAT del {self._stamp}"
        warning = stale_warning(index.info, today or today_in_lima())
        if warning is not None:
            log.warning("%s", warning)

    def __repr__(self) -> str:
        return f"PadronLookup(fecha={self._stamp!r}, fuente={self.source.value!r})"

    @property
    def source(self) -> Source:
        """``padron`` without a client, ``auto`` with one."""
        return Source.PADRON if self.client is None else Source.AUTO

    def missing(self, rucs: Sequence[str]) -> list[str]:
        """The RUCs the padrón does not hold: what ``auto`` would ask APIMIGO (or its cache)."""
        absent: list[str] = []
        for start in range(0, len(rucs), WINDOW):
            chunk = rucs[start : start + WINDOW]
            held = self.index.get_many(chunk)
            absent.extend(ruc for ruc in chunk if ruc not in held)
        return absent

    async def lookup_ruc(self, value: object) -> RucResult:
        """One RUC; ``InvalidValueError`` when blank, ``FatalAPIError`` as the client raises it."""
        check = check_ruc(value)
        if check is None:
            raise InvalidValueError("RUC vacío")
        async for _, result in self.stream([check]):
            return result
        raise AssertionError("unreachable: one value, one answer or an exception")

    async def lookup_batch(
        self,
        values: Iterable[object] | AsyncIterable[object],
        *,
        mode: LookupMode = LookupMode.INDIVIDUAL,
    ) -> LookupSummary:
        """``MigoClient.lookup_batch`` with the padrón first: deduped, in order, counted once."""
        from migo_cli.settle import LookupSummary, Plan, settle

        started = time.monotonic()
        if isinstance(values, AsyncIterable):
            values = [value async for value in values]
        results: list[RucResult] = []

        def lookup(
            checks: Sequence[RucCheck], arrived: Callable[[RucResult], None]
        ) -> AsyncGenerator[tuple[int, RucResult]]:
            return self.stream(checks, mode=mode, on_result=arrived)

        settled = await settle(Plan.of(values), lookup, lambda _, r: results.append(r))
        if self.history is not None:  # handed to the caller: a rerun shows them no more
            self.history.delivered(r.ruc for r in results if r.change)
        duration_ms = round((time.monotonic() - started) * 1000)
        return LookupSummary(results, duration_ms, settled=settled)

    async def stream(
        self,
        values: Iterable[object] | AsyncIterable[object],
        *,
        mode: LookupMode = LookupMode.INDIVIDUAL,
        stop: asyncio.Event | None = None,
        on_result: Callable[[RucResult], None] | None = None,
    ) -> AsyncGenerator[tuple[int, RucResult]]:
        """``(position, result)`` for each non-blank value, in input order.

        As ``MigoClient.stream(ordered=True)``: ``on_result`` sees each result as
        it lands, ``stop`` ends the stream early (positions never yielded got no
        answer). A ``FatalAPIError`` or ``ServiceUnavailableError`` from APIMIGO
        stops only the paid part: the padrón still answers the rest of the
        input, then the error is raised (``MigoClient.stream``'s ``first``).
        """
        if self.client is not None:
            paid = self.client.stream(
                values, mode=mode, ordered=True, stop=stop, on_result=on_result, first=self._first
            )
            async for item in paid:
                yield item
            return
        import asyncio

        stop = stop or asyncio.Event()
        clock = Clock()
        async for window in _windows(values):
            if stop.is_set():
                break
            for position, result in self._answer(window, clock):
                if on_result is not None:
                    on_result(result)
                yield position, result
            await asyncio.sleep(0)  # a window is CPU work: let signals and progress in

    def answer(self, values: Iterable[object]) -> list[RucResult]:
        """Each non-blank value's answer from the padrón alone, in order, with no event loop.

        For a caller with a few RUCs and no loop to run (``migo consultar --fuente
        padron``, a Celery task): ``stream`` without a client, minus asyncio's import
        and loop, which cost more than the lookup itself. With a client (``auto``)
        the gaps need APIMIGO: use ``stream`` or ``lookup_batch``.
        """
        if self.client is not None:
            raise ValueError("answer() reads the padrón alone; with a client, use stream()")
        clock = Clock()
        return [result for window in _chunks(values) for _, result in self._answer(window, clock)]

    def _answer(self, window: _Window, clock: Clock) -> list[tuple[int, RucResult]]:
        """A window's answers, without a client: the padrón's, or the local check's refusal."""
        settled = iter(self._first([check for _, check in window if check.valid]))
        answered: list[tuple[int, RucResult]] = []
        for position, check in window:
            if check.valid:
                result = next(settled)
                assert result is not None  # without a client the padrón answers them all
            else:
                result = RucResult.rejected(check.raw, check.reason, clock.now())
            answered.append((position, result))
        return answered

    def _first(self, checks: Sequence[RucCheck]) -> list[RucResult | None]:
        """The padrón's answers for well-formed RUCs; None where APIMIGO must be asked.

        Without a client every RUC gets an answer: ``no_existe`` when absent.
        The fresh answers are recorded in the history in one transaction.
        """
        records = self.index.get_many([check.ruc for check in checks])
        answers: list[RucResult | None] = []
        fresh: list[RucResult] = []
        for check in checks:
            record = records.get(check.ruc)
            if record is None and self.client is not None:
                answers.append(None)
                continue
            result = self._result(check.ruc, record)
            fresh.append(result)
            answers.append(result)
        self._remember(fresh)
        return answers

    def _result(self, ruc: str, record: PadronRecord | None) -> RucResult:
        if record is None:
            return RucResult(
                ruc, Status.NOT_FOUND, self._unknown, origin=Origin.PADRON, queried_at=self._stamp
            )
        data = padron_data(record, self.fecha)
        return RucResult(ruc, Status.VALID, "", data, Origin.PADRON, self._stamp)

    def _remember(self, results: list[RucResult]) -> None:
        """Record the batch's answers (one transaction), then give each its pending ``cambio``."""
        history = self.history
        if history is None or not results:
            return
        answers = [(r.ruc, r.data if r.status is Status.VALID else None) for r in results]
        changes = history.record_dated(self._stamp, answers)
        for result, change in zip(results, changes, strict=True):
            if change is not None:
                result.change, result.change_severity = change.text, change.severity


def _checked(position: int, value: object, window: _Window) -> None:
    check = value if isinstance(value, RucCheck) else check_ruc(value)
    if check is not None:
        window.append((position, check))


def _chunks(values: Iterable[object]) -> Iterator[_Window]:
    """The non-blank values, checked (a ``RucCheck`` is taken as is), ``WINDOW`` at a time."""
    window: _Window = []
    for position, value in enumerate(values):
        _checked(position, value, window)
        if len(window) >= WINDOW:
            yield window
            window = []
    if window:
        yield window


async def _windows(values: Iterable[object] | AsyncIterable[object]) -> AsyncIterator[_Window]:
    """``_chunks``, of an async iterable too."""
    if not isinstance(values, AsyncIterable):
        for chunk in _chunks(values):
            yield chunk
        return
    window: _Window = []
    position = 0
    async for value in values:
        _checked(position, value, window)
        position += 1
        if len(window) >= WINDOW:
            yield window
            window = []
    if window:
        yield window
