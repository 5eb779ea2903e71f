"""What a person reads: RUC cards and tables at 80 columns, numbers, log lines, progress."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.style import Style
from typer.testing import CliRunner

from migo_cli import cli, render
from migo_cli.cli import app
from migo_cli.models import Origin, RucResult, Status
from migo_cli.numfmt import format_number
from migo_cli.progress import LogProgress, RichProgress
from migo_cli.settle import Tally
from migo_cli.simulator import RUC_ACTIVO_HABIDO, RUC_BAJA_DE_OFICIO, make_rucs

runner = CliRunner()
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
QUERIED = "2025-06-02T09:15:30-05:00"
FULL = {
    "success": True,
    "ruc": "20100038146",
    "nombre_o_razon_social": "EMPRESA DE TRANSPORTES DEL SUR S.A.C.",
    "estado_del_contribuyente": "ACTIVO",
    "condicion_de_domicilio": "HABIDO",
    "ubigeo": "040101",
    "tipo_de_via": "JR.",
    "nombre_de_via": "GRAU",
    "codigo_de_zona": "URB.",
    "tipo_de_zona": "PANDO",
    "numero": "2870",
    "interior": "-",
    "lote": "-",
    "dpto": "-",
    "manzana": "-",
    "kilometro": "-",
    "distrito": "CERRO COLORADO",
    "provincia": "AREQUIPA",
    "departamento": "AREQUIPA",
    "direccion_simple": "JR. GRAU NRO. 2870 URB. PANDO",
    "direccion": "JR. GRAU NRO. 2870 URB. PANDO AREQUIPA - AREQUIPA - CERRO COLORADO",
    "actualizado_en": "2025-04-19 18:30:07",
    "actividad_economica": "TRANSPORTE DE CARGA POR CARRETERA",  # a key APIMIGO may add
}


def valid(ruc: str = "20100038146", **data: Any) -> RucResult:
    return RucResult(ruc, Status.VALID, data=FULL | {"ruc": ruc} | data, queried_at=QUERIED)


def text_at(renderable: RenderableType, width: int = 80) -> list[str]:
    """The lines a terminal ``width`` columns wide shows (colours on, then stripped)."""
    console = Console(file=io.StringIO(), force_terminal=True, width=width, color_system="standard")
    console.print(renderable)
    file = console.file
    assert isinstance(file, io.StringIO)
    return ANSI.sub("", file.getvalue()).splitlines()


def styles(renderable: RenderableType) -> dict[str, Style]:
    """The style each piece of text is drawn with."""
    console = Console(file=io.StringIO(), force_terminal=True, width=80)
    return {
        segment.text.strip(): segment.style
        for segment in console.render(renderable)
        if segment.text.strip() and segment.style is not None
    }


# -- one RUC: the card ---------------------------------------------------------------------


def test_card_shows_every_field_labelled_and_aligned() -> None:
    lines = text_at(render.ruc_card(valid()))
    text = "\n".join(lines)

    assert lines[0].startswith("╭─ RUC 20100038146 ")
    assert all(cell_len(line) <= 80 for line in lines)
    rows: dict[str, str] = {
        "Razón social": "EMPRESA DE TRANSPORTES DEL SUR S.A.C.",
        "Estado": "ACTIVO",
        "Condición": "HABIDO",
        "Apto para facturar": "sí",
        "Desglose": "vía JR. GRAU · nro. 2870 · zona URB. PANDO",
        "Ubigeo": "040101",
        "Distrito": "CERRO COLORADO",
        "Provincia": "AREQUIPA",
        "Departamento": "AREQUIPA",
        "Actividad economica": "TRANSPORTE DE CARGA POR CARRETERA",
        "Actualizado en": "2025-04-19 18:30:07",
        "Consultado en": "2025-06-02 09:15:30 -05:00",
        "Origen": "APIMIGO",
    }
    columns = set()
    for label, value in rows.items():
        line = next(line for line in lines if f"│ {label} " in line)
        assert value in line, (label, line)
        columns.add(line.index(value))
    assert len(columns) == 1  # every value starts in the same column
    # The address may fold inside its cell, but all of it is there; "-" parts are not.
    assert "JR. GRAU NRO. 2870 URB. PANDO AREQUIPA - AREQUIPA -" in text
    assert "CERRO COLORADO" in text.split("Dirección", 1)[1].split("Desglose")[0]
    assert "Interior" not in text
    assert "Lote" not in text


def test_card_colours_fit_green_and_the_rest_red_or_yellow() -> None:
    fit = styles(render.ruc_card(valid()))
    assert {fit["ACTIVO"].color.name, fit["HABIDO"].color.name, fit["sí"].color.name} == {"green"}  # type: ignore[union-attr]

    baja = styles(render.ruc_card(valid(estado_del_contribuyente="BAJA DE OFICIO")))
    assert baja["BAJA DE OFICIO"].color.name == "red"  # type: ignore[union-attr]
    assert baja["no"].color.name == "red"  # type: ignore[union-attr]
    suspended = valid(
        estado_del_contribuyente="SUSPENSION TEMPORAL", condicion_de_domicilio="NO HALLADO"
    )
    colours = styles(render.ruc_card(suspended))
    assert colours["SUSPENSION TEMPORAL"].color.name == "yellow"  # type: ignore[union-attr]
    assert colours["NO HALLADO"].color.name == "yellow"  # type: ignore[union-attr]
    not_habido = styles(render.ruc_card(valid(condicion_de_domicilio="NO HABIDO")))
    assert not_habido["NO HABIDO"].color.name == "red"  # type: ignore[union-attr]


def test_card_of_an_answer_without_data_says_why() -> None:
    missing = RucResult("20000000001", Status.NOT_FOUND, "SUNAT no registra este RUC")
    lines = text_at(render.ruc_card(missing))
    text = "\n".join(lines)
    assert "Consulta            no existe" in text
    assert "Motivo              SUNAT no registra este RUC" in text
    assert "Apto para facturar  no" in text

    rejected = text_at(render.ruc_card(RucResult.rejected("2010003814", "tiene 10 dígitos")))
    assert any("validación local (sin consulta)" in line for line in rejected)


def test_upstream_text_is_never_read_as_markup() -> None:
    lines = text_at(render.ruc_card(valid(nombre_o_razon_social="[bold]ACME[/bold] S.A.")))
    assert any("[bold]ACME[/bold] S.A." in line for line in lines)


def test_the_other_services_tables_show_upstream_text_as_it_came() -> None:
    from migo_cli.answers import AccountInfo, DniResult, ExchangeRate, LegalRepresentatives

    odd = "PÉREZ [/] [bold]ÑUÑO[/bold]"  # "[/]" alone was once a Rich markup error
    person = {"nombre": odd, "cargo": "GERENTE", "numero_de_documento": "12345678"}
    renderables: list[RenderableType] = [
        render.dni_table([DniResult("12345678", Status.VALID, data={"nombre": odd})]),
        render.representatives(LegalRepresentatives("20100038146", Status.VALID, "", (person,))),
        render.account_table(AccountInfo({"nombre": odd, "plan": "PRO"}, credits=1500)),
        render.exchange_rates_table([ExchangeRate("2024-05-31", odd, 3.7, 3.75)], "AVISO"),
    ]
    for renderable in renderables:
        assert any(odd in line for line in text_at(renderable, width=120))
    account = " ".join(text_at(renderables[2], width=120))
    assert "Consultas disponibles" in account
    assert "1,500" in account
    rates = text_at(renderables[3], width=120)
    assert any("3.700" in line and "3.750" in line for line in rates)
    assert any("AVISO" in line for line in rates)


# -- several RUCs: the table ---------------------------------------------------------------


def many() -> list[RucResult]:
    results = [
        valid(ruc, nombre_o_razon_social=f"EMPRESA NUMERO {i} DE UN NOMBRE MUY LARGO S.A.C.")
        for i, ruc in enumerate(make_rucs(6))
    ]
    results.append(valid("20111111112", estado_del_contribuyente="SUSPENSION TEMPORAL"))
    results.append(valid("20222222223", condicion_de_domicilio="NO HALLADO SE MUDO DE DOMICILIO"))
    results.append(RucResult("20000000001", Status.NOT_FOUND, "SUNAT no registra este RUC"))
    results.append(RucResult("20100070970", Status.ERROR, "sin respuesta tras 4 intentos"))
    results.append(
        RucResult.rejected("2.0100070970E10", "notación científica sin todos los dígitos")
    )
    return results


@pytest.mark.parametrize("width", [80, 60, 200])
def test_table_fits_the_width_one_line_a_ruc(width: int) -> None:
    results = many()
    lines = text_at(render.ruc_table(results, width), width)

    assert all(cell_len(line) <= width for line in lines), "\n".join(lines)
    assert lines[0].startswith("RUC ")
    rows = lines[2:]  # after the header and its rule
    assert len(rows) == len(results)  # no cell wraps onto a second line
    for line, result in zip(rows, results, strict=True):
        assert line.startswith(result.ruc + " ")  # every RUC whole, at the start of its row


def test_table_at_80_columns_keeps_what_matters() -> None:
    lines = text_at(render.ruc_table(many(), 80))
    header = lines[0].split()
    assert header == ["RUC", "Razón", "social", "Estado", "Condición", "Apto"]
    assert any("SUSPENSION TEMP…" in line for line in lines)  # cut, with a sign that it is
    assert any("no existe: SUNAT" in line for line in lines)
    assert lines[-1].rstrip().endswith("no")


def test_table_drops_columns_before_it_wraps() -> None:
    assert text_at(render.ruc_table(many(), 40), 40)[0].split() == [
        "RUC",
        "Razón",
        "social",
        "Apto",
    ]
    wide = text_at(render.ruc_table(many(), 160), 160)[0]
    assert "Dirección" in wide


def cli_output(*args: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, list[str]]:
    monkeypatch.setenv("COLUMNS", "80")
    result = runner.invoke(app, ["consultar", *args, "--simulado", "--sin-cache"])
    return result.exit_code, result.stdout.splitlines()


def test_consultar_one_ruc_prints_a_card(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, lines = cli_output(RUC_ACTIVO_HABIDO, monkeypatch=monkeypatch)
    assert code == 0
    assert lines[0].startswith(f"╭─ RUC {RUC_ACTIVO_HABIDO} ")
    assert any("Apto para facturar  sí" in line for line in lines)
    assert lines[-1].startswith("DATOS SIMULADOS")
    assert all(cell_len(line) <= 80 for line in lines)


def test_consultar_several_rucs_prints_a_table_or_cards(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rucs = [RUC_ACTIVO_HABIDO, RUC_BAJA_DE_OFICIO, "20100038147"]
    code, lines = cli_output(*rucs, monkeypatch=monkeypatch)
    assert code == 1  # not every RUC is valido
    assert [line.split()[0] for line in lines[2:5]] == rucs
    assert all(cell_len(line) <= 80 for line in lines)

    _, cards = cli_output(*rucs, "--detalle", monkeypatch=monkeypatch)
    assert [line for line in cards if line.startswith("╭─ RUC ")] == [
        line for ruc in rucs for line in cards if line.startswith(f"╭─ RUC {ruc} ")
    ]
    assert sum(line.startswith("╭─ RUC ") for line in cards) == 3


# -- numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "decimals", "shown"),
    [
        (2704, 0, "2,704"),
        (1_048_576, 0, "1,048,576"),
        (3.726, 3, "3.726"),
        (0, 0, "0"),
        (12.34, 1, "12.3"),
    ],
)
def test_numbers_read_the_peruvian_way(value: float, decimals: int, shown: str) -> None:
    assert format_number(value, decimals) == shown


def test_dry_run_counts_with_thousands_separators(env: Path) -> None:
    source = env / "muchos.txt"
    source.write_text("\n".join(make_rucs(1500)) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["masivo", str(source), "--dry-run", "-q"])
    assert result.exit_code == 0
    assert "Consultas pagadas que haría esta ejecución: 1,500 (1,500 RUC distintos" in result.stderr


# -- log lines --------------------------------------------------------------------------------


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """migo's stderr as a terminal 80 columns wide, its log set up as for a person."""
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=80, color_system="standard")
    monkeypatch.setattr(cli, "stderr", console)
    cli._setup_logging(verbose=False, quiet=False)
    yield buffer
    logging.getLogger("migo").handlers.clear()


