"""Input files as users' Excel and ERP exports really are, and every way they go wrong."""

from __future__ import annotations

import io
import json
import random
import re
import subprocess
import sys
import warnings
import zipfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

from migo_cli.exceptions import InputError
from migo_cli.readers import SUPPORTED_INPUTS, VALUE_COLUMN, InputTable, read_input
from migo_cli.ruc import check_ruc
from tests.conftest import as_plain_user

RUC = "20100038146"
RUC2 = "20131312955"
RUC3 = "10123456789"
SEED, CASES = 11, 300

# Words that only a Spanish message would carry; every InputError must use one.
_SPANISH = re.compile(
    r"\b(no|el|la|de|en|es|está|hay|tiene|archivo|columna|hoja|línea|use|se)\b", re.IGNORECASE
)


def write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def write_xlsx(path: Path, sheets: dict[str, Sequence[Sequence[object]]]) -> Path:
    """A workbook with the given sheets (in order) and cells as Python values."""
    book = openpyxl.Workbook()
    first = True
    for title, rows in sheets.items():
        sheet = book.active if first else book.create_sheet()
        assert sheet is not None
        sheet.title = title
        for row in rows:
            sheet.append(list(row))
        first = False
    book.save(path)
    book.close()
    return path


def assert_input_error(exc: pytest.ExceptionInfo[InputError], *fragments: str) -> None:
    message = str(exc.value)
    assert len(message.splitlines()) == 1, message
    assert _SPANISH.search(message), message
    assert "Traceback" not in message
    for fragment in fragments:
        assert fragment in message, message


def normalised(values: Sequence[object]) -> list[str | None]:
    """What ruc.py makes of the values: the reader must hand them over losslessly."""
    results = [check_ruc(v) for v in values]
    return [r.ruc if r is not None else None for r in results]


# -- CSV --------------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_csv_delimiters_are_sniffed(tmp_path: Path, delimiter: str, suffix: str) -> None:
    lines = [
        ["Razón Social", "RUC", "Monto"],
        ["Gloria S.A.", RUC, "1.234,56"],
        ['"Alicorp, S.A.A.; Lima"', RUC2, "10"],
        ["Otra", "", "3"],
    ]
    text = "\n".join(delimiter.join(cells) for cells in lines) + "\n"
    table = read_input(write_text(tmp_path / f"in{suffix}", text))
    assert table == InputTable([RUC, RUC2, ""], "RUC", str(tmp_path / f"in{suffix}"))


def test_csv_reads_only_text_never_numbers(tmp_path: Path) -> None:
    path = write_text(tmp_path / "in.csv", "RUC\n020100038146\n2.01E+10\n20100038146.0\n1e5\n")
    table = read_input(path)
    assert table.values == ["020100038146", "2.01E+10", "20100038146.0", "1e5"]


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [("utf-8", b""), ("utf-8-sig", b""), ("cp1252", b""), ("utf-16", b"")],
)
def test_csv_encodings(tmp_path: Path, encoding: str, prefix: bytes) -> None:
    text = f"RUC;Razón Social;Dirección\n{RUC};Compañía Ñandú;Av. Perú 123\n"
    path = tmp_path / "in.csv"
    path.write_bytes(prefix + text.encode(encoding))
    table = read_input(path, keep_table=True)
    assert table.column == "RUC"
    assert table.values == [RUC]
    assert table.frame is not None
    assert list(table.frame.columns) == ["RUC", "Razón Social", "Dirección"]
    assert table.frame.iloc[0].tolist() == [RUC, "Compañía Ñandú", "Av. Perú 123"]


def test_csv_cp1252_detected_after_the_sniffed_head(tmp_path: Path) -> None:
    """UTF-8-looking for 64 KiB, then a cp1252 byte: re-read as cp1252, nothing lost."""
    rows = [f"{RUC},Empresa {i}" for i in range(8000)]
    data = ("RUC,Nombre\n" + "\n".join(rows) + f"\n{RUC2},Compañía\n").encode("cp1252")
    assert len(data) > 64 * 1024
    path = tmp_path / "in.csv"
    path.write_bytes(data)
    table = read_input(path, keep_table=True)
    assert len(table.values) == 8001
    assert table.values[-1] == RUC2
    assert table.frame is not None
    assert table.frame.iloc[-1].tolist() == [RUC2, "Compañía"]


