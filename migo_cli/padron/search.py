"""Find RUCs by razón social in the local padrón (``migo buscar``).

The search structure lives in the padrón's own SQLite file, beside the ``padron``
table, so it is swapped in and out with it and a reader never sees one without
the other. Two tables:

- ``padron_busqueda``: an FTS5 index of the names, rowid = RUC, contentless (the
  names are in ``padron`` already), ``detail=none`` (no positions: nothing here
  needs phrases), no per-row sizes, tokenised by ``unicode61 remove_diacritics 2``
  (accents, case and Ñ/N folded away) with ``.`` kept inside words, so that
  ``S.A.C.`` is one word, ``s.a.c.``.
- ``padron_termino``: every indexed word (``termino``) under its form without dots
  (``palabra``: ``sac`` for ``s.a.c.``, ``sac``, ``s.a.c``) with how many names hold
  it. A query word is matched whole (every ``termino`` of its ``palabra``) and as
  the start of the ``EXPANSIONS`` most frequent words it begins. FTS5's own
  ``word*`` would merge every such word's list first (half a second for ``sa*`` on
  two million names); prefix indexes double the build and triple the bytes.

Best matches first, with bounded work: the names an FTS5 query matches are read in
RUC order, at most ``WINDOW`` of them; SQLite keeps the ``CANDIDATES`` shortest
(ACTIVO first among equals), and Python orders those. A query that matches fewer
than ``WINDOW`` names is ranked over all of them; a very common one (``SAC``,
``QUISPE``) over the first ``WINDOW`` by RUC. Every word whole is tried first; the
prefixes only when that finds fewer names than asked for.

Why this over ordering the FTS rowids by name length (every match then comes
shortest first, but the sort doubles the build), a word table of our own, prefix
indexes or ``detail=column``: ``benchmarks/padron_search.py`` (figure 15) and the
measurements in its docstring.

Which match is best (``search``'s order): every word whole before some word only
as a prefix; then names that start with the query's words in its order; then
fewer words in the name beyond the query; then ACTIVO first; then the shorter
name; then the smaller RUC, so the order never depends on the file.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from migo_cli.exceptions import InvalidValueError, PadronError, PadronMissingError
from migo_cli.padron.ubigeo import place_of

if TYPE_CHECKING:
    from migo_cli.padron.store import PadronIndex

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "MIN_QUERY_CHARS",
    "SearchHit",
    "build_search_index",
    "search",
    "words",
]

SEARCH_TABLE: Final = "padron_busqueda"
TERMS_TABLE: Final = "padron_termino"
DEFAULT_LIMIT: Final = 20
MAX_LIMIT: Final = 200
#: Letters and digits a query needs in all: one letter matches too much to be a search.
MIN_QUERY_CHARS: Final = 2
#: The words a query word stands for as a prefix, most frequent first (the word itself
#: always among them). Bounds the work for short prefixes such as ``sa``.
EXPANSIONS: Final = 16
#: Matches read per FTS5 query, in RUC order: bounds the work for common words.
WINDOW: Final = 5_000
#: Of those, the shortest names that Python ranks (at least the limit asked for).
CANDIDATES: Final = 300
#: Bytes of new index FTS5 gathers in memory before writing a segment (default 1 MiB):
#: fewer, larger segments, less merging; well within the import's memory budget.
_HASH_BYTES: Final = 32 << 20
#: Above any character SQLite can hold: ``word <= term < word + _LAST`` is "term starts with word".
_LAST: Final = "\U0010ffff"
_WORD: Final = re.compile(r"[^\W_]+")

_MISSING_SEARCH: Final = (
    "el padrón local no tiene el índice de búsqueda por nombre; "
    "vuelva a crearlo con: migo padron actualizar"
)


def _clean(name: str) -> str:
    """What is indexed of a name: dots dropped, so ``S.A.C.`` is the word ``SAC``."""
    return name.replace(".", "")


def words(text: str) -> list[str]:
    """``text``'s words as the index holds them: no dots, accents or case; Ñ is N.

    The same folding as FTS5's ``unicode61 remove_diacritics 2`` for the Latin
    letters the padrón is written in (it is ISO-8859-1).
    """
    decomposed = unicodedata.normalize("NFD", _clean(text))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _WORD.findall(plain.lower())


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One taxpayer found by name, under APIMIGO's field names."""

    ruc: str
    nombre_o_razon_social: str
    estado_del_contribuyente: str
    condicion_de_domicilio: str
    ubigeo: str
    departamento: str
    provincia: str
    distrito: str

    def to_dict(self) -> dict[str, str]:
        return {
            "ruc": self.ruc,
            "nombre_o_razon_social": self.nombre_o_razon_social,
            "estado_del_contribuyente": self.estado_del_contribuyente,
            "condicion_de_domicilio": self.condicion_de_domicilio,
            "ubigeo": self.ubigeo,
            "distrito": self.distrito,
            "provincia": self.provincia,
            "departamento": self.departamento,
        }


