"""Result writers: every format read back, atomic replacement, output checks, the lock."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from migo_cli import writers
from migo_cli.batch import BatchJob, run_batch
from migo_cli.exceptions import OutputError, OutputLockedError
from migo_cli.models import OUTPUT_COLUMNS, Origin, RucResult, Status
from migo_cli.writers import (
    OUTPUT_FORMATS,
    Output,
    SheetStyle,
    lock_path_for,
    neutralise,
    open_writer,
    temp_path_for,
)
from tests.conftest import as_plain_user

REPO_ROOT = Path(__file__).resolve().parents[1]
FORMULA = '=HYPERLINK("x")'
COLUMNS: tuple[str, ...] = OUTPUT_COLUMNS


def _valid(ruc: str, name: str = "EMPRESA S.A.C.", **extra: Any) -> dict[str, Any]:
    data = {
        "success": True,
        "ruc": ruc,
        "nombre_o_razon_social": name,
        "estado_del_contribuyente": "ACTIVO",
        "condicion_de_domicilio": "HABIDO",
        "ubigeo": "150101",
        "interior": "-",
        "direccion": "AV. AREQUIPA NRO. 123 - LIMA",
        **extra,
    }
    return RucResult(ruc, Status.VALID, data=data, queried_at="2025-01-02T03:04:05-05:00").to_row()


def sample_rows() -> list[dict[str, Any]]:
    """One row of every estado, plus the awkward values APIMIGO may send."""
    return [
        _valid("20100038146", FORMULA, extra_key="ñandú", numero=123, lote=None, manzana=["A", 1]),
        RucResult("20131312955", Status.NOT_FOUND, "SUNAT no conoce este RUC").to_row(),
        RucResult("2010003814", Status.INVALID, "tiene 10 dígitos", origin=Origin.LOCAL).to_row(),
        RucResult("20100070970", Status.ERROR, "sin respuesta tras 3 intentos").to_row(),
        RucResult("20601030013", Status.UNCHECKED, origin=Origin.LOCAL).to_row(),
        _valid("10000000001", "-", direccion="-", distrito="@SUM(A1)"),
    ]


SUMMARY: dict[str, Any] = {
    "total": 7,
    "unicos": 6,
    "duracion_s": 1.5,
    "salida": "resultado.xlsx",
    "completo": False,
    "por_estado": {"valido": 2},
    "nota": None,
}


def write_all(
    destination: str | Path,
    rows: Sequence[Mapping[str, Any]],
    *,
    columns: Sequence[str] = COLUMNS,
    layout: writers.Layout = "split",
    summary: Mapping[str, Any] = SUMMARY,
    style: SheetStyle | None = None,
) -> None:
    writer = open_writer(destination, columns=columns, layout=layout, style=style)
    for row in rows:
        writer.write(row)
    writer.close(summary)


@contextlib.contextmanager
def workbook(path: Path) -> Iterator[Any]:
    book = openpyxl.load_workbook(path)
    try:
        yield book
    finally:
        book.close()


def sheet_values(sheet: Any) -> list[list[Any]]:
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def leftovers(directory: Path, keep: str) -> list[str]:
    """Everything in ``directory`` but the output: temp files, scratch dirs, locks."""
    return sorted(p.name for p in directory.iterdir() if p.name != keep)


# --- neutralisation ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+51 999", "'+51 999"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-2+3", "'-2+3"),
        ("-", "-"),
        ("", ""),
        ("EMPRESA = S.A.", "EMPRESA = S.A."),
        ("20100038146", "20100038146"),
    ],
)
def test_neutralise(text: str, expected: str) -> None:
    assert neutralise(text) == expected


# --- xlsx ---------------------------------------------------------------------


def test_xlsx_split_sheets_and_cells(tmp_path: Path) -> None:
    out = tmp_path / "resultado.xlsx"
    write_all(out, sample_rows())

    with workbook(out) as book:
        assert book.sheetnames == ["validos", "invalidos", "errores", "resumen"]
        validos = book["validos"]
        header = [cell.value for cell in validos[1]]
        assert header == list(COLUMNS)
        assert [row[0] for row in sheet_values(validos)[1:]] == [
            "20100038146",
            "20601030013",
            "10000000001",
        ]
        assert [row[0] for row in sheet_values(book["invalidos"])[1:]] == [
            "20131312955",
            "2010003814",
        ]
        assert [row[0] for row in sheet_values(book["errores"])[1:]] == ["20100070970"]

        for name in ("validos", "invalidos", "errores", "resumen"):
            sheet = book[name]
            assert all(cell.font.b for cell in sheet[1]), name
            assert sheet["A1"].fill.fgColor.rgb not in (None, "00000000"), name
            # The header row is frozen; so is the RUC column, to keep it in view.
            assert sheet.freeze_panes == ("A2" if name == "resumen" else "B2"), name
            assert (
                sheet.auto_filter.ref == f"A1:{get_column_letter(sheet.max_column)}{sheet.max_row}"
            ), name
            assert all(0 < dim.width <= 62 for dim in sheet.column_dimensions.values()), name
            for row in sheet.iter_rows(min_row=2, max_col=1):
                assert row[0].data_type == "s", name  # RUCs stay text: every digit kept

        col = {name: i + 1 for i, name in enumerate(COLUMNS)}
        first = validos.cell(row=2, column=col["nombre_o_razon_social"])
        assert first.value == "'" + FORMULA
        assert first.data_type == "s"
        assert validos.cell(row=2, column=col["interior"]).value == "-"
        assert validos.cell(row=2, column=col["apto_facturacion"]).value is True
        assert validos.cell(row=2, column=col["apto_facturacion"]).data_type == "b"
        numero = validos.cell(row=2, column=col["numero"])
        assert (numero.value, numero.data_type) == ("123", "s")
        assert validos.cell(row=2, column=col["lote"]).value is None
        assert json.loads(validos.cell(row=2, column=col["manzana"]).value) == ["A", 1]
        assert validos.cell(row=3, column=col["apto_facturacion"]).value is False
        last = [cell.value for cell in validos[4]]
        assert last[col["nombre_o_razon_social"] - 1] == "-"
        assert last[col["direccion"] - 1] == "-"
        assert last[col["distrito"] - 1] == "'@SUM(A1)"
        assert validos.max_column == len(COLUMNS)  # extra_key is not a column

        resumen = sheet_values(book["resumen"])
        assert resumen[0] == ["campo", "valor"]
        assert {row[0]: row[1] for row in resumen[1:]} == {
            "total": 7,
            "unicos": 6,
            "duracion_s": 1.5,
            "salida": "resultado.xlsx",
            "completo": False,
            "por_estado: valido": 2,  # a nested mapping: one row per entry, a number
            "nota": None,
        }
    assert leftovers(tmp_path, out.name) == []


def test_xlsx_single_layout(tmp_path: Path) -> None:
    out = tmp_path / "enriquecido.xlsx"
    columns = ["Cliente", "=RUC", *COLUMNS]
    rows = [{"Cliente": "ACME", "=RUC": " 20100038146 ", **row} for row in sample_rows()]
    write_all(out, rows, columns=columns, layout="single")

    with workbook(out) as book:
        assert book.sheetnames == ["resultado", "resumen"]
        values = sheet_values(book["resultado"])
        assert values[0][:3] == ["Cliente", "'=RUC", "ruc"]  # headers are neutralised too
        assert [row[2] for row in values[1:]] == [row["ruc"] for row in rows]
        assert (
            book["resultado"].auto_filter.ref
            == f"A1:{get_column_letter(book['resultado'].max_column)}7"
        )


STYLE = SheetStyle(
    notes={"ruc": "RUC consultado.", "apto_facturacion": "Puede ir en una factura."},
    fit="apto_facturacion",
    status="estado_consulta",
)


def conditional_rules(sheet: Any) -> list[tuple[str, list[str]]]:
    return [
        (str(rules.sqref), [rule.formula[0] for rule in rules.rules])
        for rules in sheet.conditional_formatting
    ]


def test_xlsx_style_describes_columns_and_colours_fitness(tmp_path: Path) -> None:
    out = tmp_path / "resultado.xlsx"
    unfit = _valid("20111111112", estado_del_contribuyente="BAJA DE OFICIO")
    write_all(out, [*sample_rows(), unfit], style=STYLE)

    with workbook(out) as book:
        validos = book["validos"]
        header = {cell.value: cell for cell in validos[1]}
        # Headers keep the machine names; the description is a comment beside them.
        assert header["ruc"].comment.text == "ruc: RUC consultado."
        assert header["apto_facturacion"].comment.text.endswith("Puede ir en una factura.")
        assert header["motivo"].comment is None
        values = sheet_values(validos)
        fit = [dict(zip(values[0], row, strict=True))["apto_facturacion"] for row in values[1:]]
        assert fit == [True, False, True, False]
        # apto_facturacion is column D, estado_consulta column B; an unchecked row
        # (--solo-validar) is FALSE but not unfit, hence the estado in the red rule.
        assert conditional_rules(validos) == [
            ("D2:D5", ["D2=TRUE", 'AND(D2=FALSE,$B2="valido")']),
        ]
        # Where every row is unfit by definition, colour would only be noise.
        assert conditional_rules(book["invalidos"]) == []
        assert conditional_rules(book["errores"]) == []


def test_xlsx_style_follows_renamed_columns_in_the_single_layout(tmp_path: Path) -> None:
    out = tmp_path / "enriquecido.xlsx"
    columns = ["apto_facturacion", *(f"{c}_migo" for c in COLUMNS)]
    rows = [
        {"apto_facturacion": "columna del usuario", **{f"{k}_migo": v for k, v in row.items()}}
        for row in sample_rows()
    ]
    style = SheetStyle(
        notes={"ruc_migo": "RUC consultado."},
        fit="apto_facturacion_migo",
        status="estado_consulta_migo",
    )
    write_all(out, rows, columns=columns, layout="single", style=style)

    with workbook(out) as book:
        sheet = book["resultado"]
        assert sheet["A1"].comment is None  # the user's own column says nothing
        assert sheet["B1"].comment.text == "ruc_migo: RUC consultado."
        assert conditional_rules(sheet) == [
            ("E2:E7", ["E2=TRUE", 'AND(E2=FALSE,$C2="valido")']),
        ]
        assert sheet.freeze_panes == "A2"  # the first column is the user's, not the RUC


def test_xlsx_column_widths_follow_the_text(tmp_path: Path) -> None:
    out = tmp_path / "resultado.xlsx"
    long_name = "EMPRESA DE TRANSPORTES DEL SUR S.A.C."
    very_long = "JR. " + "X" * 200
    write_all(out, [_valid("20100038146", long_name, direccion=very_long)])

    with workbook(out) as book:
        sheet = book["validos"]
        width = {cell.value: sheet.column_dimensions[cell.column_letter].width for cell in sheet[1]}
    assert width["ruc"] < 20
    # Excel's width unit is a "0"; SUNAT's capitals are wider, so they get more than a margin.
    assert width["nombre_o_razon_social"] > len(long_name) + 2
    assert width["direccion"] <= 62  # a long text is cut at a readable width (60, in pixels)
    assert width["apto_facturacion"] >= len("apto_facturacion")  # the header and its filter


def test_xlsx_continues_on_new_sheets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writers, "XLSX_MAX_ROWS", 5)  # header + 4 rows a sheet
    out = tmp_path / "grande.xlsx"
    rows = [_valid(f"20{i:09d}") for i in range(10)]
    rows.insert(3, RucResult("20100070970", Status.ERROR, "x").to_row())
    write_all(out, rows)

    with workbook(out) as book:
        assert book.sheetnames == [
            "validos",
            "invalidos",
            "errores",
            "validos (2)",
            "validos (3)",
            "resumen",
        ]
        rucs: list[str] = []
        for name, count in (("validos", 4), ("validos (2)", 4), ("validos (3)", 2)):
            sheet = book[name]
            values = sheet_values(sheet)
            assert values[0] == list(COLUMNS), name
            assert len(values) == count + 1, name
            assert sheet.auto_filter.ref == f"A1:AA{count + 1}", name
            assert sheet.freeze_panes == "B2", name  # the header row and the RUC column
            rucs += [row[0] for row in values[1:]]
        assert rucs == [f"20{i:09d}" for i in range(10)]
        assert sheet_values(book["errores"])[1][0] == "20100070970"


def test_xlsx_tolerates_control_characters_and_empty_run(tmp_path: Path) -> None:
    out = tmp_path / "raro.xlsx"
    write_all(out, [_valid("20100038146", "A\x01B\x00C")])
    with workbook(out) as book:
        assert book["validos"]["H2"].value.startswith("A")

    empty = tmp_path / "vacio.xlsx"
    write_all(empty, [], summary={})
    with workbook(empty) as book:
        assert book.sheetnames == ["validos", "invalidos", "errores", "resumen"]
        assert sheet_values(book["validos"]) == [list(COLUMNS)]


# --- csv ----------------------------------------------------------------------


def test_csv(tmp_path: Path) -> None:
    out = tmp_path / "resultado.csv"
    rows = sample_rows()
    write_all(out, rows)

    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with out.open(encoding="utf-8-sig", newline="") as handle:
        table = list(csv.reader(handle))
    assert table[0] == list(COLUMNS)
    assert [line[0] for line in table[1:]] == [row["ruc"] for row in rows]
    assert all(len(line) == len(COLUMNS) for line in table)
    first = dict(zip(COLUMNS, table[1], strict=True))
    assert first["nombre_o_razon_social"] == "'" + FORMULA
    assert first["interior"] == "-"
    assert first["apto_facturacion"] == "TRUE"
    assert first["numero"] == "123"
    assert first["lote"] == ""
    assert json.loads(first["manzana"]) == ["A", 1]
    last = dict(zip(COLUMNS, table[-1], strict=True))
    assert (last["nombre_o_razon_social"], last["distrito"]) == ("-", "'@SUM(A1)")
    assert dict(zip(COLUMNS, table[2], strict=True))["apto_facturacion"] == "FALSE"
    assert leftovers(tmp_path, out.name) == []


# --- json -----------------------------------------------------------------------


def test_jsonl(tmp_path: Path) -> None:
    out = tmp_path / "resultado.jsonl"
    rows = sample_rows()
    write_all(out, rows)

    text = out.read_text(encoding="utf-8")
    assert "ñandú" in text  # not \u-escaped
    assert FORMULA.replace('"', '\\"') in text  # JSON outputs are not neutralised
    lines = text.splitlines()
    assert [json.loads(line) for line in lines] == rows
    assert list(json.loads(lines[0])) == list(rows[0])  # key order kept
    assert json.loads(lines[0])["apto_facturacion"] is True
    assert leftovers(tmp_path, out.name) == []


def test_json(tmp_path: Path) -> None:
    out = tmp_path / "resultado.json"
    rows = sample_rows()
    write_all(out, rows)
    with out.open(encoding="utf-8") as handle:
        assert json.load(handle) == rows

    empty = tmp_path / "vacio.json"
    write_all(empty, [])
    with empty.open(encoding="utf-8") as handle:
        assert json.load(handle) == []


def test_stdout_gets_jsonl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    stream = io.StringIO()
    writer = open_writer("-", columns=COLUMNS, stdout=stream)
    assert writer.path is None
    rows = sample_rows()
    for row in rows:
        writer.write(row)
    writer.close(SUMMARY)
    assert [json.loads(line) for line in stream.getvalue().splitlines()] == rows
    assert list(tmp_path.iterdir()) == []


def test_stdout_default_is_utf8_jsonl(monkeypatch: pytest.MonkeyPatch) -> None:
    """Redirected stdout on Windows is cp1252; JSON Lines must still be UTF-8."""
    raw = io.BytesIO()
    legacy = io.TextIOWrapper(raw, encoding="cp1252", newline="")
    monkeypatch.setattr(sys, "stdout", legacy)
    writer = open_writer("-", columns=COLUMNS)
    row = {"ruc": "20100038146", "nombre_o_razon_social": "ÑANDÚ 漢字 S.A.C."}
    writer.write(MappingProxyType(row))
    writer.close({})
    assert json.loads(raw.getvalue().decode("utf-8")) == row
    legacy.detach()


def test_stdout_closed_early_is_an_output_error() -> None:
    class ClosedPipe(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError

    writer = open_writer("-", columns=COLUMNS, stdout=ClosedPipe())
    with pytest.raises(OutputError, match="salida estándar"):
        writer.write(sample_rows()[0])
    writer.abort()


# --- atomicity --------------------------------------------------------------------


@pytest.mark.parametrize("suffix", OUTPUT_FORMATS)
def test_abort_keeps_existing_output(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"resultado{suffix}"
    out.write_bytes(b"previous run\n")
    writer = open_writer(out, columns=COLUMNS)
    for row in sample_rows():
        writer.write(row)
    writer.abort()
    writer.abort()  # idempotent: the pipeline may abort from more than one place
    assert out.read_bytes() == b"previous run\n"
    assert leftovers(tmp_path, out.name) == []


@pytest.mark.parametrize("suffix", OUTPUT_FORMATS)
def test_close_after_abort_changes_nothing(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"resultado{suffix}"
    out.write_bytes(b"previous run\n")
    writer = open_writer(out, columns=COLUMNS)
    writer.write(sample_rows()[0])
    writer.abort()
    writer.close(SUMMARY)
    assert out.read_bytes() == b"previous run\n"
    assert leftovers(tmp_path, out.name) == []


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("boom")

    def __repr__(self) -> str:
        raise RuntimeError("boom")


@pytest.mark.parametrize("suffix", OUTPUT_FORMATS)
def test_exception_while_writing_leaves_output_alone(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"resultado{suffix}"
    out.write_bytes(b"previous run\n")
    writer = open_writer(out, columns=COLUMNS)
    try:
        writer.write(sample_rows()[0])
        writer.write(_valid("20100038146", Unprintable()))  # type: ignore[arg-type]
        writer.close(SUMMARY)
    except RuntimeError:
        writer.abort()
    else:
        pytest.fail("the unprintable value was written")
    assert out.read_bytes() == b"previous run\n"
    assert leftovers(tmp_path, out.name) == []


@pytest.mark.parametrize("suffix", OUTPUT_FORMATS)
def test_close_replaces_output_and_stale_temp(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"resultado{suffix}"
    out.write_bytes(b"previous run\n")
    temp_path_for(out).write_bytes(b"left by a run killed with -9")
    if suffix == ".xlsx":
        scratch = tmp_path / f".{out.name}.migo-tmp.d"  # xlsxwriter's scratch dir of that run
        scratch.mkdir()
        (scratch / "tmp1234").write_text("<row/>")
    write_all(out, sample_rows())
    assert out.read_bytes() != b"previous run\n"
    assert leftovers(tmp_path, out.name) == []


def test_temp_path_is_hidden_sibling() -> None:
    path = Path("/datos/resultado.xlsx")
    assert temp_path_for(path) == Path("/datos/.resultado.xlsx.migo-tmp")
    assert lock_path_for(path) == Path("/datos/.resultado.xlsx.lock")


# --- Output.parse ---------------------------------------------------------------------


def test_output_accepts_and_touches_nothing(tmp_path: Path) -> None:
    out = tmp_path / "resultado.XLSX"
    assert Output.parse(out).path == out.resolve()
    assert list(tmp_path.iterdir()) == []

    out.write_bytes(b"keep me")
    before = out.stat()
    assert Output.parse(str(out)).path == out
    assert out.read_bytes() == b"keep me"
    assert out.stat().st_mtime_ns == before.st_mtime_ns
    assert leftovers(tmp_path, out.name) == []
    assert Output.parse("-").path is None


def test_output_leaves_a_running_temp_file_alone(tmp_path: Path) -> None:
    out = tmp_path / "resultado.csv"
    temp_path_for(out).write_bytes(b"another run is writing this")
    Output.parse(out)
    assert temp_path_for(out).read_bytes() == b"another run is writing this"
    assert leftovers(tmp_path, out.name) == [temp_path_for(out).name]


def test_output_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"\.xlsx, \.csv, \.jsonl o \.json") as info:
        Output.parse(tmp_path / "resultado.txt")
    assert "\n" not in str(info.value)
    with pytest.raises(OutputError):
        Output.parse(tmp_path / "sin_extension")


def test_output_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="no existe la carpeta") as info:
        Output.parse(tmp_path / "no" / "hay" / "resultado.xlsx")
    assert info.value.path is not None
    assert not (tmp_path / "no").exists()


def test_output_directory(tmp_path: Path) -> None:
    folder = tmp_path / "carpeta.xlsx"
    folder.mkdir()
    with pytest.raises(OutputError, match="es una carpeta"):
        Output.parse(folder)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_output_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "tubo.csv"
    os.mkfifo(fifo)
    with pytest.raises(OutputError, match="archivo común"):
        Output.parse(fifo)


def test_output_under_a_regular_file(tmp_path: Path) -> None:
    plain = tmp_path / "archivo"
    plain.write_text("x")
    with pytest.raises(OutputError):
        Output.parse(plain / "resultado.csv")


CHECK_OUTPUT = """
import sys
from migo_cli.exceptions import OutputError
from migo_cli.writers import Output
try:
    Output.parse(sys.argv[1])
