"""An event loop in a daemon thread, for synchronous code that drives async code.

``Migo`` (the synchronous client) and ``SimulatorThread`` (the simulator for
synchronous tests and for tests that spawn ``migo``) both need one: a loop that
runs forever beside the caller's thread, coroutines handed to it from any
thread, and a shutdown that leaves nothing pending, as ``asyncio.run`` would.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["LoopThread"]

T = TypeVar("T")


class LoopThread:
    """``loop`` runs forever in ``thread`` (a daemon) until ``stop()``."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def call(self, work: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``work`` on the loop and wait for its result; abandon it if the wait fails."""
        future = asyncio.run_coroutine_threadsafe(work, self.loop)
        try:
            return future.result(timeout)
        except BaseException:
            future.cancel()  # Ctrl-C or a timeout in the caller: the work is not wanted
            raise

    async def settle(self) -> None:
        """Cancel every other task on the loop and wait for them (call it on the loop).

        As ``asyncio.run`` does on its way out (tasks, then async generators), so
        that nothing is left pending when the loop stops.
        """
        current = asyncio.current_task()
        rest = [task for task in asyncio.all_tasks() if task is not current]
        for task in rest:
            task.cancel()
        await asyncio.gather(*rest, return_exceptions=True)
        await self.loop.shutdown_asyncgens()

    def stop(self, timeout: float) -> bool:
        """Stop the loop and join the thread; False if it is still running after ``timeout``."""
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout)
        if self.thread.is_alive():
            return False
        self.loop.close()
        return True
