"""One engine for a list of values: plan them once, settle each into one row, count once.

    values → Plan (check, dedupe) → lookup (padrón | cache | API | local) → settle → rows + Tally

``migo masivo`` (``batch.run_batch``, rows streamed to a file) and
``MigoClient.lookup_batch`` (rows kept in a list) are both ``settle`` with a
different collector, so they dedupe, word the rows nobody answered, count and
judge ``complete`` the same way. The ``Tally`` is counted as results land,
once: progress reporters read it while the run goes, summaries after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from migo_cli.exceptions import FatalAPIError, ServiceUnavailableError
from migo_cli.models import Origin, RucResult, Status, now_iso
from migo_cli.ruc import RucCheck, check_ruc

if TYPE_CHECKING:
    from migo_cli.progress import ProgressReporter

__all__ = [
    "STOP_GRACE",
    "Lookup",
    "LookupSummary",
    "Plan",
    "Settlement",
    "Tally",
    "settle",
]

log = logging.getLogger("migo.batch")

#: After a stop, in-flight requests get this long to land in the cache.
STOP_GRACE = 5.0
#: ``motivo`` of a value the lookup ended without answering, when nothing stopped the run.
UNANSWERED = "sin respuesta de APIMIGO"

#: Looks the plan's checks up: yields ``(index in checks, result)`` in that order (a
#: stopped lookup may skip some) and calls the hook it is given on each result the
#: moment it lands, in whatever order they land (``MigoClient.stream`` does both).
Lookup = Callable[
    [Sequence[RucCheck], Callable[[RucResult], None]], AsyncGenerator[tuple[int, RucResult]]
]


@dataclass(frozen=True, slots=True)
class Plan:
    """The distinct values to settle, in order of first appearance."""

    checks: list[RucCheck]
    total: int  # non-blank values
    row_items: list[int]  # for each input value, its index in ``checks`` (-1: blank)

    @classmethod
    def of(cls, values: Iterable[object]) -> Plan:
        """Blank values skipped; duplicates (after normalisation) settled once."""
        checks: list[RucCheck] = []
        seen: dict[str, int] = {}
        row_items: list[int] = []
        total = 0
        for value in values:
            check = check_ruc(value)
            if check is None:
                row_items.append(-1)
                continue
            total += 1
            index = seen.get(check.key)
            if index is None:
                index = seen[check.key] = len(checks)
                checks.append(check)
            row_items.append(index)
        return cls(checks, total, row_items)


class Tally:
    """Counts of a run's result rows: per ``estado_consulta``, fit / unfit to invoice, cached.

    ``changes`` holds the rows with a ``cambio``, as ``(severity, ruc, cambio)``:
    few on a nightly run (they are the news), listed in the summary.
    """

    __slots__ = ("by_status", "changes", "done", "fit", "from_cache", "from_padron", "unfit")

    def __init__(self) -> None:
        self.by_status: Counter[Status] = Counter()
        self.fit = 0  # ``valido`` rows with apto_facturacion true
        self.unfit: dict[str, int] = {}  # the other ``valido`` rows, by reason
        self.from_cache = 0
        self.from_padron = 0  # answered by the local padrón (found or not)
        self.done = 0
        self.changes: list[tuple[int, str, str]] = []

    @classmethod
    def of(cls, results: Iterable[RucResult]) -> Tally:
        tally = cls()
        for result in results:
            tally.add(result)
        return tally

    def add(self, result: RucResult) -> None:
        self.done += 1
        status = result.status
        self.by_status[status] += 1
        if result.origin is Origin.CACHE:
            self.from_cache += 1
        elif result.origin is Origin.PADRON:
            self.from_padron += 1
        if result.change:
            self.changes.append((result.change_severity, result.ruc, result.change))
        if status is Status.VALID:
            reason = result.unfit_reason
            if reason is None:
                self.fit += 1
            else:
                self.unfit[reason] = self.unfit.get(reason, 0) + 1

    @property
    def errors(self) -> int:
        return self.by_status[Status.ERROR]

    def __repr__(self) -> str:
        counts = {status.value: n for status, n in self.by_status.items()}
        return (
            f"Tally(done={self.done}, {counts}, fit={self.fit}, from_cache={self.from_cache}, "
            f"from_padron={self.from_padron})"
        )


@dataclass(slots=True)
class Settlement:
    """How a list of values was settled: the rows' ``Tally``, and what stopped it early."""

    tally: Tally = field(default_factory=Tally)
    fatal: FatalAPIError | None = None  # a rejected token, no credits, a wrong URL
    unavailable: ServiceUnavailableError | None = None  # APIMIGO stopped answering
    interrupted: bool = False  # the caller's ``stop`` was set

    @property
    def complete(self) -> bool:
        """Every value got an answer: no ``error`` row, and nothing stopped the run early.

        The one meaning of ``complete`` (SPEC §4's ``completo``): ``valido``,
        ``no_existe``, ``formato_invalido`` and ``sin_consultar`` rows are
        answers; a run stopped early is not complete even if, by chance, every
        value had been answered before it stopped.
        """
        return not (self.tally.errors or self.interrupted or self.fatal or self.unavailable)

    def unanswered(self) -> str:
        """The ``motivo`` of the rows nobody answered: why they were not asked."""
        stopped_by = self.fatal or self.unavailable
        if stopped_by is not None:
            return f"no consultado: {stopped_by}"
        if self.interrupted:
            return "no consultado: ejecución interrumpida"
        return UNANSWERED


