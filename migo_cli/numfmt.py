"""How numbers read to people: Peruvian usage, one function for every message.

In Peru ``2.704`` reads as a decimal (SUNAT's exchange rate is ``3.726``), so
thousands are grouped with a comma and decimals take a point: ``2,704`` and
``3.726``. Machine outputs (JSON, CSV, xlsx cells) keep plain numbers and never
pass through here. A module of its own, without Rich, because the library's log
messages (batch.py) use it too.
"""

from __future__ import annotations

__all__ = ["format_bytes", "format_number"]


def format_number(value: float, decimals: int = 0) -> str:
    """``value`` for a person: ``2,704``, ``1,048,576``, ``3.726`` (with ``decimals=3``)."""
    return f"{value:,.{decimals}f}"


def format_bytes(count: float) -> str:
    """A size for a person, in decimal units as downloads show them: ``48 KB``, ``206.4 MB``."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if count >= scale:
            return f"{format_number(count / scale, 1 if count < 100 * scale else 0)} {unit}"
    return f"{format_number(count)} B"