def test_terminal_log_lines_are_the_message_with_a_mark_for_trouble(terminal: io.StringIO) -> None:
    log = logging.getLogger("migo.batch")
    log.info("entrada rucs.csv: %s valores", format_number(2704))
    log.warning("la cuenta tiene pocas consultas")
    log.error("no se pudo escribir el resumen")

    lines = ANSI.sub("", terminal.getvalue()).splitlines()
    assert lines == [
        "entrada rucs.csv: 2,704 valores",
        "! la cuenta tiene pocas consultas",
        "✗ no se pudo escribir el resumen",
    ]


def test_log_lines_without_a_terminal_keep_time_and_level(env: Path) -> None:
    source = env / "lista.txt"
    source.write_text(RUC_ACTIVO_HABIDO + "\n", encoding="utf-8")
    result = runner.invoke(app, ["masivo", str(source), "--solo-validar", "-o", "-"])
    assert result.exit_code == 0
    pattern = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d migo INFO entrada .*lista\.txt: 1 valores"
    assert re.search(pattern, result.stderr), result.stderr


# -- progress --------------------------------------------------------------------------------


def progress_results() -> list[RucResult]:
    return [
        valid("20100038146"),
        valid("20111111112", estado_del_contribuyente="BAJA DE OFICIO"),
        RucResult("20000000001", Status.NOT_FOUND, "no existe", origin=Origin.CACHE),
    ]


