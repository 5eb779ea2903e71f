"""``SimulatorThread``: the simulator for synchronous code, on a ``LoopThread``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self, TypeVar

from migo_cli.background import LoopThread
from migo_cli.simulator.config import SimulatorConfig, SimulatorStats
from migo_cli.simulator.server import Simulator

__all__ = ["SimulatorThread"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")


class SimulatorThread:
    """A ``Simulator`` on its own event loop in a daemon thread.

    For synchronous tests and for tests that run the ``migo`` process against
    it: ``with SimulatorThread(config) as sim:`` then ``sim.base_url``,
    ``sim.stats`` and ``sim.config`` (assign knobs between runs).
    """

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        start_timeout: float = 10.0,
        journal: bool = False,
    ) -> None:
        self.simulator = Simulator(config, host=host, port=port, journal=journal)
        self._start_timeout = start_timeout
        self._runner: LoopThread | None = None

    @property
    def config(self) -> SimulatorConfig:
        return self.simulator.config

    @property
    def stats(self) -> SimulatorStats:
        return self.simulator.stats

    @property
    def base_url(self) -> str:
        return self.simulator.base_url

    def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("el simulador ya está en marcha")
        runner = LoopThread("migo-simulator")
        try:
            runner.call(self.simulator.start(), self._start_timeout)
        except TimeoutError:
            runner.stop(self._start_timeout)
            raise RuntimeError("el simulador no arrancó a tiempo") from None
        except BaseException:  # the port is taken...: said in the caller's thread
            runner.stop(self._start_timeout)
            raise
        self._runner = runner

    def stop(self, timeout: float = 10.0) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return

        async def shutdown() -> None:
            await self.simulator.stop()
            await runner.settle()

        try:
            runner.call(shutdown(), timeout)
        except TimeoutError:  # the loop is stopped all the same
            logger.warning("simulator did not shut down within %s s", timeout)
        finally:
            if not runner.stop(timeout):
                logger.warning("simulator thread did not stop within %s s", timeout)

    def call(self, func: Callable[[], _T], timeout: float = 10.0) -> _T:
        """Run ``func`` on the simulator's loop and return its result (thread-safe)."""
        runner = self._runner
        if runner is None:
            raise RuntimeError("el simulador no está en marcha")

        async def run() -> _T:
            return func()

        return runner.call(run(), timeout)

    def reset(self) -> None:
        """Zero the counters, on the loop's thread."""
        self.call(self.simulator.reset)

    def snapshot(self) -> dict[str, Any]:
        """A consistent copy of the counters, taken on the loop's thread."""
        return self.call(self.simulator.stats.snapshot)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
