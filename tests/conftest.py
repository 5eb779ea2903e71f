"""Shared helpers: sample RUCs, the no-sleep switch, a fake clock, running as a plain user."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from migo_cli.simulator import Simulator, SimulatorConfig, SimulatorThread, make_rucs
from migo_cli.testing import no_waits

TOKEN = "tok-SECRETO-1234567890"

__all__ = ["TOKEN", "FakeClock", "as_plain_user", "make_rucs"]

#: ``python -c _DROP_DAC PROGRAM ARGS...`` takes CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH
#: (root's power over file modes) out of the capability bounding set, then runs PROGRAM,
#: which comes up without them. It stays uid 0, so an interpreter under /root still runs.
_DROP_DAC = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
    if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
        sys.exit(f"no se pudo renunciar a la capacidad {capability}: "
                 f"{os.strerror(ctypes.get_errno())}")
os.execv(sys.argv[1], sys.argv[1:])
"""


def as_plain_user(argv: Sequence[str]) -> list[str]:
    """``argv`` run so that file modes bind, as they do for users; CI runs tests as root.

    Unchanged when not root; as root, the child gives up root's power to read and
    write files whatever their mode (``argv[0]`` must be a path, not a bare name).
    """
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return list(argv)
    return [sys.executable, "-c", _DROP_DAC, *argv]


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
    """Backoffs and cool-downs take no time; attempt counts stay those of ``Retry``."""
    with no_waits():
        yield


@pytest.fixture
def restore_migo_logger() -> Iterator[None]:
    """The CLI points the ``migo`` logger at CliRunner's stderr; put it back afterwards."""
    logger = logging.getLogger("migo")
    saved = (list(logger.handlers), logger.propagate, logger.level)
    yield
    logger.handlers[:], logger.propagate, logger.level = saved[0], saved[1], saved[2]


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


@contextlib.contextmanager
def serving(make: Callable[[SimulatorConfig], Simulator]) -> Iterator[SimulatorThread]:
    """A simulator thread accepting only ``TOKEN`` whose server is ``make(config)``: a
    test's own ``Simulator`` subclass (a rendezvous, a hold), on the same config."""
    thread = SimulatorThread(SimulatorConfig(token=TOKEN))
    thread.simulator = make(thread.config)
    with thread:
        yield thread


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    """A real APIMIGO simulator on 127.0.0.1, accepting only ``TOKEN``."""
    with SimulatorThread(SimulatorConfig(token=TOKEN)) as simulator:
        yield simulator
