"""The padrón's local index: one SQLite file holding the rows and what they came from.

Why SQLite: it ships with Python, a lookup by RUC is one B-tree probe on the
``INTEGER PRIMARY KEY`` (the rowid itself, no second index), and opening the file
costs a fraction of a millisecond. ``benchmarks/padron_import.py`` has the figures
that decided it against the alternatives.

The index is never changed in place. ``build_index`` writes a new file next to it
and renames it over the old one (``os.replace``): a reader holding the old file
keeps reading it, a crash mid-build leaves the old one live, and the data and its
metadata (table ``padron_info``, same file) can only ever be swapped together.
That is also why readers open the file ``immutable``: no locks, no journal checks.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sqlite3
import threading
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from queue import Queue
from types import TracebackType
from typing import IO, Any, Final, Protocol, Self

from migo_cli.config import default_padron_dir
from migo_cli.exceptions import PadronError, PadronMissingError
from migo_cli.padron.format import ENCODING, FIELDS, HEADER, SEPARATOR, PadronRecord, parse_line
from migo_cli.progress import NullStepProgress, StepProgress

__all__ = [
    "INDEX_FILE",
    "LOCK_FILE",
    "MISSING_MESSAGE",
    "PadronIndex",
    "PadronInfo",
    "build_index",
    "index_path",
]

log = logging.getLogger("migo")

INDEX_FILE: Final = "padron.sqlite3"
LOCK_FILE: Final = "padron.lock"
#: A build in progress; a file left by a crashed one is removed by the next build.
_TEMP_PREFIX: Final = ".padron-nuevo-"
_TEMP_SUFFIX: Final = ".tmp"
#: Bumped when the tables change: an index of another version must be rebuilt.
SCHEMA_VERSION: Final = 1
MISSING_MESSAGE: Final = "no hay un padrón local; créelo con: migo padron actualizar"

#: RUCs per ``IN (...)`` in ``get_many``: see the module's benchmark for the choice.
_LOOKUP_CHUNK: Final = 500
#: Bytes read from the source at a time.
_CHUNK: Final = 1 << 20
#: Chunks read ahead by the reading thread (decompression and hashing release the GIL).
_READ_AHEAD: Final = 8

_COLUMNS: Final = ", ".join(FIELDS)
_SELECT: Final = f"SELECT {_COLUMNS} FROM padron"
_SCHEMA: Final = (
    "CREATE TABLE padron (ruc INTEGER PRIMARY KEY, "
    + ", ".join(f"{name} TEXT NOT NULL" for name in FIELDS[1:])
    + ")",
    "CREATE TABLE padron_info (fecha TEXT NOT NULL, filas INTEGER NOT NULL, "
    "omitidas INTEGER NOT NULL, sha256 TEXT NOT NULL, fuente TEXT NOT NULL, "
    "fuente_bytes INTEGER NOT NULL, importado_en TEXT NOT NULL)",
)
_INSERT: Final = f"INSERT OR IGNORE INTO padron VALUES ({', '.join('?' * len(FIELDS))})"


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


def _record(row: tuple[Any, ...]) -> PadronRecord:
    return PadronRecord(f"{row[0]:011d}", *row[1:])


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
        return None if row is None else _record(row)

    def get_many(self, rucs: Iterable[str]) -> dict[str, PadronRecord]:
        """The lines the padrón holds among ``rucs``, by RUC (absent ones left out)."""
        keys = sorted({key for key in map(_ruc_key, rucs) if key is not None})
        found: dict[str, PadronRecord] = {}
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            for row in self._db.execute(f"{_SELECT} WHERE ruc IN ({marks})", chunk):
                record = _record(row)
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


# -- building ------------------------------------------------------------------------


@dataclass(slots=True)
class _Counts:
    lines: int = 0
    malformed: int = 0


_Stack = contextlib.ExitStack[bool | None]


class _Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


class _Source:
    """The padrón's text as byte chunks, from a ``.zip`` (its one ``.txt``) or a plain file.

    A reading thread decompresses (zlib) and hashes (sha256): both release the GIL,
    so they run beside the parsing. The zip's CRC and size are checked by
    ``zipfile`` as the member is read to its end: a damaged zip fails the build
    before anything is swapped.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.is_zip = path.suffix.lower() == ".zip" or (
            path.suffix.lower() != ".txt" and path.is_file() and zipfile.is_zipfile(path)
        )
        self.sha256 = ""
        self.size = 0
        self.total: int | None = None  # text bytes, when known beforehand

    def _open(self, stack: _Stack) -> tuple[_Readable, Callable[[], str]]:
        """(text stream, sha256 of the source once read to the end)."""
        try:
            raw = stack.enter_context(self.path.open("rb"))
        except OSError as exc:
            raise PadronError(
                f"no se pudo leer {self.path}: {exc.strerror or exc}", source=str(self.path)
            ) from exc
        if not self.is_zip:
            with contextlib.suppress(OSError):
                stat = os.fstat(raw.fileno())
                self.total = stat.st_size if stat.st_size else None
            digest = hashlib.sha256()
            return _Hashing(raw, digest), digest.hexdigest
        try:
            archive = stack.enter_context(zipfile.ZipFile(raw))
            member = _member(archive, self.path)
            self.total = member.file_size
            stream: IO[bytes] = stack.enter_context(archive.open(member))
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError) as exc:
            raise PadronError(
                f"{self.path} no es un zip válido: {exc}", source=str(self.path)
            ) from exc
        return stream, lambda: _file_sha256(self.path)

    def chunks(self, stop: threading.Event) -> Iterator[bytes]:
        """Every chunk of text, read ahead in a thread; errors come out here, in order."""
        queue: Queue[bytes | BaseException | None] = Queue(_READ_AHEAD)

        def read() -> None:
            try:
                with contextlib.ExitStack() as stack:
                    stream, digest = self._open(stack)
                    while not stop.is_set():
                        chunk = stream.read(_CHUNK)
                        if not chunk:
                            break
                        queue.put(chunk)
                    if not stop.is_set():
                        self.sha256 = digest()
                        self.size = _size_of(self.path)
                queue.put(None)
            except zipfile.BadZipFile as exc:
                queue.put(PadronError(f"{self.path} está dañado: {exc}", source=str(self.path)))
            except OSError as exc:
                message = f"no se pudo leer {self.path}: {exc.strerror or exc}"
                queue.put(PadronError(message, source=str(self.path)))
            except BaseException as exc:  # handed to the consumer, which raises it
                queue.put(exc)

        reader = threading.Thread(target=read, name="migo-padron-reader", daemon=True)
        reader.start()
        try:
            while (item := queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            while reader.is_alive():  # unblock a reader waiting on a full queue
                with contextlib.suppress(Exception):
                    queue.get_nowait()
                reader.join(0.05)


class _Hashing:
    """A binary stream that hashes what is read from it (a plain text source)."""

    def __init__(self, raw: IO[bytes], digest: Any) -> None:
        self._raw = raw
        self._digest = digest

    def read(self, size: int) -> bytes:
        chunk = self._raw.read(size)
        self._digest.update(chunk)
        return chunk


def _size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _file_sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _member(archive: zipfile.ZipFile, path: Path) -> zipfile.ZipInfo:
    """The zip's text file: its only member, or its only ``.txt``."""
    files = [info for info in archive.infolist() if not info.is_dir()]
    texts = [info for info in files if info.filename.lower().endswith(".txt")]
    if len(files) == 1:
        return files[0]
    if len(texts) == 1:
        return texts[0]
    names = ", ".join(info.filename for info in files[:5]) or "ninguno"
    raise PadronError(
        f"{path} no contiene un único archivo de texto del padrón (contiene: {names})",
        source=str(path),
    )


def _fold(text: str) -> str:
    """Header cells compared without case, accents or extra spaces."""
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", text.upper())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.split())


_FOLDED_HEADER: Final = tuple(_fold(cell) for cell in HEADER)


def _check_header(line: str, source: Path) -> None:
    cells = line.rstrip("\r\n").split(SEPARATOR)
    if cells and cells[-1].strip() == "":
        cells.pop()
    if tuple(_fold(cell) for cell in cells) != _FOLDED_HEADER:
        shown = line.strip()[:120]
        raise PadronError(
            f"{source} no parece el padrón reducido de SUNAT: la primera línea es {shown!r}, "
            f"se esperaba {SEPARATOR.join(HEADER)!r}",
            source=str(source),
        )


def _rows(
    chunks: Iterable[bytes], counts: _Counts, source: Path, progress: StepProgress
) -> Iterator[tuple[str, ...] | list[str]]:
    """The well-formed lines as rows for ``_INSERT``; the header checked, the rest counted.

    The common line (15 fields, the trailing ``|``, nothing to strip) takes the fast
    path; anything else goes through ``parse_line``, the one definition of a line.
    """
    width = len(HEADER)
    pending = b""
    header = True
    done = 0
    for chunk in chunks:
        done += len(chunk)
        data = pending + chunk
        cut = data.rfind(b"\n") + 1
        pending = data[cut:]
        lines = data[:cut].decode(ENCODING).split("\n")
        lines.pop()  # what followed the last newline: nothing
        if header and lines:
            _check_header(lines[0], source)
            del lines[0]
            header = False
        counts.lines += len(lines)
        for line in lines:
            parts = line.split(SEPARATOR)
            if len(parts) == width + 1 and parts[width] in ("", "\r"):
                ruc = parts[0]
                if len(ruc) == 11 and ruc.isdecimal():
                    del parts[width]
                    if not any(p != p.strip() for p in parts):
                        yield parts
                        continue
            record = parse_line(line)
            if record is None or _ruc_key(record.ruc) is None or not line.strip():
                counts.malformed += 1
                continue
            yield record
        progress.update(done)
    if header:
        if pending.strip():
            _check_header(pending.decode(ENCODING), source)
        raise PadronError(f"{source} no contiene ninguna línea del padrón", source=str(source))
    if pending.strip():  # a last line without its newline
        counts.lines += 1
        record = parse_line(pending.decode(ENCODING))
        if record is None or _ruc_key(record.ruc) is None:
            counts.malformed += 1
        else:
            yield record
    progress.update(done)


def _remove_leftovers(directory: Path) -> None:
    """Files of builds that died (``kill -9``, power cut) before renaming theirs."""
    for leftover in directory.glob(f"{_TEMP_PREFIX}*"):
        with contextlib.suppress(OSError):
            leftover.unlink()
            log.info("se borró %s, de una actualización del padrón interrumpida", leftover.name)


def _fsync(path: Path, *, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        if directory:  # some systems cannot open a directory: nothing more to do
            return
        raise
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _source_date(path: Path) -> date:
    try:
        return date.fromtimestamp(path.stat().st_mtime)
    except OSError:
        return date.today()


def build_index(
    source: Path,
    directory: Path | None = None,
    *,
    fecha: date | None = None,
    fuente: str | None = None,
    progress: StepProgress | None = None,
) -> PadronInfo:
    """Index SUNAT's padrón from ``source`` (``.zip`` or ``.txt``) and make it the live one.

    ``fecha`` is the padrón's date (the download's ``Last-Modified``; default: the
    file's mtime); ``fuente`` what it came from (default: the file's path). The old
    index stays live until the new one is complete and on disk; then one rename
    swaps them. Raises ``PadronError`` (the old index untouched) when the source
    cannot be read, is not SUNAT's padrón, or most of its lines are malformed, and
    when another build holds the directory's lock.
    """
    from filelock import FileLock, Timeout

    directory = directory or default_padron_dir()
    progress = progress or NullStepProgress()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PadronError(
            f"no se pudo crear la carpeta del padrón {directory}: {exc.strerror or exc}",
            source=str(source),
        ) from exc
    lock = FileLock(directory / LOCK_FILE, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise PadronError(
            f"otra actualización del padrón está en curso en {directory}; espere a que termine",
            source=str(source),
        ) from None
    try:
        _remove_leftovers(directory)
        return _build_locked(
            source, directory, fecha or _source_date(source), fuente or str(source), progress
        )
    finally:
        lock.release()


def _build_locked(
    source: Path, directory: Path, fecha: date, fuente: str, progress: StepProgress
) -> PadronInfo:
    reader = _Source(source)
    temporary = directory / f"{_TEMP_PREFIX}{os.getpid()}{_TEMP_SUFFIX}"
    counts = _Counts()
    stop = threading.Event()
    connection = sqlite3.connect(temporary, isolation_level=None)
    try:
        # Nothing to protect until the rename: no journal, no syncs; one fsync at the end.
        for pragma in (
            "journal_mode = OFF",
            "synchronous = OFF",
            "locking_mode = EXCLUSIVE",
            "cache_size = -262144",
            "temp_store = MEMORY",
            f"user_version = {SCHEMA_VERSION}",
        ):
            connection.execute(f"PRAGMA {pragma}")
        for statement in _SCHEMA:
            connection.execute(statement)
        chunks = reader.chunks(stop)
        progress.begin("Indexando el padrón", None)
        connection.execute("BEGIN")
        try:
            first = next(chunks, None)  # opens the source: its size is known after this
            if reader.total:
                progress.begin("Indexando el padrón", reader.total)
            if first is not None:
                connection.executemany(
                    _INSERT, _rows(_chain(first, chunks), counts, source, progress)
                )
            else:
                raise PadronError(f"{source} está vacío", source=str(source))
        finally:
            progress.end()
        rows = connection.execute("SELECT count(*) FROM padron").fetchone()[0]
        skipped = counts.lines - rows  # malformed lines, and repeated RUCs
        if rows == 0 or counts.malformed * 2 > counts.lines:
            raise PadronError(
                f"{source}: {counts.malformed:,} de {counts.lines:,} líneas no tienen el formato "
                "del padrón; no se reemplazó el índice",
                source=str(source),
            )
        from migo_cli.padron.search import build_search_index  # a lookup never needs it

        progress.begin("Preparando la búsqueda por nombre", None)
        try:
            build_search_index(connection)  # same file, same swap: never one without the other
        finally:
            progress.end()
        imported_at = datetime.now(UTC).astimezone()
        connection.execute(
            "INSERT INTO padron_info VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                fecha.isoformat(),
                rows,
                skipped,
                reader.sha256,
                fuente,
                reader.size,
                imported_at.isoformat(timespec="seconds"),
            ),
        )
        connection.execute("COMMIT")
        connection.close()
        _fsync(temporary)
        target = directory / INDEX_FILE
        os.replace(temporary, target)
        _fsync(directory, directory=True)
    except BaseException as exc:
        stop.set()
        connection.close()
        with contextlib.suppress(OSError):
            temporary.unlink()
        if isinstance(exc, sqlite3.Error | OSError):
            raise PadronError(
                f"no se pudo escribir el índice del padrón en {directory}: {exc}",
                source=str(source),
            ) from exc
        raise
    log.info("padrón indexado: %s filas, %s líneas omitidas", rows, skipped)
    with PadronIndex.open(directory) as index:
        return index.info


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest
