"""Input files to the raw values of their RUC column, in row order.

Accounting and ERP teams hand over whatever their tools export: CSV with ``;``
or tabs, cp1252 text from old Windows programs, Excel sheets where RUCs are
numeric cells, JSON from other systems. This module only *finds* the RUC
column and delivers its cells untouched (numbers as ``int``/``float``, never
as text a spreadsheet or this reader rewrote); normalising and validating the
values is ``migo_cli.ruc``'s job.

Every problem with the input (missing, unreadable, empty, binary, wrong shape,
no RUC column) surfaces as one ``InputError`` with a one-line Spanish message,
never as a library's exception: the CLI prints it and exits 2.

Excel goes through python-calamine directly. Measured on a 100,000-row .xlsx
(numeric RUC cells, two text columns and an amount; best of 3 runs of
``time.perf_counter`` around the read plus the int/float conversion of the RUC
column): calamine 0.33 s (0.45 s as pandas' ``engine="calamine"``), openpyxl
3.2 s read-only (4.0 s as pandas' ``engine="openpyxl"``), with identical values.
One difference: calamine reads error cells (``#N/A``) as blank, openpyxl as
their text, so such a cell is skipped rather than reported as malformed.

Delimited text goes through the stdlib ``csv`` module with the rules pandas'
C engine applied before it (see ``_parse_delimited``). pandas (only for a kept
table, ``--enriquecer``) and python-calamine (Excel) are imported by the
functions that use them: ``migo masivo`` pays only for the format it reads.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import math
import re
import stat
import sys
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

from migo_cli.exceptions import InputError
from migo_cli.numfmt import format_number

if TYPE_CHECKING:  # imported where used: only a kept table needs pandas, only Excel calamine
    import pandas as pd
    import python_calamine

__all__ = ["SUPPORTED_INPUTS", "InputTable", "read_input"]

SUPPORTED_INPUTS: tuple[str, ...] = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".json", ".jsonl")

STDIN = "-"
_STDIN_LABEL = "la entrada estándar"
#: Name of the column of a one-value-a-line input that had no header line.
VALUE_COLUMN = "entrada"

_SNIFF_BYTES = 64 * 1024
_SNIFF_ROWS = 50
_DELIMITERS = (",", ";", "\t", "|")
# Excel reports often carry a title block above the real header.
_HEADER_SEARCH_ROWS = 20
_MAX_TITLE_CELLS = 2
_MAX_LISTED = 15


@dataclass(slots=True)
class InputTable:
    """The RUC column of an input, and optionally the whole table it came from.

    ``values`` has one entry per data row, blanks included (``None`` or ``""``),
    so that position ``i`` is row ``i`` of ``frame``.
    """

    values: list[object]
    column: str | None
    source: str
    frame: pd.DataFrame | None = None


def read_input(
    source: str | Path,
    *,
    column: str | None = None,
    sheet: str | None = None,
    keep_table: bool = False,
    stdin: BinaryIO | None = None,
) -> InputTable:
    """Read ``source`` (``"-"``: standard input) into the raw values of its RUC column.

    ``column`` names the RUC column (else it is found by its header), ``sheet``
    the Excel sheet (else the first visible one). With ``keep_table`` the whole
    input comes back as ``frame`` (strings, header kept) for ``--enriquecer``.
    Raises ``InputError`` and nothing else for any content.
    """
    label = str(source)
    try:
        if label == STDIN:
            table = _read_stdin(stdin, column=column, sheet=sheet, keep_table=keep_table)
        else:
            table = _read_path(
                Path(source), label, column=column, sheet=sheet, keep_table=keep_table
            )
        _require_values(table)
    except InputError as exc:
        exc.path = label  # stdin's messages say "la entrada estándar"; the path stays "-"
        raise
    except Exception as exc:
        # Last line of defence: whatever a parser throws at odd content is still
        # bad input for the user, not a traceback.
        raise InputError(f"no se pudo leer {label}: {_detail(exc)}", path=label) from exc
    return table


# -- sources ---------------------------------------------------------------------


def _read_path(
    path: Path, label: str, *, column: str | None, sheet: str | None, keep_table: bool
) -> InputTable:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InputError(f"no existe el archivo de entrada {label}", path=label) from None
    except PermissionError:
        raise InputError(f"no hay permiso para acceder a {label}", path=label) from None
    except (OSError, ValueError) as exc:
        raise InputError(f"no se pudo abrir {label}: {_detail(exc)}", path=label) from exc
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"{label} es una carpeta, no un archivo", path=label)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_INPUTS:
        raise InputError(_unsupported_message(label, suffix), path=label)
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{label} no es un archivo común", path=label)
    if info.st_size == 0:
        raise InputError(f"el archivo {label} está vacío", path=label)
    try:
        with path.open("rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except PermissionError:
        raise InputError(f"no hay permiso para leer {label}", path=label) from None
    except OSError as exc:
        raise InputError(f"no se pudo leer {label}: {_detail(exc)}", path=label) from exc

    if suffix in (".csv", ".tsv"):
        preferred = "\t" if suffix == ".tsv" else ","
        return _read_delimited(
            path, label, head, column=column, keep_table=keep_table, preferred=preferred
        )
    if suffix in (".xlsx", ".xlsm"):
        return _read_excel(path, label, head, column=column, sheet=sheet, keep_table=keep_table)
    data = head if len(head) < _SNIFF_BYTES else path.read_bytes()
    text = _decode(data, label)
    if suffix == ".json":
        return _read_json(text, label, column=column, keep_table=keep_table)
    if suffix == ".jsonl":
        return _read_jsonl(text, label, column=column, keep_table=keep_table)
    return _read_lines(text, label, column=column, keep_table=keep_table)


def _read_stdin(
    stream: BinaryIO | None, *, column: str | None, sheet: str | None, keep_table: bool
) -> InputTable:
    """Standard input: one value a line, or a CSV / Excel workbook piped in whole."""
    label = _STDIN_LABEL
    if stream is None:
        stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise InputError("no hay entrada estándar para leer", path=STDIN)
    try:
        data = stream.read()
    except (OSError, ValueError) as exc:
        raise InputError(
            f"no se pudo leer la entrada estándar: {_detail(exc)}", path=STDIN
        ) from exc
    if not data.strip():
        raise _empty_error(label)
    if data.startswith(b"PK"):
        head = data[:_SNIFF_BYTES]
        table = _read_excel(
            io.BytesIO(data), label, head, column=column, sheet=sheet, keep_table=keep_table
        )
    else:
        table = _read_lines(_decode(data, label), label, column=column, keep_table=keep_table)
    table.source = STDIN
    return table


# -- text and encodings ------------------------------------------------------------

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "un archivo comprimido ZIP (¿un libro Excel?)"),
    (b"PK\x05\x06", "un archivo comprimido ZIP vacío"),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "un libro de Excel antiguo (.xls) o protegido con contraseña",
    ),
    (b"\x89PNG", "una imagen PNG"),
    (b"\xff\xd8\xff", "una imagen JPEG"),
    (b"GIF8", "una imagen GIF"),
    (b"%PDF", "un documento PDF"),
    (b"\x1f\x8b", "un archivo comprimido gzip"),
    (b"Rar!", "un archivo comprimido RAR"),
    (b"7z\xbc\xaf", "un archivo comprimido 7z"),
)


def _binary_kind(head: bytes) -> str | None:
    """What a non-text file looks like, for a message the user can act on."""
    for magic, kind in _SIGNATURES:
        if head.startswith(magic):
            return kind
    if b"\x00" in head:
        return "datos binarios"
    return None


def _encoding_of(head: bytes, label: str) -> str:
    """The encoding to try first: BOMs decide, else UTF-8 unless the head says cp1252."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"  # Excel's "Texto Unicode" export
    kind = _binary_kind(head)
    if kind is not None:
        raise InputError(f"{label} no es un archivo de texto: parece {kind}", path=label)
    try:
        # final=False: a character cut at the end of the sample is not an error.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def _fallbacks(encoding: str) -> tuple[str, ...]:
    return (encoding,) if encoding == "utf-16" else (encoding, "cp1252")


