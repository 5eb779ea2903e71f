"""The padrón's local index: one SQLite file holding the rows and what they came from.

Why SQLite (measured on one generated 2,000,000-row padrón, 214 MB of text, on
the 2-core machine while it was shared, load 6–7, so every time is inflated alike):

=============================  ========  =======  ===========  ===========
index                          import    on disk  cold lookup  100k lookup
=============================  ========  =======  ===========  ===========
SQLite, rowid key (this one)   44–54 s   216 MB   0.13 s       2.4 s
SQLite, ``WITHOUT ROWID``      80 s      243 MB   0.20 s       2.9 s
DuckDB 2.0 (read_csv, index)   37 s       71 MB   2.19 s       2.7 s
Parquet, sorted (pyarrow 26)   31 s       17 MB   2.24 s       14.1 s
=============================  ========  =======  ===========  ===========

(cold lookup: a new process that imports the engine, opens the file, reads one RUC;
the SQLite import is migo's own, one process and two.) DuckDB and Parquet import
faster and far smaller, but a single ``consultar`` would pay two seconds to load
their engine, each a dependency of tens of MB; SQLite ships with Python, a lookup
is one B-tree probe on the ``INTEGER PRIMARY KEY`` (the rowid itself, no second
index), and ``buscar``'s full-text index lives in the same file.

The index is never changed in place: ``padron.build`` writes a new file and
renames it over the old one (``os.replace``), so a reader holding the old file
keeps reading it. That is why readers open the file ``immutable``: no locks, no
journal checks. This module is the reading side only: a lookup (every ``migo
consultar --fuente padron``) imports none of the build's machinery.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

from migo_cli.config import default_padron_dir
from migo_cli.exceptions import PadronError, PadronMissingError
from migo_cli.padron.format import FIELDS, PadronRecord

__all__ = [
    "INDEX_FILE",
    "LOCK_FILE",
    "MISSING_MESSAGE",
    "PadronIndex",
    "PadronInfo",
    "index_path",
]

log = logging.getLogger("migo")

INDEX_FILE: Final = "padron.sqlite3"
LOCK_FILE: Final = "padron.lock"
#: Bumped when the tables change: an index of another version must be rebuilt.
SCHEMA_VERSION: Final = 1
MISSING_MESSAGE: Final = "no hay un padrón local; créelo con: migo padron actualizar"

#: RUCs per query in ``get_many``. One JSON array bound as one parameter and unpacked by
#: ``json_each`` beat chunks of ``IN (?, ?, …)`` (1.7× less CPU for 100,000 RUCs), a temporary
#: table (1.2×) and one query per RUC (2.2×); the plan is one rowid probe per RUC.
_LOOKUP_CHUNK: Final = 20_000

_SELECT: Final = f"SELECT printf('%011d', ruc), {', '.join(FIELDS[1:])} FROM padron"


def index_path(directory: Path | None = None) -> Path:
    """Where the live index is (or would be) for ``directory`` (default: the data dir)."""
    return (directory or default_padron_dir()) / INDEX_FILE


@dataclass(frozen=True, slots=True)
class PadronInfo:
    """What the live index holds and where it came from (SPEC §7's ``padron info``).

    ``bytes`` is the index's size on disk; ``fuente_bytes`` the size of the file it
    was built from (the zip, or the text), whose ``sha256`` this is.
    """

    fecha: date
    filas: int
    omitidas: int
    bytes: int
    ruta: Path
    sha256: str
    fuente: str
    importado_en: datetime
    fuente_bytes: int = 0

    def age_days(self, today: date) -> int:
        return (today - self.fecha).days

    def to_dict(self) -> dict[str, Any]:
        """SPEC §7's keys first, then where the data came from."""
        return {
            "fecha": self.fecha.isoformat(),
            "filas": self.filas,
            "omitidas": self.omitidas,
            "bytes": self.bytes,
            "ruta": str(self.ruta),
            "sha256": self.sha256,
            "fuente": self.fuente,
            "fuente_bytes": self.fuente_bytes,
            "importado_en": self.importado_en.isoformat(timespec="seconds"),
        }


def _ruc_key(ruc: str) -> int | None:
    """The table's key for ``ruc``; None when it cannot be in the padrón at all."""
    ruc = ruc.strip()
    return int(ruc) if len(ruc) == 11 and ruc.isdecimal() and ruc.isascii() else None


class PadronIndex:
    """A read-only view of the live index, as it was when opened.

    Cheap to open (one small query); safe to keep open while ``build_index``
    replaces the file: this view goes on answering from the file it opened.
    One thread at a time.
    """

    def __init__(self, connection: sqlite3.Connection, info: PadronInfo) -> None:
        self._db = connection
        self.info = info

    @classmethod
    def open(cls, directory: Path | None = None) -> PadronIndex:
        """The live index in ``directory`` (default: ``MIGO_PADRON_DIR`` or the data dir).

        Raises ``PadronMissingError`` when none has been built, ``PadronError`` when
        the file is not an index this version of migo can read.
        """
        path = index_path(directory).absolute()
        if not path.is_file():
            raise PadronMissingError(MISSING_MESSAGE)
        try:
            connection = sqlite3.connect(
                f"{path.as_uri()}?mode=ro&immutable=1", uri=True, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise PadronError(
                f"no se pudo abrir el índice del padrón {path}: {exc}", source=str(path)
            ) from exc
        try:
            info = _read_info(connection, path)
        except BaseException:
            connection.close()
            raise
        return cls(connection, info)

    @property
    def connection(self) -> sqlite3.Connection:
        """The open read-only connection (``padron.search`` queries its own tables)."""
        return self._db

    def get(self, ruc: str) -> PadronRecord | None:
        """The padrón's line for ``ruc``, or None when the padrón does not hold it."""
        key = _ruc_key(ruc)
        if key is None:
            return None
        row = self._db.execute(f"{_SELECT} WHERE ruc = ?", (key,)).fetchone()
        return None if row is None else PadronRecord._make(row)

    def get_many(self, rucs: Iterable[str]) -> dict[str, PadronRecord]:
        """The lines the padrón holds among ``rucs``, by RUC (absent ones left out)."""
        import json

        keys = sorted({key for key in map(_ruc_key, rucs) if key is not None})
        query = f"{_SELECT} WHERE ruc IN (SELECT value FROM json_each(?))"
        found: dict[str, PadronRecord] = {}
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = json.dumps(keys[start : start + _LOOKUP_CHUNK])
            for record in map(PadronRecord._make, self._db.execute(query, (chunk,))):
                found[record.ruc] = record
        return found

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _damaged(path: Path, detail: object) -> PadronError:
    return PadronError(
        f"el índice del padrón {path} no se puede leer ({detail}); "
        "vuelva a crearlo con: migo padron actualizar",
        source=str(path),
    )


def _read_info(connection: sqlite3.Connection, path: Path) -> PadronInfo:
    try:
        (version,) = connection.execute("PRAGMA user_version").fetchone()
        if version != SCHEMA_VERSION:
            raise _damaged(path, f"versión {version}, se esperaba {SCHEMA_VERSION}")
        row = connection.execute(
            "SELECT fecha, filas, omitidas, sha256, fuente, fuente_bytes, importado_en "
            "FROM padron_info"
        ).fetchone()
    except sqlite3.Error as exc:
        raise _damaged(path, exc) from exc
    if row is None:
        raise _damaged(path, "sin metadatos")
    fecha, filas, omitidas, sha256, fuente, fuente_bytes, importado_en = row
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    return PadronInfo(
        fecha=date.fromisoformat(fecha),
        filas=filas,
        omitidas=omitidas,
        bytes=size,
        ruta=path,
        sha256=sha256,
        fuente=fuente,
        importado_en=datetime.fromisoformat(importado_en),
        fuente_bytes=fuente_bytes,
    )
