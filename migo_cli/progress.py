"""Progress reporting: one interface, three renderings (quiet is a null object).

The pipeline calls ``start``, ``advance`` and ``finish`` and never asks whether
it runs on a terminal, under cron or with ``-q``; the CLI picks the reporter.
The terminal's Rich bars live in ``progress_bars`` and are imported from here on
first use: a cron run (log lines) or a quiet one never loads Rich's progress
machinery, a cost the first request would wait for (benchmarks, figure 9).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from migo_cli.models import RucResult, Status
from migo_cli.numfmt import format_bytes, format_number
from migo_cli.settle import Tally

if TYPE_CHECKING:  # re-exported (``X as X``) for the type checker; at run time, ``__getattr__``
    from migo_cli.progress_bars import RichProgress as RichProgress  # noqa: PLC0414
    from migo_cli.progress_bars import RichStepProgress as RichStepProgress  # noqa: PLC0414

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


def __getattr__(name: str) -> object:
    if name in ("RichProgress", "RichStepProgress"):
        from migo_cli import progress_bars

        return getattr(progress_bars, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
