"""SUNAT's padrón reducido kept locally: read the published file, index it, answer from it.

Modules: ``format`` (the file as SUNAT writes it), ``store`` (the local index:
``PadronIndex``, ``build_index``).
"""

from migo_cli.padron.format import FIELDS, HEADER, PadronRecord, parse_line

__all__ = ["FIELDS", "HEADER", "PadronRecord", "parse_line"]
