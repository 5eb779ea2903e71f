"""The plain-text card (``migo_cli.card``) is byte for byte what Rich prints without colours."""

from __future__ import annotations

import io
import random

import pytest
from rich.console import Console

from migo_cli import render
from migo_cli.card import plain_cards, plain_width
from migo_cli.models import Origin, RucResult, Status
from migo_cli.simulator import SPECIAL_RUCS, make_rucs, ruc_answer

WIDTHS = (30, 44, 56, 64, 72, 80, 100, 132, 200)


def rich_prints(results: list[RucResult], width: int, notice: str | None) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, force_terminal=False)
    console.print(render.ruc_results(results, detail=True, width=width, notice=notice))
    return out.getvalue()


def answers() -> list[RucResult]:
    """Simulated APIMIGO answers (every special case), then refusals, long words and changes."""
    rng = random.Random(12)
    results: list[RucResult] = []
    for ruc in [*make_rucs(150), *SPECIAL_RUCS]:
        data = ruc_answer(ruc)
        if data is None:
            results.append(
                RucResult(ruc, Status.NOT_FOUND, "no existe en SUNAT", origin=Origin.API)
            )
            continue
        results.append(RucResult(ruc, Status.VALID, "", data, Origin.PADRON, "2026-12-01"))
    for result in results[::9]:
        result.change = "estado: ACTIVO → BAJA DE OFICIO; condición: HABIDO → NO HABIDO"
    words = ["AV.", "JR.", "LOS", "CONSTRUCTORES", "ÑAÑA", "MZA.", "B-12", "S.A.C.", "-", "A"]
    for n in range(60):
        data = dict(results[0].data)
        data["direccion"] = " ".join(rng.choice(words) for _ in range(rng.randrange(1, 30)))
        data["nombre_o_razon_social"] = "X" * rng.randrange(5, 90)  # one long word: Rich folds
        results.append(RucResult(f"2010003814{n % 10}", Status.VALID, "", data, Origin.API))
    results.append(RucResult.rejected("2010003814", "longitud: tiene 10 dígitos, un RUC tiene 11"))
    return results


@pytest.mark.parametrize("width", WIDTHS)
def test_every_card_rich_would_print_plainly_is_the_same_text(width: int) -> None:
    results, plain = answers(), 0
    for n, result in enumerate(results):
        notice = "DATOS SIMULADOS: no provienen de SUNAT." if n % 4 == 0 else None
        text = plain_cards([result], width, notice)
        if text is not None:
            plain += 1
            assert text == rich_prints([result], width, notice), result.ruc
    if width >= 80:  # the everyday widths: a card is plain unless a word must be cut
        assert plain >= len(results) - 70, plain


def test_several_cards_as_with_detalle() -> None:
    results = answers()[:5]
    text = plain_cards(results, 100)
    assert text is not None
    assert text == rich_prints(results, 100, None)


def test_what_rich_must_lay_out_is_left_to_it() -> None:
    valid = answers()[0]
    assert plain_cards([valid], 20) is None  # no room for the values
    wide = RucResult(valid.ruc, Status.VALID, "", {**valid.data, "direccion": "東京"}, Origin.API)
    assert plain_cards([wide], 80) is None  # two cells a character
    assert plain_cards([valid], 80, "x" * 81) is None  # a notice that wraps


def test_plain_width_is_riches() -> None:
    for environ in ({"COLUMNS": "123"}, {}, {"COLUMNS": "x"}):
        console = Console(file=io.StringIO(), _environ=environ)
        assert plain_width(environ) == console.width, environ