@pytest.mark.parametrize(
    "header",
    [
        "RUC",
        "ruc",
        " Ruc ",
        "RUC:",
        "R.U.C.",
        "Nro. RUC",
        "N° RUC",
        "Nº RUC",
        "N°RUC",
        "numero_ruc",
        "Número de RUC",
        "NÚMERO DE RUC",
        "NroRUC",
        "nro_ruc",
        "RUC cliente",
        "ruc_proveedor",
        "RUC/DNI",
        "N°\nRUC",
    ],
)
def test_ruc_column_found_by_header(tmp_path: Path, header: str) -> None:
    frame = pd.DataFrame(
        {"Razón Social": ["A", "B"], header: [RUC, RUC2], "Estructura": ["x", "y"]}
    )
    path = tmp_path / "in.csv"
    frame.to_csv(path, index=False)
    table = read_input(path)
    assert table.column == header
    assert table.values == [RUC, RUC2]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (["RUC cliente", "RUC"], "RUC"),  # the exact name wins
        (["Estado RUC", "Nro. RUC"], "Nro. RUC"),  # a fact about the RUC is not the RUC
        (["RUC emisor", "RUC receptor"], "RUC emisor"),  # else the first
        (["Estado RUC", "Razón social"], "Estado RUC"),  # better than nothing
    ],
)
def test_ruc_column_preference(tmp_path: Path, headers: list[str], expected: str) -> None:
    path = write_text(tmp_path / "in.csv", ",".join(headers) + f"\n{RUC},{RUC2}\n")
    assert read_input(path).column == expected


@pytest.mark.parametrize("column", ["Documento", "documento", " DOCUMENTO ", "documento:"])
def test_explicit_column(tmp_path: Path, column: str) -> None:
    path = write_text(tmp_path / "in.csv", f"RUC,Documento\nx,{RUC}\ny,{RUC2}\n")
    table = read_input(path, column=column)
    assert table.column == "Documento"
    assert table.values == [RUC, RUC2]


def test_explicit_column_missing_lists_columns(tmp_path: Path) -> None:
    path = write_text(tmp_path / "in.csv", f"RUC,Nombre\n{RUC},x\n")
    with pytest.raises(InputError) as exc:
        read_input(path, column="Documento")
    assert_input_error(exc, "'Documento'", "'RUC'", "'Nombre'")


@pytest.mark.parametrize("first", [RUC, "2.0100038146E10", f" {RUC} ", "20.100.038.146"])
def test_csv_single_column_without_header(tmp_path: Path, first: str) -> None:
    path = write_text(tmp_path / "in.csv", f"{first}\n{RUC2}\n\n{RUC3}\n")
    table = read_input(path, keep_table=True)
    assert table.column is None
    assert table.values == [first, RUC2, RUC3]
    assert table.frame is not None
    assert list(table.frame.columns) == [VALUE_COLUMN]


def test_csv_blank_cells_keep_rows_aligned(tmp_path: Path) -> None:
    text = f"Nombre;RUC;Monto\nA;{RUC};1\nB;;2\nC; ;3\n;;\nD;{RUC2};4\n"
    path = write_text(tmp_path / "in.csv", text)
    plain = read_input(path)
    kept = read_input(path, keep_table=True)
    assert plain.values == kept.values == [RUC, "", " ", "", RUC2]
    assert kept.frame is not None
    assert kept.frame.shape == (5, 3)
    assert kept.frame["Nombre"].tolist() == ["A", "B", "C", "", "D"]
    assert kept.frame["RUC"].tolist() == kept.values
    assert plain.frame is None


def test_keep_table_keeps_every_column_and_row_in_order(tmp_path: Path) -> None:
    rows = [[f"Empresa {i}", f"{i:05d}", str(20100038146 + i), ""] for i in range(50)]
    text = "Razón Social,Código,RUC,Notas\n" + "\n".join(",".join(r) for r in rows) + "\n"
    table = read_input(write_text(tmp_path / "in.csv", text), keep_table=True)
    assert table.frame is not None
    assert list(table.frame.columns) == ["Razón Social", "Código", "RUC", "Notas"]
    assert table.frame.values.tolist() == rows  # '00007' stays text
    assert table.values == [r[2] for r in rows]


def test_csv_duplicate_and_blank_headers(tmp_path: Path) -> None:
    path = write_text(tmp_path / "in.csv", f"RUC,RUC,,x\n{RUC},{RUC2},a,b\n")
    table = read_input(path, keep_table=True)
    assert table.values == [RUC]
    assert table.frame is not None
    assert list(table.frame.columns) == ["RUC", "RUC.1", "Unnamed: 2", "x"]


