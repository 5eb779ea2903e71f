"""The retry policy of ``MigoClient.request``: its budgets, stopping, and the one test switch."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import stamina
from aioresponses import CallbackResult, aioresponses

import migo_cli
from migo_cli.client import MigoClient
from migo_cli.config import Limits, Retry
from migo_cli.dialects import Operation
from migo_cli.exceptions import RateLimitedError, ServerError, TransientAPIError
from migo_cli.models import Status
from migo_cli.testing import no_waits, waits_off
from tests.conftest import TOKEN, make_rucs

RUC_URL = "https://api.migo.pe/api/v1/ruc"
RUC = "20100038146"
OK: dict[str, Any] = {"payload": {"success": True, "ruc": RUC, "nombre_o_razon_social": "X"}}
E503: dict[str, Any] = {"status": 503}
E429: dict[str, Any] = {"status": 429, "headers": {"Retry-After": "2"}}


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every ``asyncio.sleep`` asked for (stamina's included), in seconds; none takes time."""
    asked: list[float] = []
    real = asyncio.sleep

    async def sleep(delay: float, result: Any = None) -> Any:
        asked.append(delay)
        return await real(0, result)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    return asked


def answer_in_turn(m: aioresponses, *answers: dict[str, Any]) -> None:
    for answer in answers:
        m.post(RUC_URL, **answer)


def calls(m: aioresponses) -> int:
    return sum(len(v) for (_, url), v in m.requests.items() if str(url) == RUC_URL)


# -- budgets ------------------------------------------------------------------------


async def test_transient_failures_back_off_exponentially_with_jitter(
    sleeps: list[float], mocked: aioresponses
) -> None:
    answer_in_turn(mocked, E503, E503, E503, OK)
    retry = Retry(retries=3, wait_initial=0.5, wait_max=20.0, wait_jitter=1.0)
    async with MigoClient(TOKEN, retry=retry) as client:
        result = await client.lookup_ruc(RUC)
        assert client.stats.retries == 3
    assert result.status is Status.VALID
    assert calls(mocked) == 4
    first, second, third = [d for d in sleeps if d > 0]  # the first wait is one of them
    assert 0.5 <= first <= 1.5
    assert 1.0 <= second <= 2.0
    assert 2.0 <= third <= 3.0


async def test_429s_do_not_spend_the_transient_budget(no_sleep: None, mocked: aioresponses) -> None:
    answer_in_turn(mocked, E503, E429, E429, E503, OK)
    async with MigoClient(TOKEN, retry=Retry(retries=2, rate_limit_waits=2)) as client:
        result = await client.lookup_ruc(RUC)
        assert (client.stats.retries, client.stats.rate_limited) == (2, 2)
    assert result.status is Status.VALID
    assert calls(mocked) == 5


async def test_429s_do_not_refill_the_transient_budget(
    no_sleep: None, mocked: aioresponses
) -> None:
    answer_in_turn(mocked, E503, E503, E429, E503, OK)
    async with MigoClient(TOKEN, retry=Retry(retries=2, rate_limit_waits=8)) as client:
        result = await client.lookup_ruc(RUC)
    assert result.status is Status.ERROR
    assert "503" in result.reason
    assert calls(mocked) == 4


# -- stopping -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "raised"), [(E503, ServerError), (E429, RateLimitedError)], ids=["503", "429"]
)
async def test_nothing_is_retried_once_stopping_says_so(
    no_sleep: None,
    mocked: aioresponses,
    failure: dict[str, Any],
    raised: type[TransientAPIError],
) -> None:
    answer_in_turn(mocked, *[failure] * 4)
    async with MigoClient(TOKEN, retry=Retry(retries=3, rate_limit_waits=3)) as client:
        with pytest.raises(raised):
            # Asked after each failure: the first is retried, the second is not.
            await client.request(Operation.RUC, {"ruc": RUC}, stopping=lambda: calls(mocked) >= 2)
    assert calls(mocked) == 2


async def test_a_stopped_stream_retries_nothing(no_sleep: None, mocked: aioresponses) -> None:
    stop = asyncio.Event()
    asked: Counter[str] = Counter()

    def fail(url: Any, **kwargs: Any) -> CallbackResult:
        asked[kwargs["json"]["ruc"]] += 1
        stop.set()  # the first request stops the run; every request fails
        return CallbackResult(status=503)

    mocked.post(RUC_URL, callback=fail, repeat=True)
    retry = Retry(retries=3)
    async with MigoClient(TOKEN, limits=Limits(concurrency=4), retry=retry) as client:
        got = [r async for _, r in client.stream(make_rucs(40), stop=stop)]
        assert client.stats.retries == 0
    assert asked  # the first RUC was asked...
    assert set(asked.values()) == {1}  # ...and, like any other, only once
    assert {r.status for r in got} == {Status.ERROR}


# -- the one test switch ------------------------------------------------------------


async def test_no_waits_makes_every_wait_instant_and_keeps_the_budgets(
    sleeps: list[float], mocked: aioresponses
) -> None:
    # A backoff before stamina's loop, a Retry-After and the pace's cool-down inside it.
    answer_in_turn(mocked, E503, E429, E503, OK)
    with no_waits():
        async with MigoClient(TOKEN, retry=Retry(retries=3)) as client:
            result = await client.lookup_ruc(RUC)
            assert (client.stats.retries, client.stats.rate_limited) == (2, 1)
    assert result.status is Status.VALID
    assert calls(mocked) == 4
    assert [d for d in sleeps if d > 0] == []


def test_no_waits_is_one_switch_that_restores_what_was_there() -> None:
    assert (waits_off(), stamina.is_testing()) == (False, False)
    with no_waits():
        with no_waits():
            assert (waits_off(), stamina.is_testing()) == (True, True)
        assert (waits_off(), stamina.is_testing()) == (True, True)
    assert (waits_off(), stamina.is_testing()) == (False, False)


def test_the_package_exports_no_test_switch() -> None:
    assert "set_testing" not in migo_cli.__all__
    assert not hasattr(migo_cli, "set_testing")
