"""Result files for ``migo masivo``: streamed, atomic, safe to open in Excel.

The batch pipeline hands rows over one at a time, in final order; nothing here
keeps all rows in memory. Every file format writes to a hidden temporary file
next to the output (``temp_path_for``), flushes and fsyncs it, and only then
``os.replace``-s it onto the final name: a crash, a Ctrl-C or an exception never
leaves a half-written output, and an existing output stays as it was until the
new one is complete. ``Output.lock()`` keeps two runs from writing the same file.

Choices made here, beyond SPEC §4:

* ``.xlsx`` is written with xlsxwriter in ``constant_memory`` mode (each sheet
  streams its rows to a scratch file). Scratch files live in a hidden directory
  next to the output (``.<name>.migo-tmp.d``), not in the system temp dir, which
  is often a RAM-backed tmpfs; a rerun after ``kill -9`` clears a stale one.
* Excel holds at most 1,048,576 rows per sheet (``XLSX_MAX_ROWS``, header
  included). A sheet that fills up continues on a new sheet with the same header,
  named ``validos (2)``, ``validos (3)``, ...; continuation sheets come after the
  sheets that already exist (xlsxwriter cannot reorder sheets), ``resumen`` is
  always last. ZIP64 is allowed, so a sheet past 4 GB of XML does not fail.
* Rows whose ``estado_consulta`` is unknown go to ``errores`` in the split layout.
* ``write_changes`` (rows with a ``cambio``, given sorted just before ``close``)
  adds the ``cambios`` sheet to a split ``.xlsx``, and only when there are some;
  every other output already has those rows, with their ``cambio`` column.
* Data cells are text, except booleans (Excel booleans); the ``resumen`` sheet
  keeps numbers as numbers so that a person can compute with them.
* ``.csv`` writes booleans as ``TRUE``/``FALSE``: the spelling Excel itself uses in
  CSV, read as booleans by English-locale Excel, LibreOffice, pandas and Power
  Query, and readable as text in a Spanish-locale Excel (``VERDADERO`` would only
  help the latter and break every script and ERP import).
* Column headers are neutralised like values: with ``--enriquecer`` they come
  from the user's input file.
* ``.xlsx`` headers keep the machine names (scripts read them); a ``SheetStyle``
  adds a Spanish description of each column as a comment on its header, and
  colours the fit-to-invoice column of ``validos`` (``resultado`` with
  ``--enriquecer``): green when true, red when false on a ``valido`` row (a
  ``sin_consultar`` row is not unfit, only unchecked). The first column is frozen
  with the header when it is the RUC, so it stays in view while scrolling right.
* A nested mapping in the summary (``no_aptos_por_motivo``) becomes one
  ``resumen`` row per entry, ``clave: subclave``, numbers kept as numbers.
* The ``summary`` given to ``close()`` only goes into the ``.xlsx`` ``resumen``
  sheet; JSON and CSV outputs carry result rows only (``--json-resumen`` exists
  for the rest), and so does ``-`` (stdout carries data only).
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final, Literal, Protocol, TextIO

from filelock import FileLock, Timeout

from migo_cli.exceptions import OutputError, OutputLockedError

__all__ = [
    "CSV_FALSE",
    "CSV_TRUE",
    "OUTPUT_FORMATS",
    "STDOUT",
    "XLSX_MAX_ROWS",
    "Layout",
    "Output",
    "ResultWriter",
    "SheetStyle",
    "default_output",
    "lock_path_for",
    "neutralise",
    "open_writer",
    "temp_path_for",
    "write_summary",
]

OUTPUT_FORMATS: tuple[str, ...] = (".xlsx", ".csv", ".jsonl", ".json")

#: ``.xlsx`` sheets: ``split`` by estado (the default), ``single`` for --enriquecer.
Layout = Literal["split", "single"]

#: ``-o -``: JSONL on standard output, no file, no lock.
STDOUT: Final = "-"

#: Rows per sheet, header included (Excel's limit). Read at run time, so tests
#: can lower it to exercise continuation sheets.
XLSX_MAX_ROWS = 1_048_576

CSV_TRUE: Final = "TRUE"
CSV_FALSE: Final = "FALSE"

_TEMP_SUFFIX: Final = ".migo-tmp"
_FORMULA_STARTS: Final = "=+@\t\r-"
_IO_BUFFER: Final = 1 << 16
_SPLIT_SHEETS: Final = ("validos", "invalidos", "errores")
_SPLIT_ROUTES: Final[Mapping[str, str]] = {
    "valido": "validos",
    "sin_consultar": "validos",
    "no_existe": "invalidos",
    "formato_invalido": "invalidos",
    "error": "errores",
}
_SINGLE_SHEET: Final = "resultado"
_FIT_SHEET: Final = "validos"  # in the split layout, the one sheet where fitness varies
_SUMMARY_SHEET: Final = "resumen"
_CHANGES_SHEET: Final = "cambios"
_SUMMARY_COLUMNS: Final = ("campo", "valor")
#: Column widths come from the first rows of each sheet: enough to size them
#: well, and no per-cell cost for the rest of a long run.
_WIDTH_SAMPLE_ROWS: Final = 1000
_MIN_WIDTH: Final = 8
_MAX_WIDTH: Final = 60
#: Capitals are wider than Excel's width unit (a "0"), and SUNAT writes in capitals.
_CAPITALS_PER_EXTRA_UNIT: Final = 6
_FIT_STYLE: Final[Mapping[str, Any]] = {"bg_color": "#C6EFCE", "font_color": "#006100"}
_UNFIT_STYLE: Final[Mapping[str, Any]] = {"bg_color": "#FFC7CE", "font_color": "#9C0006"}
_COMMENT_OPTIONS: Final[Mapping[str, Any]] = {"x_scale": 2.2, "y_scale": 1.4}
_HEADER_STYLE: Final[Mapping[str, Any]] = {
    "bold": True,
    "bg_color": "#DDEBF7",
    "bottom": 1,
    "valign": "top",
}

# One encoder for every row: json.dumps with options builds a new one per call.
_JSON_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, default=str)


@dataclass(frozen=True, slots=True)
class SheetStyle:
    """What ``.xlsx`` sheets show beyond the values (other formats ignore it).

    ``notes``: header → a description for people, shown as a comment on the
    header cell. ``fit``: the fit-to-invoice column, coloured; ``status``: the
    ``estado_consulta`` column, so that only ``valido`` rows turn red.
    """

    notes: Mapping[str, str] = field(default_factory=dict)
    fit: str | None = None
    status: str | None = None


class ResultWriter(Protocol):
    """Where the pipeline puts result rows, one at a time, in final order."""

    path: Path | None

    def write(self, row: Mapping[str, Any]) -> None: ...

    def write_changes(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Rows already written that carry a ``cambio``, most serious first (before close)."""

    def close(self, summary: Mapping[str, Any]) -> None: ...

    def abort(self) -> None: ...


