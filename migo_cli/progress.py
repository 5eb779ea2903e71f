"""Progress reporting: one interface, three renderings (quiet is a null object).

The pipeline calls ``start``, ``advance`` and ``finish`` and never asks whether
it runs on a terminal, under cron or with ``-q``; the CLI picks the reporter.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from migo_cli.models import RucResult, Status
from migo_cli.numfmt import format_bytes, format_number
from migo_cli.settle import Tally

__all__ = [
    "LogProgress",
    "LogStepProgress",
    "NullProgress",
    "NullStepProgress",
    "ProgressReporter",
    "RichProgress",
    "RichStepProgress",
    "StepProgress",
    "describe",
]


def describe(tally: Tally) -> str:
    """What the user came for first: how many RUCs can go on an invoice, how many not."""
    by_status = tally.by_status
    parts = [
        f"aptos {format_number(tally.fit)}",
        f"no aptos {format_number(by_status[Status.VALID] - tally.fit)}",
        f"no existe {format_number(by_status[Status.NOT_FOUND])}",
        f"formato inválido {format_number(by_status[Status.INVALID])}",
        f"errores {format_number(by_status[Status.ERROR])}",
    ]
    if by_status[Status.UNCHECKED]:
        parts.append(f"sin consultar {format_number(by_status[Status.UNCHECKED])}")
    parts.append(f"de caché {format_number(tally.from_cache)}")
    return " · ".join(parts)


class ProgressReporter(Protocol):
    """Shows a run as it goes, from the run's own ``Tally`` (never a count of its own).

    ``start`` hands over the tally and the number of values; ``advance`` comes
    after each result has been counted in it (``result`` is that one).
    """

    def start(self, total: int, tally: Tally) -> None: ...
    def advance(self, result: RucResult) -> None: ...
    def finish(self) -> None: ...


class NullProgress:
    """``-q``: nothing at all."""

    def start(self, total: int, tally: Tally) -> None:
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

    def start(self, total: int, tally: Tally) -> None:
        self.total = total
        self.tally = tally
        self._started = self._last = self._clock()

    def advance(self, result: RucResult) -> None:
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
            describe(self.tally),
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

    def __init__(self, *columns: ProgressColumn, console: Console) -> None:
        self.tally = Tally()  # before Progress starts asking for renderables
        super().__init__(*columns, console=console, transient=False)

    def get_renderables(self) -> Iterable[RenderableType]:
        yield from super().get_renderables()
        yield Text(describe(self.tally), style="dim", overflow="fold")


class RichProgress:
    """A terminal: a Rich bar with counts per state, rate and ETA, on stderr."""

    # Refreshing the bar for each of 20,000 results a second would cost more than the work.
    _UPDATE_EVERY = 0.1

    def __init__(self, console: Console) -> None:
        self._progress = _BarAndTally(
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

    def start(self, total: int, tally: Tally) -> None:
        self._progress.tally = tally
        self._progress.update(self._task, total=total)
        self._progress.start()

    @property
    def tally(self) -> Tally:
        return self._progress.tally

    def advance(self, result: RucResult) -> None:
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


# -- long steps counted in bytes: the padrón's download and import -------------------


class StepProgress(Protocol):
    """Shows one long step counted in bytes (a download, an import).

    ``begin`` may come again with a better ``total`` (known only once the step
    has started); ``update`` carries the bytes done so far, not an increment.
    """

    def begin(self, label: str, total: int | None) -> None: ...
    def update(self, done: int) -> None: ...
    def end(self) -> None: ...


class NullStepProgress:
    """``-q``, or a library caller that wants nothing shown."""

    def begin(self, label: str, total: int | None) -> None:
        pass

    def update(self, done: int) -> None:
        pass

    def end(self) -> None:
        pass


class LogStepProgress:
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
        self._clock = clock
        self.label = ""
        self.total: int | None = None
        self.done = 0
        self._started = self._last = 0.0
        self._running = False
        self._reported = -1

    def begin(self, label: str, total: int | None) -> None:
        if not self._running or label != self.label:
            self._started = self._last = self._clock()
            self.done = 0
            self._reported = -1
        self.label, self.total, self._running = label, total, True

    def update(self, done: int) -> None:
        self.done = done
        now = self._clock()
        if now - self._last >= self.interval:
            self._last = now
            self._report(now)

    def _report(self, now: float) -> None:
        self._reported = self.done
        rate = self.done / max(now - self._started, 1e-9)
        if self.total:
            percent = 100 * self.done / self.total
            self.log.info(
                "%s: %s de %s (%.0f%%) · %s/s",
                self.label.lower(),
                format_bytes(self.done),
                format_bytes(self.total),
                percent,
                format_bytes(rate),
            )
        else:
            self.log.info(
                "%s: %s · %s/s", self.label.lower(), format_bytes(self.done), format_bytes(rate)
            )

    def end(self) -> None:
        """Always says where the step ended, unless the last line already did."""
        if self._running and self._reported != self.done:
            self._report(self._clock())
        self._running = False


class RichStepProgress:
    """A terminal: a Rich bar with bytes, speed and ETA, on stderr."""

    def __init__(self, console: Console) -> None:
        from rich.progress import DownloadColumn, TransferSpeedColumn

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._task: TaskID | None = None
        self._label = ""

    def begin(self, label: str, total: int | None) -> None:
        if self._task is None or label != self._label:
            self._progress.start()
            self._task = self._progress.add_task(label, total=total)
            self._label = label
        else:
            self._progress.update(self._task, total=total)

    def update(self, done: int) -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=done)

    def end(self) -> None:
        if self._task is not None:
            self._progress.refresh()
            self._progress.stop()
        self._task = None
