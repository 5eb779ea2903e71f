"""The one switch for tests of code that calls migo: retries and cool-downs take no time.

    import migo_cli.testing

    @pytest.fixture(autouse=True)
    def no_waits() -> Iterator[None]:
        with migo_cli.testing.no_waits():
            yield

Inside ``no_waits()`` the backoff between retries, the wait a 429's
``Retry-After`` asks for, and the cool-down that 429 puts on every other request
of the client are all instant. How many attempts are made does not change: the
budgets of ``Retry`` still decide, so a test can count requests. The switch is
process-wide (it must reach the thread where ``Migo`` runs its loop), like
stamina's ``set_testing``, which it turns on too. Never for production: the
waits are what keeps an account within APIMIGO's limits.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import stamina

__all__ = ["no_waits", "waits_off"]

#: stamina's testing mode caps a retry loop at this many attempts; migo's budgets are lower.
_ATTEMPTS_CAP = 1000

_waits_off = False


def waits_off() -> bool:
    """True inside ``no_waits()`` (``Pace`` then skips its cool-downs)."""
    return _waits_off


@contextlib.contextmanager
def no_waits() -> Iterator[None]:
    """Make every wait of migo instant for the duration of the block."""
    global _waits_off  # noqa: PLW0603 - process-wide on purpose, see the module docstring
    before = _waits_off
    _waits_off = True
    try:
        with stamina.set_testing(True, attempts=_ATTEMPTS_CAP, cap=True):
            yield
    finally:
        _waits_off = before
