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

#: The numbered parts after the street, in SUNAT's order, with the word before each.
_LABELLED: Final = (
    ("numero", "NRO."),
    ("kilometro", "KM."),
    ("interior", "INT."),
    ("dpto", "DPTO."),
    ("manzana", "MZA."),
    ("lote", "LOTE."),
)


def _value(fields: Mapping[str, object], key: str) -> str:
    value = fields.get(key)
    text = " ".join(str(value).split()) if value is not None else ""
    return "" if text == EMPTY else text


def location_fields(fields: Mapping[str, object], ubigeo: str | None) -> dict[str, str]:
    """The place names and the two address lines for SUNAT's address ``fields``.

    ``fields`` holds the padrón's address columns under APIMIGO's names; a
    missing key, ``None`` or ``-`` is an empty part. A UBIGEO code INEI does not
    list (or none) leaves the names ``-`` and ``direccion`` equal to
    ``direccion_simple``; an address with no part at all is ``-``.
    """
    parts = [_value(fields, "tipo_de_via"), _value(fields, "nombre_de_via")]
    parts += [f"{label} {text}" for key, label in _LABELLED if (text := _value(fields, key))]
    parts += [_value(fields, "codigo_de_zona"), _value(fields, "tipo_de_zona")]
    simple = " ".join(part for part in parts if part)
    place = place_of(ubigeo) if ubigeo else None
    if place is None:
        names = (EMPTY, EMPTY, EMPTY)
        full = simple
    else:
        names = (place.distrito, place.provincia, place.departamento)
        where = f"{place.departamento} - {place.provincia} - {place.distrito}"
        full = f"{simple} {where}" if simple else where
    return dict(zip(LOCATION_FIELDS, (*names, simple or EMPTY, full or EMPTY), strict=True))