def _undecodable(label: str) -> InputError:
    return InputError(
        f"no se pudo decodificar {label}: no es texto UTF-8 ni Windows-1252", path=label
    )


def _decode(data: bytes, label: str) -> str:
    for encoding in _fallbacks(_encoding_of(data[:_SNIFF_BYTES], label)):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            raise InputError(
                f"{label} no es un archivo de texto: contiene datos binarios", path=label
            )
        return text
    raise _undecodable(label)


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _split_lines(text: str) -> list[str]:
    """Lines as any platform ends them (old Mac exports end lines with CR alone)."""
    return _LINE_BREAK.split(text)


def _sniff_delimiter(sample: str, preferred: str, *, complete: bool) -> str | None:
    """The delimiter that splits the header into most-consistent rows, or None.

    Counting parsed fields (quotes respected) over the first rows beats
    ``csv.Sniffer``, which guesses wrong on short or quote-free files.
    ``complete``: the sample is the whole input, so its last line is not cut
    in the middle.
    """
    lines = sample if complete else sample[: max(sample.rfind("\n"), sample.rfind("\r"), 0)]
    best: tuple[float, int, int] | None = None
    choice: str | None = None
    order = (preferred, *(d for d in _DELIMITERS if d != preferred))
    for rank, delimiter in enumerate(order):
        reader = csv.reader(io.StringIO(lines, newline=""), delimiter=delimiter)
        try:
            rows = [row for row in reader if any(cell.strip() for cell in row)][:_SNIFF_ROWS]
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        consistency = sum(len(row) == width for row in rows) / len(rows)
        score = (consistency, width, -rank)
        if best is None or score > best:
            best, choice = score, delimiter
    return choice


