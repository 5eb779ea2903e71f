"""The credit check sent by the standard library from a thread, and what its answer opens.

A process's first request is a batch's credit check; sent from a thread
(``preflight``) it travels while aiohttp is imported, and its verdict on the
token replaces the lone first lookup. In this process aiohttp is always imported,
so the client tests ask for the thread with ``remaining_credits(threaded=True)``;
the last tests run the real ``migo`` process, which takes that path by itself.
Every server is the simulator on 127.0.0.1; nothing is timed: a rendezvous shows
that lookups were in flight together.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from migo_cli import client as client_module
from migo_cli.client import MigoClient
from migo_cli.dialects import V1, V2, Operation, Reply
from migo_cli.exceptions import AuthenticationError, EndpointNotFoundError, QuotaExceededError
from migo_cli.preflight import ask_account
from migo_cli.simulator import Simulator, SimulatorConfig, SimulatorThread
from migo_cli.simulator.server import _Served
from tests.conftest import TOKEN, make_rucs, serving

EP_ACCOUNT = V1.path(Operation.ACCOUNT)
EP_RUC = V1.path(Operation.RUC)
#: Only a guard against a hung test or thread; every wait below ends on an event.
GUARD_S = 30.0


def answer_of(sim: SimulatorThread, token: str = TOKEN, *, api: str = "v1") -> Reply:
    dialect = V2 if api == "v2" else V1
    return ask_account(token, sim.base_url, dialect, timeout=GUARD_S).result(GUARD_S)


# -- the transport ------------------------------------------------------------------------


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_an_accepted_token_gets_the_account_through_v1(sim: SimulatorThread, api: str) -> None:
    sim.config.credits = 42

    reply = answer_of(sim, api=api)

    assert reply.status == 200
    body = json.loads(reply.body)
    assert body["success"] is True
    assert reply.url == sim.base_url + EP_ACCOUNT
    assert sim.stats.by_endpoint == {EP_ACCOUNT: 1}  # v2 has no account: v1, same token


def test_a_rejected_token_is_answered_as_json_because_json_was_asked(
    sim: SimulatorThread,
) -> None:
    reply = answer_of(sim, "no-vale-nada")

    # The simulator answers as Laravel does: without Accept: application/json, a
    # redirect to a login page; with it, this.
    assert reply.status == 401
    assert json.loads(reply.body) == {"message": "Unauthenticated."}


def test_a_redirect_is_answered_never_followed(sim: SimulatorThread) -> None:
    sim.config.redirect_to = "http://127.0.0.1:9/login"  # nothing listens there

    reply = answer_of(sim)

    assert reply.status == 307
    assert reply.location == "http://127.0.0.1:9/login"
    assert sim.stats.by_endpoint == {EP_ACCOUNT: 1}


def test_nothing_listening_fails_the_future_with_the_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on, once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    answer = ask_account(TOKEN, f"http://127.0.0.1:{port}", V1, timeout=GUARD_S)

    assert isinstance(answer.exception(GUARD_S), ConnectionRefusedError)


# -- what the client makes of the answer ----------------------------------------------------


class _TwoTogether(Simulator):
    """Holds the first lookup until a second one has arrived: in flight together, or no answer.

    Overrides the simulator's private ``_serve`` hook; the answers are its own.
    """

    def __init__(self, config: SimulatorConfig) -> None:
        super().__init__(config)
        self._lookups = 0
        self._second = asyncio.Event()

    async def _serve(
        self, request: web.Request, served: _Served
    ) -> tuple[web.StreamResponse, tuple[str, ...]]:
        if served.route.operation is Operation.RUC:
            self._lookups += 1
            if self._lookups == 1:
                await asyncio.wait_for(self._second.wait(), GUARD_S)
            else:
                self._second.set()
        return await super()._serve(request, served)


@pytest.fixture
def two_together() -> Iterator[SimulatorThread]:
    with serving(_TwoTogether) as thread:
        yield thread


@pytest.fixture
def patient_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    """The others wait for a lone first lookup far longer than the guard: no accidental pass."""
    monkeypatch.setattr(client_module, "PROBE_PATIENCE", 10 * GUARD_S)


@pytest.mark.usefixtures("patient_probe")
async def test_an_accepted_token_lets_the_lookups_start_together(
    two_together: SimulatorThread,
) -> None:
    two_together.config.credits = 100
    a, b = make_rucs(2)
    async with MigoClient(TOKEN, base_url=two_together.base_url) as client:
        assert await client.remaining_credits(threaded=True) == 100

        first, second = await asyncio.gather(client.lookup_ruc(a), client.lookup_ruc(b))

    assert (first.ruc, second.ruc) == (a, b)
    assert client.stats.requests == 3
    assert two_together.stats.by_endpoint == {EP_ACCOUNT: 1, EP_RUC: 2}


async def test_a_rejected_token_stops_the_client_before_any_lookup(
    sim: SimulatorThread, caplog: pytest.LogCaptureFixture
) -> None:
    async with MigoClient("no-vale-nada", base_url=sim.base_url) as client:
        with caplog.at_level(logging.ERROR, logger="migo"):
            assert await client.remaining_credits(threaded=True) is None

        results = await asyncio.gather(
            *(client.lookup_ruc(ruc) for ruc in make_rucs(3)), return_exceptions=True
        )

    assert all(isinstance(r, AuthenticationError) for r in results)
    assert sim.stats.by_endpoint == {EP_ACCOUNT: 1}  # not one lookup
    assert [r.getMessage() for r in caplog.records] == [
        "APIMIGO rechazó el token (HTTP 401); no se enviarán más consultas"
    ]


async def test_an_empty_account_still_sends_the_first_lookup_alone(sim: SimulatorThread) -> None:
    sim.config.credits = 0
    async with MigoClient(TOKEN, base_url=sim.base_url) as client:
        assert await client.remaining_credits(threaded=True) == 0

        results = await asyncio.gather(
            *(client.lookup_ruc(ruc) for ruc in make_rucs(4)), return_exceptions=True
        )

    assert all(isinstance(r, QuotaExceededError) for r in results)
    assert sim.stats.by_endpoint == {EP_ACCOUNT: 1, EP_RUC: 1}  # the 402 was heard once


async def test_a_missing_account_route_leaves_the_wrong_url_to_the_lone_first_lookup(
    sim: SimulatorThread,
) -> None:
    async with MigoClient(TOKEN, base_url=sim.base_url + "/no-es-apimigo") as client:
        assert await client.remaining_credits(threaded=True) is None  # a 404: no verdict

        results = await asyncio.gather(
            *(client.lookup_ruc(ruc) for ruc in make_rucs(4)), return_exceptions=True
        )

    assert all(isinstance(r, EndpointNotFoundError) for r in results)
    assert sim.stats.requests_total == 2  # the account, then one lookup: it stopped the rest


async def test_a_thread_that_finds_nobody_gives_none_and_raises_nothing() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with MigoClient(TOKEN, base_url=f"http://127.0.0.1:{port}") as client:
        assert await client.remaining_credits(threaded=True) is None

    assert client.stats.requests == 0  # nothing came back: nothing to count


# -- the real process, which takes the thread by itself -------------------------------------


def run_masivo(tmp_path: Path, sim: SimulatorThread, token: str, count: int) -> tuple[int, str]:
    source = tmp_path / "rucs.txt"
    source.write_text("\n".join(make_rucs(count)) + "\n", encoding="utf-8")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MIGO_")}
    environ |= {"MIGO_CACHE_DIR": str(tmp_path / "cache"), "MIGO_CONFIG": str(tmp_path / "x")}
    output = tmp_path / "o.jsonl"
    command = [sys.executable, "-m", "migo_cli", "masivo", str(source), "-o", str(output)]
    done = subprocess.run(
        [*command, "--base-url", sim.base_url, "--token", token, "--concurrencia", "4"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stderr


def test_migo_masivo_asks_the_account_first_and_once(tmp_path: Path, sim: SimulatorThread) -> None:
    code, stderr = run_masivo(tmp_path, sim, TOKEN, 6)

    assert code == 0, stderr
    assert sim.stats.by_endpoint == {EP_ACCOUNT: 1, EP_RUC: 6}


def test_migo_masivo_with_a_rejected_token_exits_3_having_sent_at_most_one_lookup(
    tmp_path: Path, sim: SimulatorThread
) -> None:
    code, stderr = run_masivo(tmp_path, sim, "no-vale-nada", 6)

    assert code == 3, stderr
    assert sim.stats.by_endpoint.get(EP_ACCOUNT) == 1
    assert sim.stats.lookup_requests <= 1  # none when the account's 401 came first
    assert stderr.count("no se enviarán más consultas") == 1
    assert "no-vale-nada" not in stderr
