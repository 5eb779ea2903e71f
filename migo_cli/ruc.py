"""RUC rules: undo what spreadsheets do to numbers, then check before anyone pays.

Every paid call starts here. A value that is not an 11-digit RUC with a known
prefix and the right mod-11 check digit (python-stdnum's ``stdnum.pe.ruc``) is
``formato_invalido`` with a ``motivo`` saying which rule it broke, and is never
sent to the API.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from numbers import Integral, Real

__all__ = ["RUC_LENGTH", "RUC_PREFIXES", "RucCheck", "check_ruc", "is_valid_ruc", "normalize"]

RUC_LENGTH = 11
RUC_PREFIXES = ("10", "15", "17", "20")  # python-stdnum's list
#: python-stdnum's weights for SUNAT's mod-11 digit (``stdnum.pe.ruc.calc_check_digit``),
#: so a well-formed RUC is accepted without importing stdnum: ``stdnum.util`` imports
#: ``ssl`` and ``pydoc`` for its online checks, a fifth of what ``migo consultar R
#: --fuente padron`` may take (figure 14). A RUC that fails is explained by stdnum;
#: tests/test_ruc.py holds this digit to stdnum's.
_WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
_ZEROS = ord("0") * sum(_WEIGHTS)  # the weighted codes of ten '0' characters

# Characters spreadsheets and people put inside numbers: spaces of every width,
# dashes and dots used as group separators.
_SEPARATORS = re.compile(r"[\s\u00a0\u2007\u202f\u200b\ufeff.\-]+")
_SURROUNDING = " \t\r\n\u00a0\u2007\u202f\u200b\ufeff"
# ".0" / ".00" are what float-to-text conversions leave; ".000" is a thousands group.
_TRAILING_ZERO_DECIMAL = re.compile(r"[.,]0{1,2}$")
# Far beyond any RUC; bounds the work a hostile cell can cause ("1E99999999").
_MAX_DIGITS = 40
_SCIENTIFIC = re.compile(r"^\+?(\d+)(?:[.,](\d*))?[eE]\+?(\d+)$")


@dataclass(frozen=True, slots=True)
class RucCheck:
    """The outcome of the local checks for one input value.

    ``raw`` is the value as given, trimmed; ``ruc`` the normalised candidate
    (the 11-digit RUC when ``valid``); ``reason`` is empty when valid.
    """

    raw: str
    ruc: str
    reason: str = ""

    @property
    def valid(self) -> bool:
        return not self.reason

    @property
    def key(self) -> str:
        """What duplicates are recognised by: the RUC, or the raw value when invalid."""
        return self.ruc if not self.reason else self.raw


def _from_number(value: Real) -> tuple[str, str, str]:
    """A numeric cell as (raw text, candidate digits, reason)."""
    if isinstance(value, Integral):
        number = int(value)
        if number.bit_length() > _MAX_DIGITS * 4:  # str() of a huge int is slow, then refused
            return f"{number.bit_length()} bits", "", "longitud: número demasiado largo"
        return str(number), str(number), ""
    number_f = float(value)
    if math.isnan(number_f):
        return "", "", ""
    if math.isinf(number_f) or not number_f.is_integer():
        return repr(number_f), "", "no es un número entero"
    text = str(int(number_f))
    return text, text, ""


def _from_scientific(text: str) -> tuple[str, str]:
    """(digits, reason) for text such as ``2.0100038146E10`` or ``2,01E+10``."""
    match = _SCIENTIFIC.match(text)
    assert match is not None
    whole, frac, exp = match.group(1), match.group(2) or "", match.group(3)
    if len(exp) > 3 or int(exp) > _MAX_DIGITS or len(whole) + len(frac) > _MAX_DIGITS:
        return "", f"longitud: la notación científica denota más de {_MAX_DIGITS} dígitos"
    from decimal import Decimal, InvalidOperation  # scientific notation only: rare

    try:
        value = Decimal(f"{whole}.{frac or '0'}e{exp}")
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        return "", "notación científica ilegible"
    if value != value.to_integral_value():
        return "", "notación científica que no es un número entero"
    digits = str(int(value))
    if len(digits) > len((whole + frac).lstrip("0")):
        # Zeros were filled in by the exponent: the spreadsheet rounded the number.
        return "", "notación científica: la hoja de cálculo perdió dígitos del número"
    return digits, ""


def normalize(value: object) -> str:
    """The candidate RUC in ``value`` with spreadsheet damage undone ('' when blank).

    Only the cleaning: a non-RUC comes back cleaned but unvalidated.
    """
    return _normalize(value)[1]


def _normalize(value: object) -> tuple[str, str, str]:
    """(raw trimmed text, candidate, reason found while cleaning)."""
    if value is None:
        return "", "", ""
    if isinstance(value, bool):  # a TRUE/FALSE cell is text, not the number 1 or 0
        value = str(value)
    if isinstance(value, Real):
        return _from_number(value)
    raw = str(value).strip(_SURROUNDING)
    if not raw:
        return "", "", ""
    text = raw.replace("\u00a0", "").replace(" ", "")
    if _SCIENTIFIC.match(text):
        digits, reason = _from_scientific(text)
        return raw, digits or text, reason
    text = _TRAILING_ZERO_DECIMAL.sub("", text)
    return raw, _SEPARATORS.sub("", text), ""


def check_ruc(value: object) -> RucCheck | None:
    """Normalise and validate one input value; ``None`` for a blank cell."""
    if type(value) is str and len(value) == RUC_LENGTH and value.isdigit() and value.isascii():
        return RucCheck(value, value, _reject_reason(value))  # the usual cell: nothing to undo
    raw, candidate, reason = _normalize(value)
    if not raw:
        return None
    if not candidate:
        if reason:
            return RucCheck(raw, raw, reason)
        return None  # only separators: a blank cell in disguise ('-', '.')
    if reason:
        return RucCheck(raw, candidate, reason)
    return RucCheck(raw, candidate, _reject_reason(candidate))


def check_digit(number: str) -> str:
    """SUNAT's check digit for the first ten (ASCII) digits of ``number``, as python-stdnum's.

    Weighs the digits' character codes, then takes off what their '0's add: one
    C call each, no ``int()`` per digit (a million-row file asks it a million times).
    """
    total = sum(map(operator.mul, _WEIGHTS, number[:10].encode("ascii"))) - _ZEROS
    return str((11 - total % 11) % 10)


def _reject_reason(candidate: str) -> str:
    if not (candidate.isascii() and candidate.isdigit()):  # before length: "N/A" is wrong
        return "caracteres: contiene caracteres que no son dígitos"  # by its characters
    if (
        len(candidate) == RUC_LENGTH
        and candidate[:2] in RUC_PREFIXES
        and candidate[-1] == check_digit(candidate)
    ):
        # The same rules as stdnum_ruc.validate(), whose generic cleaning costs more
        # than the check itself on a million-row file.
        return ""
    from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidLength
    from stdnum.pe import ruc as stdnum_ruc

    try:
        stdnum_ruc.validate(candidate)
    except InvalidLength:
        return f"longitud: tiene {len(candidate)} dígitos, un RUC tiene {RUC_LENGTH}"
    except InvalidComponent:
        return f"prefijo: {candidate[:2]} no es un prefijo de RUC ({', '.join(RUC_PREFIXES)})"
    except InvalidChecksum:
        expected = stdnum_ruc.calc_check_digit(candidate)
        return f"dígito verificador: termina en {candidate[-1]}, debería ser {expected}"
    return ""


def is_valid_ruc(value: object) -> bool:
    result = check_ruc(value)
    return result is not None and result.valid
