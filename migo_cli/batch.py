"""The batch job behind ``migo masivo``: file in, files out, nothing paid for twice.

    read → normalise + validate → dedupe → (padrón | cache | API, concurrently) → write

Each answer is in the cache before it is written, and rows reach the output
file in input order as soon as the rows before them are settled, so the only
thing held until the end is the rename that publishes the file. A stop
(Ctrl-C, SIGTERM) or a fatal API error still writes a complete, openable file:
the rows that got no answer say so, and a rerun asks only for those.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from migo_cli.config import COLLECTION_MAX, FIRST_BATCH
from migo_cli.exceptions import (
    FatalAPIError,
    ServiceUnavailableError,
    UsageError,
)
from migo_cli.models import (
    COLUMN_DESCRIPTIONS,
    OUTPUT_COLUMNS,
    Clock,
    LookupMode,
    Origin,
    RucResult,
    Source,
    Status,
)
from migo_cli.numfmt import format_number
from migo_cli.progress import ProgressReporter
from migo_cli.readers import InputTable, read_input
from migo_cli.ruc import RucCheck
from migo_cli.settle import Lookup, Plan, Settlement, Tally, settle
from migo_cli.writers import Output, ResultWriter, SheetStyle, open_writer

if TYPE_CHECKING:
    # Types only: a run answered by the padrón alone never loads aiohttp or diskcache.
    from migo_cli.cache import CacheScope
    from migo_cli.client import MigoClient
    from migo_cli.history import HistoryScope
    from migo_cli.padron.lookup import PadronLookup
    from migo_cli.padron.store import PadronIndex

__all__ = ["BatchJob", "BatchReport", "CreditCheck", "run_batch"]

log = logging.getLogger("migo.batch")

ENRICH_SUFFIX = "_migo"
SIMULATED_COLUMN = "simulado"
#: Above this many valid RUCs, the credit check asks the account without first
#: reading the cache for one it lacks (a rerun it fully answers would read them all).
EXACT_ESTIMATE_MAX = 50_000


class CreditCheck(StrEnum):
    """What ``run_batch`` does about the account's credits before the first lookup."""

    OFF = "off"  # ask nothing
    WARN = "warn"  # ask ``/account``; warn when fewer credits are left than the run needs
    STRICT = "strict"  # likewise, but refuse (UsageError, exit 2) before any lookup


@dataclass(frozen=True, slots=True)
class BatchJob:
    """What to read, what to write, and how (the options of ``migo masivo``)."""

    source: str | Path
    output: str | Path | None = None  # None: ``writers.default_output(source)``
    column: str | None = None
    sheet: str | None = None
    mode: LookupMode = LookupMode.INDIVIDUAL
    enrich: bool = False
    validate_only: bool = False
    dry_run: bool = False
    credit_check: CreditCheck = CreditCheck.OFF
    simulated: bool = False  # outputs say so: a ``simulado`` column and resumen entry
    answers: Source = Source.API  # ``--fuente``: who answers the well-formed RUCs


@dataclass(slots=True)
class BatchReport:
    """What happened; ``summary()`` is the ``--json-resumen`` document."""

    total: int = 0
    unique: int = 0
    settled: Settlement = field(default_factory=Settlement)  # the rows' tally, what stopped it
    api_calls: int = 0
    estimated_calls: int | None = None
    seconds: float = 0.0
    output: str | None = None
    simulated: bool = False

    @property
    def tally(self) -> Tally:
        return self.settled.tally

    @property
    def errors(self) -> int:
        return self.settled.tally.errors

    @property
    def from_cache(self) -> int:
        return self.settled.tally.from_cache

    @property
    def fatal(self) -> FatalAPIError | None:
        return self.settled.fatal

    @property
    def unavailable(self) -> ServiceUnavailableError | None:
        return self.settled.unavailable

    @property
    def interrupted(self) -> bool:
        return self.settled.interrupted

    @property
    def complete(self) -> bool:
        """``completo``: see ``Settlement.complete``."""
        return self.settled.complete

    def summary(self) -> dict[str, Any]:
        tally = self.tally
        counts = tally.by_status
        data: dict[str, Any] = {
            "total": self.total,
            "unicos": self.unique,
            "duplicados": self.total - self.unique,
            "validos": counts[Status.VALID],
            "no_existe": counts[Status.NOT_FOUND],
            "formato_invalido": counts[Status.INVALID],
            "errores": tally.errors,
            "desde_cache": tally.from_cache,
            "desde_padron": tally.from_padron,
            "llamadas_api": self.api_calls,
            "duracion_s": round(self.seconds, 3),
            "salida": self.output,
            "completo": self.complete,
            "aptos": tally.fit,
            "cambios": len(tally.changes),
            "no_aptos": sum(tally.unfit.values()),
            "no_aptos_por_motivo": dict(sorted(tally.unfit.items(), key=lambda kv: -kv[1])),
        }
        if counts[Status.UNCHECKED]:
            data["sin_consultar"] = counts[Status.UNCHECKED]
        if self.estimated_calls is not None:
            data["llamadas_estimadas"] = self.estimated_calls
        if self.interrupted:
            data["interrumpido"] = True
        if self.fatal is not None or self.unavailable is not None:
            data["detenido_por"] = str(self.fatal or self.unavailable)
        if self.simulated:
            data["simulado"] = True
        return data