async def settle(
    plan: Plan,
    lookup: Lookup,
    collect: Callable[[int, RucResult], None],
    *,
    progress: ProgressReporter | None = None,
    stop: asyncio.Event | None = None,
) -> Settlement:
    """Give every value of ``plan`` its one result: ``collect(index, result)``, in plan order.

    Each result is counted in the settlement's ``Tally`` the moment ``lookup``
    hands it over, so ``progress`` (started with that tally) shows the run as
    it goes. A ``FatalAPIError`` or ``ServiceUnavailableError`` from ``lookup``
    ends it early and is kept, not raised; so does ``stop``, after
    ``STOP_GRACE`` seconds for requests in flight. The values left without an
    answer then get an ``error`` row saying why (malformed ones still get their
    ``formato_invalido`` answer: it costs nothing), counted after ``progress``
    has finished.
    """
    stop = stop or asyncio.Event()
    settled = Settlement()
    tally = settled.tally
    # Landed but not yet collected (held for order): bounded by the lookup's window.
    landed: dict[str, RucResult] = {}

    def arrived(result: RucResult) -> None:
        tally.add(result)
        landed[result.ruc] = result
        if progress is not None:
            progress.advance(result)

    collected = 0
    # Results after a gap wait until the lookup ends: only then is the gaps' reason known.
    late: list[tuple[int, RucResult]] = []
    if progress is not None:
        progress.start(len(plan.checks), tally)
    try:
        stream = lookup(plan.checks, arrived)
        try:
            async with _grace_after(stop):
                async for index, result in stream:
                    landed.pop(result.ruc, None)
                    if late or index != collected:
                        late.append((index, result))
                        continue
                    collect(index, result)
                    collected += 1
        except FatalAPIError as exc:
            settled.fatal = exc
        except ServiceUnavailableError as exc:
            settled.unavailable = exc
        except TimeoutError:
            log.warning(
                "consultas en curso abandonadas %s s después de la interrupción", STOP_GRACE
            )
        finally:
            await stream.aclose()
    finally:
        if progress is not None:
            progress.finish()
    settled.interrupted = stop.is_set()
    reason, now = settled.unanswered(), now_iso()

    def fill(upto: int) -> None:
        nonlocal collected
        for index in range(collected, upto):
            check = plan.checks[index]
            result = landed.pop(check.key, None)  # answered, then abandoned after the grace
            if result is None:
                result = _unanswered(check, reason, now)
                tally.add(result)
            collect(index, result)
            collected = index + 1

    for index, result in late:
        fill(index)
        collect(index, result)
        collected = index + 1
    fill(len(plan.checks))
    return settled


