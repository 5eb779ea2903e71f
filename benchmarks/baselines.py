"""What migo is compared with: a bare aiohttp loop, the original chunked service, openpyxl.

Each baseline does the least its job allows, so a ratio against it is the
price of migo's pipeline (validation, cache, ordering, output), not of a
handicapped rival.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import openpyxl
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from benchmarks.bare_loop import answer_all, session
from migo_cli._version import __version__
from migo_cli.config import Timeout
from migo_cli.dialects import V1, Operation

USER_AGENT = f"migo/{__version__}"
RUC_URL = V1.path(Operation.RUC)


def migo_like_session(concurrency: int) -> aiohttp.ClientSession:
    """The session ``MigoClient`` builds (same timeouts, connector and headers)."""
    timeout = Timeout()
    return session(concurrency, total=timeout.total, connect=timeout.connect, user_agent=USER_AGENT)


def bare_loop_command(base_url: str, token: str, rucs_file: Path, concurrency: int) -> list[str]:
    """The bare loop as a process of its own, with the session ``migo_like_session`` builds."""
    timeout = Timeout()
    return [
        sys.executable, "-m", "benchmarks.bare_loop", base_url, token, str(rucs_file),
        str(concurrency), str(timeout.total), str(timeout.connect), USER_AGENT,
    ]  # fmt: skip


async def _bare_loop(base_url: str, token: str, rucs: Sequence[str], concurrency: int) -> int:
    async with migo_like_session(concurrency) as client:
        return await answer_all(client, base_url, token, rucs, concurrency)


@dataclass(frozen=True, slots=True)
class Timing:
    seconds: float
    cpu_seconds: float  # this process only: the simulator runs in another one


def bare_loop(base_url: str, token: str, rucs: Sequence[str], concurrency: int) -> Timing:
    """Wall and CPU time for the bare loop to get an answer for every RUC."""
    started, cpu = time.perf_counter(), time.process_time()
    answered = asyncio.run(_bare_loop(base_url, token, rucs, concurrency))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if answered != len(rucs):
        raise RuntimeError(f"bare loop: {answered} answers for {len(rucs)} RUCs")
    return Timing(seconds, cpu)


async def _chunked_original(
    base_url: str, token: str, rucs: Sequence[str], chunk: int, pause: float
) -> int:
    """The original service's algorithm, as it was.

    Chunks of ``chunk`` RUCs, each chunk sent at once with ``asyncio.gather``
    over one aiohttp session (default settings), wait for the whole chunk,
    then sleep ``pause`` before the next one. The pause is left out after the
    last chunk, which can only flatter the original.
    """
    url = base_url + RUC_URL
    answered = 0

    async def one(session: aiohttp.ClientSession, ruc: str) -> Any:
        async with session.post(url, json={"ruc": ruc, "token": token}) as response:
            return await response.json(content_type=None)

    async with aiohttp.ClientSession() as session:
        for start in range(0, len(rucs), chunk):
            answers = await asyncio.gather(
                *(one(session, ruc) for ruc in rucs[start : start + chunk]),
                return_exceptions=True,
            )
            answered += sum(1 for a in answers if isinstance(a, dict))
            if start + chunk < len(rucs):
                await asyncio.sleep(pause)
    return answered


def chunked_original(
    base_url: str, token: str, rucs: Sequence[str], chunk: int = 50, pause: float = 0.05
) -> float:
    """Seconds for the original chunked approach to get an answer for every RUC."""
    started = time.perf_counter()
    answered = asyncio.run(_chunked_original(base_url, token, rucs, chunk, pause))
    seconds = time.perf_counter() - started
    if answered != len(rucs):
        raise RuntimeError(f"chunked original: {answered} answers for {len(rucs)} RUCs")
    return seconds


# -- xlsx: openpyxl's write-only mode, producing the same workbook as migo -----------

_FORMULA_STARTS = "=+@\t\r-"
_ROUTES = {
    "valido": "validos",
    "sin_consultar": "validos",
    "no_existe": "invalidos",
    "formato_invalido": "invalidos",
    "error": "errores",
}


def _cell_text(value: Any) -> str:
    text = value if isinstance(value, str) else "" if value is None else str(value)
    if text and text[0] in _FORMULA_STARTS and text != "-":
        return "'" + text
    return text


def write_xlsx_openpyxl(
    path: Path,
    columns: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    summary: Mapping[str, Any],
) -> None:
    """migo's ``.xlsx`` (split sheets, styled header, filter, frozen row) with openpyxl.

    Write-only mode streams rows like xlsxwriter's ``constant_memory``. Column
    widths come from the first 1,000 rows, as migo does; openpyxl needs them
    before the first row, so they are sampled up front (a free advantage).
    """
    book = openpyxl.Workbook(write_only=True)
    header_font = Font(bold=True)
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    header_border = Border(bottom=Side(style="thin"))
    sheets: dict[str, Any] = {}
    counts: dict[str, int] = {}
    for name in ("validos", "invalidos", "errores"):
        sheet = book.create_sheet(name)
        widths = [len(c) + 3 for c in columns]
        for row in rows[:1000]:
            for col, key in enumerate(columns):
                widths[col] = max(widths[col], len(_cell_text(row.get(key))))
        for col, width in enumerate(widths):
            letter = get_column_letter(col + 1)
            sheet.column_dimensions[letter].width = min(max(width + 2, 8), 60)
        sheet.freeze_panes = "A2"
        header = []
        for name_ in columns:
            cell = WriteOnlyCell(sheet, value=_cell_text(name_))
            cell.font, cell.fill, cell.border = header_font, header_fill, header_border
            header.append(cell)
        sheet.append(header)
        sheets[name] = sheet
        counts[name] = 1
    for row in rows:
        name = _ROUTES.get(str(row.get("estado_consulta")), "errores")
        values: list[Any] = []
        for key in columns:
            value = row.get(key)
            if value is True or value is False:
                values.append(value)
            else:
                text = _cell_text(value)
                values.append(text or None)
        sheets[name].append(values)
        counts[name] += 1
    last = get_column_letter(len(columns))
    for name, sheet in sheets.items():
        sheet.auto_filter.ref = f"A1:{last}{counts[name]}"
    resumen = book.create_sheet("resumen")
    resumen.append(["campo", "valor"])
    for key, value in summary.items():
        resumen.append([key, value if isinstance(value, int | float | bool) else str(value)])
    book.save(path)
