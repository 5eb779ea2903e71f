"""The batch job behind ``migo masivo``: file in, files out, nothing paid for twice.

    read → normalise + validate → dedupe → (cache | API, concurrently) → write

Each answer is in the cache before it is written, and rows reach the output
file in input order as soon as the rows before them are settled, so the only
thing held until the end is the rename that publishes the file. A stop
(Ctrl-C, SIGTERM) or a fatal API error still writes a complete, openable file:
the rows that got no answer say so, and a rerun asks only for those.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import math
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

from migo_cli.cache import CacheScope
from migo_cli.client import LookupMode, MigoClient
from migo_cli.config import COLLECTION_MAX
from migo_cli.exceptions import (
    FatalAPIError,
    OutputError,
    ServiceUnavailableError,
    UsageError,
)
from migo_cli.models import COLUMN_DESCRIPTIONS, OUTPUT_COLUMNS, Origin, RucResult, Status
from migo_cli.numfmt import format_number
from migo_cli.progress import NullProgress, ProgressReporter
from migo_cli.readers import InputTable, read_input
from migo_cli.ruc import RucCheck, check_ruc
from migo_cli.writers import ResultWriter, SheetStyle, check_output, lock_output, open_writer

__all__ = ["BatchJob", "BatchReport", "CreditCheck", "default_output", "run_batch"]

log = logging.getLogger("migo.batch")

#: After a stop, in-flight requests get this long to land in the cache.
STOP_GRACE = 5.0
ENRICH_SUFFIX = "_migo"
SIMULATED_COLUMN = "simulado"
#: Below this many RUCs to look up, the exact count of paid calls (cache reads
#: included) is worked out before asking the account; above it, only when needed.
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
    output: str | Path | None = None  # None: ``default_output(source)``
    column: str | None = None
    sheet: str | None = None
    mode: LookupMode = LookupMode.INDIVIDUAL
    enrich: bool = False
    validate_only: bool = False
    dry_run: bool = False
    credit_check: CreditCheck = CreditCheck.OFF
    simulated: bool = False  # outputs say so: a ``simulado`` column and resumen entry


@dataclass(slots=True)
class BatchReport:
    """What happened; ``summary()`` is the ``--json-resumen`` document."""

    total: int = 0
    unique: int = 0
    counts: dict[Status, int] = field(default_factory=dict)
    fit: int = 0  # ``valido`` rows with apto_facturacion true
    unfit: dict[str, int] = field(default_factory=dict)  # the others, by reason
    from_cache: int = 0
    api_calls: int = 0
    estimated_calls: int | None = None
    seconds: float = 0.0
    output: str | None = None
    interrupted: bool = False
    fatal: FatalAPIError | None = None
    unavailable: ServiceUnavailableError | None = None
    simulated: bool = False

    @property
    def errors(self) -> int:
        return self.counts.get(Status.ERROR, 0)

    @property
    def complete(self) -> bool:
        return not (self.errors or self.interrupted or self.fatal or self.unavailable)

    def summary(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "total": self.total,
            "unicos": self.unique,
            "duplicados": self.total - self.unique,
            "validos": self.counts.get(Status.VALID, 0),
            "no_existe": self.counts.get(Status.NOT_FOUND, 0),
            "formato_invalido": self.counts.get(Status.INVALID, 0),
            "errores": self.errors,
            "desde_cache": self.from_cache,
            "llamadas_api": self.api_calls,
            "duracion_s": round(self.seconds, 3),
            "salida": self.output,
            "completo": self.complete,
            "aptos": self.fit,
            "no_aptos": sum(self.unfit.values()),
            "no_aptos_por_motivo": dict(sorted(self.unfit.items(), key=lambda kv: -kv[1])),
        }
        if self.counts.get(Status.UNCHECKED):
            data["sin_consultar"] = self.counts[Status.UNCHECKED]
        if self.estimated_calls is not None:
            data["llamadas_estimadas"] = self.estimated_calls
        if self.interrupted:
            data["interrumpido"] = True
        if self.fatal is not None or self.unavailable is not None:
            data["detenido_por"] = str(self.fatal or self.unavailable)
        if self.simulated:
            data["simulado"] = True
        return data


def default_output(source: str | Path) -> str:
    """``clientes.xlsx`` → ``clientes_resultado.xlsx`` beside it; stdin → JSONL on stdout."""
    if str(source) == "-":
        return "-"
    path = Path(source)
    return str(path.with_name(f"{path.stem}_resultado.xlsx"))


@dataclass(slots=True)
class _Plan:
    """The distinct values to settle, in order of first appearance."""

    checks: list[RucCheck]
    total: int
    row_items: list[int]  # for each input row, its index in ``checks`` (-1: blank)


def _plan(table: InputTable) -> _Plan:
    checks: list[RucCheck] = []
    seen: dict[str, int] = {}
    row_items: list[int] = []
    total = 0
    for value in table.values:
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
    return _Plan(checks, total, row_items)


async def run_batch(
    job: BatchJob,
    *,
    client: MigoClient | None = None,
    cache: CacheScope | None = None,
    progress: ProgressReporter | None = None,
    stop: asyncio.Event | None = None,
    stdout: TextIO | None = None,
) -> BatchReport:
    """Run one batch job; raises ``UsageError`` before anything is spent when it cannot run.

    ``client`` is needed unless ``validate_only`` or ``dry_run``; ``cache``
    (default: the client's) lets a dry run count cached answers without a token.
    A fatal API error, an upstream that stopped answering, or a ``stop`` ends
    the run early with a partial output: see ``BatchReport.fatal``,
    ``unavailable`` and ``interrupted``.
    """
    started = time.monotonic()
    scope = cache if cache is not None else (client.cache if client is not None else None)
    if job.dry_run:
        table, plan, report = await _read(job)
        report.estimated_calls = _estimate_calls(plan, scope, job.mode)
        report.seconds = time.monotonic() - started
        return report
    if client is None and not job.validate_only:
        raise UsageError("se necesita un cliente de APIMIGO para consultar")
    destination = _destination(job)
    # Output checked and locked before the input is even read: a refused run costs nothing.
    with _locked(destination), _long_lived_objects_frozen():
        table, plan, report = await _read(job)
        gc.freeze()
        report.output = destination
        if client is not None and not job.validate_only and job.credit_check is not CreditCheck.OFF:
            await _check_credits(client, plan, scope, job)
        columns = _result_columns(job)
        names = _columns(table, columns) if job.enrich else list(columns)
        writer = open_writer(
            destination,
            columns=names,
            layout="single" if job.enrich else "split",
            stdout=stdout,
            style=_sheet_style(columns, names),
        )
        try:
            rows = _Rows(report, table, plan, writer, columns=columns, enrich=job.enrich)
            await _settle(
                job,
                client=client,
                plan=plan,
                rows=rows,
                progress=progress or NullProgress(),
                stop=stop,
                report=report,
            )
            if client is not None:
                report.api_calls = client.stats.lookup_requests
            report.seconds = time.monotonic() - started
            rows.finish()
            writer.close(report.summary())
        except BaseException:
            writer.abort()
            raise
    return report


async def _read(job: BatchJob) -> tuple[InputTable, _Plan, BatchReport]:
    table = await asyncio.to_thread(
        read_input, job.source, column=job.column, sheet=job.sheet, keep_table=job.enrich
    )
    plan = _plan(table)
    log.info(
        "entrada %s: %s valores, %s distintos, %s con formato inválido",
        table.source,
        format_number(plan.total),
        format_number(len(plan.checks)),
        format_number(sum(not c.valid for c in plan.checks)),
    )
    report = BatchReport(total=plan.total, unique=len(plan.checks), simulated=job.simulated)
    return table, plan, report


def _destination(job: BatchJob) -> str:
    destination = str(job.output or default_output(job.source))
    if destination == "-":
        return destination
    path = check_output(destination)
    source = str(job.source)
    if source != "-" and Path(source).resolve() == path:
        raise OutputError(
            f"la salida {path} es el mismo archivo de entrada; elija otra con -o", str(path)
        )
    return str(path)


async def _settle(
    job: BatchJob,
    *,
    client: MigoClient | None,
    plan: _Plan,
    rows: _Rows,
    progress: ProgressReporter,
    stop: asyncio.Event | None,
    report: BatchReport,
) -> None:
    """Give every distinct value its row: locally, or from the cache and APIMIGO."""
    stop = stop or asyncio.Event()
    progress.start(len(plan.checks))
    try:
        if job.validate_only:
            for position, check in enumerate(plan.checks):
                result = _local_result(check)
                progress.advance(result)
                rows.add(position, result)
        else:
            assert client is not None
            await _consult(
                client=client,
                mode=job.mode,
                plan=plan,
                rows=rows,
                progress=progress,
                stop=stop,
                report=report,
            )
    finally:
        progress.finish()
    rows.settle_rest(_unanswered_reason(report, stop))
    report.interrupted = stop.is_set()


@contextlib.contextmanager
def _long_lived_objects_frozen() -> Iterator[None]:
    """Keep the collector off what lives for the whole run (imports, the input, the plan).

    Every full collection walked them again, hundreds of times a run: about a
    tenth of the CPU a paid answer costs (benchmarks, figure 3). ``gc.freeze()``
    is called once they exist; leaving the block hands them back.
    """
    try:
        yield
    finally:
        gc.unfreeze()


@contextlib.contextmanager
def _locked(destination: str) -> Iterator[None]:
    if destination == "-":
        yield
        return
    with lock_output(destination):
        yield


def _local_result(check: RucCheck) -> RucResult:
    if check.valid:
        return RucResult(check.ruc, Status.UNCHECKED, "solo validación local", origin=Origin.LOCAL)
    return RucResult.rejected(check.raw, check.reason)


def _estimate_calls(plan: _Plan, scope: CacheScope | None, mode: LookupMode) -> int:
    pending = _uncached(plan, scope)
    return math.ceil(pending / COLLECTION_MAX) if mode is LookupMode.COLLECTION else pending


def _uncached(plan: _Plan, scope: CacheScope | None) -> int:
    """Valid RUCs without an answer in the cache: what the run pays for (one credit each)."""
    return sum(1 for c in plan.checks if c.valid and (scope is None or not scope.has_ruc(c.ruc)))


async def _check_credits(
    client: MigoClient, plan: _Plan, scope: CacheScope | None, job: BatchJob
) -> None:
    """Compare the account's credits with what the run needs; warn, or refuse when strict.

    APIMIGO bills each RUC, in a collection call too, so the need is the
    number of uncached valid RUCs whatever the mode. ``/account`` is asked
    once, without retries; when it does not answer, the run goes on.
    """
    valid = sum(1 for c in plan.checks if c.valid)
    exact = valid <= EXACT_ESTIMATE_MAX  # else start from an upper bound: no cache reads
    needed = _uncached(plan, scope) if exact else valid
    if needed == 0:
        return
    credits = await client.remaining_credits()
    if credits is None:
        log.debug("la cuenta no informó sus consultas disponibles; no se comprueba el saldo")
        return
    if credits < needed and not exact:
        needed = _uncached(plan, scope)
    if credits >= needed:
        log.debug(
            "consultas disponibles: %s; esta ejecución necesita %s",
            format_number(credits),
            format_number(needed),
        )
        return
    message = (
        f"la cuenta de APIMIGO tiene {format_number(credits)} consultas disponibles y esta "
        f"ejecución necesita {format_number(needed)} (RUC válidos sin respuesta en la caché)"
    )
    if job.credit_check is CreditCheck.STRICT:
        raise UsageError(f"{message}; no se consultó nada (--estricto)")
    log.warning("%s: se detendrá al agotarlas (código 3) y lo respondido quedará guardado", message)


async def _consult(
    *,
    client: MigoClient,
    mode: LookupMode,
    plan: _Plan,
    rows: _Rows,
    progress: ProgressReporter,
    stop: asyncio.Event,
    report: BatchReport,
) -> None:
    stream = client.stream(
        plan.checks, mode=mode, ordered=True, stop=stop, on_result=progress.advance
    )
    try:
        async with _grace_after(stop):
            async for position, result in stream:
                rows.add(position, result)
    except FatalAPIError as exc:
        report.fatal = exc
    except ServiceUnavailableError as exc:
        report.unavailable = exc
    except TimeoutError:
        log.warning("consultas en curso abandonadas %s s después de la interrupción", STOP_GRACE)
    finally:
        await stream.aclose()


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


def _unanswered_reason(report: BatchReport, stop: asyncio.Event) -> str:
    if report.fatal is not None:
        return f"no consultado: {report.fatal}"
    if report.unavailable is not None:
        return f"no consultado: {report.unavailable}"
    if stop.is_set():
        return "no consultado: ejecución interrumpida"
    return "sin respuesta de APIMIGO"


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
    """Puts results in the output in order and keeps the counts.

    Without ``--enriquecer`` each row is written as soon as it is settled; with
    it, rows are kept (one per distinct value) and the input table is written
    back at the end, each input row followed by its result.
    """

    def __init__(
        self,
        report: BatchReport,
        table: InputTable,
        plan: _Plan,
        writer: ResultWriter,
        *,
        columns: Sequence[str],
        enrich: bool,
    ) -> None:
        self.report = report
        self.table = table
        self.plan = plan
        self.writer = writer
        self.columns = columns
        self.enrich = enrich
        self.kept: list[dict[str, Any]] = []
        self.next = 0

    def add(self, position: int, result: RucResult) -> None:
        if position > self.next:  # earlier values got no answer (only after a stop)
            self.settle_rest("sin respuesta de APIMIGO", upto=position)
        report = self.report
        report.counts[result.status] = report.counts.get(result.status, 0) + 1
        if result.origin is Origin.CACHE:
            report.from_cache += 1
        if result.status is Status.VALID:
            reason = result.unfit_reason
            if reason is None:
                report.fit += 1
            else:
                report.unfit[reason] = report.unfit.get(reason, 0) + 1
        row = result.to_row()
        if report.simulated:
            row[SIMULATED_COLUMN] = True
        if self.enrich:
            self.kept.append(row)
        else:
            self.writer.write(row)
        self.next = position + 1

    def settle_rest(self, reason: str, upto: int | None = None) -> None:
        end = len(self.plan.checks) if upto is None else upto
        for position in range(self.next, end):
            check = self.plan.checks[position]
            self.add(position, RucResult(check.key, Status.ERROR, reason, origin=Origin.LOCAL))

    def finish(self) -> None:
        if not self.enrich:
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
