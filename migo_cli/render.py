"""What a person reads on a terminal: RUC cards and tables, the run summary, log lines.

Everything here returns Rich renderables (or writes to a given console) and
decides nothing: the CLI picks what to show. Upstream text always goes in as
``Text``, never as markup, so a razón social with brackets prints as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Column, Table
from rich.text import Text

from migo_cli.answers import AccountInfo, DniResult, ExchangeRate, LegalRepresentatives
from migo_cli.card import (
    STATUS_LABELS,
    STATUS_STYLES,
    card_fields,
    condition_style,
    state_style,
)
from migo_cli.card import (
    field_text as _text,
)
from migo_cli.card import (
    readable_stamp as _when,
)
from migo_cli.models import (
    RucResult,
    Status,
)
from migo_cli.numfmt import format_bytes, format_number
from migo_cli.summary import TITLE, summary_rows

if TYPE_CHECKING:  # the commands that show them have loaded them; --help need not
    from migo_cli.batch import BatchReport
    from migo_cli.diagnostics import Diagnosis
    from migo_cli.history import HistoryEntry
    from migo_cli.padron.download import Downloaded
    from migo_cli.padron.search import SearchHit
    from migo_cli.padron.store import PadronInfo

__all__ = [
    "PADRON_STALE_DAYS",
    "TerminalLogHandler",
    "account_table",
    "diagnosis_lines",
    "dni_table",
    "dry_run_message",
    "exchange_rates_table",
    "history_table",
    "padron_info_lines",
    "padron_update_lines",
    "representatives",
    "ruc_card",
    "ruc_results",
    "ruc_table",
    "search_table",
    "summary_table",
]

_RUC_WIDTH = 11
#: Below this many columns for the razón social, the table drops a column.
_MIN_NAME_WIDTH = 16
#: From this terminal width on, the table has room for the address.
_ADDRESS_FROM_WIDTH = 120


def _fit(result: RucResult) -> Text:
    return Text("sí", style="bold green") if result.billable else Text("no", style="bold red")


# -- one RUC: a card ------------------------------------------------------------------------


def _card_rows(result: RucResult) -> Iterable[tuple[str, Text]]:
    for label, value, style in card_fields(result):
        yield label, Text(value, style=style)


def ruc_card(result: RucResult) -> Panel:
    """Every field APIMIGO returned for one RUC, labelled in Spanish and aligned."""
    grid = Table.grid(Column(style="bold", no_wrap=True), Column(overflow="fold"), padding=(0, 2))
    for label, value in _card_rows(result):
        grid.add_row(label, value)
    return Panel(
        grid,
        title=Text(f"RUC {result.ruc}", style="bold"),
        title_align="left",
        box=box.ROUNDED,
        expand=False,
        padding=(0, 1),
    )


# -- several RUCs: a table that fits ---------------------------------------------------------


def ruc_table(results: Sequence[RucResult], width: int) -> Table:
    """One line per RUC within ``width`` columns: long text is cut, the RUC never.

    The razón social takes what the fixed columns leave; when that is too
    little, Condición and then Estado go (the card, ``--detalle``, has them all).
    """
    ruc_width = max([_RUC_WIDTH, *(len(r.ruc) for r in results)])
    state_width = min(
        16, max([6, *(len(_text(r.data.get("estado_del_contribuyente"))) for r in results)])
    )
    condition_width = min(
        12, max([9, *(len(_text(r.data.get("condicion_de_domicilio"))) for r in results)])
    )
    optional = [("Estado", state_width), ("Condición", condition_width)]
    gap = 3  # between columns: a space of padding each side of a blank divider
    while optional:
        fixed = ruc_width + 4 + sum(w for _, w in optional)
        if width - fixed - gap * (len(optional) + 2) >= _MIN_NAME_WIDTH:
            break
        optional.pop()
    address = width >= _ADDRESS_FROM_WIDTH
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=True)
    table.add_column("RUC", width=ruc_width, no_wrap=True, overflow="ellipsis")
    table.add_column("Razón social", ratio=3, no_wrap=True, overflow="ellipsis")
    for header, column_width in optional:
        table.add_column(header, width=column_width, no_wrap=True, overflow="ellipsis")
    table.add_column("Apto", width=4, no_wrap=True)
    if address:
        table.add_column("Dirección", ratio=2, no_wrap=True, overflow="ellipsis")
    for r in results:
        data = r.data
        if r.status is Status.VALID:
            name = Text(_text(data.get("nombre_o_razon_social")))
        else:
            note = STATUS_LABELS[r.status] + (f": {r.reason}" if r.reason else "")
            name = Text(note, style=STATUS_STYLES[r.status])
        cells: list[Text] = [Text(r.ruc), name]
        state, condition = data.get("estado_del_contribuyente"), data.get("condicion_de_domicilio")
        for header, _ in optional:
            value = state if header == "Estado" else condition
            style = state_style(value) if header == "Estado" else condition_style(value)
            cells.append(Text(_text(value), style=style if value else ""))
        cells.append(_fit(r))
        if address:
            cells.append(Text(_text(data.get("direccion")), style="dim"))
        table.add_row(*cells)
    return table


def ruc_results(
    results: Sequence[RucResult], *, detail: bool, width: int, notice: str | None = None
) -> RenderableType:
    """A card for one RUC (or for each with ``detail``), else the table; ``notice`` under it."""
    parts: list[RenderableType]
    if detail or len(results) == 1:
        parts = [ruc_card(r) for r in results]
    else:  # the table has no room for ``cambio``: one line each under it
        parts = [ruc_table(results, width)]
        parts += [
            Text.assemble((r.ruc, "bold"), " cambio: ", (r.change, "bold yellow"))
            for r in results
            if r.change
        ]
    if notice:
        parts.append(Text(notice, style="yellow"))
    return Group(*parts)


# -- the other services: DNI, exchange rates, representatives, the account -------------------


def _table(notice: str | None, title: str | None = None) -> Table:
    """A table of another service's answers; ``notice`` (``--simulado``'s) as its caption."""
    return Table(title=title, title_justify="left", caption=notice, caption_style="yellow")


def _status(status: Status) -> Text:
    return Text(STATUS_LABELS[status], style=STATUS_STYLES[status])


def dni_table(results: Sequence[DniResult], notice: str | None = None) -> Table:
    table = _table(notice)
    for header in ("DNI", "Consulta"):
        table.add_column(header, no_wrap=True)
    for header in ("Nombre", "Detalle"):
        table.add_column(header, overflow="fold")
    for r in results:
        table.add_row(Text(r.dni), _status(r.status), Text(r.name), Text(r.reason))
    return table


def history_table(ruc: str, entries: Sequence[HistoryEntry]) -> Table:
    """One RUC's timeline, oldest first: each row is what it was from that date on."""
    table = _table(None, title=f"Historial del RUC {ruc}")
    table.add_column("Desde", no_wrap=True)
    table.add_column("Estado", no_wrap=True)
    table.add_column("Condición", no_wrap=True)
    for header in ("Razón social", "Dirección"):
        table.add_column(header, overflow="fold")
    for entry in entries:
        if not entry.existe:
            gone = Text("no existe en SUNAT", style="yellow")
            table.add_row(Text(_when(entry.fecha)), gone, Text(""), Text(""), Text(""))
            continue
        state, condition = entry.estado_del_contribuyente, entry.condicion_de_domicilio
        table.add_row(
            Text(_when(entry.fecha)),
            Text(_text(state), style=state_style(state)),
            Text(_text(condition), style=condition_style(condition)),
            Text(_text(entry.nombre_o_razon_social)),
            Text(_text(entry.direccion)),
        )
    return table


