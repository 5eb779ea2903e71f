"""SUNAT's *padrón reducido* as it is published: one Latin-1 text file, ``|``-separated.

SPEC §7: a header line, then one taxpayer per line, each line ending in ``|``.
Empty fields are ``-`` in the file and stay ``-`` here, as APIMIGO sends them.
A line is malformed when it does not have exactly the header's number of fields
(a stray ``|`` inside a name, a cut line); quotes are part of a name, never CSV
quoting, so the file is split on ``|`` and nothing else.
"""

from __future__ import annotations

from typing import Final, NamedTuple

__all__ = ["ENCODING", "FIELDS", "HEADER", "SEPARATOR", "PadronRecord", "parse_line"]

ENCODING: Final = "iso-8859-1"
SEPARATOR: Final = "|"

#: The header's columns, as SUNAT writes them (SPEC §7).
HEADER: Final = (
    "RUC",
    "NOMBRE O RAZÓN SOCIAL",
    "ESTADO DEL CONTRIBUYENTE",
    "CONDICIÓN DE DOMICILIO",
    "UBIGEO",
    "TIPO DE VÍA",
    "NOMBRE DE VÍA",
    "CÓDIGO DE ZONA",
    "TIPO DE ZONA",
    "NÚMERO",
    "INTERIOR",
    "LOTE",
    "DEPARTAMENTO",
    "MANZANA",
    "KILÓMETRO",
)


class PadronRecord(NamedTuple):
    """One padrón line under APIMIGO's field names (``dpto`` is the header's DEPARTAMENTO)."""

    ruc: str
    nombre_o_razon_social: str
    estado_del_contribuyente: str
    condicion_de_domicilio: str
    ubigeo: str
    tipo_de_via: str
    nombre_de_via: str
    codigo_de_zona: str
    tipo_de_zona: str
    numero: str
    interior: str
    lote: str
    dpto: str
    manzana: str
    kilometro: str


#: APIMIGO's names for the header's columns, in the file's order.
FIELDS: Final = PadronRecord._fields


def parse_line(line: str) -> PadronRecord | None:
    """One decoded line (without its newline) as a record; ``None`` when it is malformed.

    The trailing ``|`` is optional: a line that lost it is still whole.
    """
    parts = line.rstrip("\r\n").split(SEPARATOR)
    if parts and parts[-1] == "":
        parts.pop()
    if len(parts) != len(HEADER):
        return None
    return PadronRecord._make(part.strip() for part in parts)
