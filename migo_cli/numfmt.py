"""How numbers read to people: Peruvian usage, one function for every message.

In Peru ``2.704`` reads as a decimal (SUNAT's exchange rate is ``3.726``), so
thousands are grouped with a comma and decimals take a point: ``2,704`` and
``3.726``. Machine outputs (JSON, CSV, xlsx cells) keep plain numbers and never
pass through here. A module of its own, without Rich, because the library's log
messages (batch.py) use it too.
"""

from __future__ import annotations

__all__ = ["format_number"]


def format_number(value: float, decimals: int = 0) -> str:
    """``value`` for a person: ``2,704``, ``1,048,576``, ``3.726`` (with ``decimals=3``)."""
    return f"{value:,.{decimals}f}"