# --- paths ------------------------------------------------------------------


def temp_path_for(path: Path) -> Path:
    """The hidden temporary file for ``path``, in the same directory.

    Deterministic, so a rerun after ``kill -9`` overwrites the stale one, and on
    the same filesystem, so the final rename is atomic.
    """
    return path.with_name(f".{path.name}{_TEMP_SUFFIX}")


def lock_path_for(path: Path) -> Path:
    """The hidden lock file that guards ``path``."""
    return path.with_name(f".{path.name}.lock")


def _scratch_dir_for(path: Path) -> Path:
    return path.with_name(f".{path.name}{_TEMP_SUFFIX}.d")


def default_output(source: str | Path) -> str:
    """``clientes.xlsx`` → ``clientes_resultado.xlsx`` beside it; stdin (``-``) → stdout (``-``)."""
    if str(source) == STDOUT:
        return STDOUT
    path = Path(source)
    return str(path.with_name(f"{path.stem}_resultado.xlsx"))


def _resolve(destination: str | Path) -> Path:
    """The absolute output path, with its extension checked."""
    path = Path(destination)
    if path.suffix.lower() not in OUTPUT_FORMATS:
        supported = ", ".join(OUTPUT_FORMATS[:-1]) + f" o {OUTPUT_FORMATS[-1]}"
        raise OutputError(
            f"formato de salida no soportado: {str(destination)!r} "
            f"(use {supported}, o - para JSONL por la salida estándar)",
            path=str(destination),
        )
    return path.resolve()


