"""Building the padrón's index (``migo padron actualizar``): text in, a new SQLite file swapped in.

Apart from ``store`` (the reading side) so that a lookup, every ``migo consultar
--fuente padron``, does not import the build's machinery: its dataclasses,
zipfile, hashlib, multiprocessing (benchmarks, figure 14).

The index is never changed in place. ``build_index`` writes a new file next to the
live one and renames it over it (``os.replace``): a reader holding the old file
keeps reading it, a crash mid-build leaves the old one live, and the data and its
metadata (table ``padron_info``, same file) can only ever be swapped together.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, cast

from migo_cli.config import default_padron_dir
from migo_cli.exceptions import PadronError
from migo_cli.padron.format import ENCODING, FIELDS, HEADER, SEPARATOR, parse_line
from migo_cli.padron.store import (
    INDEX_FILE,
    LOCK_FILE,
    SCHEMA_VERSION,
    PadronIndex,
    PadronInfo,
    _ruc_key,
    log,
)

if TYPE_CHECKING:  # zipfile, hashlib: imported where a build needs them
    import zipfile

    from migo_cli.progress import StepProgress

__all__ = ["build_index", "build_lock"]

#: A build in progress; a file left by a crashed one is removed by the next build.
_TEMP_PREFIX: Final = ".padron-nuevo-"
_TEMP_SUFFIX: Final = ".tmp"
#: Bytes of text parsed at a time.
_CHUNK: Final = 1 << 20
#: SQLite's page cache for each process of a build: the rows arrive in key order in a
#: real file, so only the B-tree's right edge is hot; four of them stay far below 1 GiB.
_CACHE_KIB: Final = 128 * 1024
#: A smaller text is not worth a worker process (starting one costs about 0.2 s).
_MIN_PART_BYTES: Final = 16 << 20
_SCHEMA: Final = (
    "CREATE TABLE padron (ruc INTEGER PRIMARY KEY, "
    + ", ".join(f"{name} TEXT NOT NULL" for name in FIELDS[1:])
    + ")",
    "CREATE TABLE padron_info (fecha TEXT NOT NULL, filas INTEGER NOT NULL, "
    "omitidas INTEGER NOT NULL, sha256 TEXT NOT NULL, fuente TEXT NOT NULL, "
    "fuente_bytes INTEGER NOT NULL, importado_en TEXT NOT NULL)",
)
_INSERT: Final = f"INSERT OR IGNORE INTO padron VALUES ({', '.join('?' * len(FIELDS))})"


# -- building ------------------------------------------------------------------------
#
# A build reads the text once per partition: the file's bytes are cut in ``parts``
# ranges at line boundaries, each indexed into a database of its own (the first by
# this process, the others by worker processes), then the others are copied into
# the first with ``INSERT INTO padron SELECT * FROM part.padron``. With the same
# schema and an empty or key-disjoint destination SQLite copies the records as they
# are (its "transfer optimisation"), so the merge costs a small part of the import.


@dataclass(frozen=True, slots=True)
class _Text:
    """Where the padrón's text is: a plain file (``member`` None), or a zip's member."""

    path: Path
    member: str | None
    #: Bytes of text, when known before reading (not for a pipe).
    size: int | None


@dataclass(frozen=True, slots=True)
class _Job:
    """Index the lines of ``text`` starting in ``[start, end)`` into a new database ``target``."""

    text: _Text
    start: int
    end: int | None
    target: Path


@dataclass(slots=True)
class _Part:
    """What one partition found: lines read, malformed lines, rows stored."""

    lines: int = 0
    malformed: int = 0
    rows: int = 0
    low: int | None = None  # smallest and largest RUC stored
    high: int | None = None


def _unreadable(path: Path, exc: OSError) -> PadronError:
    return PadronError(f"no se pudo leer {path}: {exc.strerror or exc}", source=str(path))


def _locate(path: Path) -> _Text:
    """The source as SUNAT publishes it (a zip holding one text file) or that text file."""
    import zipfile

    try:
        regular = path.is_file()
        is_zip = path.suffix.lower() == ".zip" or (
            regular and path.suffix.lower() != ".txt" and zipfile.is_zipfile(path)
        )
        if not is_zip:
            return _Text(path, None, path.stat().st_size if regular else None)
        with zipfile.ZipFile(path) as archive:
            member = _member(archive, path)
            return _Text(path, member.filename, member.file_size)
    except zipfile.BadZipFile as exc:
        raise PadronError(f"{path} no es un zip válido: {exc}", source=str(path)) from exc
    except OSError as exc:
        raise _unreadable(path, exc) from exc


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


def _open_text(text: _Text, stack: contextlib.ExitStack[bool | None]) -> IO[bytes]:
    """The text as a binary stream; a zip member's CRC and size are checked at its end."""
    import zipfile

    try:
        raw = stack.enter_context(text.path.open("rb"))
        if text.member is None:
            return raw
        archive = stack.enter_context(zipfile.ZipFile(raw))
        return stack.enter_context(archive.open(text.member))
    except zipfile.BadZipFile as exc:
        raise PadronError(f"{text.path} no es un zip válido: {exc}", source=str(text.path)) from exc
    except OSError as exc:
        raise _unreadable(text.path, exc) from exc