async def run_batch(
    job: BatchJob,
    *,
    client: MigoClient | None = None,
    cache: CacheScope | None = None,
    padron: PadronIndex | None = None,
    history: HistoryScope | None = None,
    progress: ProgressReporter | None = None,
    stop: asyncio.Event | None = None,
    stdout: TextIO | None = None,
) -> BatchReport:
    """Run one batch job; raises ``UsageError`` before anything is spent when it cannot run.

    ``client`` is needed unless ``validate_only``, ``dry_run`` or ``answers`` is
    ``Source.PADRON``; ``cache`` (default: the client's) lets a dry run count
    cached answers without a token. With ``answers`` ``padron`` or ``auto``,
    ``padron`` is the index to answer from (default: the one in the data
    directory; ``PadronMissingError`` when none is built) and ``history`` (default:
    the client's) records its answers. A fatal API error, an upstream that
    stopped answering, or a ``stop`` ends the run early with a partial output:
    see ``BatchReport.fatal``, ``unavailable`` and ``interrupted``.
    """
    started = time.monotonic()
    scope = cache if cache is not None else (client.cache if client is not None else None)
    with contextlib.ExitStack() as stack:
        index = None
        if job.answers is not Source.API and not job.validate_only:
            index = padron if padron is not None else stack.enter_context(_open_padron())
        if job.dry_run:
            table, plan, report = await _read(job)
            payable = _payable(plan, scope, job.answers, _answerer(index, None, history))
            report.estimated_calls = _estimate_calls(payable, job.mode)
            for check in plan.checks:  # refused locally, as the real run would: free, counted
                if not check.valid:
                    report.tally.add(RucResult.rejected(check.raw, check.reason))
            report.seconds = time.monotonic() - started
            return report
        asks = not job.validate_only and job.answers is not Source.PADRON
        if client is None and asks:
            raise UsageError("se necesita un cliente de APIMIGO para consultar")
        answerer = _answerer(index, client if asks else None, history)
        # Output checked and locked before the input is even read: a refused run costs nothing.
        output = Output.parse(job.output or None, job.source)
        with output.lock():
            table, plan, report = await _read(job)
            report.output = str(output)
            if client is not None and asks and job.credit_check is CreditCheck.STRICT:
                await _check_credits(client, plan, scope, job, answerer)
            columns = _result_columns(job)
            names = _columns(table, columns) if job.enrich else list(columns)
            writer = open_writer(
                output,
                columns=names,
                layout="single" if job.enrich else "split",
                stdout=stdout,
                style=_sheet_style(columns, names),
            )
            try:
                rows = _Rows(
                    table, plan, writer, columns=columns, enrich=job.enrich, simulated=job.simulated
                )
                meanwhile: contextlib.AbstractAsyncContextManager[None] = contextlib.nullcontext()
                if client is not None and asks and job.credit_check is CreditCheck.WARN:
                    meanwhile = _credits_meanwhile(client, plan, scope, job, answerer, stop=stop)
                async with meanwhile:
                    report.settled = await settle(
                        plan,
                        _lookup(job, client, answerer, stop),
                        rows.add,
                        progress=progress,
                        stop=stop,
                    )
                if client is not None:
                    report.api_calls = client.stats.lookup_requests
                report.seconds = time.monotonic() - started
                rows.finish()
                writer.close(report.summary())
            except BaseException:
                writer.abort()
                raise
            kept = answerer.history if answerer is not None else None
            if kept is None and client is not None:
                kept = client.history
            if kept is not None:
                # Published: these changes were shown; a rerun from the cache repeats none.
                kept.delivered(ruc for _, ruc, _ in report.tally.changes)
        return report


@contextlib.contextmanager
def _open_padron() -> Iterator[PadronIndex]:
    from migo_cli.padron.store import PadronIndex

    with PadronIndex.open() as index:
        yield index