_OS_REASONS: Final[Mapping[int, str]] = {
    errno.EACCES: "permiso denegado",
    errno.EPERM: "permiso denegado",
    errno.ENOSPC: "no queda espacio en el disco",
    errno.EROFS: "el sistema de archivos es de solo lectura",
    errno.ENOENT: "la ruta no existe",
    errno.ENOTDIR: "una parte de la ruta no es una carpeta",
    errno.EISDIR: "es una carpeta",
    errno.ENAMETOOLONG: "el nombre es demasiado largo",
    getattr(errno, "EDQUOT", errno.ENOSPC): "se agotó la cuota de disco",
}


def _os_reason(exc: OSError) -> str:
    """The OS error in Spanish, for a one-line message."""
    if isinstance(exc, PermissionError):
        return "permiso denegado"
    reason = _OS_REASONS.get(exc.errno) if exc.errno is not None else None
    return reason or exc.strerror or type(exc).__name__


def _check_writable(path: Path) -> None:
    """Prove that ``path`` can be written, without touching it.

    Creates and removes the temporary file next to it; an existing file is
    never opened.
    """
    parent = path.parent
    if not parent.exists():
        raise OutputError(f"no existe la carpeta de salida: {parent}", path=str(path))
    if not parent.is_dir():
        raise OutputError(f"la ruta de salida no está en una carpeta: {parent}", path=str(path))
    if path.is_dir():
        raise OutputError(f"la salida es una carpeta, no un archivo: {path}", path=str(path))
    if path.exists() and not path.is_file():
        # Replacing /dev/null or a FIFO by a regular file would be a surprise.
        raise OutputError(f"la salida no es un archivo común: {path}", path=str(path))
    temp = temp_path_for(path)
    try:
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            # A stale temp file, or one that a running migo is writing: leave it
            # alone and probe the directory under a name nobody else uses.
            fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=path.parent)
            os.close(fd)
            os.unlink(probe)
        else:
            os.close(fd)
            os.unlink(temp)
    except OSError as exc:
        raise OutputError(
            f"no se puede escribir la salida {path}: {_os_reason(exc)}", path=str(path)
        ) from None


