"""Progress reporters: the Rich bar on a terminal, the plain log line under cron.

The bar is drawn into a buffer by a Console that believes it is a terminal; the
log line's cadence runs on a fake clock, so nothing here sleeps.
"""

from __future__ import annotations

import io
import logging
import re

import pytest
from rich.console import Console

from migo_cli.models import Origin, RucResult, Status
from migo_cli.progress import LogProgress, LogStepProgress, RichProgress, RichStepProgress
from migo_cli.settle import Tally
from tests.conftest import FakeClock, make_rucs

RUCS = make_rucs(10)
APTO = {"estado_del_contribuyente": "ACTIVO", "condicion_de_domicilio": "HABIDO"}
#: Ten results: six valid (four fit to invoice, two from the cache), two unknown, one
#: malformed, one error.
RESULTS = [
    *(RucResult(ruc, Status.VALID, data=APTO) for ruc in RUCS[:4]),
    *(RucResult(ruc, Status.VALID, origin=Origin.CACHE) for ruc in RUCS[4:6]),
    *(RucResult(ruc, Status.NOT_FOUND, "SUNAT no registra este RUC") for ruc in RUCS[6:8]),
    RucResult.rejected("2010003814", "debe tener 11 dígitos"),
    RucResult(RUCS[9], Status.ERROR, "error del servidor de APIMIGO (HTTP 500)"),
]
TALLY = "aptos 4 · no aptos 2 · no existe 2 · formato inválido 1 · errores 1 · de caché 2"
CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # cursor moves, line erases


def test_rich_bar_on_a_terminal_shows_the_count_and_the_states() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=200, color_system=None)
    assert console.is_terminal
    reporter = RichProgress(console)

    tally = Tally()
    reporter.start(len(RESULTS), tally)
    for result in RESULTS:
        tally.add(result)  # the run counts; the reporter only reads the run's tally
        reporter.advance(result)
    reporter.finish()

    drawn = screen.getvalue()
    assert "\x1b[?25l" in drawn  # a live display: the cursor hides while the bar redraws
    frames = [CONTROL.sub("", frame).strip() for frame in drawn.split("\r")]
    assert len(frames) >= 2  # drawn at once, then redrawn in place
    assert frames[0].startswith("Consultando")
    assert "0/10" in frames[0]
    final = frames[-1]  # what stays on screen (the bar is not transient)
    assert final.startswith("Consultando ━")
    assert "10/10" in final
    assert TALLY in final
    assert "RUC/s" in final


def test_plain_log_line_at_most_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(now=1000.0)
    logger = logging.getLogger("migo.pruebas.avance")
    reporter = LogProgress(logger, interval=5.0, clock=clock)

    with caplog.at_level(logging.INFO, logger=logger.name):
        tally = Tally()
        reporter.start(len(RESULTS), tally)
        for result in RESULTS[:3]:  # a burst at one instant: no line
            tally.add(result)
            reporter.advance(result)
        assert caplog.messages == []
        for result in RESULTS[3:]:  # then one a second: a line every fifth second
            clock.advance(1.0)
            tally.add(result)
            reporter.advance(result)
        reporter.finish()  # always says where the run ended

    # 8 done at 5 s (1.6 RUC/s, 2 left: ~1 s more); then 10 at 7 s, reported by finish only.
    assert caplog.messages == [
        "avance: 8/10 (80%) · aptos 4 · no aptos 2 · no existe 2 · formato inválido 0 · errores 0"
        " · de caché 2 · 2 RUC/s, faltan ~1 s",
        f"avance: 10/10 (100%) · {TALLY} · 1 RUC/s",
    ]


def test_byte_steps_log_a_line_at_most_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(now=1000.0)
    logger = logging.getLogger("migo.pruebas.pasos")
    reporter = LogStepProgress(logger, interval=5.0, clock=clock)

    with caplog.at_level(logging.INFO, logger=logger.name):
        reporter.begin("Descargando el padrón", None)
        reporter.begin("Descargando el padrón", 40_000_000)  # the size, once known
        for done in range(2_000_000, 40_000_001, 2_000_000):  # 2 MB a second
            clock.advance(1.0)
            reporter.update(done)
        reporter.end()
        reporter.begin("Indexando el padrón", None)  # a new step starts its own clock
        clock.advance(2.0)
        reporter.update(100_000_000)
        reporter.end()

    assert caplog.messages == [
        "descargando el padrón: 10.0 MB de 40.0 MB (25%) · 2.0 MB/s",
        "descargando el padrón: 20.0 MB de 40.0 MB (50%) · 2.0 MB/s",
        "descargando el padrón: 30.0 MB de 40.0 MB (75%) · 2.0 MB/s",
        "descargando el padrón: 40.0 MB de 40.0 MB (100%) · 2.0 MB/s",
        "indexando el padrón: 100 MB · 50.0 MB/s",
    ]


def test_rich_byte_bar_shows_size_and_speed() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120, color_system=None)
    reporter = RichStepProgress(console)
    reporter.begin("Descargando el padrón", 3_000_000)
    reporter.update(1_500_000)
    reporter.update(3_000_000)
    reporter.end()
    final = CONTROL.sub("", screen.getvalue().split("\r")[-1])
    assert final.startswith("Descargando el padrón ━")
    assert "3.0/3.0 MB" in final