# -- building ---------------------------------------------------------------------------


def build_search_index(conn: sqlite3.Connection) -> None:
    """Index the names of the loaded ``padron`` table, in the same database.

    Runs inside whatever transaction ``conn`` has open (the store's build); the
    caller commits. Replaces a search index already there.
    """
    conn.execute(f"DROP TABLE IF EXISTS {SEARCH_TABLE}")
    conn.execute(f"DROP TABLE IF EXISTS {TERMS_TABLE}")
    conn.execute(
        f"CREATE VIRTUAL TABLE {SEARCH_TABLE} USING fts5(nombre, content='', detail=none, "
        "columnsize=0, tokenize=\"unicode61 remove_diacritics 2 tokenchars '.'\")"
    )
    conn.execute(
        f"INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}, rank) VALUES ('hashsize', ?)", (_HASH_BYTES,)
    )
    # RUC order, the table's own: FTS5 writes a segment each time a rowid goes back.
    conn.execute(
        f"INSERT INTO {SEARCH_TABLE}(rowid, nombre) SELECT ruc, nombre_o_razon_social FROM padron"
    )
    conn.execute(
        f"CREATE TABLE {TERMS_TABLE} (palabra TEXT NOT NULL, termino TEXT NOT NULL, "
        "filas INTEGER NOT NULL, PRIMARY KEY (palabra, termino)) WITHOUT ROWID"
    )
    conn.execute(
        f"CREATE VIRTUAL TABLE temp.padron_vocabulario USING fts5vocab(main, {SEARCH_TABLE}, row)"
    )
    try:
        conn.execute(
            f"INSERT INTO {TERMS_TABLE} SELECT replace(term, '.', '') AS palabra, term, doc "
            "FROM temp.padron_vocabulario WHERE palabra <> ''"
        )
    finally:
        conn.execute("DROP TABLE temp.padron_vocabulario")


# -- searching --------------------------------------------------------------------------


def _connection(source: sqlite3.Connection | PadronIndex) -> sqlite3.Connection:
    return source if isinstance(source, sqlite3.Connection) else source.connection


def _query_words(text: str) -> list[str]:
    found = list(dict.fromkeys(words(text)))
    if sum(map(len, found)) < MIN_QUERY_CHARS:
        raise InvalidValueError(
            f"escriba al menos {MIN_QUERY_CHARS} letras o números del nombre o razón social"
        )
    return found


def _terms(conn: sqlite3.Connection, word: str) -> tuple[list[str], list[str]]:
    """The indexed words ``word`` is (its forms with dots), and those it stands for as a prefix.

    The second list holds the first and the ``EXPANSIONS`` most frequent words
    ``word`` begins; a single letter stands only for itself.
    """
    whole = [
        term
        for (term,) in conn.execute(f"SELECT termino FROM {TERMS_TABLE} WHERE palabra = ?", (word,))
    ]
    if len(word) < 2:
        return whole, whole
    rows = conn.execute(
        f"SELECT termino FROM {TERMS_TABLE} WHERE palabra > ? AND palabra < ? "
        "ORDER BY filas DESC LIMIT ?",
        (word, word + _LAST, EXPANSIONS),
    )
    return whole, whole + [term for (term,) in rows]