except OutputError as exc:
    sys.exit(str(exc))
"""


def test_output_read_only_directory(tmp_path: Path) -> None:
    """Checked by a child that has no root powers even when we are root (CI)."""
    locked = tmp_path / "solo_lectura"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        done = subprocess.run(
            as_plain_user([sys.executable, "-c", CHECK_OUTPUT, str(locked / "resultado.xlsx")]),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        locked.chmod(0o755)
    assert done.returncode == 1, done.stderr
    assert "no se puede escribir" in done.stderr
    assert list(locked.iterdir()) == []  # not even a probe file left behind


def test_output_unwritable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Works as root too: the directory refuses every new file."""
    real_open = os.open

    def refuse(path: Any, flags: int, mode: int = 0o777, **kwargs: Any) -> int:
        if str(path).startswith(str(tmp_path)) and flags & os.O_CREAT:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, mode, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(OutputError, match="permiso denegado"):
        Output.parse(tmp_path / "resultado.json")


def test_output_stdout_is_jsonl_without_a_file() -> None:
    for output in (Output.parse("-"), Output.parse(None, "-")):  # ``-o -``, or stdin's default
        assert output.is_stdout
        assert (output.path, output.format, str(output)) == (None, ".jsonl", "-")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("r.xlsx", ".xlsx"),
        ("r.csv", ".csv"),
        ("r.jsonl", ".jsonl"),
        ("r.json", ".json"),
        ("R.JSONL", ".jsonl"),
    ],
)
def test_output_format_is_the_extension(tmp_path: Path, name: str, expected: str) -> None:
    output = Output.parse(tmp_path / name)
    assert (output.path, output.format) == ((tmp_path / name).resolve(), expected)
    assert str(output) == str((tmp_path / name).resolve())