# -- column detection --------------------------------------------------------------

_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_WORD = re.compile(r"[a-z]+|[0-9]+")
# Words that, next to "ruc", still mean "the RUC number".
_NUMBER_WORDS = frozenset({"n", "no", "nro", "nr", "num", "numero", "de", "del", "el"})
# Words that make a header a fact *about* the RUC rather than the RUC itself.
_ABOUT_WORDS = frozenset(
    {
        "estado", "condicion", "fecha", "tipo", "nombre", "razon", "social", "direccion",
        "digito", "verificador", "habido", "activo", "valido", "validacion", "situacion",
        "observacion", "observaciones", "resultado",
    }
)  # fmt: skip


def _tokens(header: str) -> list[str]:
    """Accent-free lowercase words: 'Número de RUC' -> ['numero', 'de', 'ruc']."""
    text = unicodedata.normalize("NFKD", _CAMEL.sub(" ", header))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    words: list[str] = []
    for word in _WORD.findall(text):
        # Glued forms: 'nroruc', 'numeroruc', 'rucs'.
        if word == "rucs" or (word.endswith("ruc") and word[:-3] in _NUMBER_WORDS):
            words.extend(w for w in (word[:-3] if word != "rucs" else "", "ruc") if w)
        else:
            words.append(word)
    return words


def _header_key(header: str) -> str:
    return "".join(_tokens(header))


def _ruc_rank(header: str) -> int | None:
    """How surely a header names the RUC column (0 best), None when it does not."""
    words = _tokens(header)
    if "".join(words) == "ruc":  # RUC, ruc, R.U.C., 'RUC:'
        return 0
    if "ruc" not in words:
        return None
    others = [w for w in words if w != "ruc"]
    if all(w in _NUMBER_WORDS for w in others):  # Nro. RUC, N° RUC, Número de RUC
        return 1
    if not any(w in _ABOUT_WORDS for w in others):  # RUC cliente, ruc_proveedor
        return 2
    return 3  # Estado RUC: only if nothing better


def _find_column(headers: Sequence[str], column: str | None) -> int | None:
    """Index of the RUC column among ``headers`` (explicit ``column`` first), or None."""
    if column is not None:
        wanted = column.strip().casefold()
        key = _header_key(column)
        tests: tuple[Callable[[str], bool], ...] = (
            lambda h: h == column,
            lambda h: h.strip().casefold() == wanted,
            lambda h: bool(key) and _header_key(h) == key,
        )
        for test in tests:
            for index, header in enumerate(headers):
                if test(header):
                    return index
        return None
    ranks = [_ruc_rank(header) for header in headers]
    ranked = [(rank, index) for index, rank in enumerate(ranks) if rank is not None]
    return min(ranked)[1] if ranked else None


_NUMBER_TEXT = re.compile(r"\+?[0-9](?:[0-9 .,\-\u00a0]*[0-9])?(?:[eE][+-]?[0-9]+)?")