@dataclass(frozen=True, slots=True)
class Output:
    """Where results go, checked once, before anything is paid for.

    ``path`` is the resolved file, or None for standard output (``-``: JSONL,
    no file, no lock); ``format`` is the extension that picks the writer
    (``.jsonl`` for standard output). Built by ``parse`` (or ``summary``), then
    handed as it is to ``lock()``, ``open_writer`` and ``write_summary``: none of
    them resolves or probes the path again.
    """

    path: Path | None
    format: str

    @classmethod
    def parse(cls, destination: str | Path | None, source: str | Path | None = None) -> Output:
        """``destination`` checked: extension, folder, writable, not the input ``source``.

        ``None`` means ``default_output(source)``. Raises ``OutputError`` (a
        one-line Spanish message) when results could not be written there.
        """
        if destination is None:
            if source is None:
                raise ValueError("an output needs a destination or a source to name it after")
            destination = default_output(source)
        if isinstance(destination, str) and destination == STDOUT:
            return cls(None, ".jsonl")
        path = _resolve(destination)
        _check_writable(path)
        if source is not None and Path(source).resolve() == path:
            raise OutputError(
                f"la salida {path} es el mismo archivo de entrada; elija otra con -o", str(path)
            )
        return cls(path, path.suffix.lower())

    @classmethod
    def summary(cls, destination: str | Path) -> Output:
        """The ``--json-resumen`` file: JSON whatever its name, never standard output."""
        path = Path(destination).resolve()
        try:
            _check_writable(path)
        except OutputError:
            raise OutputError(
                f"no se puede escribir el resumen en {destination}", str(destination)
            ) from None
        return cls(path, ".json")

    @property
    def is_stdout(self) -> bool:
        return self.path is None

    def __str__(self) -> str:
        return STDOUT if self.path is None else str(self.path)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the output's lock for a whole run; a second run gets OutputLockedError.

        Standard output is never locked. ``filelock.FileLock`` is an ``flock`` on
        POSIX (``LockFileEx`` on Windows): the kernel drops it when the holder
        dies, so ``kill -9`` never blocks a rerun. filelock 4.x never unlinks the
        lock file on POSIX; we unlink it ourselves, *while still holding the lock*
        and only if the path still names the file we locked. That is race-free
        because filelock 4.x checks after ``flock`` that the file it locked is
        still linked, and gives up when it is not: a contender that opened the
        old file can never hold it alongside one that created the new one.
        (Unlinking *after* unlocking is the classic race, so we never do that.)
        """
        path = self.path
        if path is None:
            yield
            return
        lock_path = lock_path_for(path)
        locked: list[os.stat_result] = []
        lock = FileLock(
            lock_path,
            timeout=0,
            thread_local=False,  # an asyncio run may release from another thread
            # A native descriptor only: no soft (pid-file) fallback, which kill -9
            # would leave behind.
            on_acquired=lambda fd: locked.append(os.fstat(fd)),
        )
        try:
            lock.acquire()
        except Timeout:
            raise OutputLockedError(
                f"otra ejecución de migo está escribiendo {path}; "
                "espere a que termine o elija otra salida con -o",
                path=str(path),
            ) from None
        except OSError as exc:
            raise OutputError(
                f"no se puede bloquear la salida {path} ({lock_path.name}): {_os_reason(exc)}",
                path=str(path),
            ) from None
        try:
            yield
        finally:
            try:
                if locked and sys.platform != "win32":  # Windows: filelock unlinks it itself
                    with contextlib.suppress(OSError):
                        if os.path.samestat(os.stat(lock_path), locked[-1]):
                            os.unlink(lock_path)
            finally:
                lock.release()


# --- cell values --------------------------------------------------------------


def neutralise(text: str) -> str:
    """Keep a spreadsheet from running ``text`` as a formula (SPEC §4).

    APIMIGO's ``-`` placeholder is left as it is.
    """
    if text and text[0] in _FORMULA_STARTS and text != "-":
        return "'" + text
    return text


def _as_text(value: Any) -> str:
    """A non-bool value as cell text: JSON for containers, ``""`` for None."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, (Mapping, list, tuple)):
        return _JSON_ENCODER.encode(value if not isinstance(value, Mapping) else dict(value))
    return str(value)


# --- atomic files -------------------------------------------------------------


