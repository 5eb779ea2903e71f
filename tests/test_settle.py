"""The one engine: a plan settled into rows and one Tally, read by progress and by summaries.

``settle`` is driven with scripted lookups (no network) for its edges: gaps
left by a fatal error or a stop, and the reason they get. Then the two callers
over the simulator: ``run_batch`` (progress and ``--json-resumen`` read the same
tally) and ``MigoClient.lookup_batch``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Callable, Sequence
from pathlib import Path

from migo_cli.batch import BatchJob, run_batch
from migo_cli.client import MigoClient
from migo_cli.exceptions import AuthenticationError, ServiceUnavailableError
from migo_cli.models import Origin, RucResult, Status
from migo_cli.progress import describe
from migo_cli.ruc import RucCheck
from migo_cli.settle import LookupSummary, Plan, Settlement, Tally, settle
from migo_cli.simulator import (
    RUC_ACTIVO_HABIDO,
    RUC_BAJA_DE_OFICIO,
    RUC_DIGITO_INVALIDO,
    RUC_NO_EXISTE,
    SimulatorThread,
)
from tests.conftest import TOKEN, make_rucs

Arrived = Callable[[RucResult], None]


class Recorder:
    """A progress reporter that remembers what it was shown, and when."""

    def __init__(self) -> None:
        self.tally: Tally | None = None
        self.total = -1
        self.advanced: list[RucResult] = []
        self.done_at_advance: list[int] = []
        self.done_at_finish = -1
        self.finished = 0

    def start(self, total: int, tally: Tally) -> None:
        self.total, self.tally = total, tally

    def advance(self, result: RucResult) -> None:
        assert self.tally is not None
        self.advanced.append(result)
        self.done_at_advance.append(self.tally.done)

    def finish(self) -> None:
        assert self.tally is not None
        self.finished += 1
        self.done_at_finish = self.tally.done


def valid(ruc: str, estado: str = "ACTIVO", origin: Origin = Origin.API) -> RucResult:
    data = {"estado_del_contribuyente": estado, "condicion_de_domicilio": "HABIDO"}
    return RucResult(ruc, Status.VALID, "", data, origin)


def answers(
    results: dict[int, RucResult], order: Sequence[int], *, then: BaseException | None = None
) -> Callable[[Sequence[RucCheck], Arrived], AsyncGenerator[tuple[int, RucResult]]]:
    """A lookup that yields ``results`` at the ``order`` positions, then raises ``then``."""

    async def lookup(
        checks: Sequence[RucCheck], arrived: Arrived
    ) -> AsyncGenerator[tuple[int, RucResult]]:
        for index in order:
            arrived(results[index])
            yield index, results[index]
        if then is not None:
            raise then

    return lookup


def test_plan_dedupes_in_order_of_first_appearance() -> None:
    plan = Plan.of([RUC_ACTIVO_HABIDO, "", " 20-100.038.146 ", "abc", None, "abc", RUC_NO_EXISTE])

    assert [c.key for c in plan.checks] == [RUC_ACTIVO_HABIDO, "abc", RUC_NO_EXISTE]
    assert plan.total == 5  # non-blank values
    assert plan.row_items == [0, -1, 0, 1, -1, 1, 2]


async def test_one_tally_counts_each_row_once_and_progress_reads_it() -> None:
    rucs = make_rucs(3)
    plan = Plan.of([*rucs, RUC_DIGITO_INVALIDO])
    results = {
        0: valid(rucs[0]),
        1: valid(rucs[1], "BAJA DE OFICIO", Origin.CACHE),
        2: RucResult(rucs[2], Status.NOT_FOUND, "no existe"),
        3: RucResult.rejected(RUC_DIGITO_INVALIDO, "dígito verificador incorrecto"),
    }
    rows: list[tuple[int, RucResult]] = []
    progress = Recorder()

    settled = await settle(
        plan, answers(results, [0, 1, 2, 3]), lambda i, r: rows.append((i, r)), progress=progress
    )

    assert rows == sorted(results.items())
    assert progress.tally is settled.tally  # the one tally, not a copy
    assert progress.total == 4
    assert progress.done_at_advance == [1, 2, 3, 4]  # counted before the reporter is told
    assert progress.finished == 1
    tally = settled.tally
    assert (tally.done, tally.fit, tally.unfit, tally.from_cache) == (
        4,
        1,
        {"BAJA DE OFICIO": 1},
        1,
    )
    assert tally.by_status == {Status.VALID: 2, Status.NOT_FOUND: 1, Status.INVALID: 1}
    assert describe(tally) == (
        "aptos 1 · no aptos 1 · no existe 1 · formato inválido 1 · errores 0 · de caché 1"
    )
    assert settled.complete


async def test_a_fatal_error_leaves_every_gap_with_its_reason() -> None:
    rucs = make_rucs(5)
    plan = Plan.of([*rucs[:2], RUC_DIGITO_INVALIDO, *rucs[2:]])
    fatal = AuthenticationError("APIMIGO rechazó el token (HTTP 401)")
    # Position 3 answered before the token was refused; 0 and 1 were in flight.
    lookup = answers({3: valid(rucs[2])}, [3], then=fatal)
    rows: list[RucResult] = []
    progress = Recorder()

    settled = await settle(plan, lookup, lambda _, r: rows.append(r), progress=progress)

    assert settled.fatal is fatal
    assert not settled.complete
    assert [r.status for r in rows] == [
        Status.ERROR,
        Status.ERROR,
        Status.INVALID,  # malformed: answered locally even though nothing was asked
        Status.VALID,
        Status.ERROR,
        Status.ERROR,
    ]
    errors = [r for r in rows if r.status is Status.ERROR]
    assert {r.reason for r in errors} == {f"no consultado: {fatal}"}
    assert all(r.origin is Origin.LOCAL for r in errors)
    # Progress finished on what was answered; the tally then took the unanswered rows.
    assert progress.done_at_finish == 1
    assert settled.tally.done == len(rows) == 6
    assert settled.tally.errors == 4


async def test_a_stop_is_an_interruption_and_says_so() -> None:
    rucs = make_rucs(3)
    stop = asyncio.Event()

    async def lookup(
        checks: Sequence[RucCheck], arrived: Arrived
    ) -> AsyncGenerator[tuple[int, RucResult]]:
        result = valid(checks[0].ruc)
        arrived(result)
        yield 0, result
        stop.set()  # Ctrl-C: the lookup ends without the rest

    rows: list[RucResult] = []
    settled = await settle(Plan.of(rucs), lookup, lambda _, r: rows.append(r), stop=stop)

    assert settled.interrupted
    assert not settled.complete
    assert [r.reason for r in rows[1:]] == ["no consultado: ejecución interrumpida"] * 2


async def test_an_upstream_that_gave_up_is_not_complete() -> None:
    rucs = make_rucs(2)
    gave_up = ServiceUnavailableError("APIMIGO no responde")
    lookup = answers({0: valid(rucs[0])}, [0], then=gave_up)

    settled = await settle(Plan.of(rucs), lookup, lambda _, r: None)

    assert settled.unavailable is gave_up
    assert settled.unanswered() == f"no consultado: {gave_up}"
    assert (settled.tally.errors, settled.complete) == (1, False)


def test_complete_has_one_meaning() -> None:
    answered = Tally.of([valid(RUC_ACTIVO_HABIDO)])
    errored = Tally.of([RucResult("x", Status.ERROR, "fallo")])
    fatal = AuthenticationError("token")

    assert Settlement(answered).complete
    assert not Settlement(errored).complete
    assert not Settlement(answered, interrupted=True).complete
    assert not Settlement(answered, fatal=fatal).complete
    assert not Settlement(answered, unavailable=ServiceUnavailableError("caído")).complete
    # A summary made by hand is judged the same way, from its rows.
    assert LookupSummary([valid(RUC_ACTIVO_HABIDO)], 1).complete
    assert not LookupSummary([valid(RUC_ACTIVO_HABIDO)], 1, fatal).complete
    assert LookupSummary([valid(RUC_ACTIVO_HABIDO)], 1).tally.fit == 1


async def test_run_batch_progress_and_resumen_read_the_same_tally(
    sim: SimulatorThread, tmp_path: Path
) -> None:
    source = tmp_path / "rucs.csv"
    values = [RUC_ACTIVO_HABIDO, RUC_BAJA_DE_OFICIO, RUC_NO_EXISTE, RUC_DIGITO_INVALIDO]
    source.write_text("RUC\n" + "\n".join([*values, RUC_ACTIVO_HABIDO]) + "\n", encoding="utf-8")
    progress = Recorder()

    async with MigoClient(TOKEN, base_url=sim.base_url) as client:
        job = BatchJob(source, tmp_path / "out.jsonl")
        report = await run_batch(job, client=client, progress=progress)

    assert progress.tally is report.tally
    assert progress.done_at_finish == report.tally.done == 4
    summary = report.summary()
    tally = report.tally
    assert (summary["validos"], summary["no_existe"], summary["formato_invalido"]) == (2, 1, 1)
    assert (summary["aptos"], summary["no_aptos"], summary["errores"]) == (tally.fit, 1, 0)
    assert summary["completo"] is report.complete is True
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(rows) == tally.done


async def test_lookup_batch_is_settle_with_a_list(sim: SimulatorThread) -> None:
    values = [RUC_ACTIVO_HABIDO, RUC_NO_EXISTE, RUC_ACTIVO_HABIDO, RUC_DIGITO_INVALIDO, ""]

    async with MigoClient(TOKEN, base_url=sim.base_url) as client:
        summary = await client.lookup_batch(values)

    assert [r.ruc for r in summary.results] == [
        RUC_ACTIVO_HABIDO,
        RUC_NO_EXISTE,
        RUC_DIGITO_INVALIDO,
    ]
    assert summary.tally.done == len(summary.results)
    assert summary.tally.by_status == {Status.VALID: 1, Status.NOT_FOUND: 1, Status.INVALID: 1}
    assert summary.complete


async def test_lookup_batch_after_a_rejected_token(sim: SimulatorThread) -> None:
    async with MigoClient("otro-token", base_url=sim.base_url) as client:
        summary = await client.lookup_batch([*make_rucs(3), RUC_DIGITO_INVALIDO])

    assert isinstance(summary.fatal, AuthenticationError)
    assert summary.tally.errors == 3
    assert [r.status for r in summary.invalid] == [Status.INVALID]
    assert not summary.complete
