"""The simulator's fake APIMIGO data: a pure function of the RUC, DNI or date.

Data derives from a stable hash, so two simulators (and two runs) always
agree, and tests can predict an answer without a server (``ruc_answer``).
Everything is clearly fake: names start with "EMPRESA SIMULADA" or "PERSONA
SIMULADA". The special RUCs and what each answers are listed in
``migo_cli.simulator``'s docstring; ``SPECIAL_RUCS`` says it in Spanish.
"""

from __future__ import annotations

import functools
import hashlib
import random
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any, Final

from stdnum import exceptions as stdnum_errors
from stdnum.pe import ruc as stdnum_ruc

from migo_cli.models import UPSTREAM_FIELDS
from migo_cli.padron.address import location_fields

__all__ = [
    "DEFAULT_NOT_FOUND_SHARE",
    "DNI_EXISTE",
    "DNI_NO_EXISTE",
    "RUC_ACENTOS",
    "RUC_ACTIVO_HABIDO",
    "RUC_BAJA_DE_OFICIO",
    "RUC_DATOS_INCOMPLETOS",
    "RUC_DIGITO_INVALIDO",
    "RUC_ESTADO_SIN_NORMALIZAR",
    "RUC_FORMULA",
    "RUC_NO_EXISTE",
    "RUC_NO_HABIDO",
    "RUC_PERSONA_NATURAL",
    "RUC_SUSPENSION_TEMPORAL",
    "SPECIAL_RUCS",
    "dni_answer",
    "exchange_rate",
    "lookup_ruc",
    "make_rucs",
    "representatives",
    "ruc_answer",
    "ruc_problem",
    "stable_unit",
]

DEFAULT_NOT_FOUND_SHARE: Final = 0.10

RUC_ACTIVO_HABIDO: Final = "20100038146"
RUC_NO_EXISTE: Final = "20000000001"
RUC_BAJA_DE_OFICIO: Final = "20111111112"
RUC_NO_HABIDO: Final = "20222222223"
RUC_SUSPENSION_TEMPORAL: Final = "20333333334"
RUC_FORMULA: Final = "20444444445"
RUC_ACENTOS: Final = "20555555556"
RUC_DATOS_INCOMPLETOS: Final = "20666666667"
RUC_PERSONA_NATURAL: Final = "10123456781"
RUC_DIGITO_INVALIDO: Final = "20100038147"
RUC_ESTADO_SIN_NORMALIZAR: Final = "20777777778"

DNI_EXISTE: Final = "12345678"
DNI_NO_EXISTE: Final = "00000000"

#: The special RUCs and what each answers; see the module docstring.
SPECIAL_RUCS: Final[Mapping[str, str]] = {
    RUC_ACTIVO_HABIDO: "encontrado, ACTIVO y HABIDO",
    RUC_NO_EXISTE: "no existe",
    RUC_BAJA_DE_OFICIO: "encontrado, BAJA DE OFICIO",
    RUC_NO_HABIDO: "encontrado, ACTIVO pero NO HABIDO",
    RUC_SUSPENSION_TEMPORAL: "encontrado, SUSPENSION TEMPORAL",
    RUC_FORMULA: "encontrado, razón social que parece una fórmula de hoja de cálculo",
    RUC_ACENTOS: "encontrado, razón social y dirección con tildes, ñ y &",
    RUC_DATOS_INCOMPLETOS: "encontrado, con campos nulos, uno ausente y uno adicional",
    RUC_PERSONA_NATURAL: "encontrado, persona natural (prefijo 10), ACTIVO y HABIDO",
    RUC_DIGITO_INVALIDO: "dígito verificador incorrecto: error de validación (422)",
    RUC_ESTADO_SIN_NORMALIZAR: (
        'encontrado, estado " Activo " y condición "habido " tal como los escribe SUNAT'
        " (apto para facturar)"
    ),
}


def stable_unit(*parts: str) -> float:
    """A stable number in [0, 1) for ``parts``: Python's ``hash()`` is salted per process."""
    digest = hashlib.blake2b("|".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest) / 2**64


class _Picker:
    """Stable choices from a seed; only ``random()`` is guaranteed across Python versions."""

    __slots__ = ("_rng",)

    def __init__(self, *parts: str) -> None:
        digest = hashlib.blake2b("|".join(parts).encode(), digest_size=16).digest()
        self._rng = random.Random(int.from_bytes(digest))

    def unit(self) -> float:
        return self._rng.random()

    def pick(self, options: tuple[str, ...]) -> str:
        return options[int(self._rng.random() * len(options))]

    def number(self, low: int, high: int) -> int:
        return low + int(self._rng.random() * (high - low + 1))