def search_table(hits: Sequence[SearchHit], width: int, caption: str | None = None) -> Table:
    """``migo buscar``'s matches within ``width`` columns, best first.

    The razón social is what the reader compares, so it wraps (by words) rather
    than being cut; the short columns never wrap. When the name would get fewer
    than ``_MIN_NAME_WIDTH`` columns, Condición and then Distrito go (``--json``
    has them all).
    """
    state_width = min(14, max([6, *(len(h.estado_del_contribuyente) for h in hits)]))
    condition_width = min(10, max([9, *(len(h.condicion_de_domicilio) for h in hits)]))
    place_width = min(16, max([8, *(len(h.distrito) for h in hits)]))
    optional = [("Distrito", place_width), ("Condición", condition_width)]
    gap = 3  # between columns: a space of padding each side of a blank divider
    while optional:
        fixed = _RUC_WIDTH + state_width + sum(w for _, w in optional)
        if width - fixed - gap * (len(optional) + 2) >= _MIN_NAME_WIDTH:
            break
        optional.pop()
    shown = {header for header, _ in optional}
    table = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        expand=True,
        caption=caption,
        caption_justify="left",
        caption_style="dim",
    )
    table.add_column("RUC", width=_RUC_WIDTH, no_wrap=True)
    table.add_column("Razón social", ratio=1, overflow="fold")
    table.add_column("Estado", width=state_width, no_wrap=True, overflow="ellipsis")
    if "Condición" in shown:
        table.add_column("Condición", width=condition_width, no_wrap=True, overflow="ellipsis")
    if "Distrito" in shown:
        table.add_column("Distrito", width=place_width, no_wrap=True, overflow="ellipsis")
    for hit in hits:
        state, condition = hit.estado_del_contribuyente, hit.condicion_de_domicilio
        cells = [
            Text(hit.ruc),
            Text(hit.nombre_o_razon_social),
            Text(state, style=state_style(state)),
        ]
        if "Condición" in shown:
            cells.append(Text(condition, style=condition_style(condition)))
        if "Distrito" in shown:
            place = Text(hit.distrito) if hit.distrito else Text(hit.ubigeo, style="dim")
            cells.append(place)
        table.add_row(*cells)
    return table


