"""A batch's closing summary: its rows, and the table as plain text without Rich.

``migo masivo`` ends by printing the run in figures on stderr. Under cron that is a
log file, not a terminal, so Rich would print no colours; loading Rich to pad two
columns was most of a batch's tail (benchmarks, figure 9). ``plain_summary`` lays out
the same rounded table itself, byte for byte what Rich prints (tests/test_summary.py
compares them), and says None wherever Rich would do more than pad: a table wider
than the console, a character that is not one cell wide.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from migo_cli.card import one_cell
from migo_cli.numfmt import format_number

if TYPE_CHECKING:
    from migo_cli.batch import BatchReport

__all__ = ["CHANGES_LISTED", "SummaryRow", "plain_summary", "summary_rows"]

#: How many changes the summary lists, most serious first; the rest are in the output.
CHANGES_LISTED = 10
TITLE = "Resumen"


class SummaryRow(NamedTuple):
    """One line of the table, with the styles a terminal shows it in."""

    label: str
    value: str
    label_style: str = "bold"
    value_style: str = ""
    value_left: bool = False  # a change's text reads from the left; figures align right


def _count(label: str, value: int, style: str = "", label_style: str = "bold") -> SummaryRow:
    return SummaryRow(label, format_number(value), label_style, style if value else "")


def summary_rows(report: BatchReport) -> list[SummaryRow]:
    """The run in figures, with what the user came for: how many RUCs can be invoiced."""
    summary = report.summary()
    rows = [
        _count("Valores leídos", summary["total"]),
        _count("RUC distintos", summary["unicos"]),
        _count("Duplicados", summary["duplicados"]),
        _count("Válidos", summary["validos"]),
        _count("  aptos para facturar", summary["aptos"], "bold green", "green"),
        _count("  no aptos", summary["no_aptos"], "bold red", "red"),
    ]
    rows += [
        _count(f"    {why}", n, label_style="") for why, n in summary["no_aptos_por_motivo"].items()
    ]
    if "sin_consultar" in summary:
        rows.append(_count("Sin consultar (solo validación)", summary["sin_consultar"]))
    rows += [
        _count("No existen", summary["no_existe"], "yellow"),
        _count("Formato inválido", summary["formato_invalido"], "yellow"),
        _count("Errores", summary["errores"], "bold red"),
    ]
    changes = sorted(report.tally.changes)
    rows.append(_count("Cambios", summary["cambios"], "bold yellow" if changes else ""))
    rows += [
        SummaryRow(f"  {ruc}", change, "yellow", value_left=True)
        for _, ruc, change in changes[:CHANGES_LISTED]
    ]
    if len(changes) > CHANGES_LISTED:
        more = format_number(len(changes) - CHANGES_LISTED)
        rows.append(SummaryRow(f"  … y {more} más (hoja o columna «cambio»)", "", ""))
    rows.append(_count("Desde caché", summary["desde_cache"]))
    if summary["desde_padron"]:
        rows.append(_count("Desde el padrón", summary["desde_padron"]))
    rows += [
        _count("Llamadas a la API", summary["llamadas_api"]),
        SummaryRow("Duración", f"{format_number(summary['duracion_s'], 1)} s"),
    ]
    if summary["salida"] is not None:
        rows.append(SummaryRow("Salida", str(summary["salida"])))
    complete = summary["completo"]
    rows.append(SummaryRow("Completo", *(("sí", "green") if complete else ("no", "bold red"))))
    return rows


def plain_summary(report: BatchReport, width: int) -> str | None:
    """``render.summary_table`` as Rich prints it without colours; None to ask Rich."""
    rows = summary_rows(report)
    if not all(one_cell(row.label) and one_cell(row.value) for row in rows):
        return None
    labels = max(len(row.label) for row in rows)
    values = max(len(row.value) for row in rows)
    total = labels + values + 7  # "│ " + label + " │ " + value + " │"
    if total > width:
        return None  # Rich would squeeze a column and fold it
    lines = [
        f"{TITLE:<{total}}",
        f"╭{'─' * (labels + 2)}┬{'─' * (values + 2)}╮",
        *(
            f"│ {row.label:<{labels}} │ {row.value:{'<' if row.value_left else '>'}{values}} │"
            for row in rows
        ),
        f"╰{'─' * (labels + 2)}┴{'─' * (values + 2)}╯",
    ]
    return "".join(f"{line}\n" for line in lines)