#: Where simulated taxpayers live (INEI codes; the names come from ``padron.ubigeo``).
_PLACES: Final = (
    "150101",
    "150122",
    "150131",
    "150130",
    "150140",
    "150114",
    "150115",
    "070101",
    "040101",
    "130101",
    "140101",
    "080101",
    "200101",
    "120101",
    "160101",
)
_VIA_TYPES: Final = ("AV.", "AV.", "JR.", "CAL.", "PJ.")
_VIA_NAMES: Final = (
    "JAVIER PRADO ESTE",
    "AREQUIPA",
    "LA MARINA",
    "BRASIL",
    "EL SOL",
    "GRAU",
    "BOLOGNESI",
    "LOS OLIVOS",
    "LAS BEGONIAS",
    "TUPAC AMARU",
    "SAN MARTIN",
    "LIMA",
)
_ZONE_NAMES: Final = (
    "SANTA CATALINA",
    "LA CAPILLA",
    "CORPAC",
    "SANTA PATRICIA",
    "EL PALOMAR",
    "LOS FICUS",
    "SAN ANTONIO",
    "PANDO",
)
_TRADES: Final = (
    "COMERCIAL",
    "INDUSTRIAL",
    "LOGISTICA",
    "CONSTRUCTORA",
    "AGROINDUSTRIAL",
    "TEXTIL",
    "MINERA",
    "INMOBILIARIA",
    "DE SERVICIOS",
    "TECNOLOGICA",
    "IMPORTADORA",
    "EXPORTADORA",
)
_BRANDS: Final = (
    "ANDINA",
    "DEL PACIFICO",
    "INCA",
    "LOS ANDES",
    "DEL NORTE",
    "DEL SUR",
    "AMAZONICA",
    "COSTA VERDE",
    "HUASCARAN",
    "TITICACA",
    "MISTI",
    "CONDOR",
)
_COMPANY_FORMS: Final = ("S.A.C.", "S.A.C.", "S.A.C.", "S.A.", "S.R.L.", "E.I.R.L.")
_SURNAMES: Final = (
    "QUISPE",
    "FLORES",
    "SANCHEZ",
    "RODRIGUEZ",
    "GARCIA",
    "MAMANI",
    "HUAMAN",
    "CHAVEZ",
    "TORRES",
    "RAMOS",
    "VARGAS",
    "CASTILLO",
)
_GIVEN_NAMES: Final = (
    "JUAN CARLOS",
    "MARIA ELENA",
    "JOSE LUIS",
    "ROSA",
    "LUIS ALBERTO",
    "CARMEN",
    "JORGE",
    "ANA LUCIA",
    "PEDRO",
    "SOFIA",
)
_POSITIONS: Final = ("GERENTE GENERAL", "GERENTE", "APODERADO", "PRESIDENTE DEL DIRECTORIO")


def _person_name(picker: _Picker) -> str:
    return f"{picker.pick(_SURNAMES)} {picker.pick(_SURNAMES)} {picker.pick(_GIVEN_NAMES)}"


def _address(picker: _Picker, ubigeo: str) -> dict[str, str]:
    """SUNAT's address fields, with ``-`` where the padrón leaves a field empty.

    The names and the composed lines are APIMIGO's (``location_fields``), as for
    a row answered from the padrón.
    """
    no_street = picker.unit() < 0.08  # addressed by block and lot only
    fields = {
        "tipo_de_via": "-" if no_street else picker.pick(_VIA_TYPES),
        "nombre_de_via": "-" if no_street else picker.pick(_VIA_NAMES),
        "codigo_de_zona": "URB." if no_street or picker.unit() < 0.6 else "-",
        "tipo_de_zona": "-",
        "numero": "-" if no_street else str(picker.number(1, 2999)),
        "interior": str(picker.number(1, 9) * 100 + 1) if picker.unit() < 0.2 else "-",
        "lote": str(picker.number(1, 40)) if no_street else "-",
        "dpto": "-",
        "manzana": picker.pick(("A", "B", "C", "D", "E1")) if no_street else "-",
        "kilometro": "-",
    }
    if fields["codigo_de_zona"] != "-":
        fields["tipo_de_zona"] = picker.pick(_ZONE_NAMES)
    return fields | location_fields(fields, ubigeo)


