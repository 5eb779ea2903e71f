"""How fast requests leave: a concurrency gate, an optional per-minute cap and 429 cool-downs.

One ``Pace`` is shared by every request of a client, so a ``Retry-After`` seen by
one RUC holds back all of them (the API limits the account, not the RUC), and
the gate narrows after a 429 and widens again as answers come back (AIMD).
The per-minute cap is aiolimiter's leaky bucket with room for one request, which
spaces requests evenly: the cap then holds over any one-minute window, not only
on average.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from migo_cli.testing import waits_off

if TYPE_CHECKING:
    from aiolimiter import AsyncLimiter

__all__ = ["Pace"]


class Pace:
    def __init__(self, concurrency: int, rpm: float | None = None) -> None:
        self.max_concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self._withheld = 0  # permits kept out of circulation after a 429
        self._to_withhold = 0
        self._successes = 0
        self._limiter: AsyncLimiter | None = None
        if rpm:  # imported only then: aiolimiter reads its version from package metadata
            from aiolimiter import AsyncLimiter

            self._limiter = AsyncLimiter(1, 60.0 / rpm)
        self._resume_at = 0.0
        self._slot = _Slot(self)

    @property
    def concurrency(self) -> int:
        """The width of the gate right now."""
        return self.max_concurrency - self._withheld - self._to_withhold

    def slot(self) -> _Slot:
        """``async with pace.slot():`` holds one of the concurrent request slots.

        Entering waits for a free slot, then for any cool-down and the rpm cap.
        """
        return self._slot

    async def _enter(self) -> None:
        await self._slots.acquire()
        try:
            await self._wait_turn()
        except BaseException:
            self._leave()
            raise

    def _leave(self) -> None:
        if self._to_withhold:
            self._to_withhold -= 1
            self._withheld += 1
        else:
            self._slots.release()

    async def _wait_turn(self) -> None:
        # A loop, not an Event: a 429 arriving meanwhile may push the deadline further.
        while (delay := self._resume_at - time.monotonic()) > 0 and not waits_off():  # noqa: ASYNC110
            await asyncio.sleep(delay)
        if self._limiter is not None:
            await self._limiter.acquire()

    def rate_limited(self, retry_after: float) -> None:
        """A 429: nobody sends before ``retry_after`` seconds, and the gate halves.

        The 429s of one burst (answers to requests sent before the first cool-down
        began) halve the gate once, not once each.
        """
        now = time.monotonic()
        if now >= self._resume_at:
            self._successes = 0
            self._to_withhold += self.concurrency - max(1, self.concurrency // 2)
        self._resume_at = max(self._resume_at, now + retry_after)

    def succeeded(self) -> None:
        """An answer: after a gate's width of them in a row, widen the gate by one."""
        if not (self._withheld or self._to_withhold):
            return
        self._successes += 1
        if self._successes >= self.concurrency:
            self._successes = 0
            if self._to_withhold:
                self._to_withhold -= 1
            else:
                self._withheld -= 1
                self._slots.release()


class _Slot:
    """The context manager of ``Pace.slot`` (a class: it runs once per request)."""

    __slots__ = ("_pace",)

    def __init__(self, pace: Pace) -> None:
        self._pace = pace

    async def __aenter__(self) -> None:
        await self._pace._enter()

    async def __aexit__(self, *exc: object) -> None:
        self._pace._leave()