def _is_number(value: object) -> bool:
    """Whether a would-be header cell is really a value (a file without header)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return bool(_NUMBER_TEXT.fullmatch(str(value).strip()))


def _no_column_error(label: str, headers: Sequence[str], column: str | None) -> InputError:
    seen = _show([h for h in headers if h.strip()])
    if column is not None:
        return InputError(
            f"no existe la columna {_quote(column)} en {label}; columnas encontradas: {seen}",
            path=label,
        )
    return InputError(
        f"no se encontró la columna de RUC en {label}; columnas encontradas: {seen} "
        "(indique cuál con --columna)",
        path=label,
    )


# -- CSV / TSV -----------------------------------------------------------------------

_SEP_HINT = re.compile(r"sep=([,;\t|])[ \t]*(?:\r\n|\r|\n)", re.IGNORECASE)


def _read_delimited(
    path: Path, label: str, head: bytes, *, column: str | None, keep_table: bool, preferred: str
) -> InputTable:
    encoding = _encoding_of(head, label)
    sample = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=False)
    complete = len(head) < _SNIFF_BYTES
    if complete and not sample.strip():
        raise _empty_error(label)
    hint = _SEP_HINT.match(sample)  # Excel's own "sep=;" first line
    if hint is not None:
        delimiter = hint.group(1)
    else:
        delimiter = _sniff_delimiter(sample, preferred, complete=complete) or preferred
    for attempt in _fallbacks(encoding):
        try:
            return _parse_delimited(
                path,
                label,
                encoding=attempt,
                delimiter=delimiter,
                column=column,
                keep_table=keep_table,
                skip_first=hint is not None,
            )
        except UnicodeDecodeError:
            continue
    raise _undecodable(label)


def _parse_delimited(
    source: Path | str,
    label: str,
    *,
    encoding: str,
    delimiter: str,
    column: str | None,
    keep_table: bool,
    skip_first: bool = False,
) -> InputTable:
    """The stdlib ``csv`` reader, giving the rows pandas' C engine gave before it.

    pandas cost a ``migo masivo`` on a CSV about 0.5 s of start-up and 0.4 CPU-s
    (issue 11); the rules it applied are kept here, each pinned by a test that
    compares with ``pandas.read_csv``: blank and whitespace-only lines skipped,
    short rows padded with "", cells past the header's width dropped, headers
    named as pandas names them, a single header-less column of numbers read
    whole, and an unclosed quote reported with the line it starts on.
    """
    if isinstance(source, str):
        text = source
    else:
        with source.open(encoding=encoding, newline="") as fh:  # quoted CRLFs kept as they are
            text = fh.read()
    rows, lines, unclosed = _csv_rows(text, label, delimiter, skip_first=skip_first)
    if not rows:
        raise _empty_error(label)

    if len(rows) <= 2:  # pandas read the header and the first row before anything else
        _raise_unclosed(label, unclosed)
    headers = _csv_names(rows[0])
    index = _find_column(headers, column)
    if index is None:
        if column is None and len(headers) == 1 and _is_number(headers[0]):
            if lines is None and any(len(row) != 1 for row in rows):  # an error: say where
                rows, lines, unclosed = _csv_rows(
                    text, label, delimiter, skip_first=skip_first, exact=True
                )
            for row, line in zip(rows, lines or [], strict=False):
                if len(row) != 1 and line != unclosed:
                    raise InputError(
                        f"{label} no es un CSV válido: la línea {line} tiene {len(row)} campos "
                        "y las anteriores uno",
                        path=label,
                    )
            _raise_unclosed(label, unclosed)
            values: list[object] = [row[0] for row in rows]
            frame = None
            if keep_table:
                import pandas as pd

                frame = pd.DataFrame({VALUE_COLUMN: values}, dtype=str)
            return InputTable(values, None, label, frame)
        raise _no_column_error(label, headers, column)
    _raise_unclosed(label, unclosed)
    body = rows[1:]
    values = [row[index] if index < len(row) else "" for row in body]
    frame = None
    if keep_table:
        import pandas as pd

        width = len(headers)
        cells = [row[:width] + [""] * (width - len(row)) for row in body]
        frame = pd.DataFrame(cells, columns=headers, dtype=str)
    return InputTable(values, headers[index], label, frame)


def _csv_rows(
    text: str, label: str, delimiter: str, *, skip_first: bool, exact: bool = False
) -> tuple[list[list[str]], list[int] | None, int | None]:
    """The rows pandas kept, the line each starts on, and the line of an unclosed quote.

    The common file takes one strict pass at C speed (a strict reader stops at an
    unclosed quote) without line numbers (None); anything the fast pass cannot
    settle (a strict-mode complaint, a blank-looking single cell) takes the exact
    pass, row by row.
    """
    if not exact:
        try:
            strict = '"' in text
            rows = list(
                csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=strict)
            )
        except csv.Error:
            rows = None
        if rows is not None and all(len(row) != 1 or row[0].strip(" \t") for row in rows if row):
            kept = [row for row in rows if row]
            return (kept[1:] if skip_first else kept), None, None
    records = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = []
    lines: list[int] = []  # the physical line each kept row starts on
    start = last = 1  # the line the next record starts on, the line the last one started on
    physical: list[str] = []  # the lines as read, split only if a blank-looking row needs it
    try:
        for row in records:
            # pandas skips empty lines and lines of spaces and tabs alone, not '" "'.
            if row and (len(row) > 1 or row[0].strip(" \t") or _quoted(text, start, physical)):
                rows.append(row)
                lines.append(start)
            last, start = start, records.line_num + 1
    except csv.Error as exc:
        raise InputError(
            f"{label} no es un CSV válido: {_csv_error(str(exc), start)}", path=label
        ) from exc
    # Reported where pandas did: after the header's checks, after a wrong row above it.
    unclosed = last if _unclosed_quote(text, last, delimiter) else None
    if skip_first:
        del rows[:1], lines[:1]  # Excel's "sep=;" line
    return rows, lines, unclosed


def _raise_unclosed(label: str, line: int | None) -> None:
    if line is not None:
        raise InputError(
            f"{label} no es un CSV válido: hay comillas sin cerrar (desde la línea {line})",
            path=label,
        )


def _quoted(text: str, line: int, physical: list[str]) -> bool:
    """Whether line ``line`` (1-based) of ``text`` opens with a quote: a field, not blank space.

    ``physical`` caches the split lines: rows that need this are rare.
    """
    if not physical:
        physical.extend(io.StringIO(text, newline=""))
    return physical[line - 1].startswith('"')


def _unclosed_quote(text: str, start: int, delimiter: str) -> bool:
    """Whether the last record (from line ``start``) ran into the end inside quotes.

    The lenient reader takes such a record silently, so its lines are scanned
    again as the reader read them: a quote opens a field only as its first
    character, ``""`` inside is a literal quote.
    """
    if '"' not in text:
        return False
    tail = "".join(itertools.islice(io.StringIO(text, newline=""), start - 1, None))
    field_end = re.compile("[" + re.escape(delimiter) + "\r\n]")
    at = 0
    while at < len(tail):
        if tail[at] == '"':
            at += 1
            while True:
                close = tail.find('"', at)
                if close < 0:
                    return True
                at = close + 2 if tail.startswith('"', close + 1) else close + 1
                if at == close + 1:
                    break
        end = field_end.search(tail, at)
        if end is None:
            return False
        at = end.end()
    return False


def _csv_error(message: str, line: int) -> str:
    if "field larger than field limit" in message:
        limit = format_number(csv.field_size_limit())
        return (
            f"un campo de más de {limit} caracteres desde la línea {line} (¿comillas sin cerrar?)"
        )
    return f"no se pudo leer la línea {line} ({message})"


def _csv_names(cells: Sequence[str]) -> list[str]:
    """Header cells named as pandas' C engine names them: blanks 'Unnamed: i', repeats 'x.1'.

    Named columns are deduplicated before the unnamed ones, and a suffix already
    used by another header is skipped (``a,a,a.1`` is ``a, a.2, a.1``).
    """
    names = [cell if cell != "" else f"Unnamed: {i}" for i, cell in enumerate(cells)]
    unnamed = [i for i, cell in enumerate(cells) if cell == ""]
    counts: dict[str, int] = {}
    for i in [i for i in range(len(names)) if cells[i] != ""] + unnamed:
        name = original = names[i]
        count = counts.get(name, 0)
        while count > 0:
            counts[original] = count + 1
            name = f"{original}.{count}"
            count = count + 1 if name in names else counts.get(name, 0)
        names[i] = name
        counts[name] = count + 1
    return names


# -- one value a line (.txt, stdin) ------------------------------------------------


def _read_lines(text: str, label: str, *, column: str | None, keep_table: bool) -> InputTable:
    """One value a line; a first line without digits is a header and is skipped.

    A text whose first line is a delimited header naming a RUC column (someone
    saved a CSV as .txt, or piped one in) is read as the CSV it is.
    """
    lines = _split_lines(text)
    while lines and not lines[-1].strip():
        lines.pop()
    start = 0
    while start < len(lines) and not lines[start].strip():
        start += 1
    if start == len(lines):
        raise _empty_error(label)

    delimiter = _sniff_delimiter(text[:_SNIFF_BYTES], ",", complete=len(text) <= _SNIFF_BYTES)
    if delimiter is not None:
        fields = next(csv.reader([lines[start]], delimiter=delimiter), [])
        if len(fields) > 1 and _find_column(fields, column) is not None:
            return _parse_delimited(
                text,
                label,
                encoding="utf-8",
                delimiter=delimiter,
                column=column,
                keep_table=keep_table,
            )

    header: str | None = None
    if not re.search(r"[0-9]", lines[start]):
        header = lines[start].strip()
        start += 1
    if column is not None and (header is None or _find_column([header], column) is None):
        raise _no_column_error(label, [header] if header is not None else [], column)
    values: list[object] = list(lines[start:])
    frame = None
    if keep_table:
        import pandas as pd

        frame = pd.DataFrame({header or VALUE_COLUMN: values}, dtype=str)
    return InputTable(values, None, label, frame)


# -- Excel -----------------------------------------------------------------------------


def _read_excel(
    source: Path | io.BytesIO,
    label: str,
    head: bytes,
    *,
    column: str | None,
    sheet: str | None,
    keep_table: bool,
) -> InputTable:
    if not head.startswith(b"PK"):
        kind = _binary_kind(head)
        looks = f"parece {kind}" if kind else "parece texto (si es CSV, use la extensión .csv)"
        raise InputError(f"{label} no es un libro Excel (.xlsx/.xlsm): {looks}", path=label)
    name, rows = _calamine_rows(source, label, sheet)
    while rows and all(_is_blank(cell) for cell in rows[-1]):
        rows.pop()  # formatted but empty rows at the bottom
    if not rows:
        raise InputError(f"la hoja {_quote(name)} de {label} está vacía", path=label)

    header_at, index = _excel_header(rows, column)
    if index is None:
        if column is None and _filled_width(rows) == 1 and _is_number(rows[0][0]):
            body, names, index, found = rows, [VALUE_COLUMN], 0, None
        else:
            raise _no_column_error(label, [_cell_text(c) for c in rows[0]], column)
    else:
        body = rows[header_at + 1 :]
        names = _unique_names([_cell_text(c) for c in rows[header_at]])
        found = names[index]
    values = [_cell_value(row[index]) if index < len(row) else None for row in body]
    frame = None
    if keep_table:
        # Formatted but empty columns at the right are not part of the table.
        width = max(_filled_width([rows[header_at], *body]), index + 1)
        names = names[:width]
        cells = [[_cell_text(c) for c in row[:width]] + [""] * (width - len(row)) for row in body]
        import pandas as pd

        frame = pd.DataFrame(cells, columns=names, dtype=str)
    return InputTable(values, found, label, frame)


def _filled_width(rows: Sequence[Sequence[object]]) -> int:
    """Columns up to the rightmost non-blank cell of any row."""
    width = 0
    for row in rows:
        for position in range(len(row) - 1, width - 1, -1):
            if not _is_blank(row[position]):
                width = position + 1
                break
    return width


def _calamine_rows(
    source: Path | io.BytesIO, label: str, sheet: str | None
) -> tuple[str, list[list[object]]]:
    """The chosen sheet's cells, leading empty rows and columns skipped."""
    import python_calamine

    try:
        with python_calamine.CalamineWorkbook.from_object(source) as book:
            name = _pick_sheet(book.sheets_metadata, sheet, label)
            sheet_rows = book.get_sheet_by_name(name).to_python()
            rows = cast("list[list[object]]", sheet_rows)  # the cells are only read
            return name, rows
    except InputError:
        raise
    except python_calamine.PasswordError:
        raise InputError(f"{label} está protegido con contraseña", path=label) from None
    except BaseException as exc:
        # The Rust side reports corrupt files as CalamineError, zip or XML errors,
        # and in the worst case as a PanicException (a BaseException).
        if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
            raise
        raise InputError(
            f"{label} no es un libro Excel válido o está dañado ({_detail(exc)})", path=label
        ) from exc