def test_csv_quotes_line_endings_and_long_rows(tmp_path: Path) -> None:
    text = (
        f'"Razón\nSocial",RUC\r"Gloria, S.A.",{RUC}\r'
        f'"Dice ""hola""",{RUC2}\rSin comillas,{RUC3},sobra\r'
    )
    table = read_input(write_text(tmp_path / "in.csv", text), keep_table=True)
    assert table.values == [RUC, RUC2, RUC3]
    assert table.frame is not None
    assert table.frame["Razón\nSocial"].tolist() == ["Gloria, S.A.", 'Dice "hola"', "Sin comillas"]


def test_csv_unclosed_quote(tmp_path: Path) -> None:
    path = write_text(tmp_path / "in.csv", f'RUC,Nombre\n{RUC},"Gloria\n{RUC2},x\n')
    with pytest.raises(InputError) as exc:
        read_input(path)
    assert_input_error(exc, "comillas sin cerrar")


def test_csv_excel_separator_hint(tmp_path: Path) -> None:
    path = write_text(tmp_path / "in.csv", f"sep=;\r\nRUC;Nombre, S.A.\r\n{RUC};x,y\r\n", "cp1252")
    for keep_table in (False, True):
        table = read_input(path, keep_table=keep_table)
        assert (table.column, table.values) == ("RUC", [RUC])


def test_csv_without_pandas_in_the_plain_read(tmp_path: Path) -> None:
    """``migo masivo`` on a CSV loads no pandas unless it keeps the table (issue 11)."""
    path = write_text(tmp_path / "in.csv", f"Nombre;RUC\nA;{RUC}\n")
    code = (
        "import sys; from migo_cli.readers import read_input; "
        f"t = read_input({str(path)!r}); assert t.values == [{RUC!r}], t; "
        "print('pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    "text",
    [
        'RUC,Nombre\n1,"x"y\n2,x"y"\n3,"1"  \n',  # quotes that do not open or close a field
        "RUC,Nombre\n1\n\n  \n\t\n2,b,c,d\n,\n",  # short, blank, whitespace-only, long rows
        'RUC,Nombre\n" ",a\n"",b\n',  # quoted blanks are values
        "RUC,RUC,,RUC.1,,x\n1,2,3,4,5,6\n",  # pandas' names for repeats and blanks
        'RUC,Nombre\r\n1,"a\r\nb"\r\n2,"c\rd"\r3,e',  # line ends kept inside quotes
        "\n \nRUC\n1\n",  # blank lines before the header
    ],
)
def test_csv_rows_as_pandas_read_them(tmp_path: Path, text: str) -> None:
    path = write_text(tmp_path / "in.csv", text)
    assert _read_as_now(path, ",") == _read_with_pandas(path, ",")


def test_csv_generated_inputs_read_as_pandas_read_them(tmp_path: Path) -> None:
    """The stdlib reader replaced pandas' C engine: on odd CSVs both must agree."""
    rng = random.Random(SEED)
    cells = [RUC, RUC2, "", " ", "x", "2.01E+10", '"a,b"', '"a;b"', '"q""uote"', '"l1\nl2"', '" "']
    headers = ["RUC", "RUC", "", "Nombre", "Nombre.1", "RUC.1", "ruc cliente", " "]
    for case in range(CASES):
        delimiter = rng.choice([",", ";"])
        end = rng.choice(["\n", "\r\n", "\r"])
        # When lines end in CR alone, pandas drops a delimiter that opens the line after a
        # blank one (a bug of its tokenizer, EAT_CRNL_NOP): such files are not generated.
        blanks = ["", "  ", "\t"] if end != "\r" else []
        width = rng.randint(1, 4)
        lines = [delimiter.join(rng.choice(headers) for _ in range(width))]
        if rng.random() < 0.2:
            lines[0] = RUC  # a header-less single column
        for _ in range(rng.randint(0, 6)):
            roll = rng.random()
            if roll < 0.1:
                lines.append(rng.choice([*blanks, '" "', '""', ' " "']))
            else:
                n = width if roll < 0.7 else rng.randint(1, width + 2)
                row = [rng.choice(cells) for _ in range(n)]
                if end == "\r" and not row[0].strip():
                    row[0] = "x"
                lines.append(delimiter.join(row))
        if rng.random() < 0.05:
            lines += [f'{RUC}{delimiter}"open', RUC]  # an unclosed quote
        text = end.join(lines) + (end if rng.random() < 0.8 else "")
        path = write_text(tmp_path / f"in{case}.csv", text)
        assert _read_as_now(path, delimiter) == _read_with_pandas(path, delimiter), repr(text)


