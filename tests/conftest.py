"""Shared fixtures: valid RUCs to play with, and the no-sleep switch for retries and pacing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from migo_cli.simulator import SimulatorConfig, SimulatorThread, make_rucs
from migo_cli.testing import no_waits

TOKEN = "tok-SECRETO-1234567890"

__all__ = ["TOKEN", "make_rucs"]


@pytest.fixture
def no_sleep() -> Iterator[None]:
    """Backoffs and cool-downs take no time; attempt counts stay those of ``Retry``."""
    with no_waits():
        yield


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A clean environment for the CLI: private cache dir, no token, no config file."""
    monkeypatch.delenv("MIGO_TOKEN", raising=False)
    monkeypatch.delenv("MIGO_BASE_URL", raising=False)
    monkeypatch.delenv("MIGO_API", raising=False)
    monkeypatch.setenv("MIGO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MIGO_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    """A real APIMIGO simulator on 127.0.0.1, accepting only ``TOKEN``."""
    with SimulatorThread(SimulatorConfig(token=TOKEN)) as simulator:
        yield simulator