def _answerer(
    index: PadronIndex | None, client: MigoClient | None, history: HistoryScope | None
) -> PadronLookup | None:
    """The padrón's answers (with ``client``: and APIMIGO's for the rest); None: APIMIGO only."""
    if index is None:
        return None
    from migo_cli.padron.lookup import PadronLookup

    return PadronLookup(index, client, history=history)


async def _read(job: BatchJob) -> tuple[InputTable, Plan, BatchReport]:
    table = await asyncio.to_thread(
        read_input, job.source, column=job.column, sheet=job.sheet, keep_table=job.enrich
    )
    plan = Plan.of(table.values)
    log.info(
        "entrada %s: %s valores, %s distintos, %s con formato inválido",
        table.source,
        format_number(plan.total),
        format_number(len(plan.checks)),
        format_number(sum(not c.valid for c in plan.checks)),
    )
    report = BatchReport(total=plan.total, unique=len(plan.checks), simulated=job.simulated)
    return table, plan, report


def _lookup(
    job: BatchJob,
    client: MigoClient | None,
    answerer: PadronLookup | None,
    stop: asyncio.Event | None,
) -> Lookup:
    """Where the answers come from: the local checks alone, the padrón first, or APIMIGO."""
    if job.validate_only:
        return _locally

    def consult(
        checks: Sequence[RucCheck], arrived: Callable[[RucResult], None]
    ) -> AsyncGenerator[tuple[int, RucResult]]:
        if answerer is not None:
            return answerer.stream(checks, mode=job.mode, stop=stop, on_result=arrived)
        assert client is not None
        return client.stream(checks, mode=job.mode, ordered=True, stop=stop, on_result=arrived)

    return consult


async def _locally(
    checks: Sequence[RucCheck], arrived: Callable[[RucResult], None]
) -> AsyncGenerator[tuple[int, RucResult]]:
    """``--solo-validar``: every value settled by the local checks, nothing asked."""
    clock = Clock()
    for position, check in enumerate(checks):
        result = _local_result(check, clock.now())
        arrived(result)
        yield position, result


def _local_result(check: RucCheck, now: str) -> RucResult:
    if check.valid:
        reason = "solo validación local"
        return RucResult(check.ruc, Status.UNCHECKED, reason, origin=Origin.LOCAL, queried_at=now)
    return RucResult.rejected(check.raw, check.reason, now)


def _estimate_calls(payable: int, mode: LookupMode) -> int:
    return math.ceil(payable / COLLECTION_MAX) if mode is LookupMode.COLLECTION else payable


def _payable(
    plan: Plan,
    scope: CacheScope | None,
    answers: Source,
    padron: PadronLookup | None,
    *,
    enough: int | None = None,
) -> int:
    """Valid RUCs the run would pay for (one credit each): not in the padrón, not cached.

    With ``--fuente padron`` nothing is paid; with ``auto`` only what the padrón lacks.
    With ``enough``, counting (one cache read per RUC) stops once that many are found.
    """
    if answers is Source.PADRON:
        return 0
    rucs = [c.ruc for c in plan.checks if c.valid]
    if answers is Source.AUTO and padron is not None:
        rucs = padron.missing(rucs)
    return sum(1 for _ in itertools.islice(_uncached(rucs, scope), enough))


def _uncached(rucs: list[str], scope: CacheScope | None) -> Iterator[str]:
    """``rucs`` the cache has no answer for, read a run at a time (a run is one query)."""
    for start in range(0, len(rucs), FIRST_BATCH):
        run = rucs[start : start + FIRST_BATCH]
        kept = scope.get_rucs(run) if scope is not None else {}
        yield from (ruc for ruc in run if ruc not in kept)


@contextlib.asynccontextmanager
async def _credits_meanwhile(
    client: MigoClient,
    plan: Plan,
    scope: CacheScope | None,
    job: BatchJob,
    padron: PadronLookup | None,
    *,
    stop: asyncio.Event | None,
) -> AsyncIterator[None]:
    """The credit check that only warns, run while the lookups start (not before them).

    ``/account`` is free and does not wait at the first paid request's gate; sent
    while the first lookup imports aiohttp, its answer usually comes first and
    opens that gate (``MigoClient.remaining_credits``), else its latency overlaps
    the lone first lookup's. The warning may then come after the progress bar
    started; a stopped run does not wait for it.
    """
    check = asyncio.create_task(_check_credits(client, plan, scope, job, padron))
    try:
        yield
    except BaseException:
        check.cancel()
        await asyncio.wait({check})
        raise
    if stop is not None and stop.is_set():
        check.cancel()
    await asyncio.wait({check})
    if not check.cancelled():
        check.result()  # a warning never raises; a bug must not pass unseen


