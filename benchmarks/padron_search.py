"""Figure 15 of issue 14: ``migo buscar``, the name search in the local padrón.

On a generated padrón of 2,000,000 rows (``--quick``: 200,000):

- what the search costs the import: ``build_search_index`` alone (timed on a copy
  of the index with the search tables dropped and the file vacuumed), in rows/s of
  wall and of CPU time, and the bytes it adds, beside the whole ``build_index`` of
  the same file (which includes it) measured in the same run;
- query time: median and p95 of ``search(index, text, 20)`` over 100 queries,
  in process on an open ``PadronIndex`` (what ``migo buscar`` does after its start-up),
  wall and CPU.

The names are not the store's fast generator (``write_padron(fast=True)``: about
3,000 distinct names from 70 words, so every word is very common and no prefix
expands): here three quarters are people (two surnames, one or two given names)
and a quarter companies (a trade, a brand, maybe a connector, a legal form), words
drawn with Zipf-like weights from real ones (QUISPE, PEÑA, NÚÑEZ, SERVICIOS...)
and from a long tail of coined ones, as SUNAT's vocabulary has. The 100 queries
are 10 fixed hard ones (common words, the legal forms, two-letter prefixes) and
90 made from generated names: whole, unaccented and lower case, words reversed,
a word cut to a prefix, a single word, two or three letters.

What decided the structure (2,000,000 rows of these names, 86,000 distinct words;
CPU seconds of the search build alone, on the 2 shared cores while other work ran;
query CPU time over the same 100 queries; "best hit" = the first result equals the
first of an exhaustive ranking of every match):

============================================  ========  =======  =========  ========
structure                                     build     bytes    query p95  best hit
============================================  ========  =======  =========  ========
FTS5 contentless, detail=none, rowid = RUC,   3.8 s     +19 MB   23 ms      77/100
tokenchars '.', window 5,000 (chosen)
same, no window (first 300 matches by RUC)    3.8 s     +19 MB   12 ms      65/100
same, rowid ordered by name length (a sort)   11.4 s    +25 MB   15 ms      85/100
same, 4 length classes as detail=column cols  8.9 s     +32 MB   29 ms (a)  78/100
replace(name, '.', '') instead of tokenchars  +1 s      same     same       same
FTS5 prefix='2 3' indexes (other test data)   x1.8      x2.5     -          -
own (word, key) B-tree table, tokenised by    361 s     +160 MB  2.8 s      -
Python (wall, loaded machine; naive query)
============================================  ========  =======  =========  ========

(a) wall time, not CPU. The best hits that differ from the exhaustive ranking are
all single common words or two-letter prefixes (``SAC``, ``co``, ``CHI``) matching
thousands of equally good names. FTS5's own ``word*`` without prefix indexes merges
every expansion's list before the first row: ``sa*`` took 0.5-0.7 s, hence the term
table.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import statistics
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from itertools import accumulate
from pathlib import Path
from typing import Any

from benchmarks.figures import Context
from benchmarks.report import Check, Figure
from migo_cli.padron.build import build_index
from migo_cli.padron.format import ENCODING
from migo_cli.padron.search import (
    CANDIDATES,
    MIN_QUERY_CHARS,
    SEARCH_TABLE,
    TERMS_TABLE,
    WINDOW,
    build_search_index,
    search,
)
from migo_cli.padron.search import words as search_words
from migo_cli.padron.store import INDEX_FILE, PadronIndex
from migo_cli.simulator.padron import HEADER_LINE, fast_rucs

IN_PROCESS = "in-process: build_search_index / search() on the index file, in the bench process"
ROWS = 2_000_000
QUERIES = 100
LIMIT = 20
P95_TARGET_S = 0.100
SEED = 15

_SURNAMES = (
    "QUISPE", "FLORES", "SÁNCHEZ", "RODRÍGUEZ", "GARCÍA", "MAMANI", "HUAMÁN", "CHÁVEZ",
    "TORRES", "RAMOS", "VARGAS", "CASTILLO", "ROJAS", "MENDOZA", "DÍAZ", "LÓPEZ", "GONZALES",
    "CRUZ", "RAMÍREZ", "ESPINOZA", "CONDORI", "PÉREZ", "GUTIÉRREZ", "FERNÁNDEZ", "MORALES",
    "HUAMANI", "APAZA", "VÁSQUEZ", "CHOQUE", "TICONA", "PEÑA", "NÚÑEZ", "MUÑOZ", "IBÁÑEZ",
    "CASTAÑEDA", "ORDÓÑEZ", "ZÚÑIGA", "YUPANQUI", "CCAHUANA", "COAQUIRA", "VILCA", "SALAZAR",
    "MEDINA", "AGUILAR", "REYES", "ALVARADO", "RÍOS", "CÁCERES", "JIMÉNEZ", "MARTÍNEZ",
    "HERNÁNDEZ", "ÁLVAREZ", "PAUCAR", "HUANCA", "CUSI", "ACUÑA", "QUIÑONES", "BRIÑAS", "CAÑARI",
    "MONTAÑO", "SALDAÑA"
)  # fmt: skip
_GIVEN = (
    "JUAN", "JOSÉ", "LUIS", "CARLOS", "JORGE", "MARÍA", "ROSA", "ANA", "CARMEN", "JULIO",
    "VÍCTOR", "CÉSAR", "RAÚL", "ÁNGEL", "MIGUEL", "PEDRO", "SONIA", "ELENA", "MARTÍN",
    "SANTIAGO", "ÍÑIGO", "NOEMÍ", "INÉS", "GLADYS", "WILBER", "EDGAR", "FREDDY", "YOLANDA",
    "MARLENI", "ELVIS", "NÉLIDA", "HÉCTOR", "RUBÉN", "JESÚS", "DAVID", "ALBERTO", "ALEJANDRO",
    "FERNANDO", "MARCO", "ANTONIO", "SOFÍA", "LUCÍA", "JHON", "ROCÍO", "MÓNICA", "BEATRIZ"
)  # fmt: skip
_TRADES = (
    "INVERSIONES", "EMPRESA", "SERVICIOS", "CORPORACIÓN", "CONSTRUCTORA", "COMERCIAL", "GRUPO",
    "MULTISERVICIOS", "NEGOCIACIONES", "DISTRIBUIDORA", "IMPORTACIONES", "TRANSPORTES",
    "CONSULTORA", "INGENIERÍA", "AGROINDUSTRIAL", "MINERA", "FERRETERÍA", "BOTICA",
    "ASOCIACIÓN", "COOPERATIVA", "ESTUDIO", "CLÍNICA", "COLEGIO", "INSTITUTO", "PANADERÍA",
    "RESTAURANTE", "INMOBILIARIA", "TEXTIL", "LOGÍSTICA", "AGRÍCOLA", "PESQUERA", "COMPAÑÍA",
    "CONSORCIO"
)  # fmt: skip
_SECOND = (
    "GENERALES", "DEL", "PERÚ", "E", "INVERSIONES", "Y", "SERVICIOS", "MÚLTIPLES", "INTEGRALES",
    "ANDINA",
)  # fmt: skip
_CONNECTORS = ("DE", "DEL", "Y", "LA", "LOS", "EL")
_FORMS = ("S.A.C.", "S.A.C.", "S.A.C.", "E.I.R.L.", "E.I.R.L.", "S.R.L.", "S.A.", "SAC", "")
_STATES = ("ACTIVO",) * 7 + ("BAJA DE OFICIO", "BAJA DEFINITIVA", "SUSPENSION TEMPORAL")
_SYLLABLES = (
    "CA", "CO", "CU", "MA", "MI", "MO", "PA", "PE", "PO", "RA", "RE", "RI", "TA", "TE", "TI",
    "LA", "LO", "NA", "NE", "ÑA", "ÑO", "YA", "QUI", "HUA", "CHI", "SA", "SO", "ZA", "VE",
    "GUE", "LLA", "RRO", "TU", "NU", "BE"
)  # fmt: skip
_HARD_QUERIES = (
    "SAC",
    "S.A.C.",
    "EMPRESA",
    "EMPRESA SAC",
    "servicios generales",
    "INVERSIONES",
    "QUISPE",
    "quispe mamani",
    "co",
    "sa",
)


def _zipf(population: Sequence[str], shift: float) -> list[float]:
    """Cumulative weights 1/(rank + shift): the first words common, the tail rare."""
    return list(accumulate(1.0 / (rank + shift) for rank in range(len(population))))


def _coined(rng: random.Random, count: int) -> list[str]:
    words = {"".join(rng.choices(_SYLLABLES, k=rng.randint(2, 4))) for _ in range(count)}
    return sorted(words)


def _names(rng: random.Random, people: int, companies: int) -> Iterator[str]:
    """``people`` names of people, then ``companies`` of companies."""
    surnames = [*_SURNAMES, *_coined(rng, 60_000)]
    given = [*_GIVEN, *_coined(rng, 8_000)]
    brands = _coined(rng, 120_000)
    rng.shuffle(brands)
    brands = [*_SURNAMES[::-1], *brands]
    first = rng.choices(surnames, cum_weights=_zipf(surnames, 3), k=people)
    second = rng.choices(surnames, cum_weights=_zipf(surnames, 3), k=people)
    names = rng.choices(given, cum_weights=_zipf(given, 3), k=people)
    more = rng.choices(given, cum_weights=_zipf(given, 3), k=people)
    for i in range(people):
        yield (
            f"{first[i]} {second[i]} {names[i]} {more[i]}"
            if i % 2
            else (f"{first[i]} {second[i]} {names[i]}")
        )
    trades = rng.choices(_TRADES, cum_weights=_zipf(_TRADES, 2), k=companies)
    brand = rng.choices(brands, cum_weights=_zipf(brands, 10), k=companies)
    extra = rng.choices(brands, cum_weights=_zipf(brands, 10), k=companies)
    for i in range(companies):
        words = [trades[i]]
        if i % 5 == 0:
            words.append(_SECOND[i // 5 % len(_SECOND)])
        if i % 3 == 0:
            words.append(_CONNECTORS[i // 3 % len(_CONNECTORS)])
        words.append(brand[i])
        if i % 4 == 1:
            words.append(extra[i])
        words.append(_FORMS[i % len(_FORMS)])
        yield " ".join(w for w in words if w)


def write_named_padron(path: Path, rows: int, seed: int = SEED) -> list[str]:
    """A SUNAT-format padrón of ``rows`` lines; returns every 97th name (for the queries)."""
    rng = random.Random(seed)
    people = rows * 3 // 4
    rucs = [*fast_rucs(people, 0, "10"), *fast_rucs(rows - people, 0, "20")]
    sample: list[str] = []
    with path.open("wb") as out:
        out.write((HEADER_LINE + "\n").encode(ENCODING))
        batch: list[str] = []
        for i, (ruc, name) in enumerate(zip(rucs, _names(rng, people, rows - people), strict=True)):
            if i % 97 == 0:
                sample.append(name)
            state = _STATES[i % len(_STATES)]
            batch.append(
                f"{ruc}|{name}|{state}|HABIDO|150101|AV.|GRAU|-|-|{i % 999 + 1}|-|-|-|-|-|"
            )
            if len(batch) >= 50_000:
                out.write(("\n".join(batch) + "\n").encode(ENCODING))
                batch.clear()
        out.write(("\n".join(batch) + "\n").encode(ENCODING) if batch else b"")
    return sample


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def queries(sample: Sequence[str], count: int = QUERIES, seed: int = SEED) -> list[str]:
    """The hard queries, then ones made from generated names in nine ways."""
    rng = random.Random(seed)
    made = list(_HARD_QUERIES)
    kinds: list[Callable[[list[str]], str]] = [
        " ".join,
        lambda w: _plain(" ".join(w)),
        lambda w: " ".join(reversed(w[:2])),
        lambda w: f"{w[0]} {w[1][:4]}",
        lambda w: w[0][:3],
        lambda w: " ".join(w[-2:]),
        lambda w: f"{w[-1]} {w[0]}",
        lambda w: w[rng.randrange(len(w))][:2],
        lambda w: w[rng.randrange(len(w))],
    ]
    while len(made) < count:
        words = rng.choice(sample).split()
        if len(words) < 2:
            continue
        text = kinds[len(made) % len(kinds)](words)
        if sum(map(len, search_words(text))) >= MIN_QUERY_CHARS:  # else buscar refuses it
            made.append(text)
    return made


def _pages(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA page_count").fetchone()[0])


def _build_alone(index_file: Path, scratch: Path) -> dict[str, float]:
    """``build_search_index`` on a copy of the index without its search tables."""
    copy = scratch / "sin-busqueda.sqlite3"
    shutil.copyfile(index_file, copy)
    conn = sqlite3.connect(copy, isolation_level=None)
    try:
        conn.execute(f"DROP TABLE {SEARCH_TABLE}")
        conn.execute(f"DROP TABLE {TERMS_TABLE}")
        conn.execute("VACUUM")
        # As the store builds: no journal, no syncs, a large page cache, temp in memory.
        for pragma in (
            "journal_mode = OFF",
            "synchronous = OFF",
            "locking_mode = EXCLUSIVE",
            "cache_size = -262144",
            "temp_store = MEMORY",
        ):
            conn.execute(f"PRAGMA {pragma}")
        page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        before = _pages(conn)
        wall, cpu = time.perf_counter(), time.process_time()
        conn.execute("BEGIN")
        build_search_index(conn)
        conn.execute("COMMIT")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        added = (_pages(conn) - before) * page_size
        terms = int(conn.execute(f"SELECT count(*) FROM {TERMS_TABLE}").fetchone()[0])
    finally:
        conn.close()
        copy.unlink(missing_ok=True)
    return {
        "build_s": wall,
        "build_cpu_s": cpu,
        "bytes": added,
        "table_bytes": before * page_size,
        "terms": terms,
    }


def _timed_queries(directory: Path, texts: Sequence[str]) -> list[tuple[float, float, str, int]]:
    """(wall, CPU, text, hits) of each query, in order, on one open index."""
    timings = []
    with PadronIndex.open(directory) as index:
        for text in texts:
            wall, cpu = time.perf_counter(), time.process_time()
            hits = search(index, text, LIMIT)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            timings.append((wall, cpu, text, len(hits)))
    return timings


def _p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def figure_15(ctx: Context) -> Figure:
    rows = ctx.n(ROWS)
    base = ctx.directory("f15")
    source = base / "padron.txt"
    sample = write_named_padron(source, rows)
    started = time.perf_counter()
    info = build_index(source, base / "indice", fecha=date.today())
    import_s = time.perf_counter() - started
    alone = _build_alone(base / "indice" / INDEX_FILE, base)
    texts = queries(sample)
    timings = _timed_queries(base / "indice", texts)
    seconds = [wall for wall, _, _, _ in timings]
    cpu = [used for _, used, _, _ in timings]
    median, p95 = statistics.median(seconds), _p95(seconds)
    hard = [wall for wall, _, text, _ in timings if text in _HARD_QUERIES]
    slowest = sorted(timings, reverse=True)[:5]
    raw: dict[str, Any] = {
        "rows": info.filas,
        "text_bytes": info.fuente_bytes or os.path.getsize(source),
        "index_bytes": info.bytes,
        "padron_table_bytes": alone["table_bytes"],
        "search_bytes": alone["bytes"],
        "search_terms": alone["terms"],
        "import_s": import_s,
        "import_rows_per_s": info.filas / import_s,
        "search_build_s": alone["build_s"],
        "search_build_cpu_s": alone["build_cpu_s"],
        "search_build_rows_per_s": info.filas / alone["build_s"],
        "search_build_cpu_rows_per_s": info.filas / alone["build_cpu_s"],
        "queries": len(seconds),
        "query_median_ms": median * 1000,
        "query_p95_ms": p95 * 1000,
        "query_max_ms": max(seconds) * 1000,
        "query_cpu_median_ms": statistics.median(cpu) * 1000,
        "query_cpu_p95_ms": _p95(cpu) * 1000,
        "hard_queries_median_ms": statistics.median(hard) * 1000,
        "no_match_queries": sum(1 for _, _, _, n in timings if n == 0),
        "window": WINDOW,
        "candidates": CANDIDATES,
        "slowest": [
            {"texto": text, "ms": round(wall * 1000, 1), "coincidencias": n}
            for wall, _, text, n in slowest
        ],
    }
    return Figure(
        15,
        f"buscar: name search in a {rows:,}-row padrón (build cost, query time)",
        "build_index of a generated SUNAT-format file (3/4 people, 1/4 companies, Zipf-like "
        "words with a long coined tail); build_search_index alone timed again on a copy "
        "without the search tables (vacuumed); 100 queries (10 hard: common words, legal "
        "forms, 2-letter prefixes) through search(index, text, 20) on an open PadronIndex.",
        timed=IN_PROCESS,
        raw=raw,
        checks=[
            Check(
                "query p95 ÷ 100 ms",
                "p95 of 100 search() times",
                "target: 100 ms",
                p95 / P95_TARGET_S,
                1.0,
                "<=",
            ),
            Check(
                "query median ÷ 100 ms",
                "median of 100 search() times",
                "target: 100 ms",
                median / P95_TARGET_S,
            ),
            Check(
                "search build ÷ whole import",
                "build_search_index alone, wall",
                "build_index of the same file (search included), wall",
                alone["build_s"] / import_s,
            ),
            Check(
                "search bytes ÷ padron table bytes",
                "pages the search tables add",
                "pages of the padron table (and its metadata)",
                alone["bytes"] / alone["table_bytes"],
            ),
        ],
        notes=[
            "search_build_cpu_rows_per_s and query_cpu_* are this process's CPU time: "
            "steadier than wall when other work shares the cores.",
        ],
    )


FIGURES: dict[int, Callable[[Context], Figure]] = {15: figure_15}
