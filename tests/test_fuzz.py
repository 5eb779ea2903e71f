"""Whatever users feed migo, the only failure they may see is a one-line InputError.

Hypothesis throws arbitrary text and bytes at ``read_input`` through every
supported extension and standard input, and arbitrary cell values at
``check_ruc``, which must never raise and never call a malformed RUC valid.
"""

from __future__ import annotations

import io
import json
import math
import tempfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum.pe import ruc as stdnum_ruc

from migo_cli.exceptions import InputError
from migo_cli.readers import SUPPORTED_INPUTS, InputTable, read_input
from migo_cli.ruc import RUC_PREFIXES, check_ruc

pytestmark = pytest.mark.faults

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ENCODINGS = ("utf-8", "utf-8-sig", "cp1252", "utf-16")
DELIMITERS = (",", ";", "\t", "|")


def checked_read(
    source: str | Path,
    *,
    keep_table: bool = False,
    column: str | None = None,
    stdin: bytes | None = None,
) -> InputTable | None:
    """``read_input``, asserting it either fails cleanly or returns a coherent table."""
    try:
        table = read_input(
            source,
            keep_table=keep_table,
            column=column,
            stdin=io.BytesIO(stdin) if stdin is not None else None,
        )
    except InputError as exc:
        message = str(exc)
        assert message
        assert "\n" not in message
        assert "\r" not in message
        return None
    assert table.source == str(source)
    assert table.values
    for value in table.values:
        assert value is None or type(value) in (str, int, float), repr(value)
    if keep_table:
        assert table.frame is not None
        assert len(table.frame) == len(table.values)
        if table.column is not None:
            assert table.column in table.frame.columns
    else:
        assert table.frame is None
    return table


def read_file(
    content: bytes, suffix: str, *, keep_table: bool = False, column: str | None = None
) -> InputTable | None:
    """``content`` as a file named with ``suffix``, through ``checked_read``."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"entrada{suffix}"
        path.write_bytes(content)
        return checked_read(path, keep_table=keep_table, column=column)


# -- readers -----------------------------------------------------------------------------


@FUZZ
@given(
    text=st.text(),
    suffix=st.sampled_from(SUPPORTED_INPUTS),
    encoding=st.sampled_from(ENCODINGS),
    keep_table=st.booleans(),
)
def test_any_text_in_any_format(text: str, suffix: str, encoding: str, keep_table: bool) -> None:
    read_file(text.encode(encoding, errors="replace"), suffix, keep_table=keep_table)


@FUZZ
@given(data=st.binary(max_size=2048), suffix=st.sampled_from(SUPPORTED_INPUTS))
def test_any_bytes_in_any_format(data: bytes, suffix: str) -> None:
    read_file(data, suffix)
    read_file(data, suffix, keep_table=True)


@FUZZ
@given(data=st.binary(max_size=2048), keep_table=st.booleans())
def test_any_bytes_on_stdin(data: bytes, keep_table: bool) -> None:
    checked_read("-", stdin=data, keep_table=keep_table)


# Cells made of what breaks parsers: delimiters, quotes, line breaks, digits, accents.
CELL = st.text(
    alphabet=st.sampled_from(list("0123456789 .,;|\t\"'\r\n-eERUCrucéñ°\u00a0")), max_size=14
)
HEADER = st.one_of(
    st.sampled_from(["RUC", "Nro. RUC", "N° RUC", "ruc_cliente", "Razón Social", "Estado RUC", ""]),
    CELL,
)


@st.composite
def delimited_text(draw: st.DrawFn) -> tuple[str, str]:
    delimiter = draw(st.sampled_from(DELIMITERS))
    header = draw(st.lists(HEADER, min_size=1, max_size=5))
    rows = draw(st.lists(st.lists(CELL, min_size=0, max_size=6), max_size=25))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    lines = [delimiter.join(header), *(delimiter.join(row) for row in rows)]
    return newline.join(lines) + draw(st.sampled_from(["", newline])), delimiter


@FUZZ
@given(table=delimited_text(), suffix=st.sampled_from([".csv", ".tsv", ".txt"]))
def test_table_like_text(table: tuple[str, str], suffix: str) -> None:
    text, _ = table
    content = text.encode("utf-8")
    plain = read_file(content, suffix)
    kept = read_file(content, suffix, keep_table=True)
    # Reading only the RUC column and reading everything must agree.
    assert (plain is None) == (kept is None)
    if plain is not None and kept is not None:
        assert plain.values == kept.values
        assert plain.column == kept.column
    checked_read("-", stdin=content)


@FUZZ
@given(table=delimited_text(), column=st.one_of(st.none(), HEADER))
def test_explicit_column_on_table_like_text(table: tuple[str, str], column: str | None) -> None:
    read_file(table[0].encode("cp1252", errors="replace"), ".csv", column=column)


JSON_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=15),
)
JSON_VALUE = st.recursive(
    JSON_SCALAR,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(HEADER, st.text(max_size=6)), children, max_size=4),
    ),
    max_leaves=20,
)


@FUZZ
@given(document=JSON_VALUE, keep_table=st.booleans())
def test_any_json_document(document: object, keep_table: bool) -> None:
    text = json.dumps(document)
    table = read_file(text.encode(), ".json", keep_table=keep_table)
    plain = isinstance(document, list) and all(
        isinstance(item, str | int | float | None) and not isinstance(item, bool)
        for item in document
    )
    if plain and table is not None:
        assert isinstance(document, list)
        assert [repr(v) for v in table.values] == [repr(v) for v in document]
    lines = "\n".join(json.dumps(item) for item in document) if isinstance(document, list) else text
    read_file(lines.encode(), ".jsonl", keep_table=keep_table)


def _workbook_bytes() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Razón Social", "RUC", "Monto"])
    for number in range(30):
        sheet.append([f"Empresa {number}", 20100038146 + number, number * 1.5])
    buffer = io.BytesIO()
    book.save(buffer)
    book.close()
    return buffer.getvalue()


WORKBOOK = _workbook_bytes()


@FEW
@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(WORKBOOK) - 1), st.integers(0, 255)), min_size=1, max_size=8
    ),
    cut=st.one_of(st.none(), st.integers(0, len(WORKBOOK))),
    suffix=st.sampled_from([".xlsx", ".xlsm"]),
)
def test_damaged_workbook(edits: list[tuple[int, int]], cut: int | None, suffix: str) -> None:
    data = bytearray(WORKBOOK)
    for position, byte in edits:
        data[position] = byte
    damaged = bytes(data[:cut] if cut is not None else data)
    read_file(damaged, suffix)
    read_file(damaged, suffix, keep_table=True)
    checked_read("-", stdin=damaged)


def test_intact_workbook_reads() -> None:
    """The fuzzed workbook is readable when undamaged (else the fuzz proves little)."""
    table = read_file(WORKBOOK, ".xlsx", keep_table=True)
    assert table is not None
    assert table.values == [20100038146 + n for n in range(30)]


# -- check_ruc ---------------------------------------------------------------------------


@st.composite
def valid_rucs(draw: st.DrawFn) -> str:
    body = draw(st.sampled_from(RUC_PREFIXES)) + draw(st.from_regex(r"\A[0-9]{8}\Z"))
    return body + stdnum_ruc.calc_check_digit(body)


def assert_sound(result: object) -> None:
    """None, or a RucCheck that calls valid only what SUNAT's rules accept."""
    if result is None:
        return
    assert type(result).__name__ == "RucCheck"
    raw, ruc, valid = result.raw, result.ruc, result.valid  # type: ignore[attr-defined]
    assert isinstance(raw, str)
    assert isinstance(ruc, str)
    if valid:
        assert len(ruc) == 11
        assert ruc.isascii()
        assert ruc.isdigit()
        assert ruc[:2] in RUC_PREFIXES
        assert stdnum_ruc.is_valid(ruc)


