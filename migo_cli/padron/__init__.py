"""SUNAT's padrón reducido kept locally: read the published file, index it, answer from it.

Modules: ``format`` (the file as SUNAT writes it), ``download`` (SUNAT's zip,
resumable), ``store`` (the local index: ``PadronIndex``), ``build``
(``build_index``: the index made and swapped in), ``update``
(``migo padron actualizar`` as one call), ``search`` (``migo buscar``), ``lookup``
(``PadronLookup``: ``--fuente padron|auto``), ``address`` (APIMIGO's composed
address) and ``ubigeo`` (INEI's place names).
"""

from migo_cli.padron.format import FIELDS, HEADER, PadronRecord, parse_line

__all__ = ["FIELDS", "HEADER", "PadronRecord", "parse_line"]