def test_progress_bar_on_a_terminal_shows_aptos_and_fits_80_columns() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=80, color_system="standard")
    progress = RichProgress(console)
    tally = Tally()
    progress.start(3, tally)
    for result in progress_results():
        tally.add(result)
        progress.advance(result)
    progress.finish()

    screen = ANSI.sub("", buffer.getvalue()).replace("\r", "\n").splitlines()
    final = [line for line in screen if line.strip()][-2:]
    assert final[0].startswith("Consultando")
    assert "3/3" in final[0]
    assert final[1].strip() == (
        "aptos 1 · no aptos 1 · no existe 1 · formato inválido 0 · errores 0 · de caché 1"
    )
    assert all(cell_len(line) <= 80 for line in screen)


def test_progress_log_line_counts_with_thousands_separators(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("test.progress")
    progress = LogProgress(logger, interval=3600)  # one line: the one finish() writes
    tally = Tally()
    progress.start(2000, tally)
    fit = valid("20100038146")
    for _ in range(2000):
        tally.add(fit)
        progress.advance(fit)
    with caplog.at_level(logging.INFO, logger="test.progress"):
        progress.finish()

    (line,) = caplog.messages
    assert line.startswith("avance: 2,000/2,000 (100%) · aptos 2,000 · no aptos 0 · no existe 0")
