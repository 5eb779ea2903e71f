"""``migo masivo`` end to end against the simulator on loopback (issue 3's "Done when").

Every test drives the real CLI in-process (``CliRunner``) against a real HTTP
simulator and counts what reached it: formats in and out, enrichment, the cache,
``--json-resumen``, ``--dry-run`` / ``--solo-validar``, the lock, and every bad
input (exit 2, one line on stderr, not one request).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from typer.testing import CliRunner, Result

from migo_cli.cli import app
from migo_cli.dialects import V1, Operation
from migo_cli.models import OUTPUT_COLUMNS
from migo_cli.simulator import (
    RUC_ACENTOS,
    RUC_ACTIVO_HABIDO,
    RUC_BAJA_DE_OFICIO,
    RUC_DIGITO_INVALIDO,
    RUC_FORMULA,
    RUC_NO_EXISTE,
    RUC_NO_HABIDO,
    RUC_PERSONA_NATURAL,
    RUC_SUSPENSION_TEMPORAL,
    SimulatorThread,
)
from migo_cli.writers import Output, lock_path_for
from tests.conftest import TOKEN, make_rucs

REPO_ROOT = Path(__file__).resolve().parents[1]
FORMULA_NAME = '=HYPERLINK("http://x","y")'
EP_RUC = V1.path(Operation.RUC)
EP_COLLECTION = V1.path(Operation.COLLECTION)
SHEETS = ["validos", "invalidos", "errores", "resumen"]

runner = CliRunner()


# -- helpers ---------------------------------------------------------------------------


pytestmark = pytest.mark.usefixtures("restore_migo_logger")


def masivo(
    sim: SimulatorThread | None,
    *args: str,
    token: str | None = TOKEN,
    stdin: str | bytes | None = None,
) -> Result:
    """``migo masivo ARGS`` against ``sim`` (when given), with ``token`` (when given)."""
    argv = ["masivo", *args]
    if sim is not None:
        argv += ["--base-url", sim.base_url]
    if token is not None:
        argv += ["--token", token]
    return runner.invoke(app, argv, input=stdin)


def assert_clean_exit(result: Result, code: int) -> None:
    """Exit ``code``, reached on purpose (no exception escaped, no traceback printed)."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stderr