def _price(value: float | None) -> Text:
    return Text("" if value is None else format_number(value, 3))


def exchange_rates_table(rates: Sequence[ExchangeRate], notice: str | None = None) -> Table:
    table = _table(notice, "Tipo de cambio (SUNAT)")
    table.add_column("Fecha", no_wrap=True)
    table.add_column("Moneda", no_wrap=True)
    table.add_column("Compra", justify="right")
    table.add_column("Venta", justify="right")
    for r in rates:
        table.add_row(Text(r.day), Text(r.currency or ""), _price(r.buy), _price(r.sell))
    return table


#: The columns of a representative, and the key APIMIGO gives each under.
_PERSON_COLUMNS: Mapping[str, str] = {
    "Documento": "tipo_de_documento",
    "Número": "numero_de_documento",
    "Nombre": "nombre",
    "Cargo": "cargo",
    "Desde": "fecha_desde",
}


def representatives(result: LegalRepresentatives, notice: str | None = None) -> RenderableType:
    """A table of the people; one line when the RUC was not found or has none."""
    if not result.found:
        return Text.assemble(f"{result.ruc}: ", _status(result.status), f" ({result.reason})")
    if not result.people:
        return Text(f"{result.ruc}: sin representantes legales registrados")
    table = _table(notice, f"Representantes legales de {result.ruc}")
    for header in _PERSON_COLUMNS:
        table.add_column(header, overflow="fold")
    for person in result.people:
        table.add_row(*(Text(str(person.get(key) or "")) for key in _PERSON_COLUMNS.values()))
    return table


_ACCOUNT_LABELS: Mapping[str, str] = {
    "nombre": "Nombre",
    "email": "Correo",
    "plan": "Plan",
    "consultas_disponibles": "Consultas disponibles",
    "consultas_realizadas": "Consultas realizadas",
}


def account_table(info: AccountInfo, notice: str | None = None) -> Table:
    """Every field of the account, labelled; credits the Peruvian way, or "no informadas"."""
    table = _table(notice, "Cuenta de APIMIGO")
    table.add_column("campo", style="bold")
    table.add_column("valor", overflow="fold")
    table.show_header = False
    document = info.to_dict()
    credits = "no informadas" if info.credits is None else format_number(info.credits)
    document["consultas_disponibles"] = credits
    for key, value in document.items():
        if key == "consultado_en" or value is None:
            continue
        label = _ACCOUNT_LABELS.get(key, key.replace("_", " ").capitalize())
        table.add_row(Text(label), Text(str(value)))
    return table


def diagnosis_lines(report: Diagnosis) -> Iterator[Text]:
    """One line per check: its outcome (coloured), its name, what it found."""
    from migo_cli.diagnostics import Outcome

    styles = {
        Outcome.OK: "green",
        Outcome.FAILED: "bold red",
        Outcome.INFO: "cyan",
        Outcome.SKIPPED: "dim",
    }
    width = max(len(check.name) for check in report.checks)
    for check in report.checks:
        yield Text.assemble(
            (f"{check.outcome.value:<7}", styles[check.outcome]),
            f" {check.name:<{width}}  {check.detail}",
        )


# -- the end of a batch run -----------------------------------------------------------------


