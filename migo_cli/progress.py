"""Progress reporting: one interface, three renderings (quiet is a null object).

The pipeline calls ``start``, ``advance`` and ``finish`` and never asks whether
it runs on a terminal, under cron or with ``-q``; the CLI picks the reporter.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Protocol

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from migo_cli.models import Origin, RucResult, Status
from migo_cli.numfmt import format_number

__all__ = ["LogProgress", "NullProgress", "ProgressReporter", "RichProgress", "Tally"]


class Tally:
    """Running counts per ``estado_consulta``, fit / unfit to invoice, and cache hits."""

    def __init__(self) -> None:
        self.by_status: Counter[Status] = Counter()
        self.fit = 0
        self.from_cache = 0
        self.done = 0

    def add(self, result: RucResult) -> None:
        self.by_status[result.status] += 1
        self.done += 1
        if result.billable:
            self.fit += 1
        if result.origin is Origin.CACHE:
            self.from_cache += 1

    def describe(self) -> str:
        """What the user came for first: how many RUCs can go on an invoice, how many not."""
        unfit = self.by_status[Status.VALID] - self.fit
        parts = [
            f"aptos {format_number(self.fit)}",
            f"no aptos {format_number(unfit)}",
            f"no existe {format_number(self.by_status[Status.NOT_FOUND])}",
            f"formato inválido {format_number(self.by_status[Status.INVALID])}",
            f"errores {format_number(self.by_status[Status.ERROR])}",
        ]
        if self.by_status[Status.UNCHECKED]:
            parts.append(f"sin consultar {format_number(self.by_status[Status.UNCHECKED])}")
        parts.append(f"de caché {format_number(self.from_cache)}")
        return " · ".join(parts)


class ProgressReporter(Protocol):
    def start(self, total: int) -> None: ...
    def advance(self, result: RucResult) -> None: ...
    def finish(self) -> None: ...


class NullProgress:
    """``-q``: nothing at all."""

    def start(self, total: int) -> None:
        pass

    def advance(self, result: RucResult) -> None:
        pass

    def finish(self) -> None:
        pass


class LogProgress:
    """Not a terminal (cron): a plain log line at most every ``interval`` seconds of ``clock``."""

    def __init__(
        self,
        logger: logging.Logger,
        interval: float = 5.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log = logger
        self.interval = interval
        self.tally = Tally()
        self.total = 0
        self._clock = clock
        self._started = self._last = 0.0

    def start(self, total: int) -> None:
        self.total = total
        self._started = self._last = self._clock()

    def advance(self, result: RucResult) -> None:
        self.tally.add(result)
        now = self._clock()
        if now - self._last >= self.interval:
            self._last = now
            self._report(now)

    def _report(self, now: float) -> None:
        done, total = self.tally.done, self.total
        elapsed = max(now - self._started, 1e-9)
        rate = done / elapsed
        left = (
            f", faltan ~{format_number((total - done) / rate)} s" if rate and done < total else ""
        )
        percent = 100 * done / total if total else 100.0
        self.log.info(
            "avance: %s/%s (%.0f%%) · %s · %s RUC/s%s",
            format_number(done),
            format_number(total),
            percent,
            self.tally.describe(),
            format_number(rate),
            left,
        )

    def finish(self) -> None:
        self._report(self._clock())


class _CountColumn(ProgressColumn):
    """``2,704/10,000``: Rich's MofNCompleteColumn would print ``2704/10000``."""

    def render(self, task: Task) -> Text:
        total = "?" if task.total is None else format_number(task.total)
        return Text(f"{format_number(task.completed)}/{total}", style="progress.download")


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{format_number(speed)} RUC/s" if speed else "— RUC/s", style="cyan")


class _BarAndTally(Progress):
    """The bar, and under it the counts: on one line they would not fit 80 columns."""

    def __init__(self, tally: Tally, *columns: ProgressColumn, console: Console) -> None:
        self.tally = tally  # before Progress starts asking for renderables
        super().__init__(*columns, console=console, transient=False)

    def get_renderables(self) -> Iterable[RenderableType]:
        yield from super().get_renderables()
        yield Text(self.tally.describe(), style="dim", overflow="fold")


class RichProgress:
    """A terminal: a Rich bar with counts per state, rate and ETA, on stderr."""

    # Refreshing the bar for each of 20,000 results a second would cost more than the work.
    _UPDATE_EVERY = 0.1

    def __init__(self, console: Console) -> None:
        self.tally = Tally()
        self._progress = _BarAndTally(
            self.tally,
            TextColumn("[bold]Consultando"),
            BarColumn(),
            _CountColumn(),
            _RateColumn(),
            TimeRemainingColumn(),
            console=console,
        )
        self._task = self._progress.add_task("consulta", total=None)
        self._shown = 0
        self._last = 0.0

    def start(self, total: int) -> None:
        self._progress.update(self._task, total=total)
        self._progress.start()

    def advance(self, result: RucResult) -> None:
        self.tally.add(result)
        now = time.monotonic()
        if now - self._last >= self._UPDATE_EVERY:
            self._flush(now)

    def _flush(self, now: float) -> None:
        self._last = now
        self._progress.update(self._task, advance=self.tally.done - self._shown)
        self._shown = self.tally.done

    def finish(self) -> None:
        self._flush(time.monotonic())
        self._progress.stop()