def _read_as_now(path: Path, delimiter: str) -> object:
    from migo_cli.readers import _parse_delimited

    try:
        table = _parse_delimited(
            path, "x", encoding="utf-8", delimiter=delimiter, column=None, keep_table=True
        )
    except InputError as exc:
        message = str(exc)
        for kind in ("comillas sin cerrar", "campos", "vacío", "columna de RUC"):
            if kind in message:
                return kind
        return message
    assert table.frame is not None
    return table.column, table.values, list(table.frame.columns), table.frame.values.tolist()


def _read_with_pandas(path: Path, delimiter: str) -> object:
    """The reader's answer as pandas' C engine gave it (the code before issue 11)."""
    from migo_cli.readers import _find_column, _is_number

    def parse(**options: Any) -> pd.DataFrame:
        frame: pd.DataFrame = pd.read_csv(
            path,
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            engine="c",
            index_col=False,
            **options,
        )
        return frame

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            headers = [str(name) for name in parse(nrows=0).columns]
            index = _find_column(headers, None)
            if index is None:
                if len(headers) == 1 and _is_number(headers[0]):
                    frame = parse(header=None, names=[VALUE_COLUMN])
                    values = frame[VALUE_COLUMN].tolist()
                    return None, values, [VALUE_COLUMN], frame.values.tolist()
                return "columna de RUC"
            frame = parse(header=0, usecols=list(range(len(headers))))
    except pd.errors.EmptyDataError:
        return "vacío"
    except pd.errors.ParserError as exc:
        return "comillas sin cerrar" if "EOF inside string" in str(exc) else "campos"
    values = frame.iloc[:, index].tolist()
    return headers[index], values, list(frame.columns), frame.values.tolist()


def test_uppercase_extension(tmp_path: Path) -> None:
    assert read_input(write_text(tmp_path / "IN.CSV", f"RUC\n{RUC}\n")).values == [RUC]


# -- one value a line -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "values", "header"),
    [
        (f"{RUC}\n{RUC2}\n", [RUC, RUC2], VALUE_COLUMN),
        (f"RUC\n{RUC}\r\n{RUC2}\r\n", [RUC, RUC2], "RUC"),
        (f"\n\nLista de clientes\n{RUC}\n\n{RUC2}\n\n\n", [RUC, "", RUC2], "Lista de clientes"),
        (f"RUC 2024\n{RUC}\n", ["RUC 2024", RUC], VALUE_COLUMN),  # digits: not a header
        (f"{RUC}\t\n 20.100.038.146 \n", [f"{RUC}\t", " 20.100.038.146 "], VALUE_COLUMN),
    ],
)
def test_txt_one_value_a_line(tmp_path: Path, text: str, values: list[str], header: str) -> None:
    table = read_input(write_text(tmp_path / "in.txt", text), keep_table=True)
    assert table.column is None
    assert table.values == values
    assert table.frame is not None
    assert list(table.frame.columns) == [header]
    assert table.frame[header].tolist() == values


def test_txt_that_is_a_csv_is_read_as_one(tmp_path: Path) -> None:
    path = write_text(tmp_path / "in.txt", f"Razón Social;Nro. RUC\nA;{RUC}\nB;{RUC2}\n")
    table = read_input(path)
    assert (table.column, table.values) == ("Nro. RUC", [RUC, RUC2])


def test_txt_cp1252(tmp_path: Path) -> None:
    path = write_text(tmp_path / "in.txt", f"Números de RUC\n{RUC}\n", "cp1252")
    table = read_input(path, keep_table=True)
    assert table.values == [RUC]
    assert table.frame is not None
    assert list(table.frame.columns) == ["Números de RUC"]


def test_txt_explicit_column(tmp_path: Path) -> None:
    path = write_text(tmp_path / "in.txt", f"RUC\n{RUC}\n")
    assert read_input(path, column="ruc").values == [RUC]
    with pytest.raises(InputError) as exc:
        read_input(path, column="Documento")
    assert_input_error(exc, "'Documento'", "'RUC'")