SCIENTIFIC_TEXT = st.from_regex(r"\A[ +]?[0-9]{1,60}([.,][0-9]{0,60})?[eE][+]?[0-9]{1,9} ?\Z")
SPREADSHEET_TEXT = st.text(alphabet=st.sampled_from(list("0123456789 .,-+\u00a0\u202f")))
ANY_VALUE = st.one_of(
    st.text(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.binary().map(lambda b: b.decode("utf-8", errors="replace")),
    st.binary().map(lambda b: b.decode("cp1252", errors="replace")),
    SCIENTIFIC_TEXT,
    SPREADSHEET_TEXT,
    st.none(),
    st.booleans(),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
)


@settings(max_examples=200, deadline=None)
@given(value=ANY_VALUE)
def test_check_ruc_never_raises(value: object) -> None:
    assert_sound(check_ruc(value))


@settings(max_examples=200, deadline=None)
@given(ruc=valid_rucs(), style=st.integers(0, 8))
def test_check_ruc_undoes_spreadsheet_damage(ruc: str, style: int) -> None:
    damaged: object = [
        ruc,
        int(ruc),
        float(ruc),
        f"  {ruc}\u00a0",
        f"{ruc[:2]}-{ruc[2:10]}-{ruc[10]}",
        f"{ruc[:2]}.{ruc[2:5]}.{ruc[5:8]}.{ruc[8:]}",
        f"{ruc}.0",
        f"{Decimal(ruc):.10E}",  # 2.0100038146E+10: every digit kept
        Decimal(ruc),
    ][style]
    result = check_ruc(damaged)
    assert result is not None
    assert result.valid, (damaged, result)
    assert result.ruc == ruc


@settings(max_examples=200, deadline=None)
@given(ruc=valid_rucs(), position=st.integers(0, 10), digit=st.sampled_from("0123456789"))
def test_check_ruc_rejects_one_wrong_digit(ruc: str, position: int, digit: str) -> None:
    changed = ruc[:position] + digit + ruc[position + 1 :]
    result = check_ruc(changed)
    assert result is not None
    assert result.valid == (changed == ruc or stdnum_ruc.is_valid(changed))
    assert_sound(result)


@settings(max_examples=100, deadline=None)
@given(value=st.floats(allow_nan=True, allow_infinity=True))
def test_check_ruc_floats(value: float) -> None:
    result = check_ruc(value)
    if math.isnan(value):
        assert result is None
    else:
        assert result is not None
    assert_sound(result)


@pytest.mark.parametrize(
    "value",
    ["1E5000", "1E99999999", 10**5000, "9" * 5000 + "E1"],
    ids=["e5000", "e1e8", "int", "mantisa"],
)
def test_check_ruc_huge_numbers_are_refused_quickly(value: object) -> None:
    result = check_ruc(value)
    assert result is not None
    assert "longitud" in result.reason
    assert_sound(result)


def test_check_ruc_dotted_groups() -> None:
    result = check_ruc("20.404.007.000")
    assert result is not None
    assert result.valid, result