def _pick_sheet(
    sheets: Sequence[python_calamine.SheetMetadata], sheet: str | None, label: str
) -> str:
    import python_calamine

    names = [s.name for s in sheets if s.typ == python_calamine.SheetTypeEnum.WorkSheet]
    if not names:
        raise InputError(f"{label} no tiene hojas de cálculo", path=label)
    if sheet is None:
        shown = python_calamine.SheetVisibleEnum.Visible
        visible = [s.name for s in sheets if s.name in names and s.visible == shown]
        return (visible or names)[0]
    for name in names:
        if name == sheet:
            return name
    for name in names:
        if name.strip().casefold() == sheet.strip().casefold():
            return name
    if sheet.strip().isdigit() and 1 <= int(sheet.strip()) <= len(names):
        return names[int(sheet.strip()) - 1]  # --hoja 2: the second sheet
    raise InputError(
        f"no existe la hoja {_quote(sheet)} en {label}; hojas disponibles: {_show(names)}",
        path=label,
    )


def _excel_header(rows: Sequence[Sequence[object]], column: str | None) -> tuple[int, int | None]:
    """(header row, RUC column index); the header may sit below a short title block.

    Only rows that look like a title (a cell or two, no numbers) are skipped:
    a fuller row is the header, and a number means the data has begun.
    """
    for at, row in enumerate(rows[:_HEADER_SEARCH_ROWS]):
        index = _find_column([_cell_text(c) for c in row], column)
        if index is not None:
            return at, index
        filled = [c for c in row if not _is_blank(c)]
        if len(filled) > _MAX_TITLE_CELLS or any(_is_data(c) for c in filled):
            break
    return 0, None