def _generated_ruc_data(ruc: str) -> dict[str, Any]:
    """The hash-derived answer for a RUC, in SPEC §1's field order."""
    picker = _Picker("ruc", ruc)
    if ruc.startswith("10"):
        name = f"PERSONA SIMULADA {_person_name(picker)}"
    else:
        trade, brand = picker.pick(_TRADES), picker.pick(_BRANDS)
        name = f"EMPRESA SIMULADA {trade} {brand} {picker.pick(_COMPANY_FORMS)}"
    roll = picker.unit()
    state = "ACTIVO" if roll < 0.88 else "BAJA DE OFICIO" if roll < 0.95 else "SUSPENSION TEMPORAL"
    condition = "HABIDO" if picker.unit() < 0.9 else "NO HABIDO"
    ubigeo = _PLACES[int(picker.unit() * len(_PLACES))]
    updated = datetime(2024, 1, 1) + timedelta(seconds=int(picker.unit() * 600 * 86400))
    address = _address(picker, ubigeo)
    data: dict[str, Any] = {
        "success": True,
        "ruc": ruc,
        "nombre_o_razon_social": name,
        "estado_del_contribuyente": state,
        "condicion_de_domicilio": condition,
        "ubigeo": ubigeo,
        **address,
        "actualizado_en": updated.strftime("%Y-%m-%d %H:%M:%S"),
    }
    return {key: data[key] for key in ("success", "ruc", *UPSTREAM_FIELDS)}


def _special(ruc: str, **overrides: Any) -> dict[str, Any]:
    data = _generated_ruc_data(ruc)
    data.update(overrides)
    return data


def _build_specials() -> dict[str, dict[str, Any] | None]:
    found = {"estado_del_contribuyente": "ACTIVO", "condicion_de_domicilio": "HABIDO"}
    accents_street = {
        "tipo_de_via": "JR.",
        "nombre_de_via": "ÑAÑA",
        "codigo_de_zona": "URB.",
        "tipo_de_zona": "PEÑA ÁLVAREZ",
        "numero": "123",
        "interior": "-",
        "lote": "-",
        "dpto": "-",
        "manzana": "-",
        "kilometro": "-",
    }
    accents_address = {
        "ubigeo": "150105",  # BREÑA
        **accents_street,
        **location_fields(accents_street, "150105"),
    }
    incomplete = _special(
        RUC_DATOS_INCOMPLETOS,
        nombre_o_razon_social="EMPRESA SIMULADA DATOS INCOMPLETOS S.A.C.",
        ubigeo=None,
        direccion=None,
        direccion_simple=None,
        actividad_economica="SERVICIOS SIMULADOS",  # a key APIMIGO does not document
        **found,
    )
    del incomplete["actualizado_en"]
    return {
        RUC_ACTIVO_HABIDO: _special(
            RUC_ACTIVO_HABIDO, nombre_o_razon_social="EMPRESA SIMULADA DE PRUEBA S.A.C.", **found
        ),
        RUC_NO_EXISTE: None,
        RUC_BAJA_DE_OFICIO: _special(
            RUC_BAJA_DE_OFICIO,
            nombre_o_razon_social="EMPRESA SIMULADA DADA DE BAJA S.A.C.",
            estado_del_contribuyente="BAJA DE OFICIO",
            condicion_de_domicilio="HABIDO",
        ),
        RUC_NO_HABIDO: _special(
            RUC_NO_HABIDO,
            nombre_o_razon_social="EMPRESA SIMULADA NO HABIDA S.A.C.",
            estado_del_contribuyente="ACTIVO",
            condicion_de_domicilio="NO HABIDO",
        ),
        RUC_SUSPENSION_TEMPORAL: _special(
            RUC_SUSPENSION_TEMPORAL,
            nombre_o_razon_social="EMPRESA SIMULADA SUSPENDIDA S.A.C.",
            estado_del_contribuyente="SUSPENSION TEMPORAL",
            condicion_de_domicilio="HABIDO",
        ),
        RUC_FORMULA: _special(
            RUC_FORMULA, nombre_o_razon_social='=HYPERLINK("http://x","y")', **found
        ),
        RUC_ACENTOS: _special(
            RUC_ACENTOS,
            nombre_o_razon_social="COMPAÑÍA SIMULADA DE CAFÉ PEÑA & NÚÑEZ S.A.C.",
            **accents_address,
            **found,
        ),
        RUC_DATOS_INCOMPLETOS: incomplete,
        RUC_PERSONA_NATURAL: _special(
            RUC_PERSONA_NATURAL,
            nombre_o_razon_social="PERSONA SIMULADA QUISPE MAMANI JUAN CARLOS",
            **found,
        ),
        RUC_DIGITO_INVALIDO: None,
        RUC_ESTADO_SIN_NORMALIZAR: _special(
            RUC_ESTADO_SIN_NORMALIZAR,
            nombre_o_razon_social="EMPRESA SIMULADA SIN NORMALIZAR S.A.C.",
            estado_del_contribuyente=" Activo ",
            condicion_de_domicilio="habido ",
        ),
    }