class _AtomicFile:
    """A temporary file next to ``path`` that becomes ``path`` only on commit.

    ``label`` names the file in error messages (``la salida X``, ``el resumen en X``).
    """

    def __init__(self, path: Path, label: str = "la salida") -> None:
        self.path = path
        self.temp = temp_path_for(path)
        self.label = label

    def create(self) -> int:
        """Create the temp file afresh (a stale one from a killed run is dropped)."""
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.temp)
            return os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError as exc:
            raise self.error("no se puede crear", exc) from None

    def commit(self, *, synced: bool = False) -> None:
        """fsync the temp file (unless ``synced``), rename it onto ``path``, fsync the directory."""
        try:
            if not synced:
                fd = os.open(self.temp, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            os.replace(self.temp, self.path)
        except OSError as exc:
            self.discard()
            hint = " (¿está abierto en otro programa?)" if isinstance(exc, PermissionError) else ""
            raise self.error("no se pudo completar", exc, hint) from None
        _fsync_directory(self.path.parent)

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.temp)

    def error(self, doing: str, exc: OSError, hint: str = "") -> OutputError:
        return OutputError(
            f"{doing} {self.label} {self.path}: {_os_reason(exc)}{hint}", path=str(self.path)
        )


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX; a no-op where directories cannot be opened)."""
    if sys.platform == "win32":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class _TextFileWriter:
    """Shared plumbing of the text formats: a buffered file on the temp path."""

    encoding = "utf-8"

    def __init__(self, path: Path) -> None:
        self.path: Path | None = path
        self._target = _AtomicFile(path)
        fd = self._target.create()
        # errors="replace": a lone surrogate in some upstream text must not sink the run.
        self._file: IO[str] = os.fdopen(
            fd, "w", encoding=self.encoding, errors="replace", newline="", buffering=_IO_BUFFER
        )
        self._done = False

    def _finish(self) -> None:
        """Write what goes after the last row."""

    def write_changes(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Nothing to add: the rows are in the file, ``cambio`` column included."""

    def close(self, summary: Mapping[str, Any]) -> None:
        if self._done:
            return
        try:
            self._finish()
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
        except OSError as exc:
            self.abort()
            raise self._target.error("no se pudo escribir", exc) from None
        self._done = True
        self._target.commit(synced=True)

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        with contextlib.suppress(OSError):
            self._file.close()
        self._target.discard()

    def _fail(self, exc: OSError) -> OutputError:
        return self._target.error("no se pudo escribir", exc)


class _JsonlWriter(_TextFileWriter):
    """One JSON object a line: the hot path, one encode and one buffered write a row."""

    def write(self, row: Mapping[str, Any]) -> None:
        try:
            self._file.write(_JSON_ENCODER.encode(row if type(row) is dict else dict(row)) + "\n")
        except OSError as exc:
            raise self._fail(exc) from None


class _JsonArrayWriter(_TextFileWriter):
    """One JSON array, streamed: ``[``, rows separated by ``,\\n``, ``]``."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._separator = "\n"
        self._file.write("[")

    def write(self, row: Mapping[str, Any]) -> None:
        try:
            self._file.write(
                self._separator + _JSON_ENCODER.encode(row if type(row) is dict else dict(row))
            )
        except OSError as exc:
            raise self._fail(exc) from None
        self._separator = ",\n"

    def _finish(self) -> None:
        self._file.write("\n]\n" if self._separator == ",\n" else "]\n")


class _CsvWriter(_TextFileWriter):
    """One table, UTF-8 with BOM (so Excel detects the encoding), ``,`` delimiter."""

    encoding = "utf-8-sig"

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        super().__init__(path)
        self._columns = tuple(columns)
        self._csv = csv.writer(self._file, dialect="excel")
        try:
            self._csv.writerow([neutralise(name) for name in self._columns])
        except OSError as exc:
            self.abort()
            raise self._fail(exc) from None

    def write(self, row: Mapping[str, Any]) -> None:
        cells: list[str] = []
        append = cells.append
        get = row.get
        for name in self._columns:
            value = get(name)
            if value is True:
                append(CSV_TRUE)
            elif value is False:
                append(CSV_FALSE)
            else:
                append(neutralise(_as_text(value)))
        try:
            self._csv.writerow(cells)
        except OSError as exc:
            raise self._fail(exc) from None


class _StdoutWriter:
    """``-o -``: JSONL straight to a stream; nothing to rename, nothing to drop.

    JSON Lines is UTF-8 by definition, so ``sys.stdout`` is switched to UTF-8 when
    the locale says otherwise (Windows with output redirected to a file: cp1252).
    """

    def __init__(self, stream: TextIO) -> None:
        self.path: Path | None = None
        self._stream = stream

    def write(self, row: Mapping[str, Any]) -> None:
        try:
            self._stream.write(_JSON_ENCODER.encode(row if type(row) is dict else dict(row)) + "\n")
        except OSError as exc:
            raise _stdout_error(exc) from None

    def write_changes(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Nothing to add: the rows went out already, ``cambio`` included."""

    def close(self, summary: Mapping[str, Any]) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            raise _stdout_error(exc) from None

    def abort(self) -> None:
        # What was written is already out; make sure it is not stuck in a buffer.
        with contextlib.suppress(OSError, ValueError):
            self._stream.flush()


