"""Pace: ``--rpm``, ``--concurrencia`` and 429 cool-downs, seen from the simulator's side.

The client runs against a real simulator that keeps a journal (when each request
arrived and was answered); the assertions are about order and overlap, and the
only times compared are lower bounds the client guarantees: a busy machine makes
requests later, never earlier. Cool-downs are real here (no ``no_sleep``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from migo_cli.client import MigoClient
from migo_cli.config import Limits
from migo_cli.models import Status
from migo_cli.simulator import Exchange, Simulator, SimulatorConfig
from tests.conftest import TOKEN, make_rucs

#: Float rounding in the limiter's arithmetic, nothing more.
EPSILON = 1e-3


def lookups(sim: Simulator) -> list[Exchange]:
    assert sim.journal is not None
    return [seen for seen in sim.journal if seen.keys]


def peak_in_flight(journal: Sequence[Exchange]) -> int:
    """The most requests the simulator was working on at one moment."""
    # At equal times an answer goes before an arrival: touching is not overlapping.
    events = sorted([(s.arrived, 1) for s in journal] + [(s.answered, -1) for s in journal])
    peak = current = 0
    for _, step in events:
        current += step
        peak = max(peak, current)
    return peak


async def run(sim: Simulator, rucs: list[str], limits: Limits) -> list[Status]:
    async with MigoClient(TOKEN, base_url=sim.base_url, limits=limits) as client:
        return [result.status async for result in client.lookup_many(rucs)]


async def test_rpm_spaces_requests_evenly() -> None:
    rpm = 600.0  # one request every 0.1 s
    rucs = make_rucs(8)
    async with Simulator(SimulatorConfig(token=TOKEN), journal=True) as sim:
        started = time.monotonic()
        statuses = await run(sim, rucs, Limits(concurrency=len(rucs), rpm=rpm))
        journal = lookups(sim)

    assert len(statuses) == len(journal) == len(rucs)
    # Room for all at once, yet the k-th request could not leave before k intervals:
    # evenly spaced, not a burst followed by a pause.
    arrivals = sorted(seen.arrived for seen in journal)
    for k, arrived in enumerate(arrivals):
        assert arrived >= started + k * 60 / rpm - EPSILON, (k, arrived - started)


async def test_concurrencia_bounds_the_requests_in_flight() -> None:
    config = SimulatorConfig(token=TOKEN, latency_ms=100.0)
    peaks = {}
    for concurrency in (2, 8):
        async with Simulator(config, journal=True) as sim:
            statuses = await run(sim, make_rucs(32), Limits(concurrency=concurrency))
            journal = lookups(sim)
        assert len(statuses) == len(journal) == 32
        peaks[concurrency] = peak_in_flight(journal)

    assert 1 < peaks[2] <= 2
    assert 2 < peaks[8] <= 8  # the bound is the option's, not some other limit


class _OneRateLimit(list[Exchange]):
    """A journal that turns the simulator's 429s off once it has noted the first.

    The simulator notes an exchange before sending its answer, so the client sees
    that one 429 and nothing else, however the machine runs.
    """

    def __init__(self, config: SimulatorConfig) -> None:
        super().__init__()
        self._config = config

    def append(self, seen: Exchange, /) -> None:
        super().append(seen)
        if seen.status == 429:
            self._config.rate_limit_share = 0.0


async def test_a_429_holds_back_every_request_not_only_its_own() -> None:
    retry_after = 0.5
    rucs = make_rucs(12, start=100)
    config = SimulatorConfig(
        token=TOKEN, not_found_share=0.0, rate_limit_share=1.0, retry_after=retry_after
    )
    sim = Simulator(config, journal=True)
    sim.journal = _OneRateLimit(config)
    async with sim:
        statuses = await run(sim, rucs, Limits(concurrency=6))
        journal = lookups(sim)

    assert statuses == [Status.VALID] * len(rucs)
    # The first request goes alone (the others wait for its answer): it got the 429.
    limited, *rest = sorted(journal, key=lambda seen: seen.arrived)
    assert limited.status == 429
    assert sorted(k for seen in rest for k in seen.keys) == sorted(rucs)
    # Its Retry-After held back every RUC, not only its own: nothing arrived before it ran out.
    cool_down_over = limited.answered + retry_after
    early = [seen for seen in rest if seen.arrived < cool_down_over - EPSILON]
    assert early == []