async def _check_credits(
    client: MigoClient,
    plan: Plan,
    scope: CacheScope | None,
    job: BatchJob,
    padron: PadronLookup | None,
) -> None:
    """Compare the account's credits with what the run needs; warn, or refuse when strict.

    APIMIGO bills each RUC, in a collection call too, so the need is the
    number of uncached valid RUCs whatever the mode (with ``--fuente auto``, of those
    the padrón does not hold). Nothing is asked when nothing will be paid (a rerun
    the cache answers); ``/account`` is asked once, without retries, and when it
    does not answer the run goes on. The cache is read as little as the answer
    allows: until the first RUC it lacks, then in full only when the credits are
    fewer than the valid RUCs (the upper bound of the need).
    """
    valid = sum(1 for c in plan.checks if c.valid)
    if valid <= EXACT_ESTIMATE_MAX and not _payable(plan, scope, job.answers, padron, enough=1):
        return
    credits = await client.remaining_credits()
    if credits is None:
        log.debug("la cuenta no informó sus consultas disponibles; no se comprueba el saldo")
        return
    needed = valid if credits >= valid else _payable(plan, scope, job.answers, padron)
    if credits >= needed:
        log.debug(
            "consultas disponibles: %s; esta ejecución necesita %s como mucho",
            format_number(credits),
            format_number(needed),
        )
        return
    message = (
        f"la cuenta de APIMIGO tiene {format_number(credits)} consultas disponibles y esta "
        f"ejecución necesita {format_number(needed)} (RUC válidos sin respuesta en la caché"
        f"{' ni en el padrón' if job.answers is Source.AUTO else ''})"
    )
    if job.credit_check is CreditCheck.STRICT:
        raise UsageError(f"{message}; no se consultó nada (--estricto)")
    log.warning("%s: se detendrá al agotarlas (código 3) y lo respondido quedará guardado", message)


def _result_columns(job: BatchJob) -> tuple[str, ...]:
    return (*OUTPUT_COLUMNS, SIMULATED_COLUMN) if job.simulated else OUTPUT_COLUMNS


def _sheet_style(result_columns: Sequence[str], names: Sequence[str]) -> SheetStyle:
    """Descriptions and colours for the result columns, under the names they got."""
    renamed = dict(zip(result_columns, names[len(names) - len(result_columns) :], strict=True))
    return SheetStyle(
        notes={
            renamed[c]: COLUMN_DESCRIPTIONS[c] for c in result_columns if c in COLUMN_DESCRIPTIONS
        },
        fit=renamed.get("apto_facturacion"),
        status=renamed.get("estado_consulta"),
    )


def _columns(table: InputTable, result_columns: Sequence[str]) -> list[str]:
    """The input's columns, then the result's; a result name already taken gets ``_migo``."""
    names = [str(c) for c in table.frame.columns] if table.frame is not None else []
    taken = set(names)
    for column in result_columns:
        name = column
        while name in taken:
            name += ENRICH_SUFFIX
        taken.add(name)
        names.append(name)
    return names


class _Rows:
    """Puts settled results in the output, in plan order (``settle`` counts them).

    Without ``--enriquecer`` each row is written as soon as it is settled; with
    it, rows are kept (one per distinct value) and the input table is written
    back at the end, each input row followed by its result.
    """

    def __init__(
        self,
        table: InputTable,
        plan: Plan,
        writer: ResultWriter,
        *,
        columns: Sequence[str],
        enrich: bool,
        simulated: bool,
    ) -> None:
        self.table = table
        self.plan = plan
        self.writer = writer
        self.columns = columns
        self.enrich = enrich
        self.simulated = simulated
        self.kept: list[dict[str, Any]] = []
        self.changed: list[tuple[int, int, dict[str, Any]]] = []  # (severity, position, row)

    def add(self, position: int, result: RucResult) -> None:
        row = result.to_row()
        if self.simulated:
            row[SIMULATED_COLUMN] = True
        if self.enrich:
            self.kept.append(row)
        else:
            self.writer.write(row)
            if result.change:
                self.changed.append((result.change_severity, position, row))

    def finish(self) -> None:
        if not self.enrich:
            self.changed.sort(key=lambda item: item[:2])  # most serious first, then input order
            self.writer.write_changes([row for _, _, row in self.changed])
            return
        frame = self.table.frame
        assert frame is not None
        names = _columns(self.table, self.columns)
        width = len(frame.columns)
        blank: Sequence[Any] = [""] * len(self.columns)
        for values, item in zip(
            frame.itertuples(index=False, name=None), self.plan.row_items, strict=True
        ):
            result = self.kept[item] if item >= 0 else None
            extra = [result.get(c, "") for c in self.columns] if result else blank
            self.writer.write(dict(zip(names, [*values[:width], *extra], strict=True)))