def _ranged(stream: IO[bytes], text: _Text, start: int, end: int | None) -> Iterator[bytes]:
    """Chunks holding exactly the lines whose first byte lies in ``[start, end)``."""
    position = 0
    if start:
        if text.member is None:
            stream.seek(start - 1)
        else:  # a zip member: decompress up to there (fast, and the GIL is released)
            left = start - 1
            while left:
                skipped = len(stream.read(min(_CHUNK, left)))
                if not skipped:
                    return
                left -= skipped
        position = start - 1
        while True:  # the line under way at ``start - 1`` belongs to the previous range
            data = stream.read(_CHUNK)
            if not data:
                return
            newline = data.find(b"\n")
            if newline >= 0:
                position += newline + 1
                data = data[newline + 1 :]
                break
            position += len(data)
    else:
        data = b""
    while True:
        if end is not None and position + len(data) >= end:
            newline = data.find(b"\n", max(end - 1 - position, 0))
            if newline >= 0:  # the last line starting before ``end`` ends here
                yield data[: newline + 1]
                return
        if data:
            yield data
            position += len(data)
        data = stream.read(_CHUNK)
        if not data:
            return


def _fold(text: str) -> str:
    """Header cells compared without case, accents or extra spaces."""
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", text.upper())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.split())


def _check_header(text: _Text) -> None:
    """Refuse, before any work, a file that is not SUNAT's padrón (only a plain file:
    a pipe can be read once, and is checked as it is read)."""
    with contextlib.ExitStack() as stack:
        stream = _open_text(text, stack)
        line = stream.readline(4096)
    _check_header_line(line.decode(ENCODING), text.path)


def _check_header_line(line: str, source: Path) -> None:
    cells = line.rstrip("\r\n").split(SEPARATOR)
    if cells and cells[-1].strip() == "":
        cells.pop()
    if tuple(_fold(cell) for cell in cells) != tuple(_fold(cell) for cell in HEADER):
        if not line.strip():
            raise PadronError(f"{source} está vacío", source=str(source))
        shown = line.strip()[:120]
        raise PadronError(
            f"{source} no parece el padrón reducido de SUNAT: la primera línea es {shown!r}, "
            f"se esperaba {SEPARATOR.join(HEADER)!r}",
            source=str(source),
        )