_DIGITS_ONLY = re.compile(r"[0-9 .\-\u00a0]+")


def _is_data(value: object) -> bool:
    """A numeric cell, or text with as many digits as a RUC: not a title any more."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return True
    text = str(value).strip()
    return bool(_DIGITS_ONLY.fullmatch(text)) and sum(ch.isdigit() for ch in text) >= 10


def _is_blank(value: object) -> bool:
    return value is None or value == ""


def _unique_names(names: Sequence[str]) -> list[str]:
    """Header cells named as pandas names CSV headers: blanks 'Unnamed: i', repeats 'x.1'."""
    seen: set[str] = set()
    result: list[str] = []
    for position, raw in enumerate(names):
        base = raw if raw.strip() else f"Unnamed: {position}"
        name, count = base, 0
        while name in seen:
            count += 1
            name = f"{base}.{count}"
        seen.add(name)
        result.append(name)
    return result


def _cell_value(value: object) -> object:
    """An Excel cell as the RUC rules want it: whole numbers as int, blanks as None."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, int):
        return value
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


def _cell_text(value: object) -> str:
    """A cell for the kept table: numbers as plain digits, never E-notation."""
    value = _cell_value(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return _plain_number(value)
    return str(value)


def _plain_number(value: float) -> str:
    """``value`` in positional notation, shortest digits that read back as it: never E-notation.

    ``2.0100038146e10`` is ``20100038146`` and ``1e-07`` is ``0.0000001``: a RUC
    or an amount a person can read in the kept table.
    """
    shortest = float.__repr__(value)  # the digits that round-trip, not a subclass's repr
    if not math.isfinite(value):
        return shortest  # nan, inf, -inf
    text = format(Decimal(shortest), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


# -- JSON --------------------------------------------------------------------------------


def _read_json(text: str, label: str, *, column: str | None, keep_table: bool) -> InputTable:
    if not text.strip():
        raise _empty_error(label)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        hint = " (¿es JSON Lines? use la extensión .jsonl)" if exc.msg == "Extra data" else ""
        raise InputError(
            f"{label} no es JSON válido (línea {exc.lineno}, columna {exc.colno}: {exc.msg}){hint}",
            path=label,
        ) from None
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{label} no es JSON válido: {_detail(exc)}", path=label) from exc
    if not isinstance(document, list):
        raise InputError(
            f"{label}: se esperaba un arreglo JSON de RUC (textos, números u objetos), "
            f"no {_json_kind(document)}",
            path=label,
        )
    if not document:
        raise InputError(f"{label} es un arreglo JSON vacío", path=label)
    return _from_items(document, label, column, keep_table, lambda i: f"el elemento {i + 1}")


def _read_jsonl(text: str, label: str, *, column: str | None, keep_table: bool) -> InputTable:
    items: list[object] = []
    line_numbers: list[int] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{label}, línea {number}: no es JSON válido ({exc.msg}, columna {exc.colno})",
                path=label,
            ) from None
        except (ValueError, RecursionError) as exc:
            raise InputError(
                f"{label}, línea {number}: no es JSON válido ({_detail(exc)})", path=label
            ) from exc
        line_numbers.append(number)
    if not items:
        raise _empty_error(label)
    return _from_items(items, label, column, keep_table, lambda i: f"la línea {line_numbers[i]}")


_JSON_SCALARS = (str, int, float, type(None))


def _from_items(
    items: list[object],
    label: str,
    column: str | None,
    keep_table: bool,
    where: Callable[[int], str],
) -> InputTable:
    """Values (strings/numbers) or records (objects) into a table; nothing in between."""
    records = isinstance(items[0], dict)
    for position, item in enumerate(items):
        if isinstance(item, dict) != records or not (records or isinstance(item, _JSON_SCALARS)):
            expected = "un objeto como los demás" if records else "un RUC (texto o número)"
            raise InputError(
                f"{label}: {where(position)} no es {expected} sino {_json_kind(item)}", path=label
            )
    if not records:
        if column is not None:  # bare values have no column to name
            raise _no_column_error(label, [], column)
        values = [_json_value(item) for item in items]
        frame = None
        if keep_table:
            import pandas as pd

            frame = pd.DataFrame({VALUE_COLUMN: [_json_text(v) for v in values]}, dtype=str)
        return InputTable(values, None, label, frame)

    objects: list[dict[str, object]] = items  # type: ignore[assignment]
    keys = list(dict.fromkeys(key for obj in objects for key in obj))
    index = _find_column(keys, column)
    if index is None:
        raise _no_column_error(label, keys, column)
    key = keys[index]
    values = [_json_value(obj.get(key)) for obj in objects]
    frame = None
    if keep_table:
        import pandas as pd

        frame = pd.DataFrame(
            {name: [_json_text(_json_value(obj.get(name))) for obj in objects] for name in keys},
            dtype=str,
        )
    return InputTable(values, key, label, frame)


def _json_value(value: object) -> object:
    """A JSON value as a cell: scalars kept (numbers stay numbers), the rest as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _JSON_SCALARS):
        return value
    return json.dumps(value, ensure_ascii=False)


def _json_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return _plain_number(value)
    return str(value)


def _json_kind(value: object) -> str:
    if isinstance(value, dict):
        return "un objeto"
    if isinstance(value, list):
        return "un arreglo"
    if isinstance(value, bool):
        return "un booleano"
    if value is None:
        return "null"
    if isinstance(value, str):
        return "un texto"
    return "un número"


# -- shared ------------------------------------------------------------------------------


def _require_values(table: InputTable) -> None:
    """An input without a single value is an input error, not an empty run."""
    label = _STDIN_LABEL if table.source == STDIN else table.source
    if not table.values:
        raise InputError(
            f"{label} no tiene filas de datos, solo encabezado o líneas en blanco",
            path=table.source,
        )
    if all(_is_blank_value(v) for v in table.values):
        what = f"la columna {_quote(table.column)} de {label}" if table.column else label
        raise InputError(f"{what} no tiene ningún valor", path=table.source)


def _is_blank_value(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _unsupported_message(label: str, suffix: str) -> str:
    supported = ", ".join(SUPPORTED_INPUTS)
    if suffix == ".xls":
        return (
            f"formato de entrada no soportado: {label} es un Excel antiguo (.xls); "
            f"guárdelo como .xlsx o .csv (formatos soportados: {supported})"
        )
    if not suffix:
        return f"{label} no tiene extensión; use uno de los formatos soportados: {supported}"
    return f"formato de entrada no soportado: {suffix} ({label}); use uno de: {supported}"


def _quote(text: str) -> str:
    return "'" + _one_line(text, 60) + "'"


def _show(names: Sequence[str]) -> str:
    if not names:
        return "(ninguna)"
    shown = ", ".join(_quote(n) for n in names[:_MAX_LISTED])
    more = len(names) - _MAX_LISTED
    return f"{shown} y {more} más" if more > 0 else shown


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _detail(exc: BaseException) -> str:
    message = _one_line(str(exc))
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _empty_error(label: str) -> InputError:
    if label == _STDIN_LABEL:
        return InputError(f"{label} está vacía", path=STDIN)
    return InputError(f"el archivo {label} está vacío", path=label)
