"""Shared fixtures: valid RUCs, the no-sleep switch for retries and pacing, a fake clock."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import stamina

from migo_cli import pace
from migo_cli.simulator import SimulatorConfig, SimulatorThread, make_rucs

TOKEN = "tok-SECRETO-1234567890"

__all__ = ["TOKEN", "FakeClock", "make_rucs"]


class FakeClock:
    """A clock that moves only when told: TTLs and cadences are tested without waiting.

    It starts at ``time.time()`` and only moves forward, as a cache clock must.
    """

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def no_sleep() -> Iterator[None]:
    """Backoffs and cool-downs take no time (stamina's testing mode keeps our attempt counts)."""
    pace.set_testing(True)
    with stamina.set_testing(True, attempts=1000, cap=True):
        yield
    pace.set_testing(False)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A clean environment for the CLI: private cache dir, no token, no config file."""
    monkeypatch.delenv("MIGO_TOKEN", raising=False)
    monkeypatch.delenv("MIGO_BASE_URL", raising=False)
    monkeypatch.setenv("MIGO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MIGO_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    """A real APIMIGO simulator on 127.0.0.1, accepting only ``TOKEN``."""
    with SimulatorThread(SimulatorConfig(token=TOKEN)) as simulator:
        yield simulator
