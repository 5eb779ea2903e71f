"""Generated SUNAT padrón files (``.txt`` or ``.zip``), in the exact format SUNAT publishes.

Two ways to fill one:

- ``write_padron(path, rucs=...)`` (or ``count=``): each line is what the simulator
  answers for that RUC (``ruc_answer``), so an index built from the file and the
  simulator agree, and ``--fuente auto`` can be shown: RUCs the simulator does
  not find, and the ``missing`` ones ("registered after the padrón"), are left
  out. About 30 µs a row: for tests and demonstrations.
- ``write_padron(path, count=..., fast=True)``: two million rows in seconds, for
  benchmarks. Names and addresses come from a small vocabulary (with Ñ and
  accents), not from the simulator: they do not agree with its answers.

Either way the file is Latin-1 with SUNAT's header, ``|`` after every field, and,
at the rate ``malformed``, lines a real file also carries: a stray ``|`` inside a
name, a line cut short, a RUC with a digit missing. Names keep their quotes.
Everything is a pure function of the arguments: the same call writes the same bytes.
"""

from __future__ import annotations

import zipfile
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from migo_cli.padron.format import ENCODING, FIELDS, HEADER, SEPARATOR
from migo_cli.simulator.data import (
    DEFAULT_NOT_FOUND_SHARE,
    SPECIAL_RUCS,
    ruc_answer,
    stable_unit,
)

__all__ = ["MEMBER_NAME", "PadronFile", "fast_rucs", "padron_line", "write_padron"]

#: The text file's name inside SUNAT's zip.
MEMBER_NAME: Final = "padron_reducido_ruc.txt"
HEADER_LINE: Final = SEPARATOR.join(HEADER) + SEPARATOR
_WEIGHTS: Final = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


@dataclass(frozen=True, slots=True)
class PadronFile:
    """What was written: ``rows`` well-formed lines, ``malformed`` bad ones, ``rucs`` held."""

    path: Path
    rows: int
    malformed: int
    rucs: tuple[str, ...]


def padron_line(ruc: str, not_found_share: float = DEFAULT_NOT_FOUND_SHARE) -> str | None:
    """The padrón's line (no newline) for a RUC the simulator finds, else None."""
    data = ruc_answer(ruc, not_found_share)
    if data is None:
        return None
    return _line(ruc, data)


def _line(ruc: str, data: dict[str, Any]) -> str:
    cells = [ruc]
    for name in FIELDS[1:]:
        value = data.get(name)
        text = "-" if value is None else str(value).strip() or "-"
        cells.append(text.replace(SEPARATOR, "/"))
    return SEPARATOR.join(cells) + SEPARATOR


def _draw(ruc: str, index: int, fast: bool) -> float:
    """A stable number in [0, 1) for a line: a hash of the RUC, or (fast) of its index."""
    if fast:
        return ((index * 2_654_435_761) & 0xFFFF_FFFF) / 2**32
    return stable_unit("malformado", ruc)


def _malformed(line: str, index: int) -> str:
    """One of the faults real files carry, chosen by ``index``."""
    cells = line.split(SEPARATOR)
    kind = index % 3
    if kind == 0:  # a stray | inside the name: one field too many
        cells[1] = cells[1].replace(" ", "|", 1) if " " in cells[1] else cells[1] + "|X"
        return SEPARATOR.join(cells)
    if kind == 1:  # a line cut short
        return SEPARATOR.join(cells[:7])
    return SEPARATOR.join([cells[0][:10], *cells[1:]])  # a RUC with a digit missing


def _check_digit_tables() -> tuple[list[int], list[int]]:
    """Weighted digit sums of the two 4-digit halves of a RUC's middle: fast check digits."""
    high = [
        sum(w * int(d) for w, d in zip(_WEIGHTS[2:6], f"{n:04d}", strict=True))
        for n in range(10_000)
    ]
    low = [
        sum(w * int(d) for w, d in zip(_WEIGHTS[6:], f"{n:04d}", strict=True))
        for n in range(10_000)
    ]
    return high, low


