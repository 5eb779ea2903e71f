"""The plain summary table (``migo_cli.summary``) is byte for byte what Rich prints uncoloured."""

from __future__ import annotations

import io
import random

import pytest
from rich.console import Console

from migo_cli import render
from migo_cli.batch import BatchReport
from migo_cli.models import Origin, RucResult, Status
from migo_cli.simulator import SPECIAL_RUCS, make_rucs, ruc_answer
from migo_cli.summary import plain_summary

WIDTHS = (30, 44, 56, 64, 80, 100, 200)


def rich_prints(report: BatchReport, width: int) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, force_terminal=False)
    console.print(render.summary_table(report))
    return out.getvalue()


def reports() -> list[BatchReport]:
    """Runs of every shape: empty, answered, refused, unchecked, changed, long paths."""
    rng = random.Random(7)
    made = [BatchReport()]
    results: list[RucResult] = []
    for ruc in [*make_rucs(40), *SPECIAL_RUCS]:
        data = ruc_answer(ruc)
        status = Status.VALID if data is not None else Status.NOT_FOUND
        results.append(RucResult(ruc, status, "", data or {}, Origin.API))
    results.append(RucResult.rejected("123", "longitud: tiene 3 dígitos, un RUC tiene 11"))
    results.append(RucResult("20100038146", Status.ERROR, "APIMIGO no respondió"))
    results.append(RucResult("20100038146", Status.UNCHECKED, "solo validación local"))
    for n in range(12):
        report = BatchReport(total=10 * n, unique=n, api_calls=n * 1_000, seconds=n * 3.7)
        for result in rng.sample(results, rng.randrange(len(results))):
            if rng.random() < 0.3 and result.status is Status.VALID:
                result.change = rng.choice(
                    ["estado: ACTIVO → BAJA DE OFICIO", "razón social: «A» → «B» " * 3]
                )
                result.change_severity = rng.randrange(1, 7)
            report.settled.tally.add(result)
        report.output = rng.choice([None, "resultado.xlsx", "/datos/" + "x" * rng.randrange(90)])
        report.settled.interrupted = n % 5 == 0
        made.append(report)
    return made


@pytest.mark.parametrize("width", WIDTHS)
def test_every_summary_rich_would_print_plainly_is_the_same_text(width: int) -> None:
    plain = 0
    for report in reports():
        text = plain_summary(report, width)
        if text is not None:
            plain += 1
            assert text == rich_prints(report, width)
    if width >= 200:  # wide enough for every row: only the long paths' runs need Rich
        assert plain >= 9, plain


def test_a_nightly_run_in_a_log_of_80_columns_is_plain() -> None:
    report = BatchReport(total=1_250, unique=1_200, api_calls=30, seconds=41.3)
    for ruc in make_rucs(30):
        data = ruc_answer(ruc)
        status = Status.VALID if data is not None else Status.NOT_FOUND
        report.settled.tally.add(RucResult(ruc, status, "", data or {}, Origin.API))
    report.output = "/srv/erp/clientes_resultado.xlsx"

    text = plain_summary(report, 80)

    assert text is not None
    assert text == rich_prints(report, 80)


def test_what_rich_must_lay_out_is_left_to_it() -> None:
    report = BatchReport(total=1, unique=1, output="/datos/resultado.xlsx")
    assert plain_summary(report, 20) is None  # wider than the console: Rich folds
    report.output = "/datos/東京.xlsx"
    assert plain_summary(report, 200) is None  # two cells a character