@pytest.mark.parametrize(
    ("data", "values", "column"),
    [
        (f"{RUC}\n{RUC2}\n".encode(), [RUC, RUC2], None),
        (f"RUC\n{RUC}\n".encode(), [RUC], None),
        (f"\ufeffRUC\r\n{RUC}\r\n".encode(), [RUC], None),
        (f"Razón Social,RUC\nA,{RUC}\n".encode("cp1252"), [RUC], "RUC"),
        (f"nombre\truc_cliente\nA\t{RUC}\nB\t\n".encode(), [RUC, ""], "ruc_cliente"),
    ],
)
def test_stdin(data: bytes, values: list[str], column: str | None) -> None:
    table = read_input("-", stdin=io.BytesIO(data))
    assert (table.values, table.column, table.source) == (values, column, "-")


def test_stdin_workbook(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "in.xlsx", {"Hoja1": [["RUC"], [20100038146]]})
    table = read_input("-", stdin=io.BytesIO(path.read_bytes()))
    assert (table.values, table.source) == ([20100038146], "-")


@pytest.mark.parametrize("data", [b"", b"\n\n  \r\n", b"RUC\n", b"\xef\xbb\xbf"])
def test_stdin_empty(data: bytes) -> None:
    with pytest.raises(InputError) as exc:
        read_input("-", stdin=io.BytesIO(data))
    assert_input_error(exc)
    assert exc.value.path == "-"


# -- Excel -------------------------------------------------------------------------------


def test_xlsx_numeric_cells_come_back_as_exact_numbers(tmp_path: Path) -> None:
    cells: list[object] = [20100038146, 20100038146.0, 2.0100038146e10, 20131312955, None]
    rows = [["Razón Social", "RUC", "Monto"]] + [[f"E{i}", c, 1.5] for i, c in enumerate(cells)]
    table = read_input(write_xlsx(tmp_path / "in.xlsx", {"Clientes": rows}), keep_table=True)
    assert table.column == "RUC"
    assert table.values == [20100038146, 20100038146, 20100038146, 20131312955, None]
    assert all(type(v) is int for v in table.values[:4])
    assert normalised(table.values) == [RUC, RUC, RUC, RUC2, None]
    assert table.frame is not None
    assert table.frame["RUC"].tolist() == [RUC, RUC, RUC, RUC2, ""]
    assert table.frame["Monto"].tolist() == ["1.5"] * 5


def test_xlsx_text_cells_stay_text(tmp_path: Path) -> None:
    texts = [f" {RUC} ", f"\u00a0{RUC}\u00a0", "20.100.038.146", "20-100038146-", "2.01E+10", RUC]
    path = write_xlsx(tmp_path / "in.xlsx", {"Hoja1": [["RUC"], *([t] for t in texts)]})
    table = read_input(path, keep_table=True)
    assert table.values == texts
    assert table.frame is not None
    assert table.frame["RUC"].tolist() == texts
    assert normalised(table.values) == [RUC, RUC, RUC, RUC, "2.01E+10", RUC]


def test_xlsx_other_cell_types_render_as_text(tmp_path: Path) -> None:
    rows: list[list[object]] = [
        ["RUC", "Fecha", "Activo", "Importe", "Grande"],
        [RUC, datetime(2024, 5, 6, 7, 8), True, 0.0000001, 12345678901234.0],
    ]
    table = read_input(write_xlsx(tmp_path / "in.xlsx", {"H": rows}), keep_table=True)
    assert table.frame is not None
    assert table.frame.iloc[0].tolist() == [
        RUC,
        "2024-05-06 07:08:00",
        "TRUE",
        "0.0000001",
        "12345678901234",
    ]


def test_xlsx_sheet_choice(tmp_path: Path) -> None:
    path = tmp_path / "in.xlsx"
    book = openpyxl.Workbook()
    hidden = book.active
    assert hidden is not None
    hidden.title = "Config"
    hidden.append(["RUC"])
    hidden.append([RUC3])
    hidden.sheet_state = "hidden"
    first = book.create_sheet("Clientes")
    first.append(["RUC"])
    first.append([RUC])
    second = book.create_sheet("Proveedores 2024")
    second.append(["ruc_proveedor"])
    second.append([RUC2])
    book.save(path)
    book.close()

    assert read_input(path).values == [RUC]  # the first visible sheet
    assert read_input(path, sheet="Proveedores 2024").values == [RUC2]
    assert read_input(path, sheet=" proveedores 2024 ").values == [RUC2]
    assert read_input(path, sheet="Config").values == [RUC3]
    assert read_input(path, sheet="3").values == [RUC2]  # by position
    with pytest.raises(InputError) as exc:
        read_input(path, sheet="Ventas")
    assert_input_error(exc, "'Ventas'", "'Clientes'", "'Proveedores 2024'")