def fast_rucs(count: int, start: int = 0, prefix: str = "20") -> Iterator[str]:
    """The RUCs ``make_rucs`` gives (same numbers, same check digits), without python-stdnum.

    About ten times faster: the bench needs two million of them.
    """
    high, low = _check_digit_tables()
    base = _WEIGHTS[0] * int(prefix[0]) + _WEIGHTS[1] * int(prefix[1])
    for number in range(start, start + count):
        total = base + high[number // 10_000] + low[number % 10_000]
        yield f"{prefix}{number:08d}{(11 - total % 11) % 10}"


_FAST_TRADES: Final = (
    "COMERCIAL", "INDUSTRIAL", "LOGÍSTICA", "CONSTRUCTORA", "AGROINDUSTRIAL", "TEXTIL",
    "MINERA", "INMOBILIARIA", "DE SERVICIOS", "TECNOLÓGICA", "IMPORTADORA", "EXPORTADORA",
    "PESQUERA", "FERRETERÍA", "PANIFICADORA", "CAFETALERA",
)  # fmt: skip
_FAST_BRANDS: Final = (
    "ANDINA", "DEL PACÍFICO", "INCA", "LOS ANDES", "DEL NORTE", "DEL SUR", "AMAZÓNICA",
    "COSTA VERDE", "HUASCARÁN", "TITICACA", "MISTI", "CÓNDOR", "PEÑA", "NÚÑEZ", "ÑAÑA",
    "CASTAÑEDA", "MUÑOZ", "IBÁÑEZ", "SANTA MARÍA", "SAN MARTÍN", "LA UNIÓN", "ACUÑA",
    "ORDÓÑEZ", "QUIÑONES", "BRIÑAS", "CAÑETE", "PIÑA", "ESPAÑA", "CONCEPCIÓN", "JAÉN",
    "PUNO", "TACNA",
)  # fmt: skip
_FAST_FORMS: Final = ("S.A.C.", "S.A.C.", "S.A.", "S.R.L.", "E.I.R.L.", "SOCIEDAD ANÓNIMA CERRADA")
_FAST_SURNAMES: Final = (
    "QUISPE", "FLORES", "SÁNCHEZ", "RODRÍGUEZ", "GARCÍA", "MAMANI", "HUAMÁN", "CHÁVEZ",
    "TORRES", "RAMOS", "VARGAS", "CASTILLO", "NÚÑEZ", "PEÑA", "MUÑOZ", "CASTAÑEDA",
    "IBÁÑEZ", "ORDÓÑEZ", "GÓMEZ", "PÉREZ", "DÍAZ", "LÓPEZ", "MARTÍNEZ", "GUTIÉRREZ",
)  # fmt: skip
_FAST_GIVEN: Final = (
    "JUAN CARLOS", "MARÍA ELENA", "JOSÉ LUIS", "ROSA", "LUIS ALBERTO", "CARMEN", "JORGE",
    "ANA LUCÍA", "PEDRO", "SOFÍA", "IÑIGO", "ÁNGEL", "MÓNICA", "RAÚL", "INÉS", "CÉSAR",
)  # fmt: skip
_FAST_STATES: Final = ("ACTIVO",) * 14 + ("BAJA DE OFICIO", "SUSPENSION TEMPORAL")
_FAST_CONDITIONS: Final = ("HABIDO",) * 7 + ("NO HABIDO",)
_FAST_PLACES: Final = (
    "150101", "150122", "150131", "150130", "150140", "150114", "150115", "150105",
    "070101", "040101", "130101", "140101", "080101", "200101", "120101", "160101",
)  # fmt: skip
_FAST_VIAS: Final = (
    "AV.|JAVIER PRADO ESTE", "JR.|ÑAÑA", "CAL.|LOS OLIVOS", "AV.|LA MARINA", "JR.|GRAU",
    "PJ.|SAN MARTÍN", "AV.|TÚPAC AMARU", "-|-",
)  # fmt: skip
_FAST_ZONES: Final = ("URB.|SANTA CATALINA", "URB.|PEÑA ÁLVAREZ", "-|-", "A.H.|EL PALOMAR")


def _fast_name(ruc: str, mix: int) -> str:
    if ruc.startswith("10"):
        first = _FAST_SURNAMES[mix % 24]
        second = _FAST_SURNAMES[(mix >> 5) % 24]
        return f"{first} {second} {_FAST_GIVEN[(mix >> 10) % 16]}"
    trade, brand = _FAST_TRADES[mix % 16], _FAST_BRANDS[(mix >> 4) % 32]
    name = f"{trade} {brand} {_FAST_FORMS[(mix >> 9) % 6]}"
    if mix >> 12 & 7 == 0:  # quotes are part of a name, never CSV quoting
        name = f'{trade} "{brand}" {_FAST_FORMS[(mix >> 9) % 6]}'
    return name


def _fast_line(ruc: str, index: int) -> str:
    mix = (index * 2_654_435_761 + 40_503) & 0xFFFF_FFFF
    mix ^= mix >> 15
    state = _FAST_STATES[(mix >> 16) % 16]
    condition = _FAST_CONDITIONS[(mix >> 20) % 8]
    place = _FAST_PLACES[(mix >> 23) % 16]
    via = _FAST_VIAS[(mix >> 27) % 8]
    zone = _FAST_ZONES[(mix >> 13) % 4]
    number = "-" if via == "-|-" else str(mix % 2999 + 1)
    lot = "-|-|-" if via != "-|-" else f"{mix % 40 + 1}|-|{'ABCDE'[mix % 5]}"
    return (
        f"{ruc}|{_fast_name(ruc, mix)}|{state}|{condition}|{place}|{via}|{zone}|{number}|-|{lot}|-|"
    )


def _exact_lines(
    rucs: Iterable[str], missing: Collection[str], not_found_share: float
) -> Iterator[tuple[str, str]]:
    for ruc in rucs:
        if ruc in missing:
            continue
        line = padron_line(ruc, not_found_share)
        if line is not None:
            yield ruc, line


def _fast_lines(rucs: Iterable[str], missing: Collection[str]) -> Iterator[tuple[str, str]]:
    for index, ruc in enumerate(rucs):
        if ruc not in missing:
            yield ruc, _fast_line(ruc, index)


def write_padron(
    path: Path,
    *,
    rucs: Iterable[str] | None = None,
    count: int | None = None,
    start: int = 0,
    missing: Collection[str] = (),
    malformed: float = 0.0,
    specials: bool = True,
    fast: bool = False,
    not_found_share: float = DEFAULT_NOT_FOUND_SHARE,
    crlf: bool = False,
) -> PadronFile:
    """Write a padrón to ``path`` (a ``.zip`` holding ``padron_reducido_ruc.txt``, or the text).

    ``rucs`` (or ``count`` RUCs from ``start``, as ``make_rucs`` numbers them): the
    candidates; ``missing``: RUCs to leave out though the simulator finds them;
    ``malformed``: the share of extra bad lines; ``specials``: also the simulator's
    special RUCs that it finds (``RUC_ACENTOS``, ``RUC_FORMULA``…), first.
    """
    if (rucs is None) == (count is None):
        raise ValueError("give rucs or count, not both")
    candidates: Iterable[str] = rucs if rucs is not None else fast_rucs(count or 0, start)
    if specials and not fast:
        listed = list(candidates)
        extra = [ruc for ruc in SPECIAL_RUCS if ruc not in set(listed)]
        candidates = [*extra, *listed]
    lines = (
        _fast_lines(candidates, missing)
        if fast
        else _exact_lines(candidates, missing, not_found_share)
    )
    newline = "\r\n" if crlf else "\n"
    held: list[str] = []
    bad = 0

    def text() -> Iterator[str]:
        nonlocal bad
        yield HEADER_LINE + newline
        for index, (ruc, line) in enumerate(lines):
            held.append(ruc)
            yield line + newline
            if malformed and _draw(ruc, index, fast) < malformed:
                bad += 1
                yield _malformed(line, index) + newline

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".zip":
        with (
            zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf,
            zf.open(MEMBER_NAME, "w", force_zip64=True) as raw,
        ):
            _write_text(raw, text())
    else:
        with path.open("wb") as raw:
            _write_text(raw, text())
    return PadronFile(path, len(held), bad, tuple(held))


def _write_text(raw: Any, parts: Iterator[str]) -> None:
    buffer: list[str] = []
    size = 0
    for part in parts:
        buffer.append(part)
        size += len(part)
        if size >= 1 << 20:
            raw.write("".join(buffer).encode(ENCODING))
            buffer.clear()
            size = 0
    raw.write("".join(buffer).encode(ENCODING))