def _stdout_error(exc: OSError) -> OutputError:
    if isinstance(exc, BrokenPipeError):
        return OutputError("la salida estándar se cerró antes de terminar", path=STDOUT)
    return OutputError(f"no se pudo escribir en la salida estándar: {_os_reason(exc)}", path=STDOUT)


# --- xlsx -------------------------------------------------------------------


def _text_width(text: str) -> int:
    return len(text) + sum(1 for c in text if c.isupper()) // _CAPITALS_PER_EXTRA_UNIT


class _SheetSeries:
    """One logical sheet (``validos``...), continued on ``validos (2)``... when full."""

    def __init__(
        self,
        book: Any,
        name: str,
        columns: Sequence[str],
        header_format: Any,
        style: SheetStyle,
        *,
        colour_fit: bool,
    ) -> None:
        self._book = book
        self._name = name
        self._columns = tuple(columns)
        self._indexed = tuple(enumerate(self._columns))
        self._header_format = header_format
        self._notes = style.notes
        self._fit_rule = self._fit_rules(style) if colour_fit else None
        self._sheets: list[tuple[Any, int]] = []  # (worksheet, rows including header)
        self._sheet: Any = None
        self._row = 0
        self._sampled = 0
        self._widths = [len(name) + 3 for name in self._columns]  # room for the filter button
        self._start_sheet()

    def _start_sheet(self) -> None:
        if self._sheet is not None:
            self._sheets.append((self._sheet, self._row))
        part = len(self._sheets) + 1
        title = self._name if part == 1 else f"{self._name} ({part})"
        sheet = self._book.add_worksheet(title)
        for col, name in self._indexed:
            sheet.write_string(0, col, neutralise(name), self._header_format)
            note = self._notes.get(name)
            if note:
                sheet.write_comment(0, col, f"{name}: {note}", dict(_COMMENT_OPTIONS))
        sheet.set_comments_author("migo")
        sheet.freeze_panes(1, 1 if self._columns[:1] == ("ruc",) else 0)
        self._sheet = sheet
        self._row = 1

    def write(self, row: Mapping[str, Any]) -> None:
        if self._row >= XLSX_MAX_ROWS:
            self._start_sheet()
        sheet, r, get = self._sheet, self._row, row.get
        write_string = sheet.write_string
        measure = self._sampled < _WIDTH_SAMPLE_ROWS
        for col, name in self._indexed:
            value = get(name)
            if value is None or value == "":
                continue
            if value is True or value is False:
                sheet.write_boolean(r, col, value)
                continue
            text = neutralise(_as_text(value))
            if not text:
                continue
            write_string(r, col, text)
            if measure:
                width = _text_width(text)
                self._widths[col] = max(self._widths[col], width)
        self._row = r + 1
        self._sampled += 1

    def finish(self) -> None:
        """Filters and widths: known only once every row is in."""
        sheets = [*self._sheets, (self._sheet, self._row)]
        last_col = len(self._columns) - 1
        for sheet, rows in sheets:
            sheet.autofilter(0, 0, rows - 1, last_col)
            for col, width in enumerate(self._widths):
                sheet.set_column(col, col, min(max(width + 2, _MIN_WIDTH), _MAX_WIDTH))
            if self._fit_rule is not None and rows > 1:
                col, rules = self._fit_rule
                for rule in rules:
                    sheet.conditional_format(1, col, rows - 1, col, rule)

    def _fit_rules(self, style: SheetStyle) -> tuple[int, list[dict[str, Any]]] | None:
        """Green for a true ``fit`` cell; red for a false one on a ``valido`` row."""
        from xlsxwriter.utility import xl_col_to_name

        if style.fit not in self._columns:
            return None
        col = self._columns.index(style.fit)
        cell = f"{xl_col_to_name(col)}2"  # relative: Excel shifts it down the range
        unfit = f"={cell}=FALSE"
        if style.status in self._columns:
            status = f"${xl_col_to_name(self._columns.index(style.status))}2"
            unfit = f'=AND({cell}=FALSE,{status}="valido")'
        fit_format = self._book.add_format(dict(_FIT_STYLE))
        unfit_format = self._book.add_format(dict(_UNFIT_STYLE))
        return col, [
            {"type": "formula", "criteria": f"={cell}=TRUE", "format": fit_format},
            {"type": "formula", "criteria": unfit, "format": unfit_format},
        ]


