"""A RUC card's rows, and the card as plain text without Rich when stdout is not a terminal.

``migo consultar R`` in a script, under cron or in a pipe prints one card; loading
Rich to lay it out costs more than the whole padrón lookup (figure 14). When Rich
would print no colours (stdout not a terminal), ``plain_cards`` lays out the same
rounded panel itself, byte for byte what Rich prints (tests/test_card.py compares
them), and says None wherever Rich would do more than pad: a line that must wrap,
a character that is not one cell wide, a stream that cannot encode the box.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from migo_cli.models import Origin, RucResult, Status, upstream_label

__all__ = [
    "ORIGIN_LABELS",
    "STATUS_LABELS",
    "STATUS_STYLES",
    "card_fields",
    "condition_style",
    "field_text",
    "one_cell",
    "plain_cards",
    "plain_width",
    "readable_stamp",
    "state_style",
]

STATUS_LABELS: Mapping[Status, str] = {
    Status.VALID: "válido",
    Status.NOT_FOUND: "no existe",
    Status.INVALID: "formato inválido",
    Status.ERROR: "error",
    Status.UNCHECKED: "sin consultar",
}
STATUS_STYLES: Mapping[Status, str] = {
    Status.VALID: "green",
    Status.NOT_FOUND: "yellow",
    Status.INVALID: "red",
    Status.ERROR: "bold red",
    Status.UNCHECKED: "dim",
}
ORIGIN_LABELS: Mapping[Origin, str] = {
    Origin.API: "APIMIGO",
    Origin.CACHE: "caché (respuesta anterior de APIMIGO)",
    Origin.LOCAL: "validación local (sin consulta)",
    Origin.PADRON: "padrón reducido de SUNAT (copia local, sin costo)",
}
#: APIMIGO's placeholder for an address part that does not apply.
_EMPTY = frozenset({"", "-"})
#: APIMIGO's address parts, in its order, as the card's "Desglose" names them;
#: pairs read as one value. The full address already holds them: one line is enough.
_ADDRESS_PARTS: Sequence[tuple[str, tuple[str, ...]]] = (
    ("vía", ("tipo_de_via", "nombre_de_via")),
    ("nro.", ("numero",)),
    ("int.", ("interior",)),
    ("mza.", ("manzana",)),
    ("lote", ("lote",)),
    ("dpto.", ("dpto",)),
    ("km", ("kilometro",)),
    ("zona", ("codigo_de_zona", "tipo_de_zona")),
)
#: Fields the card shows in its own way (or not at all: ``direccion`` contains
#: ``direccion_simple``); any other key APIMIGO sends gets a row of its own.
_SHOWN = frozenset(
    {
        "success",
        "ruc",
        "nombre_o_razon_social",
        "estado_del_contribuyente",
        "condicion_de_domicilio",
        "direccion",
        "direccion_simple",
        "ubigeo",
        "distrito",
        "provincia",
        "departamento",
        "actualizado_en",
    }
    | {key for _, keys in _ADDRESS_PARTS for key in keys}
)


def field_text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def state_style(value: Any) -> str:
    """ACTIVO green; a baja red; anything else (suspensión...) yellow."""
    state = upstream_label(value)
    if state == "ACTIVO":
        return "green"
    return "red" if state.startswith("BAJA") else "yellow"


def condition_style(value: Any) -> str:
    """HABIDO green; NO HABIDO red; anything else (NO HALLADO, PENDIENTE...) yellow."""
    condition = upstream_label(value)
    if condition == "HABIDO":
        return "green"
    return "red" if condition == "NO HABIDO" else "yellow"


def readable_stamp(stamp: str) -> str:
    """``2025-06-01T10:00:00-05:00`` → ``2025-06-01 10:00:00 -05:00``: ISO, easier on the eye."""
    if len(stamp) > 19 and stamp[10:11] == "T":
        return f"{stamp[:10]} {stamp[11:19]} {stamp[19:]}".rstrip()
    return stamp.replace("T", " ", 1)


def card_fields(result: RucResult) -> Iterator[tuple[str, str, str]]:
    """The card's rows as ``(label, value, Rich style)``: one RUC's every field, in Spanish."""
    data = result.data
    if result.status is not Status.VALID:
        status = result.status
        yield "Consulta", STATUS_LABELS[status], STATUS_STYLES[status]
        if result.reason:
            yield "Motivo", result.reason, ""
        yield _fit(result)
        yield from _change(result)
    else:
        yield "Razón social", field_text(data.get("nombre_o_razon_social")), "bold"
        state, condition = data.get("estado_del_contribuyente"), data.get("condicion_de_domicilio")
        yield "Estado", field_text(state), state_style(state)
        yield "Condición", field_text(condition), condition_style(condition)
        yield _fit(result)
        yield from _change(result)
        address = field_text(data.get("direccion")) or field_text(data.get("direccion_simple"))
        if address not in _EMPTY:
            yield "Dirección", address, ""
        parts = []
        for label, keys in _ADDRESS_PARTS:
            value = " ".join(v for v in (field_text(data.get(k)) for k in keys) if v not in _EMPTY)
            if value:
                parts.append(f"{label} {value}")
        if parts:
            yield "Desglose", " · ".join(parts), "dim"
        for label, key in (
            ("Ubigeo", "ubigeo"),
            ("Distrito", "distrito"),
            ("Provincia", "provincia"),
            ("Departamento", "departamento"),
        ):
            if field_text(data.get(key)) not in _EMPTY:
                yield label, field_text(data.get(key)), ""
        for key, value in data.items():
            if key not in _SHOWN and field_text(value) not in _EMPTY:
                yield key.replace("_", " ").capitalize(), field_text(value), ""
        if field_text(data.get("actualizado_en")):
            yield "Actualizado en", readable_stamp(field_text(data.get("actualizado_en"))), ""
    yield "Consultado en", readable_stamp(result.queried_at), ""
    yield "Origen", ORIGIN_LABELS[result.origin], ""


def _fit(result: RucResult) -> tuple[str, str, str]:
    if result.billable:
        return "Apto para facturar", "sí", "bold green"
    return "Apto para facturar", "no", "bold red"


def _change(result: RucResult) -> Iterable[tuple[str, str, str]]:
    """``cambio`` (SPEC §8), when the history has one for this row."""
    if result.change:
        yield "Cambio", result.change, "bold yellow"


# -- the same card without Rich ---------------------------------------------------------------


def plain_width(environ: Mapping[str, str] | None = None) -> int:
    """The width Rich's ``Console`` takes on this process (its ``size``, outside Jupyter)."""
    environ = os.environ if environ is None else environ
    width = 0
    for fd in (0, 1, 2):  # Rich asks stdin, stdout, stderr, in that order
        try:
            width = os.get_terminal_size(fd).columns
        except (AttributeError, ValueError, OSError):
            continue
        break
    columns = environ.get("COLUMNS")
    if columns is not None and columns.isdigit():
        width = int(columns)
    return width or 80