def _unanswered(check: RucCheck, reason: str, now: str) -> RucResult:
    if not check.valid:
        return RucResult.rejected(check.raw, check.reason, now)
    return RucResult(check.key, Status.ERROR, reason, origin=Origin.LOCAL, queried_at=now)


@contextlib.asynccontextmanager
async def _grace_after(stop: asyncio.Event) -> AsyncIterator[None]:
    """Once ``stop`` is set, the block gets ``STOP_GRACE`` seconds, then TimeoutError."""
    async with asyncio.timeout(None) as deadline:

        async def arm() -> None:
            await stop.wait()
            deadline.reschedule(asyncio.get_running_loop().time() + STOP_GRACE)

        armer = asyncio.create_task(arm())
        try:
            yield
        finally:
            armer.cancel()


_INVALID = (Status.NOT_FOUND, Status.INVALID)


class LookupSummary:
    """The outcome of ``MigoClient.lookup_batch``: one result per distinct value, in input order.

    ``to_dict()`` has the shape of the original validation service,
    ``{"validos", "invalidos", "errores", "duration_ms"}``.
    ``fatal`` is set when a rejected token or exhausted credits stopped the
    batch: the values it left unanswered are in ``errors`` with a ``motivo``
    saying so (``to_dict()`` adds ``detenido_por``). Check it, or ``complete``.
    ``tally`` counts the results (per status, fit to invoice, from the cache).
    """

    __slots__ = ("duration_ms", "results", "settled")

    def __init__(
        self,
        results: list[RucResult],
        duration_ms: int,
        fatal: FatalAPIError | None = None,
        *,
        settled: Settlement | None = None,
    ) -> None:
        self.results = results
        self.duration_ms = duration_ms
        # ``settled`` comes from ``settle``; built from ``results`` for a summary made by hand.
        self.settled = settled or Settlement(Tally.of(results), fatal=fatal)

    def __repr__(self) -> str:
        return (
            f"LookupSummary({len(self.results)} results, duration_ms={self.duration_ms}, "
            f"complete={self.complete})"
        )

    @property
    def fatal(self) -> FatalAPIError | None:
        return self.settled.fatal

    @property
    def tally(self) -> Tally:
        return self.settled.tally

    @property
    def complete(self) -> bool:
        """Every value got an answer (see ``Settlement.complete``)."""
        return self.settled.complete

    @property
    def valid(self) -> list[RucResult]:
        return [r for r in self.results if r.status is Status.VALID]

    @property
    def invalid(self) -> list[RucResult]:
        """``no_existe`` and ``formato_invalido``: answers, with their ``reason``."""
        return [r for r in self.results if r.status in _INVALID]

    @property
    def errors(self) -> list[RucResult]:
        return [r for r in self.results if r.status is Status.ERROR]

    def to_dict(self) -> dict[str, Any]:
        """``{"validos": [...], "invalidos": [...], "errores": [...], "duration_ms": int}``.

        Records are ``RucResult.to_row()``: ``ruc``, ``estado_consulta``,
        ``motivo``, ``apto_facturacion``, ``origen``, ``consultado_en`` and, for
        valid ones, APIMIGO's fields. JSON-ready.
        """
        document: dict[str, Any] = {
            "validos": [r.to_row() for r in self.valid],
            "invalidos": [r.to_row() for r in self.invalid],
            "errores": [r.to_row() for r in self.errors],
            "duration_ms": self.duration_ms,
        }
        if self.fatal is not None:
            document["detenido_por"] = str(self.fatal)
        return document
