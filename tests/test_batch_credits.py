"""The credit check of ``migo masivo`` overlaps the first lookup, its guarantees kept.

Without ``--estricto`` the check only warns, so ``/account`` is asked while the
lookups start: its latency and the lone first request's overlap. The simulator
here holds ``/account`` and the first lookup until both have arrived (a
rendezvous, not a clock), and its journal says when each arrived and was
answered. A run that asked them one after the other never meets the rendezvous:
its account call gives up (a few seconds of patience) and the journal lacks it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from typer.testing import CliRunner, Result

from migo_cli.cli import app
from migo_cli.dialects import V1, Operation
from migo_cli.simulator import Exchange, Simulator, SimulatorConfig, SimulatorThread
from migo_cli.simulator.server import _Served
from tests.conftest import TOKEN, make_rucs, serving

EP_ACCOUNT = V1.path(Operation.ACCOUNT)
EP_RUC = V1.path(Operation.RUC)
#: Only a guard against a hung test: the rendezvous ends when both requests are in.
GUARD_S = 30.0

runner = CliRunner()


class _Rendezvous(Simulator):
    """Holds the account call and the first lookup until both have arrived.

    Overrides the simulator's private ``_serve`` hook; the answers are its own.
    """

    def __init__(self, config: SimulatorConfig) -> None:
        super().__init__(config, journal=True)
        self._waiting = {Operation.ACCOUNT: True, Operation.RUC: True}
        self._met = asyncio.Event()

    async def _serve(
        self, request: web.Request, served: _Served
    ) -> tuple[web.StreamResponse, tuple[str, ...]]:
        operation = served.route.operation
        if self._waiting.get(operation):
            self._waiting[operation] = False
            if not any(self._waiting.values()):
                self._met.set()
            await asyncio.wait_for(self._met.wait(), GUARD_S)
        return await super()._serve(request, served)


pytestmark = pytest.mark.usefixtures("restore_migo_logger")


@pytest.fixture
def meeting() -> Iterator[SimulatorThread]:
    """A simulator thread whose server is the rendezvous (accepting only ``TOKEN``)."""
    with serving(_Rendezvous) as thread:
        yield thread


def journal(sim: SimulatorThread) -> list[Exchange]:
    seen = sim.simulator.journal
    assert seen is not None
    return seen


def masivo(sim: SimulatorThread, source: Path, *args: str, token: str = TOKEN) -> Result:
    return runner.invoke(
        app,
        ["masivo", str(source), *args, "--base-url", sim.base_url, "--token", token],
    )


def rucs_file(env: Path, count: int) -> Path:
    path = env / f"rucs-{count}.txt"
    path.write_text("\n".join(make_rucs(count)) + "\n", encoding="utf-8")
    return path


def account_and_first_lookup(sim: SimulatorThread) -> tuple[Exchange, Exchange]:
    (account,) = [seen for seen in journal(sim) if seen.path == EP_ACCOUNT]
    first = min((seen for seen in journal(sim) if seen.path == EP_RUC), key=lambda s: s.arrived)
    return account, first


def test_the_account_call_and_the_first_lookup_are_in_flight_together(
    env: Path, meeting: SimulatorThread
) -> None:
    meeting.config.credits = 2  # fewer than the run needs: the warning must still come
    out = env / "out.jsonl"
    result = masivo(meeting, rucs_file(env, 5), "-o", str(out), "--concurrencia", "4")

    assert result.exit_code == 3, result.stderr  # it ran, and stopped when the credits ran out
    account, first = account_and_first_lookup(meeting)
    assert max(account.arrived, first.arrived) < min(account.answered, first.answered)
    assert (account.status, first.status) in {(200, 200), (200, 404)}  # answered, both
    text = result.stderr.replace("\n", " ")
    assert "consultas disponibles y esta ejecución necesita" in text
    assert "se detendrá al agotarlas" in text
    assert meeting.stats.credits_used == 2
    assert len(out.read_text(encoding="utf-8").splitlines()) == 5


def test_a_rejected_token_met_by_both_costs_one_lookup_and_one_message(
    env: Path, meeting: SimulatorThread
) -> None:
    out, resumen = env / "out.jsonl", env / "resumen.json"
    result = masivo(
        meeting,
        rucs_file(env, 6),
        "-o",
        str(out),
        "--json-resumen",
        str(resumen),
        "--concurrencia",
        "4",
        token="no-vale-nada",
    )

    assert result.exit_code == 3
    account, first = account_and_first_lookup(meeting)
    assert account.status == first.status == 401  # both met the token, together
    assert meeting.stats.lookup_requests == 1  # the probe alone: the rest were never sent
    assert json.loads(resumen.read_text(encoding="utf-8"))["llamadas_api"] == 1
    assert result.stderr.count("rechazó el token (HTTP 401); no se enviarán más consultas") == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors == ["Error: APIMIGO rechazó el token (HTTP 401)"]
    assert "no-vale-nada" not in result.stderr
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert {row["estado_consulta"] for row in rows} == {"error"}


def test_a_rerun_the_cache_answers_sends_nothing_not_even_the_account_call(
    env: Path, sim: SimulatorThread
) -> None:
    source = rucs_file(env, 5)
    assert masivo(sim, source, "-o", str(env / "a.jsonl")).exit_code == 0
    assert sim.stats.by_endpoint == {EP_ACCOUNT: 1, EP_RUC: 5}
    sim.reset()

    again = masivo(sim, source, "-o", str(env / "b.jsonl"))

    assert again.exit_code == 0, again.stderr
    assert sim.stats.requests_total == 0
