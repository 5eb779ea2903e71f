"""APIMIGO's address fields from SUNAT's: ``direccion_simple``, ``direccion`` and the place names.

The padrón splits an address into ten fields (``tipo_de_via``, ``numero``,
``manzana``...; ``-`` where empty) and a UBIGEO code. APIMIGO answers with
those fields and, besides them, the district, province and department names
and two composed lines, the way SUNAT's own RUC page shows a domicilio
fiscal::

    direccion_simple  AV. JAVIER PRADO ESTE NRO. 2050 INT. 301 URB. CORPAC
    direccion         AV. JAVIER PRADO ESTE NRO. 2050 INT. 301 URB. CORPAC LIMA - LIMA - SAN ISIDRO

Written once, here: the simulator's answers and the padrón's rows both come
from ``location_fields``, so an answer from the padrón matches APIMIGO's
column for column.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Final

from migo_cli.padron.ubigeo import place_of

__all__ = ["EMPTY", "LOCATION_FIELDS", "location_fields"]

#: SUNAT's (and APIMIGO's) placeholder for a field with no value.
EMPTY: Final = "-"

#: What ``location_fields`` adds, in APIMIGO's order.
LOCATION_FIELDS: Final = (
    "distrito",
    "provincia",
    "departamento",
    "direccion_simple",
    "direccion",
)

#: The parts of ``direccion_simple`` in SUNAT's order, each with the word before it.
_PARTS: Final = (
    ("tipo_de_via", ""),
    ("nombre_de_via", ""),
    ("numero", "NRO. "),
    ("kilometro", "KM. "),
    ("interior", "INT. "),
    ("dpto", "DPTO. "),
    ("manzana", "MZA. "),
    ("lote", "LOTE. "),
    ("codigo_de_zona", ""),
    ("tipo_de_zona", ""),
)
_NO_PLACE: Final = ((EMPTY, EMPTY, EMPTY), "")


@functools.lru_cache(maxsize=4096)
def _place(ubigeo: str) -> tuple[tuple[str, str, str], str]:
    """(distrito, provincia, departamento) and ``DEPARTAMENTO - PROVINCIA - DISTRITO``."""
    place = place_of(ubigeo)
    if place is None:
        return _NO_PLACE
    where = f"{place.departamento} - {place.provincia} - {place.distrito}"
    return (place.distrito, place.provincia, place.departamento), where


def location_fields(fields: Mapping[str, object], ubigeo: str | None) -> dict[str, str]:
    """The place names and the two address lines for SUNAT's address ``fields``.

    ``fields`` holds the padrón's address columns under APIMIGO's names; a
    missing key, ``None`` or ``-`` is an empty part, and blanks inside a part are
    folded. A UBIGEO code INEI does not list (or none) leaves the names ``-``
    and ``direccion`` equal to ``direccion_simple``; an address with no part at
    all is ``-``. Called once per padrón row: written for speed.
    """
    parts: list[str] = []
    for key, label in _PARTS:
        value = fields.get(key)
        if value is None or value in (EMPTY, ""):
            continue
        text = " ".join(str(value).split())
        if text and text != EMPTY:
            parts.append(label + text if label else text)
    simple = " ".join(parts)
    (district, province, department), where = _place(ubigeo) if ubigeo else _NO_PLACE
    full = f"{simple} {where}" if simple and where else simple or where
    return {
        "distrito": district,
        "provincia": province,
        "departamento": department,
        "direccion_simple": simple or EMPTY,
        "direccion": full or EMPTY,
    }