def _quoted(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _all_of(groups: Sequence[Sequence[str]]) -> str:
    """An FTS5 query: a name that holds one term of every group."""
    return " AND ".join("(" + " OR ".join(map(_quoted, group)) + ")" for group in groups)


_Row = tuple[int, str, str, str, str]
#: The ``CANDIDATES`` shortest names among the first ``WINDOW`` matches of an FTS5 query.
_CANDIDATES_SQL: Final = (
    "SELECT ruc, nombre_o_razon_social, estado_del_contribuyente, condicion_de_domicilio, "
    f"ubigeo FROM padron WHERE ruc IN (SELECT rowid FROM {SEARCH_TABLE} "
    f"WHERE {SEARCH_TABLE} MATCH ? LIMIT ?) "
    "ORDER BY length(nombre_o_razon_social), estado_del_contribuyente <> 'ACTIVO', ruc LIMIT ?"
)


def _candidates(conn: sqlite3.Connection, query: Sequence[str], limit: int) -> list[_Row]:
    """Matches worth ranking: every word whole, then (if too few) as prefixes."""
    terms = [_terms(conn, word) for word in query]
    wanted = max(CANDIDATES, limit)
    found: dict[int, _Row] = {}
    if all(whole for whole, _ in terms):
        found.update(
            (row[0], row)
            for row in conn.execute(
                _CANDIDATES_SQL, (_all_of([whole for whole, _ in terms]), WINDOW, wanted)
            )
        )
    prefixes = [prefix for _, prefix in terms]
    if (
        len(found) < limit
        and all(prefixes)
        and any(len(prefix) > len(whole) for whole, prefix in terms)
    ):
        found.update(
            (row[0], row)
            for row in conn.execute(_CANDIDATES_SQL, (_all_of(prefixes), WINDOW, wanted))
        )
    return list(found.values())


def _order(query: Sequence[str], name: str, state: str, ruc: int) -> tuple[int, ...]:
    """The sort key of one match: see the module's docstring for what comes first."""
    held = words(name)
    whole = set(held)
    prefix_only = sum(word not in whole for word in query)
    starts = " ".join(held).startswith(" ".join(query))
    extra = sum(not any(w.startswith(word) for word in query) for w in held)
    active = state.strip().upper() == "ACTIVO"
    return (prefix_only, not starts, extra, not active, len(name), ruc)


def search(
    source: sqlite3.Connection | PadronIndex, text: str, limit: int = DEFAULT_LIMIT
) -> list[SearchHit]:
    """The taxpayers whose name holds every word of ``text`` (whole or as a prefix), best first.

    Raises ``InvalidValueError`` when ``text`` has fewer than ``MIN_QUERY_CHARS``
    letters and digits, or ``limit`` is outside 1..``MAX_LIMIT``;
    ``PadronMissingError`` when the index has no search tables (built before them),
    ``PadronError`` when SQLite cannot read it.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidValueError(f"el límite debe estar entre 1 y {MAX_LIMIT}, no {limit}")
    query = _query_words(text)
    conn = _connection(source)
    try:
        rows = _candidates(conn, query, limit)
    except sqlite3.Error as exc:
        if "no such table" in str(exc):
            raise PadronMissingError(_MISSING_SEARCH) from exc
        raise PadronError(
            f"no se pudo buscar en el índice del padrón ({exc}); "
            "vuelva a crearlo con: migo padron actualizar"
        ) from exc
    rows.sort(key=lambda row: _order(query, row[1], row[2], row[0]))
    hits = []
    for ruc, name, state, condition, ubigeo in rows[:limit]:
        place = place_of(ubigeo)
        hits.append(
            SearchHit(
                ruc=f"{ruc:011d}",
                nombre_o_razon_social=name,
                estado_del_contribuyente=state,
                condicion_de_domicilio=condition,
                ubigeo=ubigeo,
                departamento=place.departamento if place else "",
                provincia=place.provincia if place else "",
                distrito=place.distrito if place else "",
            )
        )
    return hits