_SPECIALS: Final = _build_specials()


@functools.lru_cache(maxsize=1 << 16)
def _ruc_entry(ruc: str) -> tuple[float, dict[str, Any] | None]:
    """(not-found draw, answer): answer is None when the RUC can never be found.

    Cached because benchmarks ask the same RUCs over and over; the caller compares
    the draw with the current not-found share, which can change at runtime.
    """
    if ruc in _SPECIALS:
        return 1.0, _SPECIALS[ruc]
    if not stdnum_ruc.is_valid(ruc):
        return 1.0, None
    return stable_unit("no-existe", ruc), _generated_ruc_data(ruc)


def lookup_ruc(ruc: str, not_found_share: float) -> dict[str, Any] | None:
    """The answer for a found ``ruc``, shared between calls: copy it before changing it."""
    draw, data = _ruc_entry(ruc)
    return data if data is not None and draw >= not_found_share else None


def make_rucs(count: int, start: int = 0, prefix: str = "20") -> list[str]:
    """``count`` distinct well-formed RUCs (``prefix``, then ``start``, ``start + 1``...).

    For feeding the simulator: tests, benchmarks and trying things out.
    """
    rucs = []
    for number in range(start, start + count):
        base = f"{prefix}{number:08d}"
        rucs.append(base + stdnum_ruc.calc_check_digit(base))
    return rucs


def ruc_answer(ruc: str, not_found_share: float = DEFAULT_NOT_FOUND_SHARE) -> dict[str, Any] | None:
    """What a healthy simulator answers for ``ruc`` (``success`` included), None if not found.

    Lets tests and examples predict the data without a server.
    """
    data = lookup_ruc(ruc, not_found_share)
    return None if data is None else dict(data)


def ruc_problem(ruc: str) -> str | None:
    """Why APIMIGO's validation refuses ``ruc`` (its 422 message), None if well-formed."""
    if len(ruc) != 11 or not (ruc.isascii() and ruc.isdigit()):
        return "El campo ruc debe tener 11 dígitos."
    try:
        stdnum_ruc.validate(ruc)
    except stdnum_errors.InvalidChecksum:
        return "El ruc ingresado no es válido (dígito verificador incorrecto)."
    except stdnum_errors.InvalidComponent:
        return "El ruc ingresado no es válido (debe empezar por 10, 15, 16, 17 o 20)."
    except stdnum_errors.ValidationError:
        return "El ruc ingresado no es válido."
    return None


def dni_answer(dni: str, not_found_share: float = DEFAULT_NOT_FOUND_SHARE) -> dict[str, Any] | None:
    """What a healthy simulator answers for ``dni``, None if not found."""
    if dni == DNI_NO_EXISTE or len(dni) != 8 or not dni.isdigit():
        return None
    if dni != DNI_EXISTE and stable_unit("dni-no-existe", dni) < not_found_share:
        return None
    return {"success": True, "dni": dni, "nombre": f"{_person_name(_Picker('dni', dni))} SIMULADO"}


def exchange_rate(day: date, currency: str = "USD") -> dict[str, Any]:
    """The simulated rate for ``day``, the same for every run.

    USD: 3.700–3.790 PEN; EUR (SBS only): 3.950–4.040 PEN. Prices are numbers,
    rounded to three decimals; API 2.0 sends them as strings.
    """
    iso = day.isoformat()
    low, salt = (3.700, "") if currency == "USD" else (3.950, currency)
    buy = round(low + 0.080 * stable_unit("compra" + salt, iso), 3)
    sell = round(buy + 0.003 + 0.007 * stable_unit("venta" + salt, iso), 3)
    return {"fecha": iso, "moneda": currency, "precio_compra": buy, "precio_venta": sell}


def representatives(ruc: str) -> list[dict[str, str]]:
    picker = _Picker("representantes", ruc)
    people = []
    for index in range(picker.number(1, 3)):
        since = date(2005, 1, 1) + timedelta(days=int(picker.unit() * 7000))
        people.append(
            {
                "tipo_de_documento": "DNI",
                "numero_de_documento": f"{picker.number(10_000_000, 79_999_999):08d}",
                "nombre": f"{_person_name(picker)} SIMULADO",
                "cargo": _POSITIONS[0] if index == 0 else picker.pick(_POSITIONS[1:]),
                "fecha_desde": since.isoformat(),
            }
        )
    return people
