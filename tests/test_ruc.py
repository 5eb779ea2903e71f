"""RUC rules (SPEC §2): what spreadsheets do to numbers, and why a value is refused."""

from __future__ import annotations

import random

import pytest

from migo_cli.ruc import RUC_PREFIXES, check_ruc, is_valid_ruc, normalize

GOOD = "20100038146"

ACCEPTED: list[tuple[object, str]] = [
    ("20100038146", GOOD),
    (20100038146, GOOD),
    (20100038146.0, GOOD),
    ("20100038146.0", GOOD),
    ("20100038146,0", GOOD),
    ("20100038146.00", GOOD),
    ("2.0100038146E10", GOOD),
    ("2.0100038146e+10", GOOD),
    ("2,0100038146E+10", GOOD),
    ("  20100038146  ", GOOD),
    ("\u00a020100038146\u00a0", GOOD),
    ("20 100 038 146", GOOD),
    ("20\u00a0100\u00a0038\u00a0146", GOOD),
    ("20-10003814-6", GOOD),
    ("20.100.038.146", GOOD),
    ("\ufeff20100038146", GOOD),
    ("10467793549", "10467793549"),
    ("15000000008", "15000000008"),
    ("17000000001", "17000000001"),
]


@pytest.mark.parametrize(("value", "ruc"), ACCEPTED, ids=[repr(v) for v, _ in ACCEPTED])
def test_accepted(value: object, ruc: str) -> None:
    result = check_ruc(value)
    assert result is not None
    assert (result.valid, result.ruc, result.reason) == (True, ruc, "")
    assert result.key == ruc
    assert is_valid_ruc(value)


REJECTED: list[tuple[object, str, str]] = [
    ("20100038147", "dígito verificador", "20100038147"),
    ("2010003814", "longitud", "2010003814"),
    ("201000381460", "longitud", "201000381460"),
    ("12345678903", "prefijo", "12345678903"),
    ("30100038146", "prefijo", "30100038146"),
    ("N/A", "caracteres", "N/A"),
    ("2010003814X", "caracteres", "2010003814X"),
    ("٢٠١٠٠٠٣٨١٤٦", "caracteres", "٢٠١٠٠٠٣٨١٤٦"),  # Arabic-Indic digits are not RUC digits
    ("２０１００００３８１４６", "caracteres", "２０１００００３８１４６"),  # full-width
    ("2,01E+10", "perdió dígitos", "2,01E+10"),
    ("2.01E+10", "perdió dígitos", "2.01E+10"),
    ("2.5E0", "no es un número entero", "2.5E0"),
    (2.5, "no es un número entero", "2.5"),
    (float("inf"), "no es un número entero", "inf"),
    ("  20100038147 ", "dígito verificador", "20100038147"),
    (True, "caracteres", "True"),
]


@pytest.mark.parametrize(("value", "why", "raw"), REJECTED, ids=[repr(v) for v, _, _ in REJECTED])
def test_rejected_with_a_reason(value: object, why: str, raw: str) -> None:
    result = check_ruc(value)
    assert result is not None
    assert not result.valid
    assert why in result.reason
    assert result.raw == raw  # SPEC §2: the input trimmed of surrounding whitespace
    assert result.key == raw
    assert not is_valid_ruc(value)


@pytest.mark.parametrize("value", [None, "", "   ", "-", ".", " - ", "\u00a0", float("nan")])
def test_blank_cells_are_skipped(value: object) -> None:
    assert check_ruc(value) is None
    assert normalize(value) == ""


def test_check_digit_message_names_the_expected_digit() -> None:
    result = check_ruc("20100038147")
    assert result is not None
    assert result.reason == "dígito verificador: termina en 7, debería ser 6"


def test_normalize_only_cleans() -> None:
    assert normalize(" 20-100.038 146 ") == GOOD
    assert normalize("20100038147") == "20100038147"  # cleaned, not judged


def test_check_digit_is_python_stdnums() -> None:
    """migo computes the digit itself (no stdnum import on the happy path): stdnum's, always."""
    from stdnum.pe import ruc as stdnum_ruc

    from migo_cli.ruc import check_digit

    rng = random.Random(14)
    for _ in range(20_000):
        body = f"{rng.choice(RUC_PREFIXES)}{rng.randrange(10**8):08d}"
        assert check_digit(body) == stdnum_ruc.calc_check_digit(body), body
        digit = check_digit(body)
        good, bad = check_ruc(body + digit), check_ruc(body + str((int(digit) + 1) % 10))
        assert good is not None
        assert good.valid
        assert bad is not None
        assert bad.reason.startswith("dígito verificador"), bad