#: Beyond Latin-1, what migo itself writes on a card (``cambio``'s arrows, dashes, quotes).
_ONE_CELL_EXTRA = frozenset("→–—‘’“”…")


def one_cell(text: str) -> bool:
    """Every character printable and one cell wide for sure: ASCII, Latin-1's, a few more."""
    return all(
        " " <= ch <= "~" or ("\xa1" <= ch <= "\xff" and ch != "\xad") or ch in _ONE_CELL_EXTRA
        for ch in text
    )


def plain_cards(results: Sequence[RucResult], width: int, notice: str | None = None) -> str | None:
    """Each result's card (then ``notice``) as Rich prints it without colours; None to ask Rich."""
    lines: list[str] = []
    for result in results:
        card = _plain_card(result, width)
        if card is None:
            return None
        lines.extend(card)
    if notice:
        if len(notice) > width or not one_cell(notice):
            return None
        lines.append(notice)
    return "".join(f"{line}\n" for line in lines)


def _plain_card(result: RucResult, width: int) -> list[str] | None:
    """``render.ruc_card``'s rounded panel, or None where Rich would measure differently."""
    rows = list(card_fields(result))
    title = f" RUC {result.ruc} "
    if not all(one_cell(text) for row in rows for text in row[:2]) or not one_cell(title):
        return None
    labels = max(len(label) for label, _, _ in rows)
    values = max(len(value) for _, value, _ in rows)
    # The grid (labels, 2 spaces, values) inside the panel's (0, 1) padding and its border;
    # as wide as its longest row, else as the console, the values wrapped as Rich wraps them.
    inner = min(width - 2, max(labels + 2 + values + 2, len(title) + 2))
    room = inner - 2 - labels - 2
    if room < _MIN_VALUE_WIDTH:
        return None
    body: list[str] = []
    for label, value, _ in rows:
        lines = _wrapped(value, room)
        if lines is None:
            return None
        for line, text in zip((label, *[""] * (len(lines) - 1)), lines, strict=True):
            body.append(f"│ {f'{line:<{labels}}  {text}':<{inner - 2}} │")
    top = f"╭─{title}{'─' * (inner - 2 - len(title))}─╮"
    return [top, *body, f"╰{'─' * inner}╯"]


#: Narrower than this, Rich's table would squeeze the labels too: leave it to Rich.
_MIN_VALUE_WIDTH = 12
_WORD = re.compile(r"\s*\S+\s*")


def _wrapped(text: str, width: int) -> list[str] | None:
    """``text`` in lines of at most ``width``, broken where Rich's ``divide_line`` breaks.

    None when a word is longer than a line (Rich would fold it mid-word).
    """
    lines: list[str] = []
    start = offset = 0
    match = _WORD.match(text)
    while match is not None:
        word = match.group(0)
        length = len(word.rstrip())
        if width - offset >= length:
            offset += len(word)
        elif length > width:
            return None
        elif offset and match.start():
            lines.append(text[start : match.start()])
            start, offset = match.start(), len(word)
        match = _WORD.match(text, match.end())
    lines.append(text[start:])
    return [line.rstrip() for line in lines]