def summary_table(report: BatchReport) -> Table:
    """The run in figures (``summary.summary_rows``), in a terminal's colours."""
    table = Table(title=TITLE, show_header=False, title_justify="left", box=box.ROUNDED)
    table.add_column("campo", no_wrap=True)
    table.add_column("valor", justify="right", overflow="fold")
    for row in summary_rows(report):
        value = Text(row.value, style=row.value_style, justify="left" if row.value_left else None)
        table.add_row(Text(row.label, style=row.label_style), value)
    return table


def dry_run_message(report: BatchReport) -> Text:
    summary = report.summary()
    return Text.assemble(
        "Consultas pagadas que haría esta ejecución: ",
        (format_number(report.estimated_calls or 0), "bold"),
        f" ({format_number(summary['unicos'])} RUC distintos, "
        f"{format_number(summary['formato_invalido'])} con formato inválido; nada se gastó)",
    )


# -- log lines on a terminal ---------------------------------------------------------------


class TerminalLogHandler(logging.Handler):
    """A person at a terminal reads the message; a mark says when it is a warning or worse.

    Timestamps and level names are for the log files cron keeps (the CLI uses
    a plain formatter there). Printing through the Rich console keeps the lines
    above a live progress bar instead of through it.
    """

    _MARKS: Sequence[tuple[int, str, str]] = (
        (logging.ERROR, "✗ ", "bold red"),
        (logging.WARNING, "! ", "bold yellow"),
    )

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)
            line = Text()
            for level, mark, style in self._MARKS:
                if record.levelno >= level:
                    line.append(mark, style=style)
                    break
            line.append(message, style="dim" if record.levelno < logging.INFO else "")
            self.console.print(line, highlight=False, soft_wrap=True)
        except Exception:  # logging must never take the run down
            self.handleError(record)


# -- the padrón ----------------------------------------------------------------------------

#: SPEC §7: an index older than this gets a warning.
PADRON_STALE_DAYS = 7


def _age(days: int) -> str:
    if days <= 0:
        return "de hoy"
    return "de ayer" if days == 1 else f"hace {format_number(days)} días"


def padron_info_lines(info: PadronInfo, today: date) -> Iterator[Text]:
    """``migo padron info``: one fact a line, the age warned about when past SPEC's 7 days."""
    days = info.age_days(today)
    yield Text.assemble(("Fecha:     ", "bold"), f"{info.fecha.isoformat()} ({_age(days)})")
    if days > PADRON_STALE_DAYS:
        yield Text(
            f"           tiene más de {PADRON_STALE_DAYS} días: migo padron actualizar",
            style="yellow",
        )
    yield Text.assemble(("Filas:     ", "bold"), format_number(info.filas))
    yield Text.assemble(("Omitidas:  ", "bold"), f"{format_number(info.omitidas)} líneas")
    yield Text.assemble(("Tamaño:    ", "bold"), format_bytes(info.bytes))
    yield Text.assemble(("Ruta:      ", "bold"), str(info.ruta))
    yield Text.assemble(("Fuente:    ", "bold"), info.fuente)
    yield Text.assemble(("SHA-256:   ", "bold"), info.sha256)
    imported = info.importado_en.strftime("%Y-%m-%d %H:%M")
    yield Text.assemble(("Importado: ", "bold"), imported)


def padron_update_lines(
    info: PadronInfo, downloaded: Downloaded | None, *, unchanged: bool = False
) -> Iterator[Text]:
    """What ``migo padron actualizar`` did, in two or three lines."""
    if unchanged:
        yield Text.assemble(
            ("Padrón sin cambios: ", "bold green"),
            "SUNAT indica que el archivo no cambió desde la última descarga (HTTP 304); "
            "no se descargó ni se reindexó nada. Sigue vigente el índice del "
            f"{info.fecha.isoformat()} con {format_number(info.filas)} RUC",
        )
        yield Text(f"Índice: {info.ruta} ({format_bytes(info.bytes)})")
        return
    if downloaded is not None:
        resumed = (
            f", continuada desde {format_bytes(downloaded.resumed_at)}"
            if downloaded.resumed_at
            else ""
        )
        yield Text(f"Descargado: {format_bytes(downloaded.size)} de {downloaded.url}{resumed}")
    yield Text.assemble(
        ("Padrón actualizado: ", "bold green"),
        f"{format_number(info.filas)} RUC, fecha {info.fecha.isoformat()}, "
        f"{format_number(info.omitidas)} líneas omitidas",
    )
    yield Text(f"Índice: {info.ruta} ({format_bytes(info.bytes)})")