#: What ``str.strip`` would remove from a field, in Latin-1 (CR and LF end lines: not
#: here), and a space next to a separator. A chunk holding none of them takes the fast
#: path whole; looking costs one ``in`` per string, a regular expression cost 40 times more.
_BLANKS: Final = (" |", "| ", "\t", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\xa0")


def _has_blanks(text: str) -> bool:
    return any(blank in text for blank in _BLANKS)


_WIDTH: Final = len(HEADER)


def _rows(
    chunks: Iterable[bytes], part: _Part, source: Path, header: bool, report: Callable[[int], None]
) -> Iterator[Sequence[str]]:
    """The well-formed lines as rows for ``_INSERT``; malformed ones counted in ``part``.

    A line with 15 fields, the trailing ``|``, an 11-digit RUC and no padding takes
    the fast path (a split); anything else goes through ``parse_line``, the one
    definition of a line.
    """
    done = 0
    pending = b""
    for chunk in chunks:
        done += len(chunk)
        data = pending + chunk
        cut = data.rfind(b"\n") + 1
        pending = data[cut:]
        text = data[:cut].decode(ENCODING)
        lines = text.split("\n")
        lines.pop()  # what followed the last newline: nothing
        if header and lines:
            _check_header_line(lines.pop(0), source)
            header = False
        part.lines += len(lines)
        padded = _has_blanks(text)
        for line in lines:
            parts = line.split(SEPARATOR)
            if (
                len(parts) == _WIDTH + 1
                and parts[_WIDTH] in ("", "\r")
                and len(parts[0]) == 11
                and parts[0].isdecimal()
                and not (padded and _has_blanks(line))
            ):
                del parts[_WIDTH]
                yield parts
                continue
            record = parse_line(line)
            if record is None or _ruc_key(record.ruc) is None:
                part.malformed += 1
            else:
                yield record
        report(done)
    if header:
        _check_header_line(pending.decode(ENCODING), source)
        raise PadronError(f"{source} no contiene ninguna línea del padrón", source=str(source))
    if pending.strip():  # a last line without its newline
        part.lines += 1
        record = parse_line(pending.decode(ENCODING))
        if record is None or _ruc_key(record.ruc) is None:
            part.malformed += 1
        else:
            yield record
    report(done)


def _create(path: Path) -> sqlite3.Connection:
    """A new database for a build: nothing to protect until the rename, so no journal and
    no syncs (one fsync before the rename)."""
    connection = sqlite3.connect(path, isolation_level=None)
    for pragma in (
        "journal_mode = OFF",
        "synchronous = OFF",
        "locking_mode = EXCLUSIVE",
        f"cache_size = -{_CACHE_KIB}",
        "temp_store = MEMORY",
    ):
        connection.execute(f"PRAGMA {pragma}")
    return connection


def _index_part(job: _Job, report: Callable[[int], None], tap: _Tap | None = None) -> _Part:
    """Carry out ``job``; ``report`` hears the bytes done, ``tap`` gets the bytes read (a
    source that can be read only once)."""
    import zipfile
    import zlib

    text, start, end, target = job.text, job.start, job.end, job.target
    part = _Part()
    connection = _create(target)
    try:
        for statement in _SCHEMA:
            connection.execute(statement)
        with contextlib.ExitStack() as stack:
            stream = _open_text(text, stack)
            if tap is not None:
                stream = cast(IO[bytes], _Tapped(stream, tap))
            chunks = _ranged(stream, text, start, end)
            connection.execute("BEGIN")
            connection.executemany(_INSERT, _rows(chunks, part, text.path, start == 0, report))
            if end is None:  # the whole member read: zipfile checks its CRC only at EOF
                stream.read(1)
            connection.execute("COMMIT")
        part.rows = connection.total_changes
        part.low, part.high = connection.execute("SELECT min(ruc), max(ruc) FROM padron").fetchone()
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:  # bad CRC, bad or cut data
        raise PadronError(f"{text.path} está dañado: {exc}", source=str(text.path)) from exc
    except OSError as exc:
        raise _unreadable(text.path, exc) from exc
    finally:
        connection.close()
    return part


class _Tap:
    """The sha256 and size of a source that can be read only once (a pipe), as it is read."""

    def __init__(self) -> None:
        import hashlib

        self.sha256 = hashlib.sha256()
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self.sha256.update(chunk)
        self.size += len(chunk)


class _Tapped(io.RawIOBase):
    """A binary stream whose bytes also go to a ``_Tap``."""

    def __init__(self, raw: IO[bytes], tap: _Tap) -> None:
        super().__init__()
        self._raw = raw
        self._tap = tap

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self._raw.read(size)
        self._tap.update(chunk)
        return chunk


def _worker(job: _Job, slot: int, done: Any, parent: int, answer: Any) -> None:
    """A worker process: one partition; sends back its ``_Part`` or the error's message.

    It stops when its parent is gone (``kill -9``): nobody would use its work.
    """

    def report(count: int) -> None:
        done[slot] = count
        if os.getppid() != parent:
            raise SystemExit(1)

    try:
        answer.send(_index_part(job, report))
    except PadronError as exc:
        answer.send(str(exc))
    except SystemExit:
        with contextlib.suppress(OSError):
            job.target.unlink()
    except BaseException as exc:  # the parent reports it
        answer.send(f"error interno al indexar el padrón: {type(exc).__name__}: {exc}")


def _source_date(path: Path) -> date:
    try:
        return date.fromtimestamp(path.stat().st_mtime)
    except OSError:
        return date.today()


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


def build_index(
    source: Path,
    directory: Path | None = None,
    *,
    fecha: date | None = None,
    fuente: str | None = None,
    progress: StepProgress | None = None,
    workers: int = 1,
) -> PadronInfo:
    """Index SUNAT's padrón from ``source`` (``.zip`` or ``.txt``) and make it the live one.

    ``fecha`` is the padrón's date (the download's ``Last-Modified``; default: the
    file's mtime); ``fuente`` what it came from (default: the file's path);
    ``workers`` how many processes share the work (the CLI gives one per CPU; a
    pipe is always read by one); they are started with ``multiprocessing``'s
    *spawn*, so a calling script needs the ``if __name__ == "__main__":`` guard.
    The old index stays live until the new one is complete and on disk; then one
    rename swaps them. Raises ``PadronError`` (the old index untouched) when the
    source cannot be read, is not SUNAT's padrón, or most of its lines are
    malformed, and when another build holds the lock.
    """
    from migo_cli.progress import NullStepProgress

    directory = directory or default_padron_dir()
    with build_lock(directory, str(source)):
        _remove_leftovers(directory)
        build = _Build(source, directory, progress or NullStepProgress(), workers)
        return build.run(fecha or _source_date(source), fuente or str(source))


@contextlib.contextmanager
def build_lock(directory: Path, source: str | None = None) -> Iterator[None]:
    """Hold the directory's build lock (creating the directory): one update at a time.

    Reentrant in one thread, so ``migo padron actualizar`` holds it from the download
    to the swap and ``build_index`` inside takes it again. Raises ``PadronError`` at
    once, without waiting, when another process holds it.
    """
    from filelock import FileLock, Timeout

    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PadronError(
            f"no se pudo crear la carpeta del padrón {directory}: {exc.strerror or exc}",
            source=source,
        ) from exc
    lock = FileLock(directory / LOCK_FILE, timeout=0, is_singleton=True)
    try:
        lock.acquire()
    except Timeout:
        raise PadronError(
            f"otra actualización del padrón está en curso en {directory}; espere a que termine",
            source=source,
        ) from None
    try:
        yield
    finally:
        lock.release()


class _Build:
    """One build, under the directory's lock: partitions, merge, metadata, swap."""

    def __init__(self, source: Path, directory: Path, progress: StepProgress, workers: int) -> None:
        self.source = source
        self.directory = directory
        self.progress = progress
        self.text = _locate(source)
        size = self.text.size
        self.parts = 1 if size is None or size < _MIN_PART_BYTES else max(1, workers)
        self.temporaries = [
            directory / f"{_TEMP_PREFIX}{os.getpid()}-{k}{_TEMP_SUFFIX}" for k in range(self.parts)
        ]

    def run(self, fecha: date, fuente: str) -> PadronInfo:
        try:
            return self._run(fecha, fuente)
        finally:
            for temporary in self.temporaries:
                with contextlib.suppress(OSError):
                    temporary.unlink()

    def _run(self, fecha: date, fuente: str) -> PadronInfo:
        text = self.text
        regular = text.size is not None
        if regular:
            _check_header(text)
        tap = None if regular else _Tap()
        hashed: dict[str, str] = {}
        hasher = None
        if regular:
            hasher = threading.Thread(
                target=lambda: hashed.setdefault("sha256", _file_sha256(self.source)),
                name="migo-padron-sha256",
                daemon=True,
            )
            hasher.start()
        self.progress.begin("Indexando el padrón", text.size)
        try:
            parts = self._index(tap)
        finally:
            self.progress.end()
        if hasher is not None:
            hasher.join()
        sha256 = hashed.get("sha256", "") if tap is None else tap.sha256.hexdigest()
        size = _size_of(self.source) if tap is None else tap.size
        lines = sum(part.lines for part in parts)
        malformed = sum(part.malformed for part in parts)
        if malformed * 2 > lines or not any(part.rows for part in parts):
            raise PadronError(
                f"{self.source}: {malformed:,} de {lines:,} líneas no tienen el formato del "
                "padrón; no se reemplazó el índice",
                source=str(self.source),
            )
        try:
            rows = self._finish(parts, fecha, fuente, (sha256, size), lines)
        except sqlite3.Error as exc:
            raise PadronError(
                f"no se pudo escribir el índice del padrón en {self.directory}: {exc}",
                source=str(self.source),
            ) from exc
        log.debug("padrón indexado: %s filas, %s líneas omitidas", rows, lines - rows)
        with PadronIndex.open(self.directory) as index:
            return index.info

    def _index(self, tap: _Tap | None) -> list[_Part]:
        """Every partition indexed: the first here, the others in worker processes."""
        size = self.text.size or 0
        bounds: list[int | None] = [size * k // self.parts for k in range(self.parts)]
        ends = [*bounds[1:], None]
        if self.parts == 1:
            return [
                _index_part(
                    _Job(self.text, 0, None, self.temporaries[0]), self.progress.update, tap
                )
            ]
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        done = context.RawArray("q", self.parts)
        workers = []
        for k in range(1, self.parts):
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(
                target=_worker,
                args=(
                    _Job(self.text, bounds[k] or 0, ends[k], self.temporaries[k]),
                    k,
                    done,
                    os.getpid(),
                    sender,
                ),
                name=f"migo-padron-{k}",
                daemon=True,
            )
            process.start()
            sender.close()
            workers.append((process, receiver))

        def report(count: int) -> None:
            done[0] = count
            self.progress.update(sum(done))

        try:
            parts = [_index_part(_Job(self.text, 0, ends[0], self.temporaries[0]), report)]
            for process, receiver in workers:
                while not receiver.poll(0.25):  # True also when the worker died
                    self.progress.update(sum(done))
                try:
                    answer = receiver.recv()
                except EOFError:
                    process.join()
                    raise PadronError(
                        f"un proceso auxiliar terminó sin indexar su parte de {self.source} "
                        f"(código {process.exitcode})",
                        source=str(self.source),
                    ) from None
                if isinstance(answer, str):
                    raise PadronError(answer, source=str(self.source))
                parts.append(answer)
                process.join()
        finally:
            for process, receiver in workers:
                receiver.close()
                if process.is_alive():
                    process.terminate()
                process.join()
        self.progress.update(size)
        return parts

    def _search(self, connection: sqlite3.Connection) -> None:
        """The name search, in the same file: the index and its search are swapped together."""
        from migo_cli.padron.search import build_search_index  # a lookup never needs it

        log.info("preparando la búsqueda por nombre")  # seconds: no bytes for a progress bar
        build_search_index(connection)

    def _finish(
        self, parts: list[_Part], fecha: date, fuente: str, source: tuple[str, int], lines: int
    ) -> int:
        """Merge the partitions into the first, write the metadata, swap; returns rows."""
        sha256, size = source
        temporary = self.temporaries[0]
        connection = _create(temporary)
        try:
            # Partitions of a file sorted by RUC hold disjoint ranges: a plain INSERT then
            # copies records as they are; otherwise OR IGNORE drops the repeated RUCs.
            spans = sorted(
                (p.low, p.high) for p in parts if p.low is not None and p.high is not None
            )
            disjoint = all(a[1] < b[0] for a, b in itertools.pairwise(spans))
            verb = "INSERT" if disjoint else "INSERT OR IGNORE"
            for other in self.temporaries[1:]:
                connection.execute("ATTACH DATABASE ? AS part", (str(other),))
                connection.execute("BEGIN")
                connection.execute(f"{verb} INTO padron SELECT * FROM part.padron")
                connection.execute("COMMIT")
                connection.execute("DETACH DATABASE part")
                other.unlink()
            rows = parts[0].rows + connection.total_changes
            connection.execute("BEGIN")
            self._search(connection)
            imported_at = datetime.now(UTC).astimezone()
            connection.execute(
                "INSERT INTO padron_info VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    fecha.isoformat(),
                    rows,
                    lines - rows,
                    sha256,
                    fuente,
                    size,
                    imported_at.isoformat(timespec="seconds"),
                ),
            )
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            connection.execute("COMMIT")
        finally:
            connection.close()
        _fsync(temporary)
        os.replace(temporary, self.directory / INDEX_FILE)
        _fsync(self.directory, directory=True)
        return rows


def _size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _file_sha256(path: Path) -> str:
    import hashlib

    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
