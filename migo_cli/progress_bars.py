"""Rich's progress bars for a terminal: ``RichProgress`` (a batch) and ``RichStepProgress`` (bytes).

Apart from ``progress`` so that only a terminal pays for importing Rich's progress
machinery; ``migo_cli.progress`` still exports both names.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from migo_cli.models import RucResult
from migo_cli.numfmt import format_number
from migo_cli.progress import describe
from migo_cli.settle import Tally

__all__ = ["RichProgress", "RichStepProgress"]


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


class RichStepProgress:
    """A terminal: a Rich bar with bytes, speed and ETA, on stderr."""

    def __init__(self, console: Console) -> None:
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