def test_output_unknown_extension_is_one_spanish_line(tmp_path: Path) -> None:
    with pytest.raises(OutputError) as info:
        Output.parse(tmp_path / "resultado.pdf")
    assert str(info.value) == (
        f"formato de salida no soportado: {str(tmp_path / 'resultado.pdf')!r} "
        "(use .xlsx, .csv, .jsonl o .json, o - para JSONL por la salida estándar)"
    )


def test_output_default_is_beside_the_input(tmp_path: Path) -> None:
    output = Output.parse(None, tmp_path / "clientes.csv")
    assert output.path == (tmp_path / "clientes_resultado.xlsx").resolve()
    assert output.format == ".xlsx"


def test_output_same_as_the_input_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "lista.csv"
    source.write_text("RUC\n20100038146\n", encoding="utf-8")
    with pytest.raises(OutputError, match="es el mismo archivo de entrada"):
        Output.parse(tmp_path / "." / "lista.csv", source)
    assert source.read_text(encoding="utf-8") == "RUC\n20100038146\n"
    assert leftovers(tmp_path, source.name) == []


def test_summary_output_any_name_checked_before_the_run(tmp_path: Path) -> None:
    assert Output.summary(tmp_path / "resumen.txt").format == ".json"
    with pytest.raises(OutputError, match="no se puede escribir el resumen en"):
        Output.summary(tmp_path / "no-existe" / "resumen.json")
    folder = tmp_path / "carpeta"
    folder.mkdir()
    with pytest.raises(OutputError, match="no se puede escribir el resumen en"):
        Output.summary(folder)