def test_xlsx_title_block_above_header(tmp_path: Path) -> None:
    rows: list[list[object]] = [
        ["Reporte de clientes"],
        ["Fecha:", "2024-12-31"],
        [],
        ["Razón Social", "N° RUC", "Estado"],
        ["A", 20100038146, "ACTIVO"],
        ["B", None, "ACTIVO"],
        ["C", "20131312955", "BAJA"],
    ]
    table = read_input(write_xlsx(tmp_path / "in.xlsx", {"H": rows}), keep_table=True)
    assert table.column == "N° RUC"
    assert table.values == [20100038146, None, RUC2]
    assert table.frame is not None
    assert table.frame.shape == (3, 3)


def test_xlsx_without_header(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "in.xlsm", {"H": [[20100038146], [RUC2], [None], [10123456789]]})
    table = read_input(path, keep_table=True)
    assert table.column is None
    assert table.values == [20100038146, RUC2, None, 10123456789]
    assert table.frame is not None
    assert table.frame[VALUE_COLUMN].tolist() == [RUC, RUC2, "", RUC3]


def test_xlsx_explicit_column_and_trailing_blanks(tmp_path: Path) -> None:
    rows: list[list[object]] = [["Cliente", "Doc", None], ["A", 20100038146, None], [None] * 3]
    path = write_xlsx(tmp_path / "in.xlsx", {"H": rows})
    table = read_input(path, column="doc", keep_table=True)
    assert (table.column, table.values) == ("Doc", [20100038146])
    assert table.frame is not None
    assert list(table.frame.columns) == ["Cliente", "Doc"]


def test_xlsx_large_matches_openpyxl(tmp_path: Path) -> None:
    """The calamine path gives what openpyxl reads, for numbers and text alike."""
    rng = random.Random(7)
    values: list[object] = []
    for _ in range(2000):
        number = rng.randrange(10**10, 10**11)
        values.append(rng.choice([number, float(number), str(number), f" {number}"]))
    path = write_xlsx(tmp_path / "in.xlsx", {"H": [["RUC", "X"], *([v, "x"] for v in values)]})
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        expected = [row[0] for row in book.worksheets[0].iter_rows(min_row=2, values_only=True)]
    finally:
        book.close()
    got = read_input(path).values
    assert normalised(got) == normalised(expected)
    assert [type(v) for v in got] == [str if isinstance(v, str) else int for v in expected]


# -- JSON --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "values", "column"),
    [
        ([RUC, RUC2], [RUC, RUC2], None),
        ([20100038146, 20100038146.0, 2.0100038146e10, None, ""], None, None),
        ([{"ruc": RUC, "nombre": "A"}, {"nombre": "B"}], [RUC, None], "ruc"),
        ([{"Nro. RUC": 20100038146}, {"Nro. RUC": "x"}], [20100038146, "x"], "Nro. RUC"),
    ],
)
def test_json(
    tmp_path: Path, document: list[Any], values: list[object] | None, column: str | None
) -> None:
    path = write_text(tmp_path / "in.json", json.dumps(document))
    table = read_input(path)
    assert table.values == (document if values is None else values)
    assert table.column == column


def test_json_numbers_normalise(tmp_path: Path) -> None:
    path = write_text(tmp_path / "in.json", "[20100038146, 20100038146.0, 2.0100038146E10]")
    assert normalised(read_input(path).values) == [RUC, RUC, RUC]


def test_json_keep_table(tmp_path: Path) -> None:
    document = [{"nombre": "A", "ruc": 20100038146, "extra": {"a": 1}}, {"ruc": RUC2, "monto": 1.5}]
    table = read_input(write_text(tmp_path / "in.json", json.dumps(document)), keep_table=True)
    assert table.frame is not None
    assert list(table.frame.columns) == ["nombre", "ruc", "extra", "monto"]
    assert table.frame.values.tolist() == [["A", RUC, '{"a": 1}', ""], ["", RUC2, "", "1.5"]]


def test_json_explicit_column(tmp_path: Path) -> None:
    document = [{"ruc": "x", "documento": RUC}]
    path = write_text(tmp_path / "in.json", json.dumps(document))
    assert read_input(path, column="Documento").values == [RUC]
    with pytest.raises(InputError) as exc:
        read_input(path, column="cliente")
    assert_input_error(exc, "'cliente'", "'ruc', 'documento'")
    bare = write_text(tmp_path / "bare.json", json.dumps([RUC]))
    with pytest.raises(InputError) as exc:
        read_input(bare, column="ruc")
    assert_input_error(exc, "'ruc'", "(ninguna)")