def write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def write_xlsx(path: Path, sheets: dict[str, Sequence[Sequence[object]]]) -> Path:
    """A workbook with these sheets, in this order (openpyxl: numbers stay numeric cells)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    book = openpyxl.Workbook()
    for index, (title, rows) in enumerate(sheets.items()):
        sheet = book.active if index == 0 else book.create_sheet()
        sheet.title = title
        for row in rows:
            sheet.append(list(row))
    book.save(path)
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert all(isinstance(row, dict) for row in rows)
    return rows


def read_summary(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def states(rows: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(row["ruc"], row["estado_consulta"]) for row in rows]


@contextlib.contextmanager
def workbook(path: Path) -> Iterator[Any]:
    book = openpyxl.load_workbook(path)
    try:
        yield book
    finally:
        book.close()


def sheet_records(sheet: Any) -> list[dict[str, Any]]:
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    header = rows[0]
    return [dict(zip(header, row, strict=True)) for row in rows[1:]]


def summary_sheet(sheet: Any) -> dict[str, Any]:
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("campo", "valor")
    return {str(key): value for key, value in rows[1:]}


def counts(summary: dict[str, Any]) -> dict[str, Any]:
    """The resumen without what varies from run to run."""
    return {k: v for k, v in summary.items() if k not in ("duracion_s", "salida")}


# -- input formats ---------------------------------------------------------------------

# Valid, not found, bad check digit, found but not billable, and a duplicate.
SAMPLE = [
    RUC_ACTIVO_HABIDO,
    RUC_NO_EXISTE,
    RUC_DIGITO_INVALIDO,
    RUC_BAJA_DE_OFICIO,
    RUC_ACTIVO_HABIDO,
]
SAMPLE_ROWS = [
    (RUC_ACTIVO_HABIDO, "valido"),
    (RUC_NO_EXISTE, "no_existe"),
    (RUC_DIGITO_INVALIDO, "formato_invalido"),
    (RUC_BAJA_DE_OFICIO, "valido"),
]
SAMPLE_REQUESTS = {RUC_ACTIVO_HABIDO: 1, RUC_NO_EXISTE: 1, RUC_BAJA_DE_OFICIO: 1}


def _csv_semicolon(d: Path) -> Path:
    lines = [f"Cliente {i};{ruc};{i}0,50" for i, ruc in enumerate(SAMPLE)]
    return write_text(d / "clientes.csv", "Cliente;RUC;Monto\n" + "\n".join(lines) + "\n")


def _csv_cp1252(d: Path) -> Path:
    lines = [f'"Compañía {i}, S.A.C.",{ruc}' for i, ruc in enumerate(SAMPLE)]
    return write_text(d / "windows.csv", "Razón social,N° RUC\r\n" + "\r\n".join(lines), "cp1252")


def _csv_bom(d: Path) -> Path:
    body = "numero_ruc|nota\n" + "\n".join(f"{ruc}|x" for ruc in SAMPLE) + "\n"
    return write_text(d / "bom.csv", "\ufeff" + body)


def _tsv(d: Path) -> Path:
    lines = [f"{ruc}\tProveedor {i}" for i, ruc in enumerate(SAMPLE)]
    return write_text(d / "proveedores.tsv", "Nro. RUC\tNombre\n" + "\n".join(lines) + "\n")


def _txt(d: Path) -> Path:
    return write_text(d / "rucs.txt", "rucs\n" + "\n".join(SAMPLE) + "\n")


def _txt_no_header(d: Path) -> Path:
    return write_text(d / "sin_encabezado.txt", "\n".join(SAMPLE) + "\n")


def _xlsx_numeric(d: Path) -> Path:
    rows: list[list[object]] = [["Razón social", "RUC"]]
    rows += [[f"Cliente {i}", int(r)] for i, r in enumerate(SAMPLE)]
    return write_xlsx(d / "clientes.xlsx", {"Hoja1": rows})


def _xlsm_float(d: Path) -> Path:
    rows: list[list[object]] = [["RUC", "Monto"]]
    rows += [[float(r), 1.5] for r in SAMPLE]
    return write_xlsx(d / "macros.xlsm", {"Datos": rows})


def _json_strings(d: Path) -> Path:
    return write_text(d / "rucs.json", json.dumps(SAMPLE))


def _json_numbers(d: Path) -> Path:
    return write_text(d / "numeros.json", json.dumps([int(r) for r in SAMPLE]))


def _json_objects(d: Path) -> Path:
    objects = [{"nombre": f"C{i}", "numero_ruc": r} for i, r in enumerate(SAMPLE)]
    return write_text(d / "objetos.json", json.dumps(objects))


def _jsonl_objects(d: Path) -> Path:
    return write_text(d / "rucs.jsonl", "\n".join(json.dumps({"ruc": r}) for r in SAMPLE) + "\n")


def _jsonl_numbers(d: Path) -> Path:
    return write_text(d / "numeros.jsonl", "\n".join(str(int(r)) for r in SAMPLE) + "\n")


@pytest.mark.parametrize(
    "make_input",
    [
        _csv_semicolon,
        _csv_cp1252,
        _csv_bom,
        _tsv,
        _txt,
        _txt_no_header,
        _xlsx_numeric,
        _xlsm_float,
        _json_strings,
        _json_numbers,
        _json_objects,
        _jsonl_objects,
        _jsonl_numbers,
    ],
    ids=lambda f: f.__name__.lstrip("_"),
)
def test_each_input_format(
    env: Path, sim: SimulatorThread, make_input: Callable[[Path], Path]
) -> None:
    source = make_input(env / "in")
    out = env / "out.jsonl"

    result = masivo(sim, str(source), "-o", str(out))

    assert_clean_exit(result, 0)
    assert states(read_jsonl(out)) == SAMPLE_ROWS
    assert sim.stats.by_ruc == SAMPLE_REQUESTS  # the duplicate once, the bad digit never
    assert sim.stats.lookup_requests == 3


def test_stdin_input_gives_jsonl_on_stdout_by_default(env: Path, sim: SimulatorThread) -> None:
    result = masivo(sim, "-", stdin="ruc\n" + "\n".join(SAMPLE) + "\n")

    assert_clean_exit(result, 0)
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert states(rows) == SAMPLE_ROWS
    assert sim.stats.by_ruc == SAMPLE_REQUESTS
    assert not list(env.glob("*resultado*"))


def test_stdin_xlsx_piped_in_whole(env: Path, sim: SimulatorThread) -> None:
    book = _xlsx_numeric(env / "in")
    out = env / "out.jsonl"

    result = masivo(sim, "-", "-o", str(out), stdin=book.read_bytes())

    assert_clean_exit(result, 0)
    assert states(read_jsonl(out)) == SAMPLE_ROWS


def test_stdin_csv_to_a_file(env: Path, sim: SimulatorThread) -> None:
    text = "Cliente;Nro. RUC\n" + "\n".join(f"C{i};{r}" for i, r in enumerate(SAMPLE)) + "\n"
    out = env / "desde_stdin.json"

    result = masivo(sim, "-", "-o", str(out), stdin=text.encode())

    assert_clean_exit(result, 0)
    assert result.stdout == ""
    assert states(json.loads(out.read_text(encoding="utf-8"))) == SAMPLE_ROWS


def test_xlsx_numeric_cells_and_damaged_text_on_a_chosen_sheet(
    env: Path, sim: SimulatorThread
) -> None:
    source = write_xlsx(
        env / "libro.xlsx",
        {
            "Notas": [["Los clientes están en la hoja Clientes"]],
            "Clientes": [
                ["Cliente", "RUC"],
                ["int", int(RUC_ACTIVO_HABIDO)],
                ["float", float(RUC_PERSONA_NATURAL)],  # 10123456781.0
                ["float repetido", 20100038146.0],
                ["espacios y guiones", " 20-111111112 "],
                ["notación científica", "2.0222222223E10"],
                ["NBSP", "20\u00a0555\u00a0555\u00a0556"],
                ["vacía", None],
                ["perdió dígitos", "2,01E+10"],
            ],
        },
    )
    out = env / "out.jsonl"
    resumen = env / "resumen.json"

    # The first sheet has no RUC column: without --hoja that is a usage error.
    first = masivo(sim, str(source), "-o", str(out))
    assert_clean_exit(first, 2)
    assert "columna de RUC" in first.stderr

    result = masivo(
        sim, str(source), "--hoja", "Clientes", "-o", str(out), "--json-resumen", str(resumen)
    )

    assert_clean_exit(result, 0)
    rows = read_jsonl(out)
    assert states(rows) == [
        (RUC_ACTIVO_HABIDO, "valido"),
        (RUC_PERSONA_NATURAL, "valido"),
        (RUC_BAJA_DE_OFICIO, "valido"),
        (RUC_NO_HABIDO, "valido"),
        (RUC_ACENTOS, "valido"),
        ("2,01E+10", "formato_invalido"),
    ]
    assert "perdió dígitos" in rows[-1]["motivo"]
    assert sim.stats.by_ruc[RUC_ACTIVO_HABIDO] == 1
    assert sim.stats.lookup_requests == 5
    summary = read_summary(resumen)
    assert (summary["total"], summary["unicos"], summary["duplicados"]) == (7, 6, 1)


# -- output formats --------------------------------------------------------------------

MIXED = [
    RUC_ACTIVO_HABIDO,
    RUC_FORMULA,
    RUC_NO_EXISTE,
    "2010003814",  # 10 digits
    RUC_BAJA_DE_OFICIO,
    RUC_NO_HABIDO,
    RUC_SUSPENSION_TEMPORAL,
    "+51 999 888 777",  # formula-like and malformed
]


def _mixed_input(directory: Path) -> Path:
    lines = [f"{ruc};Cliente {i}" for i, ruc in enumerate(MIXED)]
    return write_text(directory / "mixto.csv", "RUC;Cliente\n" + "\n".join(lines) + "\n")


def test_xlsx_output_sheets_cells_and_styles(env: Path, sim: SimulatorThread) -> None:
    out = env / "resultado.xlsx"

    result = masivo(sim, str(_mixed_input(env)), "-o", str(out))

    assert_clean_exit(result, 0)
    # No temporary file, scratch directory or lock left next to the output.
    assert sorted(p.name for p in env.iterdir()) == ["cache", "mixto.csv", "resultado.xlsx"]
    with workbook(out) as book:
        assert book.sheetnames == SHEETS
        validos = sheet_records(book["validos"])
        invalidos = sheet_records(book["invalidos"])
        assert sheet_records(book["errores"]) == []
        assert [r["ruc"] for r in validos] == [
            RUC_ACTIVO_HABIDO,
            RUC_FORMULA,
            RUC_BAJA_DE_OFICIO,
            RUC_NO_HABIDO,
            RUC_SUSPENSION_TEMPORAL,
        ]
        assert {r["ruc"]: r["apto_facturacion"] for r in validos} == {
            RUC_ACTIVO_HABIDO: True,
            RUC_FORMULA: True,
            RUC_BAJA_DE_OFICIO: False,
            RUC_NO_HABIDO: False,
            RUC_SUSPENSION_TEMPORAL: False,
        }
        assert all(r["estado_consulta"] == "valido" and r["origen"] == "api" for r in validos)
        assert [(r["ruc"], r["estado_consulta"]) for r in invalidos] == [
            (RUC_NO_EXISTE, "no_existe"),
            ("2010003814", "formato_invalido"),
            ("'+51 999 888 777", "formato_invalido"),  # neutralised, text kept
        ]

        sheet = book["validos"]
        ruc_cells = [row[0] for row in sheet.iter_rows(min_row=2)]
        assert all(c.data_type == "s" and isinstance(c.value, str) for c in ruc_cells)
        names = {r["ruc"]: r["nombre_o_razon_social"] for r in validos}
        assert names[RUC_FORMULA] == "'" + FORMULA_NAME
        assert not any(
            cell.data_type == "f" for ws in book for row in ws.iter_rows() for cell in row
        )
        header = sheet[1]
        assert header[0].value == "ruc"
        assert all(cell.font.b for cell in header)
        assert sheet.freeze_panes == "B2"  # the header row and the RUC column
        assert sheet.auto_filter.ref is not None
        assert sheet.auto_filter.ref.startswith("A1:")

        summary = summary_sheet(book["resumen"])
        assert summary["total"] == 8
        assert summary["validos"] == 5
        assert summary["no_existe"] == 1
        assert summary["formato_invalido"] == 2
        assert summary["llamadas_api"] == 6
        assert summary["completo"] is True


def test_csv_output_has_bom_one_table_and_neutralised_text(env: Path, sim: SimulatorThread) -> None:
    out = env / "resultado.csv"

    result = masivo(sim, str(_mixed_input(env)), "-o", str(out))

    assert_clean_exit(result, 0)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert [r["ruc"] for r in rows] == [
        RUC_ACTIVO_HABIDO,
        RUC_FORMULA,
        RUC_NO_EXISTE,
        "2010003814",
        RUC_BAJA_DE_OFICIO,
        RUC_NO_HABIDO,
        RUC_SUSPENSION_TEMPORAL,
        "'+51 999 888 777",
    ]
    by_ruc = {r["ruc"]: r for r in rows}
    assert by_ruc[RUC_FORMULA]["nombre_o_razon_social"] == "'" + FORMULA_NAME
    assert by_ruc[RUC_ACTIVO_HABIDO]["apto_facturacion"] == "TRUE"
    assert by_ruc[RUC_NO_HABIDO]["apto_facturacion"] == "FALSE"
    assert by_ruc[RUC_NO_EXISTE]["estado_consulta"] == "no_existe"
    assert TOKEN not in raw.decode("utf-8-sig")
    assert TOKEN not in result.stderr


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_json_outputs_parse_and_keep_raw_text(env: Path, sim: SimulatorThread, suffix: str) -> None:
    out = env / f"resultado{suffix}"

    result = masivo(sim, str(_mixed_input(env)), "-o", str(out))

    assert_clean_exit(result, 0)
    if suffix == ".json":
        rows = json.loads(out.read_text(encoding="utf-8"))
        assert isinstance(rows, list)
    else:
        rows = read_jsonl(out)
    assert [r["ruc"] for r in rows][-1] == "+51 999 888 777"  # JSON is not neutralised
    by_ruc = {r["ruc"]: r for r in rows}
    assert by_ruc[RUC_FORMULA]["nombre_o_razon_social"] == FORMULA_NAME
    assert by_ruc[RUC_ACTIVO_HABIDO]["apto_facturacion"] is True
    assert by_ruc[RUC_BAJA_DE_OFICIO]["apto_facturacion"] is False
    assert by_ruc[RUC_BAJA_DE_OFICIO]["estado_del_contribuyente"] == "BAJA DE OFICIO"
    assert by_ruc[RUC_NO_HABIDO]["apto_facturacion"] is False
    assert by_ruc[RUC_NO_EXISTE]["motivo"]
    for row in rows:
        assert {"ruc", "estado_consulta", "motivo", "apto_facturacion", "origen"} <= set(row)
        assert row["consultado_en"][:4].isdigit()
        assert "T" in row["consultado_en"]


def test_stdout_output_is_only_jsonl(env: Path, sim: SimulatorThread) -> None:
    result = masivo(sim, str(_mixed_input(env)), "-o", "-")

    assert_clean_exit(result, 0)
    lines = result.stdout.splitlines()
    assert len(lines) == 8
    rows = [json.loads(line) for line in lines]
    assert all(isinstance(row, dict) and "estado_consulta" in row for row in rows)
    assert "Resumen" in result.stderr  # the summary goes to stderr
    assert sorted(p.name for p in env.iterdir()) == ["cache", "mixto.csv"]


def test_quiet_says_nothing_on_success(env: Path, sim: SimulatorThread) -> None:
    result = masivo(sim, str(_mixed_input(env)), "-o", "-", "-q")

    assert_clean_exit(result, 0)
    assert result.stderr == ""
    assert len(result.stdout.splitlines()) == 8


def test_default_output_is_beside_the_input(env: Path, sim: SimulatorThread) -> None:
    source = write_text(env / "datos" / "clientes.csv", "RUC\n" + "\n".join(SAMPLE) + "\n")
    resumen = env / "resumen.json"

    result = masivo(sim, "datos/clientes.csv", "--json-resumen", str(resumen))

    assert_clean_exit(result, 0)
    expected = source.with_name("clientes_resultado.xlsx")
    assert expected.is_file()
    assert not (env / "clientes_resultado.xlsx").exists()
    assert Path(read_summary(resumen)["salida"]) == expected.resolve()
    with workbook(expected) as book:
        assert book.sheetnames == SHEETS


# -- enrichment --------------------------------------------------------------------------


def test_enrich_keeps_every_row_in_order_and_the_original_columns(
    env: Path, sim: SimulatorThread
) -> None:
    source = write_text(
        env / "clientes.csv",
        "Cliente;ruc;motivo;Monto\n"
        f"Alfa;{RUC_NO_HABIDO};venta;10\n"
        "Beta;;sin ruc;20\n"
        f"Gamma;{RUC_DIGITO_INVALIDO};mal tipeado;30\n"
        "Delta; 20-100038146 ;repetido;40\n"
        f"Epsilon;{RUC_ACTIVO_HABIDO};primero;50\n",
    )
    out = env / "enriquecido.csv"

    result = masivo(sim, str(source), "--enriquecer", "-o", str(out))

    assert_clean_exit(result, 0)
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"), newline="")))
    header, body = rows[0], rows[1:]
    assert header[:4] == ["Cliente", "ruc", "motivo", "Monto"]
    added = header[4:]
    assert added[:6] == [
        "ruc_migo",
        "estado_consulta",
        "motivo_migo",
        "apto_facturacion",
        "origen",
        "consultado_en",
    ]
    assert [row[:4] for row in body] == [
        ["Alfa", RUC_NO_HABIDO, "venta", "10"],
        ["Beta", "", "sin ruc", "20"],
        ["Gamma", RUC_DIGITO_INVALIDO, "mal tipeado", "30"],
        ["Delta", " 20-100038146 ", "repetido", "40"],
        ["Epsilon", RUC_ACTIVO_HABIDO, "primero", "50"],
    ]
    enriched = [dict(zip(added, row[4:], strict=True)) for row in body]
    assert [(r["ruc_migo"], r["estado_consulta"], r["apto_facturacion"]) for r in enriched] == [
        (RUC_NO_HABIDO, "valido", "FALSE"),
        ("", "", ""),  # a row without RUC is kept, with nothing added
        (RUC_DIGITO_INVALIDO, "formato_invalido", "FALSE"),
        (RUC_ACTIVO_HABIDO, "valido", "TRUE"),
        (RUC_ACTIVO_HABIDO, "valido", "TRUE"),
    ]
    assert "dígito verificador" in enriched[2]["motivo_migo"]
    assert sim.stats.by_ruc == {RUC_NO_HABIDO: 1, RUC_ACTIVO_HABIDO: 1}


def test_enrich_xlsx_has_resultado_and_resumen_sheets(env: Path, sim: SimulatorThread) -> None:
    source = write_xlsx(
        env / "clientes.xlsx",
        {"Clientes": [["Cliente", "RUC"], ["A", int(RUC_ACTIVO_HABIDO)], ["B", None], ["C", "x"]]},
    )
    out = env / "enriquecido.xlsx"

    result = masivo(sim, str(source), "--enriquecer", "-o", str(out))

    assert_clean_exit(result, 0)
    with workbook(out) as book:
        assert book.sheetnames == ["resultado", "resumen"]
        records = sheet_records(book["resultado"])
    assert [(r["Cliente"], r["RUC"], r["estado_consulta"]) for r in records] == [
        ("A", RUC_ACTIVO_HABIDO, "valido"),  # the numeric cell comes back as its digits
        ("B", None, None),
        ("C", "x", "formato_invalido"),
    ]


def test_enrich_never_overwrites_an_input_column(env: Path, sim: SimulatorThread) -> None:
    source = write_text(env / "clientes.csv", f"ruc;motivo;motivo_migo\n{RUC_ACTIVO_HABIDO};a;b\n")
    out = env / "enriquecido.csv"

    result = masivo(sim, str(source), "--enriquecer", "-o", str(out))

    assert_clean_exit(result, 0)
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"), newline="")))
    header, first = rows[0], rows[1]
    assert len(header) == len(set(header)), "duplicate column names"
    assert first[:3] == [RUC_ACTIVO_HABIDO, "a", "b"]
    assert header[:3] + [h for h in header if "motivo" in h][2:] == [
        "ruc",
        "motivo",
        "motivo_migo",
        "motivo_migo_migo",
    ]


# -- duplicates, cache, resumen ------------------------------------------------------------

CRAFTED = (
    "RUC;Nota\n"
    f"{RUC_ACTIVO_HABIDO};activo\n"
    " 20-100038146 ;el mismo con guiones\n"
    f"{RUC_NO_EXISTE};no existe\n"
    f"{RUC_DIGITO_INVALIDO};dígito mal\n"
    "123;corto\n"
    "123;corto otra vez\n"
    ";sin RUC\n"
    f"{RUC_BAJA_DE_OFICIO};baja\n"
    f"{RUC_NO_HABIDO};no habido\n"
    f"{RUC_ACTIVO_HABIDO};otra vez\n"
)
CRAFTED_FIRST = {
    "total": 9,
    "unicos": 6,
    "duplicados": 3,
    "validos": 3,
    "no_existe": 1,
    "formato_invalido": 2,
    "errores": 0,
    "desde_cache": 0,
    "desde_padron": 0,
    "llamadas_api": 4,
    "completo": True,
    "aptos": 1,
    "cambios": 0,
    "no_aptos": 2,
    "no_aptos_por_motivo": {"BAJA DE OFICIO": 1, "NO HABIDO": 1},
}
CRAFTED_LOOKUPS = {RUC_ACTIVO_HABIDO: 1, RUC_NO_EXISTE: 1, RUC_BAJA_DE_OFICIO: 1, RUC_NO_HABIDO: 1}


def _crafted(env: Path) -> Path:
    return write_text(env / "lista.csv", CRAFTED)


def run_crafted(sim: SimulatorThread, env: Path, *options: str) -> tuple[Result, dict[str, Any]]:
    resumen = env / "resumen.json"
    resumen.unlink(missing_ok=True)
    sim.reset()
    result = masivo(
        sim,
        str(_crafted(env)),
        "-o",
        str(env / "out.jsonl"),
        "--json-resumen",
        str(resumen),
        *options,
    )
    assert_clean_exit(result, 0)
    return result, read_summary(resumen)


def test_json_resumen_counts_then_a_warm_rerun_asks_nothing(
    env: Path, sim: SimulatorThread
) -> None:
    _, first = run_crafted(sim, env)

    assert counts(first) == CRAFTED_FIRST
    assert first["salida"] == str((env / "out.jsonl").resolve())
    assert isinstance(first["duracion_s"], int | float)
    assert sim.stats.by_ruc == CRAFTED_LOOKUPS  # each distinct well-formed RUC exactly once
    assert sim.stats.lookup_requests == first["llamadas_api"]
    rows = read_jsonl(env / "out.jsonl")
    assert [r["origen"] for r in rows] == ["api", "api", "local", "local", "api", "api"]

    _, warm = run_crafted(sim, env)

    assert counts(warm) == CRAFTED_FIRST | {"desde_cache": 4, "llamadas_api": 0}
    assert sim.stats.requests_total == 0
    rerun = read_jsonl(env / "out.jsonl")
    assert states(rerun) == states(rows)
    assert [r["origen"] for r in rerun] == ["cache", "cache", "local", "local", "cache", "cache"]
    # A cached answer keeps the time APIMIGO gave it (a local row is stamped anew: the two
    # runs may fall in different seconds).
    cached = [i for i, r in enumerate(rerun) if r["origen"] == "cache"]
    assert [rerun[i]["consultado_en"] for i in cached] == [rows[i]["consultado_en"] for i in cached]


def test_refrescar_asks_again_and_stores_the_new_answers(env: Path, sim: SimulatorThread) -> None:
    run_crafted(sim, env)

    _, refreshed = run_crafted(sim, env, "--refrescar")
    assert counts(refreshed) == CRAFTED_FIRST
    assert sim.stats.by_ruc == CRAFTED_LOOKUPS

    _, after = run_crafted(sim, env)
    assert after["desde_cache"] == 4
    assert sim.stats.requests_total == 0


def test_sin_cache_neither_reads_nor_writes_the_cache(env: Path, sim: SimulatorThread) -> None:
    run_crafted(sim, env, "--sin-cache")
    assert sim.stats.by_ruc == CRAFTED_LOOKUPS

    _, again = run_crafted(sim, env, "--sin-cache")
    assert counts(again) == CRAFTED_FIRST
    assert sim.stats.by_ruc == CRAFTED_LOOKUPS

    _, plain = run_crafted(sim, env)  # nothing was stored by the --sin-cache runs
    assert counts(plain) == CRAFTED_FIRST
    assert sim.stats.lookup_requests == 4

    _, warm_but_skipped = run_crafted(sim, env, "--sin-cache")
    assert warm_but_skipped["desde_cache"] == 0
    assert sim.stats.lookup_requests == 4


def test_duplicates_in_every_disguise_are_requested_once(env: Path, sim: SimulatorThread) -> None:
    source = write_xlsx(
        env / "dups.xlsx",
        {
            "Hoja1": [
                ["RUC"],
                [RUC_ACTIVO_HABIDO],
                [int(RUC_ACTIVO_HABIDO)],
                [float(RUC_ACTIVO_HABIDO)],
                ["20.100.038.146"],
                [" 20-100038146 "],
                ["2.0100038146E10"],
                [RUC_NO_HABIDO],
                [int(RUC_NO_HABIDO)],
            ]
        },
    )
    out = env / "out.jsonl"

    result = masivo(sim, str(source), "-o", str(out), "--concurrencia", "8")

    assert_clean_exit(result, 0)
    assert states(read_jsonl(out)) == [(RUC_ACTIVO_HABIDO, "valido"), (RUC_NO_HABIDO, "valido")]
    assert sim.stats.by_ruc == {RUC_ACTIVO_HABIDO: 1, RUC_NO_HABIDO: 1}
    assert sim.stats.lookup_requests == 2


# -- --modo coleccion ------------------------------------------------------------------------


def test_collection_mode_needs_fewer_requests_and_gives_the_same_results(
    env: Path, sim: SimulatorThread
) -> None:
    values = [*make_rucs(150, start=7000), RUC_ACTIVO_HABIDO, RUC_NO_EXISTE, "2010003814"]
    source = write_text(env / "muchos.txt", "\n".join(values) + "\n")
    resumen = env / "resumen.json"

    def run(mode: str) -> list[dict[str, Any]]:
        sim.reset()
        out = env / f"{mode}.jsonl"
        result = masivo(
            sim,
            str(source),
            "--modo",
            mode,
            "-o",
            str(out),
            "--cache-dir",
            str(env / f"cache-{mode}"),
            "--json-resumen",
            str(resumen),
        )
        assert_clean_exit(result, 0)
        assert read_summary(resumen)["llamadas_api"] == sim.stats.lookup_requests
        return read_jsonl(out)

    individual = run("individual")
    assert sim.stats.by_endpoint.get(EP_RUC) == 152

    collection = run("coleccion")
    assert sim.stats.by_endpoint.get(EP_RUC, 0) == 0  # nothing fell back to one by one
    assert 2 <= sim.stats.by_endpoint[EP_COLLECTION] < 152  # at most 100 RUCs a call
    assert set(sim.stats.by_ruc.values()) == {1}

    def same(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in row.items() if k != "consultado_en"} for row in rows]

    assert same(collection) == same(individual)
    assert {r["estado_consulta"] for r in collection} >= {"valido", "no_existe", "formato_invalido"}


# -- --dry-run, --solo-validar --------------------------------------------------------------


def test_dry_run_counts_what_it_would_pay_with_a_partly_warm_cache(
    env: Path, sim: SimulatorThread
) -> None:
    warm = write_text(env / "ayer.txt", f"{RUC_ACTIVO_HABIDO}\n{RUC_NO_EXISTE}\n")
    assert_clean_exit(masivo(sim, str(warm), "-o", str(env / "ayer.jsonl")), 0)
    sim.reset()
    source = write_text(
        env / "hoy.txt",
        "\n".join(
            [
                RUC_ACTIVO_HABIDO,  # cached (valid)
                RUC_NO_EXISTE,  # cached (not found)
                RUC_BAJA_DE_OFICIO,
                RUC_NO_HABIDO,
                RUC_FORMULA,
                RUC_DIGITO_INVALIDO,  # never paid for
                RUC_BAJA_DE_OFICIO,  # duplicate
            ]
        )
        + "\n",
    )
    resumen = env / "resumen.json"
    out = env / "hoy.xlsx"

    def dry(*options: str) -> tuple[Result, dict[str, Any]]:
        resumen.unlink(missing_ok=True)
        result = masivo(
            sim, str(source), "--dry-run", "--json-resumen", str(resumen), "-o", str(out), *options
        )
        assert_clean_exit(result, 0)
        return result, read_summary(resumen)

    result, summary = dry()
    assert "Consultas pagadas que haría esta ejecución: 3" in result.stderr
    assert summary["llamadas_estimadas"] == 3
    assert summary["llamadas_api"] == 0
    assert (summary["total"], summary["unicos"]) == (7, 6)

    assert dry("--modo", "coleccion")[1]["llamadas_estimadas"] == 1
    assert dry("--refrescar")[1]["llamadas_estimadas"] == 5
    assert dry("--sin-cache")[1]["llamadas_estimadas"] == 5

    assert sim.stats.requests_total == 0
    assert not out.exists()
    assert not (env / "hoy_resultado.xlsx").exists()


def test_dry_run_writes_no_output_even_by_default(env: Path, sim: SimulatorThread) -> None:
    source = _crafted(env)

    result = masivo(sim, str(source), "--dry-run")

    assert_clean_exit(result, 0)
    assert "Consultas pagadas que haría esta ejecución: 4" in result.stderr
    assert sorted(p.name for p in env.iterdir() if p.name != "cache") == ["lista.csv"]
    assert sim.stats.requests_total == 0


def test_dry_run_says_its_number_even_when_quiet(env: Path, sim: SimulatorThread) -> None:
    result = masivo(sim, str(_crafted(env)), "--dry-run", "-q")

    assert_clean_exit(result, 0)
    assert "Consultas pagadas que haría esta ejecución: 4" in result.stderr
    assert sim.stats.requests_total == 0


def test_solo_validar_needs_no_token_and_asks_nothing(env: Path, sim: SimulatorThread) -> None:
    source = write_text(
        env / "lista.txt", f"{RUC_ACTIVO_HABIDO}\n{RUC_DIGITO_INVALIDO}\n{RUC_NO_EXISTE}\nN/A\n"
    )
    out = env / "validados.jsonl"
    resumen = env / "resumen.json"

    result = masivo(
        sim,
        str(source),
        "--solo-validar",
        "-o",
        str(out),
        "--json-resumen",
        str(resumen),
        token=None,
    )

    assert_clean_exit(result, 0)
    rows = read_jsonl(out)
    assert states(rows) == [
        (RUC_ACTIVO_HABIDO, "sin_consultar"),
        (RUC_DIGITO_INVALIDO, "formato_invalido"),
        (RUC_NO_EXISTE, "sin_consultar"),  # well-formed: only the API could say it does not exist
        ("N/A", "formato_invalido"),
    ]
    assert {r["origen"] for r in rows} == {"local"}
    assert not any(r["apto_facturacion"] for r in rows)
    summary = read_summary(resumen)
    assert summary["sin_consultar"] == 2
    assert summary["formato_invalido"] == 2
    assert summary["validos"] == 0
    assert summary["llamadas_api"] == 0
    assert summary["completo"] is True
    assert sim.stats.requests_total == 0


def test_without_a_token_masivo_is_a_usage_error(env: Path, sim: SimulatorThread) -> None:
    source = write_text(env / "lista.txt", RUC_ACTIVO_HABIDO + "\n")

    result = masivo(sim, str(source), "-o", str(env / "out.jsonl"), token=None)

    assert_clean_exit(result, 2)
    assert "falta el token" in result.stderr
    assert sim.stats.requests_total == 0
    assert not (env / "out.jsonl").exists()


# -- errors after retries -------------------------------------------------------------------


@pytest.mark.usefixtures("no_sleep")
def test_error_row_goes_to_errores_exits_1_and_a_rerun_asks_only_for_it(
    env: Path, sim: SimulatorThread
) -> None:
    source = write_text(
        env / "lista.txt", f"{RUC_ACTIVO_HABIDO}\n{RUC_NO_HABIDO}\n{RUC_NO_EXISTE}\n"
    )
    out = env / "resultado.xlsx"
    resumen = env / "resumen.json"
    sim.config.always_500 = {RUC_NO_HABIDO}

    result = masivo(
        sim, str(source), "-o", str(out), "--reintentos", "0", "--json-resumen", str(resumen)
    )

    assert_clean_exit(result, 1)
    assert sim.stats.by_ruc == {RUC_ACTIVO_HABIDO: 1, RUC_NO_HABIDO: 1, RUC_NO_EXISTE: 1}
    with workbook(out) as book:
        assert book.sheetnames == SHEETS
        errores = sheet_records(book["errores"])
        assert [r["ruc"] for r in sheet_records(book["validos"])] == [RUC_ACTIVO_HABIDO]
        assert [r["ruc"] for r in sheet_records(book["invalidos"])] == [RUC_NO_EXISTE]
    assert [(r["ruc"], r["estado_consulta"]) for r in errores] == [(RUC_NO_HABIDO, "error")]
    assert errores[0]["motivo"]
    assert errores[0]["apto_facturacion"] is False
    summary = read_summary(resumen)
    assert (summary["errores"], summary["validos"], summary["completo"]) == (1, 1, False)

    sim.config.always_500 = set()
    sim.reset()
    rerun = masivo(sim, str(source), "-o", str(out), "--json-resumen", str(resumen))

    assert_clean_exit(rerun, 0)
    assert sim.stats.by_ruc == {RUC_NO_HABIDO: 1}
    summary = read_summary(resumen)
    assert (summary["errores"], summary["desde_cache"], summary["completo"]) == (0, 2, True)


def test_rejected_token_stops_at_once_exit_3_with_a_partial_output(
    env: Path, sim: SimulatorThread
) -> None:
    source = write_text(env / "lista.txt", "\n".join(SAMPLE) + "\n")
    out = env / "out.jsonl"
    resumen = env / "resumen.json"
    warm = write_text(env / "ayer.txt", RUC_ACTIVO_HABIDO + "\n")
    assert_clean_exit(masivo(sim, str(warm), "-o", str(env / "ayer.jsonl")), 0)
    sim.reset()

    result = masivo(
        sim,
        str(source),
        "-o",
        str(out),
        "--json-resumen",
        str(resumen),
        "--concurrencia",
        "1",
        token="otro-token-que-no-vale",
    )

    assert_clean_exit(result, 3)
    assert sim.stats.requests_total == 1  # no retries, nothing more after the 401
    assert "otro-token-que-no-vale" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith("Error:")
    rows = read_jsonl(out)
    assert states(rows) == [
        (RUC_ACTIVO_HABIDO, "valido"),  # from the cache: written all the same
        (RUC_NO_EXISTE, "error"),
        (RUC_DIGITO_INVALIDO, "formato_invalido"),
        (RUC_BAJA_DE_OFICIO, "error"),
    ]
    assert rows[0]["origen"] == "cache"
    summary = read_summary(resumen)
    assert summary["completo"] is False
    assert summary["errores"] == 2
    assert summary["llamadas_api"] == 0  # the token fails on /account, before any lookup


def test_credits_exhausted_exit_3_keeps_what_was_answered(env: Path, sim: SimulatorThread) -> None:
    source = write_text(
        env / "lista.txt", f"{RUC_ACTIVO_HABIDO}\n{RUC_NO_HABIDO}\n{RUC_BAJA_DE_OFICIO}\n"
    )
    out = env / "resultado.xlsx"
    sim.config.credits = 1

    result = masivo(sim, str(source), "-o", str(out), "--concurrencia", "1")

    assert_clean_exit(result, 3)
    assert sim.stats.by_status == {200: 2, 402: 1}  # /account, one lookup, then no credits
    with workbook(out) as book:
        assert [r["ruc"] for r in sheet_records(book["validos"])] == [RUC_ACTIVO_HABIDO]
        assert [r["ruc"] for r in sheet_records(book["errores"])] == [
            RUC_NO_HABIDO,
            RUC_BAJA_DE_OFICIO,
        ]

    sim.config.credits = None
    sim.reset()
    rerun = masivo(sim, str(source), "-o", str(out), "--concurrencia", "1")

    assert_clean_exit(rerun, 0)
    assert sim.stats.by_ruc == {RUC_NO_HABIDO: 1, RUC_BAJA_DE_OFICIO: 1}


# -- bad input: exit 2, one line, nothing spent ------------------------------------------------

BadCase = Callable[[Path], tuple[list[str], Path | None]]


def _ok_csv(env: Path) -> Path:
    return write_text(env / "ok.csv", f"RUC\n{RUC_ACTIVO_HABIDO}\n")


def _missing_file(env: Path) -> tuple[list[str], Path | None]:
    return [str(env / "no_existe.csv")], env / "no_existe_resultado.xlsx"


def _empty_file(env: Path) -> tuple[list[str], Path | None]:
    (env / "vacio.csv").write_bytes(b"")
    return [str(env / "vacio.csv")], env / "vacio_resultado.xlsx"


def _blank_file(env: Path) -> tuple[list[str], Path | None]:
    write_text(env / "blancos.txt", "\n  \n\t\n")
    return [str(env / "blancos.txt")], env / "blancos_resultado.xlsx"


def _header_only(env: Path) -> tuple[list[str], Path | None]:
    write_text(env / "encabezado.csv", "RUC;Nombre\n")
    return [str(env / "encabezado.csv"), "-o", str(env / "o.jsonl")], env / "o.jsonl"


def _binary_csv(env: Path) -> tuple[list[str], Path | None]:
    (env / "basura.csv").write_bytes(bytes(range(256)) * 8)
    return [str(env / "basura.csv")], env / "basura_resultado.xlsx"


def _binary_xlsx(env: Path) -> tuple[list[str], Path | None]:
    (env / "basura.xlsx").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    return [str(env / "basura.xlsx"), "-o", str(env / "o.csv")], env / "o.csv"


def _corrupt_xlsx(env: Path) -> tuple[list[str], Path | None]:
    (env / "roto.xlsx").write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    return [str(env / "roto.xlsx"), "-o", str(env / "o.csv")], env / "o.csv"


def _invalid_json(env: Path) -> tuple[list[str], Path | None]:
    write_text(env / "lista.json", '["20100038146", ')
    return [str(env / "lista.json"), "-o", str(env / "o.json")], env / "o.json"


def _no_ruc_column(env: Path) -> tuple[list[str], Path | None]:
    write_text(env / "clientes.csv", "Nombre;Correo\nACME;a@acme.pe\nBeta;b@beta.pe\n")
    return [str(env / "clientes.csv")], env / "clientes_resultado.xlsx"


def _unknown_column(env: Path) -> tuple[list[str], Path | None]:
    return [str(_ok_csv(env)), "--columna", "Nro. Documento"], env / "ok_resultado.xlsx"


def _empty_ruc_column(env: Path) -> tuple[list[str], Path | None]:
    write_text(env / "sin_valores.csv", "RUC;Nombre\n;A\n;B\n")
    return [str(env / "sin_valores.csv")], env / "sin_valores_resultado.xlsx"


def _unknown_input_extension(env: Path) -> tuple[list[str], Path | None]:
    write_text(env / "rucs.pdf", f"RUC\n{RUC_ACTIVO_HABIDO}\n")
    return [str(env / "rucs.pdf"), "-o", str(env / "o.xlsx")], env / "o.xlsx"


def _old_xls(env: Path) -> tuple[list[str], Path | None]:
    (env / "viejo.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)
    return [str(env / "viejo.xls"), "-o", str(env / "o.xlsx")], env / "o.xlsx"


def _unknown_output_extension(env: Path) -> tuple[list[str], Path | None]:
    return [str(_ok_csv(env)), "-o", str(env / "salida.pdf")], env / "salida.pdf"


def _missing_sheet(env: Path) -> tuple[list[str], Path | None]:
    book = write_xlsx(env / "libro.xlsx", {"Clientes": [["RUC"], [int(RUC_ACTIVO_HABIDO)]]})
    return [str(book), "--hoja", "Proveedores"], env / "libro_resultado.xlsx"


def _output_dir_missing(env: Path) -> tuple[list[str], Path | None]:
    out = env / "no" / "existe" / "o.xlsx"
    return [str(_ok_csv(env)), "-o", str(out)], out


def _output_under_a_file(env: Path) -> tuple[list[str], Path | None]:
    out = _ok_csv(env) / "o.xlsx"
    return [str(env / "ok.csv"), "-o", str(out)], None


def _output_is_a_directory(env: Path) -> tuple[list[str], Path | None]:
    (env / "carpeta.xlsx").mkdir()
    return [str(_ok_csv(env)), "-o", str(env / "carpeta.xlsx")], None


def _output_is_the_input(env: Path) -> tuple[list[str], Path | None]:
    source = write_text(env / "lista.csv", f"RUC\n{RUC_ACTIVO_HABIDO}\n")
    return [str(source), "-o", str(env / "." / "lista.csv")], None


def _summary_unwritable(env: Path) -> tuple[list[str], Path | None]:
    summary = env / "no-existe" / "resumen.json"
    return [str(_ok_csv(env)), "--json-resumen", str(summary)], env / "ok_resultado.xlsx"


def _stdin_empty(env: Path) -> tuple[list[str], Path | None]:
    return ["-", "-o", str(env / "o.jsonl")], env / "o.jsonl"


BAD_CASES: list[tuple[BadCase, str]] = [
    (_missing_file, "no existe el archivo de entrada"),
    (_empty_file, "está vacío"),
    (_blank_file, "está vacío"),
    (_header_only, "no tiene filas de datos"),
    (_binary_csv, "no es un archivo de texto"),
    (_binary_xlsx, "no es un libro Excel"),
    (_corrupt_xlsx, "no es un libro Excel válido"),
    (_invalid_json, "no es JSON válido"),
    (_no_ruc_column, "no se encontró la columna de RUC"),
    (_unknown_column, "no existe la columna 'Nro. Documento'"),
    (_empty_ruc_column, "no tiene ningún valor"),
    (_unknown_input_extension, "formato de entrada no soportado"),
    (_old_xls, "Excel antiguo (.xls)"),
    (_unknown_output_extension, "formato de salida no soportado"),
    (_missing_sheet, "no existe la hoja 'Proveedores'"),
    (_output_dir_missing, "no existe la carpeta de salida"),
    (_output_under_a_file, "no está en una carpeta"),
    (_output_is_a_directory, "es una carpeta"),
    (_output_is_the_input, "es el mismo archivo de entrada"),
    (_summary_unwritable, "no se puede escribir el resumen"),
    (_stdin_empty, "está vacía"),
]


@pytest.mark.parametrize(
    ("case", "message"), BAD_CASES, ids=[case.__name__.lstrip("_") for case, _ in BAD_CASES]
)
def test_bad_input_is_exit_2_one_line_and_nothing_spent(
    env: Path, sim: SimulatorThread, case: BadCase, message: str
) -> None:
    args, output = case(env)

    result = masivo(sim, *args, stdin="" if args[0] == "-" else None)

    assert_clean_exit(result, 2)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    assert message in errors[0]
    assert result.stderr.rstrip("\n").endswith(errors[0])  # one line, the last thing said
    assert result.stdout == ""
    assert sim.stats.requests_total == 0
    if output is not None:
        assert not output.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--modo", "todos"], "--modo"),
        (["--concurrencia", "0"], "--concurrencia: 0 no es válido: debe ser mayor o igual que 1"),
        (["--rpm", "0"], "--rpm: 0 no es válido: debe ser mayor que 0"),
        (["--timeout", "0"], "--timeout: 0 no es válido: debe ser mayor que 0"),
        (["--reintentos", "-1"], "--reintentos: -1 no es válido: debe ser mayor o igual que 0"),
    ],
)
def test_bad_option_value_is_exit_2_and_nothing_spent(
    env: Path, sim: SimulatorThread, args: list[str], message: str
) -> None:
    result = masivo(sim, str(_ok_csv(env)), *args)

    assert_clean_exit(result, 2)
    assert message in result.stderr
    assert sim.stats.requests_total == 0
    assert not (env / "ok_resultado.xlsx").exists()


# -- the lock -------------------------------------------------------------------------------


def test_locked_output_is_refused_before_any_request(env: Path, sim: SimulatorThread) -> None:
    source = str(_ok_csv(env))
    out = env / "resultado.xlsx"

    with Output.parse(out).lock():
        result = masivo(sim, source, "-o", str(out))

    assert_clean_exit(result, 2)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1
    assert "otra ejecución de migo" in errors[0]
    assert sim.stats.requests_total == 0
    assert not out.exists()

    # Released: the same command runs, and leaves no lock file behind.
    again = masivo(sim, source, "-o", str(out))
    assert_clean_exit(again, 0)
    assert out.is_file()
    assert not lock_path_for(out.resolve()).exists()
    assert sim.stats.lookup_requests == 1


def test_an_existing_output_survives_a_refused_run(env: Path, sim: SimulatorThread) -> None:
    source = str(_ok_csv(env))
    out = env / "resultado.csv"
    out.write_text("versión anterior\n", encoding="utf-8")

    with Output.parse(out).lock():
        assert_clean_exit(masivo(sim, source, "-o", str(out)), 2)

    assert out.read_text(encoding="utf-8") == "versión anterior\n"


# -- make demo's command line -----------------------------------------------------------------


def test_demo_command_line_gives_four_sheets(env: Path) -> None:
    out = env / "resultado.xlsx"

    result = runner.invoke(
        app, ["masivo", str(REPO_ROOT / "examples" / "rucs.csv"), "-o", str(out), "--simulado"]
    )

    assert_clean_exit(result, 0)
    assert "DATOS SIMULADOS" in result.stderr
    with workbook(out) as book:
        assert book.sheetnames == SHEETS
        validos = sheet_records(book["validos"])
        invalidos = sheet_records(book["invalidos"])
        errores = sheet_records(book["errores"])
        summary = summary_sheet(book["resumen"])
        # Every result column is described in Spanish; apto_facturacion is coloured.
        header = {cell.value: cell for cell in book["validos"][1]}
        assert all(header[name].comment is not None for name in OUTPUT_COLUMNS)
        assert "ACTIVO y HABIDO" in header["apto_facturacion"].comment.text
        assert len(book["validos"].conditional_formatting) == 1
    assert [r["ruc"] for r in validos] == [
        RUC_ACTIVO_HABIDO,
        "20131312955",
        "20100070970",  # 2.0100070970E10
        RUC_FORMULA,
        RUC_BAJA_DE_OFICIO,
        RUC_NO_HABIDO,
        RUC_PERSONA_NATURAL,
        "20601234565",
        RUC_ACENTOS,  # " 20-555555556 "
    ]
    assert [(r["ruc"], r["estado_consulta"]) for r in invalidos] == [
        (RUC_DIGITO_INVALIDO, "formato_invalido"),
        (RUC_NO_EXISTE, "no_existe"),
    ]
    assert errores == []
    apto = {r["ruc"]: r["apto_facturacion"] for r in validos}
    assert apto[RUC_BAJA_DE_OFICIO] is False
    assert apto[RUC_NO_HABIDO] is False
    assert apto[RUC_ACTIVO_HABIDO] is True
    names = {r["ruc"]: r["nombre_o_razon_social"] for r in validos}
    assert names[RUC_FORMULA] == "'" + FORMULA_NAME
    assert {k: summary[k] for k in CRAFTED_FIRST if k != "no_aptos_por_motivo"} == {
        "total": 12,
        "unicos": 11,
        "duplicados": 1,
        "validos": 9,
        "no_existe": 1,
        "formato_invalido": 1,
        "errores": 0,
        "desde_cache": 0,
        "desde_padron": 0,
        "llamadas_api": 10,
        "completo": True,
        "aptos": 7,
        "cambios": 0,
        "no_aptos": 2,
    }
    # The breakdown of the no aptos: a row each in the resumen sheet.
    assert summary["no_aptos_por_motivo: BAJA DE OFICIO"] == 1
    assert summary["no_aptos_por_motivo: NO HABIDO"] == 1


def test_resumen_aptos_and_no_aptos_add_up_to_validos(env: Path, sim: SimulatorThread) -> None:
    source = write_text(env / "muchos.txt", "\n".join(make_rucs(300)) + "\n")
    out = env / "out.jsonl"
    resumen = env / "resumen.json"

    result = masivo(sim, str(source), "-o", str(out), "--json-resumen", str(resumen))

    assert_clean_exit(result, 0)
    summary = read_summary(resumen)
    valid = [r for r in read_jsonl(out) if r["estado_consulta"] == "valido"]
    assert summary["aptos"] + summary["no_aptos"] == summary["validos"] == len(valid)
    assert summary["aptos"] == sum(r["apto_facturacion"] for r in valid)
    assert min(summary["aptos"], summary["no_aptos"]) > 0  # the sample has both kinds
    # The breakdown names the estado when it is not ACTIVO, else the condición.
    reasons: dict[str, int] = {}
    for row in valid:
        if not row["apto_facturacion"]:
            state = row["estado_del_contribuyente"]
            reason = state if state != "ACTIVO" else row["condicion_de_domicilio"]
            reasons[reason] = reasons.get(reason, 0) + 1
    assert summary["no_aptos_por_motivo"] == reasons
    assert sum(reasons.values()) == summary["no_aptos"]
    # The summary on stderr says the same, reasons included.
    assert re.search(rf"aptos para facturar\s*│\s*{summary['aptos']} │", result.stderr)
    assert re.search(rf"no aptos\s*│\s*{summary['no_aptos']} │", result.stderr)
    assert all(reason in result.stderr for reason in reasons)


def test_simulated_run_is_marked_in_the_output_file(env: Path) -> None:
    source = write_text(env / "lista.txt", RUC_ACTIVO_HABIDO + "\n")
    out = env / "resultado.xlsx"
    resumen = env / "resumen.json"

    result = runner.invoke(
        app, ["masivo", str(source), "-o", str(out), "--simulado", "--json-resumen", str(resumen)]
    )

    assert_clean_exit(result, 0)
    assert read_summary(resumen)["simulado"] is True  # the --json-resumen says so
    with workbook(out) as book:
        assert summary_sheet(book["resumen"]).get("simulado") is True
        assert [r["simulado"] for r in sheet_records(book["validos"])] == [True]
    jsonl = env / "resultado.jsonl"
    again = runner.invoke(app, ["masivo", str(source), "-o", str(jsonl), "--simulado", "-q"])
    assert_clean_exit(again, 0)
    assert [row["simulado"] for row in read_jsonl(jsonl)] == [True]


# -- bugs ---------------------------------------------------------------------------------------


def test_numeric_cells_rejected_locally_are_never_sent(env: Path, sim: SimulatorThread) -> None:
    source = write_text(
        env / "numeros.json", json.dumps([201000381.46, -20100038146, 20100038146.5])
    )
    out = env / "out.jsonl"
    resumen = env / "resumen.json"

    result = masivo(sim, str(source), "-o", str(out), "--json-resumen", str(resumen))

    assert_clean_exit(result, 0)
    rows = read_jsonl(out)
    assert [r["estado_consulta"] for r in rows] == ["formato_invalido"] * 3
    assert rows[2]["motivo"] == "no es un número entero"
    assert sim.stats.requests_total == 0
    assert read_summary(resumen)["llamadas_api"] == 0