def test_summary_is_written_atomically_and_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "resumen.json"
    path.write_text("anterior", encoding="utf-8")
    output = Output.summary(path)
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)

    writers.write_summary(output, {"total": 2, "salida": "año.xlsx", "completo": True})

    assert json.loads(path.read_text(encoding="utf-8")) == {
        "total": 2,
        "salida": "año.xlsx",
        "completo": True,
    }
    assert len(synced) >= 2  # the file before the rename, and its directory after
    assert leftovers(tmp_path, path.name) == []


def test_summary_that_cannot_be_written_keeps_the_old_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "resumen.json"
    path.write_text("anterior", encoding="utf-8")
    output = Output.summary(path)

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OutputError, match=r"no se pudo escribir el resumen en .*no queda espacio"):
        writers.write_summary(output, {"total": 1})
    assert path.read_text(encoding="utf-8") == "anterior"
    assert leftovers(tmp_path, path.name) == []


def test_a_run_checks_its_output_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "rucs.csv"
    source.write_text("RUC\n20100038146\n", encoding="utf-8")
    checked: list[Path] = []
    real_check = writers._check_writable

    def counting(path: Path) -> None:
        checked.append(path)
        real_check(path)

    monkeypatch.setattr(writers, "_check_writable", counting)
    job = BatchJob(source, tmp_path / "r.csv", validate_only=True)
    report = asyncio.run(run_batch(job))

    assert checked == [(tmp_path / "r.csv").resolve()]
    assert report.output == str((tmp_path / "r.csv").resolve())
    assert (tmp_path / "r.csv").is_file()