class _XlsxWriter:
    """Sheets per SPEC §4, each streamed (xlsxwriter ``constant_memory``)."""

    # Measured on 100,000 OUTPUT_COLUMNS rows: xlsxwriter (constant_memory) 9.1 s,
    # openpyxl (write_only) 14.0 s for an equivalent file, so xlsxwriter it is.

    def __init__(self, path: Path, columns: Sequence[str], layout: Layout, style: SheetStyle):
        import xlsxwriter  # here, not at the top: only an .xlsx output pays for it

        self.path: Path | None = path
        self._style = style
        self._target = _AtomicFile(path)
        os.close(self._target.create())  # fail now, not after the run
        self._scratch = _scratch_dir_for(path)
        self._done = False
        self._book: Any = xlsxwriter.Workbook(
            str(self._target.temp),
            {"constant_memory": True, "tmpdir": str(self._scratch), "use_zip64": True},
        )
        self._header_format = self._book.add_format(dict(_HEADER_STYLE))
        self._columns = tuple(columns)
        self._layout = layout
        self._series: dict[str, _SheetSeries] = {}
        self._route: Callable[[Mapping[str, Any]], _SheetSeries]
        try:
            shutil.rmtree(self._scratch, ignore_errors=True)  # a stale one from kill -9
            self._scratch.mkdir()
            if layout == "single":
                only = self._add_series(_SINGLE_SHEET, columns, colour_fit=True)
                self._route = lambda _row: only
            else:
                for name in _SPLIT_SHEETS:
                    self._add_series(name, columns, colour_fit=name == _FIT_SHEET)
                by_status: dict[object, _SheetSeries] = {
                    status: self._series[name] for status, name in _SPLIT_ROUTES.items()
                }
                fallback = self._series["errores"]
                self._route = lambda row: by_status.get(row.get("estado_consulta"), fallback)
        except OSError as exc:
            self.abort()
            raise self._target.error("no se puede preparar", exc) from None

    def _add_series(self, name: str, columns: Sequence[str], *, colour_fit: bool) -> _SheetSeries:
        series = _SheetSeries(
            self._book, name, columns, self._header_format, self._style, colour_fit=colour_fit
        )
        self._series[name] = series
        return series

    def write(self, row: Mapping[str, Any]) -> None:
        try:
            self._route(row).write(row)
        except OSError as exc:
            raise self._target.error("no se pudo escribir", exc) from None

    def write_changes(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """The ``cambios`` sheet of the split layout: the night's news, in the order given."""
        if self._layout != "split" or not rows:
            return
        series = self._add_series(_CHANGES_SHEET, self._columns, colour_fit=True)
        try:
            for row in rows:
                series.write(row)
        except OSError as exc:
            raise self._target.error("no se pudo escribir", exc) from None

    def close(self, summary: Mapping[str, Any]) -> None:
        import xlsxwriter.exceptions

        if self._done:
            return
        try:
            for series in self._series.values():
                series.finish()
            self._write_summary(summary)
            self._book.close()
        except (OSError, xlsxwriter.exceptions.XlsxWriterException) as exc:
            self.abort()
            cause = exc if isinstance(exc, OSError) else OSError(str(exc))
            raise self._target.error("no se pudo escribir", cause) from None
        self._done = True
        shutil.rmtree(self._scratch, ignore_errors=True)
        self._target.commit()

    def _write_summary(self, summary: Mapping[str, Any]) -> None:
        sheet = self._book.add_worksheet(_SUMMARY_SHEET)
        for col, name in enumerate(_SUMMARY_COLUMNS):
            sheet.write_string(0, col, name, self._header_format)
        widths = [len(name) + 3 for name in _SUMMARY_COLUMNS]
        row = 0
        for row, (key, value) in enumerate(_flat(summary), start=1):
            field = neutralise(key)
            sheet.write_string(row, 0, field)
            widths[0] = max(widths[0], len(field))
            if value is True or value is False:
                sheet.write_boolean(row, 1, value)
            elif isinstance(value, (int, float)) and math.isfinite(value):
                sheet.write_number(row, 1, value)
            elif value is not None:
                text = neutralise(_as_text(value))
                sheet.write_string(row, 1, text)
                widths[1] = max(widths[1], len(text))
        sheet.freeze_panes(1, 0)
        sheet.autofilter(0, 0, row, 1)
        for col, width in enumerate(widths):
            sheet.set_column(col, col, min(max(width + 2, _MIN_WIDTH), _MAX_WIDTH))

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        # xlsxwriter cannot drop a workbook: its one public exit, close(), would first
        # assemble the whole file (seconds to minutes after a long run, on a path that
        # must be quick: a second Ctrl-C). So the workbook is left unclosed, and each
        # sheet's constant_memory scratch file (``row_data_fh``: not a private name, but
        # not documented either; if it goes, the collector closes the files) is closed
        # here, so that the directory can go (Windows) and no open file is left for the
        # garbage collector to warn about.
        for sheet in self._book.worksheets():
            scratch = getattr(sheet, "row_data_fh", None)
            if scratch is not None:
                with contextlib.suppress(OSError):
                    scratch.close()
        shutil.rmtree(self._scratch, ignore_errors=True)
        self._target.discard()


def _flat(summary: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """``{"a": 1, "b": {"x": 2}}`` → ``a``, ``b: x``: one ``resumen`` row per value."""
    for key, value in summary.items():
        if isinstance(value, Mapping):
            for inner, item in value.items():
                yield f"{key}: {inner}", item
        else:
            yield str(key), value


# --- entry point --------------------------------------------------------------


def open_writer(
    output: Output | str | Path,
    *,
    columns: Sequence[str],
    layout: Layout = "split",
    stdout: TextIO | None = None,
    style: SheetStyle | None = None,
) -> ResultWriter:
    """A writer for ``output``, chosen by its format (standard output: JSONL).

    A path (or ``-``) is checked with ``Output.parse`` first; an ``Output`` is
    taken as checked. ``columns`` orders the ``.xlsx``/``.csv`` tables; JSON
    formats write every key of each row. Take ``Output.lock()`` first: this
    replaces a stale temp file.
    """
    if layout not in ("split", "single"):
        raise ValueError(f"unknown layout: {layout!r}")
    if not isinstance(output, Output):
        output = Output.parse(output)
    path = output.path
    if path is None:
        if stdout is None:
            stdout = sys.stdout
            encoding = (getattr(stdout, "encoding", None) or "").lower().replace("-", "")
            if encoding != "utf8" and isinstance(stdout, io.TextIOWrapper):
                with contextlib.suppress(ValueError, OSError):
                    stdout.reconfigure(encoding="utf-8")
        return _StdoutWriter(stdout)
    if output.format == ".jsonl":
        return _JsonlWriter(path)
    if output.format == ".json":
        return _JsonArrayWriter(path)
    if output.format == ".csv":
        return _CsvWriter(path, columns)
    return _XlsxWriter(path, columns, layout, style or SheetStyle())


def write_summary(output: Output, summary: Mapping[str, Any]) -> None:
    """``summary`` as indented JSON, written atomically like every output (fsync, rename)."""
    path = output.path
    if path is None:
        raise ValueError("a summary is written to a file")
    data = json.dumps(summary, ensure_ascii=False, indent=2) + "\n"
    target = _AtomicFile(path, "el resumen en")
    fd = target.create()
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
    except OSError as exc:
        target.discard()
        raise target.error("no se pudo escribir", exc) from None
    target.commit(synced=True)
