"""The simulator in its own process, recording the latencies it draws.

Why a separate process: the machine has two cores; with the server in a thread
of the bench process, client and server would share one GIL and each side's
CPU cost would inflate the other's. In its own process the server gets a core
of its own, and migo and every baseline face the very same server.

Why recording: the concurrency bound of figure 2 is Σ latencies ÷ C, and
``SimulatorStats`` does not say what latencies were drawn. The draws cannot
be replayed from the seed either: the slow-request draw happens *after* the
latency sleep, so the interleaving of draws depends on timing. So the server
runs with a ``random.Random`` subclass that sums what it hands out for the
latency (``lognormvariate``, in ms) and for slow requests (``uniform``, in s),
and a middleware that times every lookup handler. ``GET /__bench__/latencies``
reports both. (Proposed knob for the simulator itself: a ``latency_drawn_s``
counter in ``SimulatorStats``.)

Run as ``python -m benchmarks.server '<SimulatorConfig knobs as JSON>'``: it
prints its base URL on one line, then serves until its stdin closes (the
parent died or is done) or it gets SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from migo_cli.simulator import LOOKUP_ENDPOINTS, Simulator, SimulatorConfig

REPO = Path(__file__).resolve().parent.parent
LATENCIES_PATH = "/__bench__/latencies"

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RecordingRandom(random.Random):
    """The simulator's RNG, keeping the sum of every latency it hands out."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.lognormal_s = 0.0  # latency draws (the simulator asks for milliseconds)
        self.lognormal_draws = 0
        self.slow_s = 0.0  # extra seconds of the slow requests
        self.slow_draws = 0

    def lognormvariate(self, mu: float, sigma: float) -> float:
        value = super().lognormvariate(mu, sigma)
        self.lognormal_s += value / 1000
        self.lognormal_draws += 1
        return value

    def uniform(self, a: float, b: float) -> float:
        value = super().uniform(a, b)
        self.slow_s += value
        self.slow_draws += 1
        return value


class RecordingSimulator(Simulator):
    """A ``Simulator`` whose RNG records its draws and whose lookups are timed.

    Overrides two private hooks of ``Simulator`` (``_build_app``, ``_rng``):
    acceptable in a benchmark, which must not edit the simulator itself.
    """

    def __init__(self, config: SimulatorConfig) -> None:
        super().__init__(config)
        self._arm()

    def _arm(self) -> None:
        self.recorder = RecordingRandom(self.config.seed)
        self._rng = self.recorder
        self._rng_seed = self.config.seed
        self.served: list[float] = []  # handler seconds of each lookup, in arrival order
        self.arrivals: list[float] = []  # time.monotonic() of each lookup's arrival
        self.others: list[tuple[str, float, float]] = []  # other API calls: path, arrival, s

    def reset(self) -> None:
        """Zero counters and recordings, reseed: each side of a comparison draws the same."""
        super().reset()
        self._arm()

    def _build_app(self) -> web.Application:
        app = super()._build_app()
        app.middlewares.append(self._time_lookup)
        app.router.add_get(LATENCIES_PATH, self._latencies)
        return app

    @web.middleware
    async def _time_lookup(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        if request.path.startswith("/__"):  # the simulator's and the bench's own routes
            return await handler(request)
        if request.path not in LOOKUP_ENDPOINTS:  # e.g. the credit check's /account
            arrival, started = time.monotonic(), time.perf_counter()
            try:
                return await handler(request)
            finally:
                self.others.append((request.path, arrival, time.perf_counter() - started))
        index = len(self.served)  # kept in arrival order, filled in on completion
        self.served.append(math.nan)
        self.arrivals.append(time.monotonic())
        started = time.perf_counter()
        try:
            return await handler(request)
        finally:
            self.served[index] = time.perf_counter() - started

    async def _latencies(self, request: web.Request) -> web.Response:
        cfg, rec = self.config, self.recorder
        fixed = cfg.latency_ms / 1000 if cfg.latency_sigma <= 0 else 0.0
        drawn = rec.lognormal_s + rec.slow_s + fixed * self.stats.requests_total
        return web.json_response(
            {
                "rng_is_recording": self._rng is rec,  # False: a seed change swapped it
                "requests": self.stats.requests_total,
                "lookup_requests": self.stats.lookup_requests,
                "drawn_s": drawn,
                "lognormal_draws": rec.lognormal_draws,
                "slow_draws": rec.slow_draws,
                "slow_s": rec.slow_s,
                "served": self.served,
                "arrivals": self.arrivals,
                "others": self.others,
            }
        )


async def _serve(config: SimulatorConfig) -> None:
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, done.set)

    def watch_stdin() -> None:  # the parent closing our stdin (or dying) ends the server
        with contextlib.suppress(OSError, ValueError):
            sys.stdin.buffer.read()
        loop.call_soon_threadsafe(done.set)

    threading.Thread(target=watch_stdin, daemon=True).start()
    async with RecordingSimulator(config) as sim:
        print(sim.base_url, flush=True)
        await done.wait()


def main(argv: list[str]) -> None:
    knobs = json.loads(argv[0]) if argv else {}
    asyncio.run(_serve(SimulatorConfig(**knobs)))


# -- the parent's side ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Latencies:
    """What the server drew and served since its last reset."""

    requests: int
    lookup_requests: int
    drawn_s: float
    slow_draws: int
    served: list[float]
    arrivals: list[float]  # time.monotonic(), comparable across processes on Linux
    others: list[tuple[str, float, float]]  # non-lookup API calls: path, arrival, seconds


class ServerProcess:
    """``with ServerProcess(latency_ms=100) as server:`` → ``server.base_url``."""

    def __init__(self, **knobs: Any) -> None:
        SimulatorConfig(**knobs)  # fail here, with a clear error, on a bad knob
        self.knobs = knobs
        self._process: subprocess.Popen[bytes] | None = None
        self.base_url = ""

    def __enter__(self) -> Self:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.server", json.dumps(self.knobs)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=REPO,
            env=env,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().decode().strip()
        if not line.startswith("http://"):
            self.__exit__(None, None, None)
            raise RuntimeError(f"the simulator process did not start (said {line!r})")
        self.base_url = line
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.terminate()
            process.wait(10)
        if process.stdout is not None:
            process.stdout.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def reset(self) -> None:
        """Zero the counters and reseed the RNG (between the sides of a comparison)."""
        self._call("POST", "/__sim__/reset")

    def configure(self, **knobs: Any) -> None:
        self._call("POST", "/__sim__/config", knobs)

    def latencies(self) -> Latencies:
        data = self._call("GET", LATENCIES_PATH)
        if not data["rng_is_recording"]:
            raise RuntimeError("the simulator's RNG was replaced: latencies were not recorded")
        return Latencies(
            requests=int(data["requests"]),
            lookup_requests=int(data["lookup_requests"]),
            drawn_s=float(data["drawn_s"]),
            slow_draws=int(data["slow_draws"]),
            served=[float(s) for s in data["served"]],
            arrivals=[float(s) for s in data["arrivals"]],
            others=[(str(p), float(a), float(s)) for p, a, s in data["others"]],
        )


if __name__ == "__main__":
    main(sys.argv[1:])