# --- lock -----------------------------------------------------------------------


def test_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    out = tmp_path / "resultado.xlsx"
    with Output.parse(out).lock():
        with pytest.raises(OutputLockedError, match=r"resultado\.xlsx") as info:  # noqa: SIM117
            with Output.parse(str(out)).lock():
                pytest.fail("two holders")
        assert "\n" not in str(info.value)
        assert isinstance(info.value, OutputError)
    with Output.parse(out).lock():  # released: the next run gets it
        pass
    assert list(tmp_path.iterdir()) == []  # the lock file goes with the lock


def test_lock_released_when_the_run_fails(tmp_path: Path) -> None:
    out = tmp_path / "resultado.csv"
    with pytest.raises(RuntimeError), Output.parse(out).lock():
        raise RuntimeError("run failed")
    with Output.parse(out).lock():
        pass


def test_lock_stdout_and_missing_directory(tmp_path: Path) -> None:
    with Output.parse("-").lock(), Output.parse("-").lock():
        pass
    with (
        pytest.raises(OutputError, match="no existe la carpeta"),
        Output.parse(tmp_path / "no" / "resultado.csv").lock(),
    ):
        pass
    assert not (tmp_path / "no").exists()


HOLD_LOCK = """
import sys, time
from migo_cli.writers import Output
with Output.parse(sys.argv[1]).lock():
    print("locked", flush=True)
    time.sleep(120)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_lock_of_a_killed_run_does_not_block(tmp_path: Path) -> None:
    out = tmp_path / "resultado.jsonl"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(out)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO_ROOT,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(OutputLockedError), Output.parse(out).lock():
            pass
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
        assert lock_path_for(out).exists()  # left behind by kill -9 ...
        with Output.parse(out).lock():  # ... yet it blocks nothing
            pass
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