def test_jsonl(tmp_path: Path) -> None:
    text = f'{{"ruc": "{RUC}"}}\n\n{{"ruc": 20131312955, "x": 1}}\r\n{{"x": 2}}\n'
    table = read_input(write_text(tmp_path / "in.jsonl", text), keep_table=True)
    assert table.values == [RUC, 20131312955, None]
    assert table.column == "ruc"
    assert table.frame is not None
    assert table.frame.shape == (3, 2)


def test_jsonl_values(tmp_path: Path) -> None:
    text = f'"{RUC}"\n20131312955\nnull\n'
    assert read_input(write_text(tmp_path / "in.jsonl", text)).values == [RUC, 20131312955, None]


# -- bad input ---------------------------------------------------------------------------


def _zip_bytes(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, content)
    return buffer.getvalue()


_PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
_GARBAGE = random.Random(3).randbytes(4096)

BAD_FILES: list[tuple[str, bytes | str, tuple[str, ...]]] = [
    ("vacio.csv", b"", ("está vacío",)),
    ("vacio.tsv", b"", ("está vacío",)),
    ("vacio.txt", b"", ("está vacío",)),
    ("vacio.xlsx", b"", ("está vacío",)),
    ("vacio.json", b"", ("está vacío",)),
    ("vacio.jsonl", b"", ("está vacío",)),
    ("blancos.csv", "\n \n\t\n", ("está vacío",)),
    ("blancos.txt", "\n \r\n  \n", ("está vacío",)),
    ("blancos.json", "  \n", ("está vacío",)),
    ("blancos.jsonl", "\n\n", ("está vacío",)),
    ("encabezado.csv", "RUC;Nombre\n", ("no tiene filas de datos",)),
    ("encabezado.txt", "RUC\n\n", ("no tiene filas de datos",)),
    ("sin_valores.csv", "RUC,Nombre\n,A\n  ,B\n", ("'RUC'", "no tiene ningún valor")),
    ("basura.csv", _GARBAGE, ("no es un archivo de texto",)),
    ("basura.txt", _GARBAGE, ("no es un archivo de texto",)),
    ("basura.json", _GARBAGE, ("no es un archivo de texto",)),
    ("imagen.csv", _PNG, ("PNG",)),
    ("imagen.xlsx", _PNG, ("no es un libro Excel", "PNG")),
    ("texto.xlsx", f"RUC\n{RUC}\n", ("no es un libro Excel", ".csv")),
    ("antiguo.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), (".xls",)),
    ("roto.xlsx", b"PK\x03\x04" + _GARBAGE, ("no es un libro Excel válido",)),
    ("otro_zip.xlsx", _zip_bytes("hola.txt", b"hola"), ("no es un libro Excel válido",)),
    ("libro.csv", _zip_bytes("x", b"y"), ("ZIP",)),
    ("sin_ruc.csv", "Nombre;Dirección\nA;B\n", ("columna de RUC", "'Nombre'", "'Dirección'")),
    ("sin_ruc.json", '[{"nombre": "A"}]', ("columna de RUC", "'nombre'")),
    ("una_columna.csv", f"Clientes\n{RUC}\n", ("columna de RUC", "'Clientes'", "--columna")),
    ("invalido.json", '[{"ruc": 1},', ("no es JSON válido", "línea 1")),
    ("lineas.json", '{"ruc": 1}\n{"ruc": 2}\n', (".jsonl",)),
    ("objeto.json", '{"ruc": "20100038146"}', ("se esperaba un arreglo", "un objeto")),
    ("numero.json", "20100038146", ("se esperaba un arreglo",)),
    ("vacio_arreglo.json", "[]", ("arreglo JSON vacío",)),
    ("anidado.json", f'["{RUC}", ["{RUC2}"]]', ("elemento 2", "un arreglo")),
    ("mezcla.json", f'[{{"ruc": "{RUC}"}}, "{RUC2}"]', ("elemento 2", "un objeto")),
    ("enorme.json", "[" + "1" * 5000 + "]", ("no es JSON válido",)),
    ("profundo.json", "[" * 100_000 + "]" * 100_000, ("no es JSON válido",)),
    ("mala.jsonl", f'{{"ruc": "{RUC}"}}\n\n{{ruc: 1}}\n', ("línea 3", "no es JSON válido")),
    ("arreglo.jsonl", f'["{RUC}"]\n', ("línea 1", "un arreglo")),
    ("mezcla.jsonl", f'{{"ruc": "{RUC}"}}\n"{RUC2}"\n', ("línea 2",)),
    ("datos.xls", b"x", (".xls", ".xlsx")),
    ("datos.ods", b"x", ("no soportado", ".ods", ".csv, .tsv, .txt, .xlsx, .xlsm, .json, .jsonl")),
    ("sin_extension", b"x", ("no tiene extensión", ".csv")),
]


@pytest.mark.parametrize(("name", "content", "fragments"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_files(
    tmp_path: Path, name: str, content: bytes | str, fragments: tuple[str, ...]
) -> None:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    for keep_table in (False, True):
        with pytest.raises(InputError) as exc:
            read_input(path, keep_table=keep_table)
        assert_input_error(exc, *fragments)
        assert exc.value.path == str(path)


def test_bad_excel_contents(tmp_path: Path) -> None:
    empty = write_xlsx(tmp_path / "vacio.xlsx", {"Hoja1": []})
    with pytest.raises(InputError) as exc:
        read_input(empty)
    assert_input_error(exc, "'Hoja1'", "vacía")

    header_only = write_xlsx(tmp_path / "encabezado.xlsx", {"Hoja1": [["RUC", "Nombre"]]})
    with pytest.raises(InputError) as exc:
        read_input(header_only)
    assert_input_error(exc, "no tiene filas de datos")

    no_ruc = write_xlsx(tmp_path / "sin_ruc.xlsx", {"H": [["Nombre", "Dirección", "Tipo"], ["A"]]})
    with pytest.raises(InputError) as exc:
        read_input(no_ruc)
    assert_input_error(exc, "columna de RUC", "'Nombre'", "'Tipo'")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError) as exc:
        read_input(tmp_path / "no_existe.csv")
    assert_input_error(exc, "no existe el archivo", "no_existe.csv")
    folder = tmp_path / "carpeta.csv"
    folder.mkdir()
    with pytest.raises(InputError) as exc:
        read_input(folder)
    assert_input_error(exc, "es una carpeta")


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_text(tmp_path / "in.csv", f"RUC\n{RUC}\n")
    real_open = Path.open

    def refuse(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(InputError) as exc:
        read_input(path)
    assert_input_error(exc, "permiso")


READ_INPUT = """
import sys
from migo_cli.exceptions import InputError
from migo_cli.readers import read_input
try:
    read_input(sys.argv[1])
except InputError as exc:
    sys.exit(str(exc))
"""


def test_unreadable_file_for_real(tmp_path: Path) -> None:
    """A real mode 000 file, read by a child that has no root powers even when we are root."""
    path = write_text(tmp_path / "in.csv", f"RUC\n{RUC}\n")
    path.chmod(0)
    try:
        done = subprocess.run(
            as_plain_user([sys.executable, "-c", READ_INPUT, str(path)]),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        path.chmod(0o600)
    assert done.returncode == 1, done.stderr
    message = done.stderr.strip()
    assert len(message.splitlines()) == 1, message
    assert _SPANISH.search(message), message
    assert "permiso" in message
    assert str(path) in message


def test_supported_inputs() -> None:
    assert SUPPORTED_INPUTS == (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".json", ".jsonl")


def test_xlsx_header_search_stops_at_data(tmp_path: Path) -> None:
    """A RUC-ish text below the first values is data, never a late header."""
    rows: list[list[object]] = [["Clientes"], [20100038146], ["sin RUC"], [20131312955]]
    with pytest.raises(InputError) as exc:
        read_input(write_xlsx(tmp_path / "in.xlsx", {"H": rows}))
    assert_input_error(exc, "columna de RUC", "'Clientes'")


def test_json_numbers_in_the_kept_table_are_never_e_notation(tmp_path: Path) -> None:
    amounts = ["1e22", "2.5e-05", "-0.0", "20100038146.0", "0.1", "NaN", "-Infinity"]
    text = "\n".join(f'{{"RUC": "{RUC}", "Importe": {amount}}}' for amount in amounts)
    table = read_input(write_text(tmp_path / "in.jsonl", text), keep_table=True)
    assert table.frame is not None
    assert table.frame["Importe"].tolist() == [
        "10000000000000000000000",
        "0.000025",
        "-0",
        "20100038146",
        "0.1",
        "nan",
        "-inf",
    ]
