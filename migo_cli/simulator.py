"""A local, deterministic fake of APIMIGO, served by aiohttp on 127.0.0.1.

It exists so that people can try migo without a paid token (``migo simulador``,
``--simulado``), so that tests can run the real client against a real HTTP
server and count what it received, and so that benchmarks have an upstream
that answers thousands of requests a second. It never talks to the network.

Answers follow SPEC §1. Data is a pure function of the RUC (or DNI, or date),
derived from a stable hash, so two simulators always agree; everything random
(latency, injected faults) comes from one ``random.Random`` seeded by
``SimulatorConfig.seed``, so a run can be replayed.

Three ways to run it, on loopback only (``port=0`` picks a free port):
``async with Simulator(config) as sim`` on the running loop (``--simulado``);
``with SimulatorThread(config) as sim`` in a daemon thread (synchronous tests,
tests that spawn ``migo``); ``serve(config, port=8787)``, blocking until Ctrl-C
(``migo simulador``). Each exposes ``base_url``, ``config`` and ``stats``.

Special RUCs (valid check digits, fixed behaviour whatever the knobs say about
data; fault knobs still apply to them):

==========================  ================  ===============================================
constant                    RUC               answer
==========================  ================  ===============================================
RUC_ACTIVO_HABIDO           20100038146       found, ACTIVO / HABIDO (apto para facturar)
RUC_NO_EXISTE               20000000001       not found (404, or 200 + success false)
RUC_BAJA_DE_OFICIO          20111111112       found, BAJA DE OFICIO / HABIDO
RUC_NO_HABIDO               20222222223       found, ACTIVO / NO HABIDO
RUC_SUSPENSION_TEMPORAL     20333333334       found, SUSPENSION TEMPORAL / HABIDO
RUC_FORMULA                 20444444445       found, name ``=HYPERLINK("http://x","y")``
RUC_ACENTOS                 20555555556       found, name and address with accents, ñ and &
RUC_DATOS_INCOMPLETOS       20666666667       found, some fields null, one missing, one extra
RUC_PERSONA_NATURAL         10123456781       found, a person (prefix 10), ACTIVO / HABIDO
RUC_DIGITO_INVALIDO         20100038147       wrong check digit: not found
==========================  ================  ===============================================

``DNI_EXISTE`` (12345678) is always found and ``DNI_NO_EXISTE`` (00000000) never.

Control endpoints (not counted, no token): ``GET /__sim__/stats``,
``GET|POST /__sim__/config`` (POST a JSON object of knobs to change them),
``POST /__sim__/reset`` (zero the counters), ``GET /`` (what this is).
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import functools
import hashlib
import ipaddress
import json
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from types import TracebackType
from typing import Any, Final, NamedTuple, Self, TypeVar

from aiohttp import web
from stdnum.pe import ruc as stdnum_ruc

from migo_cli.config import COLLECTION_MAX
from migo_cli.models import UPSTREAM_FIELDS

__all__ = [
    "DEFAULT_NOT_FOUND_SHARE",
    "DEFAULT_PORT",
    "DNI_EXISTE",
    "DNI_NO_EXISTE",
    "ENDPOINTS",
    "LOOKUP_ENDPOINTS",
    "RUC_ACENTOS",
    "RUC_ACTIVO_HABIDO",
    "RUC_BAJA_DE_OFICIO",
    "RUC_DATOS_INCOMPLETOS",
    "RUC_DIGITO_INVALIDO",
    "RUC_FORMULA",
    "RUC_NO_EXISTE",
    "RUC_NO_HABIDO",
    "RUC_PERSONA_NATURAL",
    "RUC_SUSPENSION_TEMPORAL",
    "SPECIAL_RUCS",
    "Exchange",
    "Simulator",
    "SimulatorConfig",
    "SimulatorStats",
    "SimulatorThread",
    "dni_answer",
    "exchange_rate",
    "make_rucs",
    "ruc_answer",
    "serve",
]

logger = logging.getLogger(__name__)

DEFAULT_PORT: Final = 8787
DEFAULT_NOT_FOUND_SHARE: Final = 0.10

EP_RUC: Final = "/api/v1/ruc"
EP_COLLECTION: Final = "/api/v1/ruc/collection"
EP_DNI: Final = "/api/v1/dni"
EP_REPRESENTATIVES: Final = "/api/v1/ruc/representantes-legales"
EP_EXCHANGE_LATEST: Final = "/api/v1/exchange/latest"
EP_EXCHANGE_DATE: Final = "/api/v1/exchange/date"
EP_EXCHANGE_RANGE: Final = "/api/v1/exchange"
EP_ACCOUNT: Final = "/api/v1/account"

#: Every API path the simulator answers (all POST).
ENDPOINTS: Final = (
    EP_RUC,
    EP_COLLECTION,
    EP_DNI,
    EP_REPRESENTATIVES,
    EP_EXCHANGE_LATEST,
    EP_EXCHANGE_DATE,
    EP_EXCHANGE_RANGE,
    EP_ACCOUNT,
)
#: The paths that look RUCs up: what ``llamadas_api`` counts (SPEC §4).
LOOKUP_ENDPOINTS: Final = (EP_RUC, EP_COLLECTION)

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
    RUC_DIGITO_INVALIDO: "dígito verificador incorrecto: no existe",
}

_LIMA = timezone(timedelta(hours=-5), "America/Lima")
_MAX_EXCHANGE_DAYS = 366
_JSON_CONTENT_TYPE = "application/json; charset=utf-8"
_HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)

# ---------------------------------------------------------------------------
# Deterministic fake data
# ---------------------------------------------------------------------------


def _unit(*parts: str) -> float:
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


_PLACES: Final = (  # (ubigeo, departamento, provincia, distrito)
    ("150101", "LIMA", "LIMA", "LIMA"),
    ("150122", "LIMA", "LIMA", "MIRAFLORES"),
    ("150131", "LIMA", "LIMA", "SAN ISIDRO"),
    ("150130", "LIMA", "LIMA", "SAN BORJA"),
    ("150140", "LIMA", "LIMA", "SANTIAGO DE SURCO"),
    ("150114", "LIMA", "LIMA", "LA MOLINA"),
    ("150115", "LIMA", "LIMA", "LA VICTORIA"),
    ("070101", "CALLAO", "CALLAO", "CALLAO"),
    ("040101", "AREQUIPA", "AREQUIPA", "AREQUIPA"),
    ("130101", "LA LIBERTAD", "TRUJILLO", "TRUJILLO"),
    ("140101", "LAMBAYEQUE", "CHICLAYO", "CHICLAYO"),
    ("080101", "CUSCO", "CUSCO", "CUSCO"),
    ("200101", "PIURA", "PIURA", "PIURA"),
    ("120101", "JUNIN", "HUANCAYO", "HUANCAYO"),
    ("160101", "LORETO", "MAYNAS", "IQUITOS"),
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


def _address(picker: _Picker, place: tuple[str, str, str, str]) -> dict[str, str]:
    """SUNAT's address fields, with ``-`` where the padrón leaves a field empty."""
    _, department, province, district = place
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
    parts = [
        f"{fields['tipo_de_via']} {fields['nombre_de_via']}" if not no_street else "",
        f"NRO. {fields['numero']}" if fields["numero"] != "-" else "",
        f"INT. {fields['interior']}" if fields["interior"] != "-" else "",
        f"MZA. {fields['manzana']}" if fields["manzana"] != "-" else "",
        f"LOTE. {fields['lote']}" if fields["lote"] != "-" else "",
        f"{fields['codigo_de_zona']} {fields['tipo_de_zona']}"
        if fields["codigo_de_zona"] != "-"
        else "",
    ]
    simple = " ".join(part for part in parts if part)
    fields["distrito"] = district
    fields["provincia"] = province
    fields["departamento"] = department
    fields["direccion_simple"] = simple
    fields["direccion"] = f"{simple} {department} - {province} - {district}"
    return fields


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
    place = _PLACES[int(picker.unit() * len(_PLACES))]
    updated = datetime(2024, 1, 1) + timedelta(seconds=int(picker.unit() * 600 * 86400))
    address = _address(picker, place)
    data: dict[str, Any] = {
        "success": True,
        "ruc": ruc,
        "nombre_o_razon_social": name,
        "estado_del_contribuyente": state,
        "condicion_de_domicilio": condition,
        "ubigeo": place[0],
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
    accents_address = {
        "ubigeo": "150105",
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
        "distrito": "BREÑA",
        "provincia": "LIMA",
        "departamento": "LIMA",
        "direccion_simple": "JR. ÑAÑA NRO. 123 URB. PEÑA ÁLVAREZ",
        "direccion": "JR. ÑAÑA NRO. 123 URB. PEÑA ÁLVAREZ LIMA - LIMA - BREÑA",
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
    return _unit("no-existe", ruc), _generated_ruc_data(ruc)


def _lookup_ruc(ruc: str, not_found_share: float) -> dict[str, Any] | None:
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
    data = _lookup_ruc(ruc, not_found_share)
    return None if data is None else dict(data)


def dni_answer(dni: str, not_found_share: float = DEFAULT_NOT_FOUND_SHARE) -> dict[str, Any] | None:
    """What a healthy simulator answers for ``dni``, None if not found."""
    if dni == DNI_NO_EXISTE or len(dni) != 8 or not dni.isdigit():
        return None
    if dni != DNI_EXISTE and _unit("dni-no-existe", dni) < not_found_share:
        return None
    return {"success": True, "dni": dni, "nombre": f"{_person_name(_Picker('dni', dni))} SIMULADO"}


def exchange_rate(day: date) -> dict[str, Any]:
    """The simulated USD rate for ``day``: 3.700–3.790 PEN, the same for every run."""
    iso = day.isoformat()
    buy = round(3.700 + 0.080 * _unit("compra", iso), 3)
    sell = round(buy + 0.003 + 0.007 * _unit("venta", iso), 3)
    return {"fecha": iso, "moneda": "USD", "precio_compra": buy, "precio_venta": sell}


def _representatives(ruc: str) -> list[dict[str, str]]:
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


def _today() -> date:
    return datetime.now(_LIMA).date()


# ---------------------------------------------------------------------------
# Knobs and counters
# ---------------------------------------------------------------------------

#: What ``clear_faults()`` puts back to its default.
_FAULT_KNOBS: Final = (
    "latency_ms",
    "latency_sigma",
    "slow_share",
    "error_share",
    "rate_limit_share",
    "fail_first",
    "always_500",
    "always_500_share",
    "hang",
    "hang_share",
    "drop_share",
    "html_502_share",
    "missing_success_share",
)


@dataclass(slots=True)
class SimulatorConfig:
    """Every knob of the simulator; the defaults are a healthy, unlimited, instant upstream.

    The running simulator reads this object on every request, so assigning an
    attribute (from any thread) or POSTing to ``/__sim__/config`` takes effect at
    once. Shares are probabilities in [0, 1]; times are seconds unless ``_ms``.

    - ``token``: the one accepted token; None accepts any non-empty token.
    - ``latency_ms`` / ``latency_sigma``: every request waits ``latency_ms``; with
      ``latency_sigma > 0`` the wait is lognormal with that median and sigma.
    - ``slow_share`` of requests also wait ``slow_min``..``slow_max`` seconds.
    - ``error_share`` answer 500, 502 or 503 (JSON body); ``html_502_share`` answer
      502 with an nginx HTML page; ``missing_success_share`` of 200 answers lack
      ``success``; ``drop_share`` close the connection without answering.
    - ``rate_limit_share`` answer 429 with ``Retry-After: retry_after`` (seconds, or
      an HTTP date with ``retry_after_http_date``; None sends no header).
    - ``not_found_share`` of well-formed RUCs (and DNIs) are unknown, decided per
      RUC by a hash, so the same RUC is always found or always not;
      ``not_found_status`` is 404 or 200 (then ``success: false``).
    - ``collection_envelope``: ``/ruc/collection`` answers ``{"success", "data"}``
      instead of a bare list.
    - ``credits``: remaining paid lookups, decremented as they are spent (each RUC
      of ``/ruc``, ``/ruc/collection``, ``/ruc/representantes-legales`` and each
      DNI costs one); when fewer are left than a request needs, 402 and nothing
      is spent. None is unlimited.
    - ``fail_first``: each RUC's (or DNI's, date's...) first N requests answer 503,
      counted from when it was set or from the last reset.
    - ``always_500`` (a set of RUCs) and ``always_500_share`` (a share of RUCs,
      chosen by hash of ``seed`` and RUC) always answer 500.
    - ``hang`` (a set of RUCs) and ``hang_share`` (a share of requests) wait
      ``hang_seconds`` before answering.

    Replace the sets (``cfg.hang = {...}``) rather than mutating them in place
    from another thread while requests are served.
    - ``seed`` seeds the random draws of latency and faults.
    """

    token: str | None = None
    latency_ms: float = 0.0
    latency_sigma: float = 0.0
    slow_share: float = 0.0
    slow_min: float = 1.0
    slow_max: float = 3.0
    error_share: float = 0.0
    rate_limit_share: float = 0.0
    retry_after: float | None = 1.0
    retry_after_http_date: bool = False
    not_found_share: float = DEFAULT_NOT_FOUND_SHARE
    not_found_status: int = 404
    collection_envelope: bool = False
    credits: int | None = None
    fail_first: int = 0
    always_500: set[str] = field(default_factory=set)
    always_500_share: float = 0.0
    hang: set[str] = field(default_factory=set)
    hang_share: float = 0.0
    hang_seconds: float = 30.0
    drop_share: float = 0.0
    html_502_share: float = 0.0
    missing_success_share: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError (Spanish: the CLI shows it) for a knob that cannot work."""
        for name in (f.name for f in dataclasses.fields(self) if f.name.endswith("_share")):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} debe estar entre 0 y 1 (es {value})")
        for name in ("latency_ms", "latency_sigma", "slow_min", "slow_max", "hang_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} no puede ser negativo")
        if self.slow_min > self.slow_max:
            raise ValueError("slow_min no puede ser mayor que slow_max")
        if self.not_found_status not in (200, 404):
            raise ValueError("not_found_status debe ser 404 o 200")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError("retry_after no puede ser negativo")
        if self.credits is not None and self.credits < 0:
            raise ValueError("credits no puede ser negativo")
        if self.fail_first < 0:
            raise ValueError("fail_first no puede ser negativo")
        if self.token is not None and not self.token.strip():
            raise ValueError("token no puede estar vacío (use None para aceptar cualquiera)")

    def update(self, changes: Mapping[str, object]) -> None:
        """Apply knobs given as JSON values (lists for sets), all or none.

        Raises ValueError naming the first unknown or ill-typed knob.
        """
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"parámetros desconocidos: {', '.join(unknown)}")
        types = {f.name: str(f.type) for f in dataclasses.fields(self)}
        coerced = {name: _coerce(name, types[name], value) for name, value in changes.items()}
        dataclasses.replace(self, **coerced)  # validates the result before touching self
        for name, value in coerced.items():
            setattr(self, name, value)

    def clear_faults(self) -> None:
        """Back to a healthy, instant upstream; token, credits and data knobs stay."""
        defaults = SimulatorConfig()
        for name in _FAULT_KNOBS:
            value = getattr(defaults, name)
            setattr(self, name, set(value) if isinstance(value, set) else value)

    def to_json(self) -> dict[str, Any]:
        """The knobs as JSON values; the token is replaced by whether one is set."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data.update([(name, sorted(v)) for name, v in data.items() if isinstance(v, set)])
        data["token"] = "***" if self.token is not None else None
        return data


def _coerce(name: str, annotation: str, value: object) -> Any:
    """A JSON value as the knob's type (its annotation): JSON has no sets, no int/float split."""
    if value is None and annotation.endswith("| None"):
        return None
    kind = annotation.removesuffix(" | None")
    if isinstance(value, bool):
        if kind == "bool":
            return value
    elif kind == "float" and isinstance(value, int | float):
        return float(value)
    elif kind == "int" and isinstance(value, int):
        return value
    if kind == "str" and isinstance(value, str):
        return value
    if kind == "set[str]" and isinstance(value, list) and all(map(_is_key, value)):
        return {str(v) for v in value}
    expected = {
        "float": "un número",
        "int": "un número entero",
        "bool": "true o false",
        "str": "un texto",
        "set[str]": "una lista de RUCs",
    }
    raise ValueError(f"{name} debe ser {expected.get(kind, kind)}")


def _is_key(value: object) -> bool:
    """A RUC (or DNI) as JSON may carry it: a string, or a number that lost its quotes."""
    return isinstance(value, str | int) and not isinstance(value, bool)


class Exchange(NamedTuple):
    """One request as the simulator saw it (``Simulator(journal=True)``)."""

    arrived: float  # time.monotonic()
    answered: float
    path: str
    keys: tuple[str, ...]  # the RUCs (or DNI, date) it asked about
    status: int


@dataclass(slots=True)
class SimulatorStats:
    """What the simulator received since it started or was last reset.

    Updated on the server's event loop only; reading the ints from another
    thread is safe, and ``snapshot()`` copies the dicts in one step each.
    Control endpoints (``/__sim__/...``) are not counted.

    - ``requests_total``: every request to an API endpoint, whatever its answer.
    - ``by_endpoint``: path -> requests. ``by_ruc``: RUC -> requests that carried
      it (``/ruc`` and ``/ruc/collection``; a collection counts once per RUC).
    - ``by_status``: HTTP status -> answers sent; ``dropped``: connections closed
      without an answer. ``credits_used``: paid lookups served.
    """

    requests_total: int = 0
    by_endpoint: dict[str, int] = field(default_factory=dict)
    by_ruc: dict[str, int] = field(default_factory=dict)
    by_status: dict[int, int] = field(default_factory=dict)
    dropped: int = 0
    credits_used: int = 0

    @property
    def lookup_requests(self) -> int:
        """Requests to ``/ruc`` plus ``/ruc/collection``: SPEC §4's ``llamadas_api``."""
        return self.by_endpoint.get(EP_RUC, 0) + self.by_endpoint.get(EP_COLLECTION, 0)

    def reset(self) -> None:
        """Zero in place, so references held by tests stay live."""
        self.requests_total = 0
        self.by_endpoint.clear()
        self.by_ruc.clear()
        self.by_status.clear()
        self.dropped = 0
        self.credits_used = 0

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy (what ``GET /__sim__/stats`` returns)."""
        return {
            "requests_total": self.requests_total,
            "lookup_requests": self.lookup_requests,
            "by_endpoint": dict(self.by_endpoint),
            "by_ruc": dict(self.by_ruc),
            "by_status": {str(k): v for k, v in self.by_status.copy().items()},
            "dropped": self.dropped,
            "credits_used": self.credits_used,
        }


# ---------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------

_Payload = dict[str, Any] | list[dict[str, Any]]


@dataclass(slots=True)
class _Reply:
    status: int
    payload: _Payload
    headers: dict[str, str] | None = None


@dataclass(slots=True)
class _Job:
    """A validated request: what faults key on, what it costs, how to answer it."""

    keys: tuple[str, ...]
    cost: int
    answer: Callable[[], _Reply]


@dataclass(frozen=True, slots=True)
class _Route:
    """One API path and how to read its body.

    ``keys_of`` gives what counters and faults key on, before any validation;
    ``group`` lets paths share fail_first's count (/ruc and /ruc/collection);
    ``prepare`` validates the body into a ``_Job``, or into an error ``_Reply``.
    """

    path: str
    group: str
    keys_of: Callable[[Mapping[str, Any]], tuple[str, ...]]
    prepare: Callable[[dict[str, Any]], _Job | _Reply]


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> _Reply:
    return _Reply(status, {"success": False, "message": message}, headers)


def _encode(payload: object) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _ruc_keys(body: Mapping[str, Any]) -> tuple[str, ...]:
    value = body.get("ruc")
    if isinstance(value, list):
        return tuple(str(v) for v in value if _is_key(v))
    if _is_key(value):
        return (str(value),)
    return ()


def _text_key(name: str) -> Callable[[Mapping[str, Any]], tuple[str, ...]]:
    def keys(body: Mapping[str, Any]) -> tuple[str, ...]:
        value = body.get(name)
        return (value,) if isinstance(value, str) else ()

    return keys


def _no_keys(body: Mapping[str, Any]) -> tuple[str, ...]:
    return ()


def _parse_date(value: object) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Simulator:
    """APIMIGO on ``http://127.0.0.1:PORT``, on the running event loop.

    ``async with Simulator(config) as sim:`` then point the client at
    ``sim.base_url``. ``port=0`` picks a free port. Only loopback hosts are
    accepted: the token travels in clear to it.
    """

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        shutdown_timeout: float = 0.25,
        journal: bool = False,
    ) -> None:
        if not _is_loopback(host):
            raise ValueError(f"el simulador solo escucha en direcciones locales, no en {host!r}")
        self.config = config if config is not None else SimulatorConfig()
        self.stats = SimulatorStats()
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._shutdown_timeout = shutdown_timeout
        self._runner: web.AppRunner | None = None
        self._rng = random.Random(self.config.seed)
        self._rng_seed = self.config.seed
        self._attempts: dict[str, int] = {}  # for fail_first: "<group> <key>" -> requests
        #: With ``journal=True``: every API exchange, in order of answer (timing tests).
        self.journal: list[Exchange] | None = [] if journal else None

    # -- lifecycle ---------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("el simulador no está en marcha")
        return self._port

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._runner is not None

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("el simulador ya está en marcha")
        runner = web.AppRunner(
            self._build_app(),
            access_log=None,  # per-request logging would halve the throughput
            handle_signals=False,
            handler_cancellation=True,  # a client that gives up frees its hanging handler
            shutdown_timeout=self._shutdown_timeout,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._requested_port, backlog=1024)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        logger.debug("simulator listening on %s", self.base_url)

    async def stop(self) -> None:
        """Close the socket and cancel requests still hanging after ``shutdown_timeout``."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
            logger.debug("simulator on port %s stopped", self._port)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def reset(self) -> None:
        """Zero the counters (and fail_first's) and reseed, so a rerun replays the same faults.

        Call on the loop's thread (``SimulatorThread.reset`` does).
        """
        self.stats.reset()
        self._attempts.clear()
        self._rng = random.Random(self.config.seed)
        self._rng_seed = self.config.seed

    # -- routing -----------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application()
        routes = (
            _Route(EP_RUC, "ruc", _ruc_keys, self._prepare_ruc),
            _Route(EP_COLLECTION, "ruc", _ruc_keys, self._prepare_collection),
            _Route(EP_DNI, EP_DNI, _text_key("dni"), self._prepare_dni),
            _Route(
                EP_REPRESENTATIVES, EP_REPRESENTATIVES, _ruc_keys, self._prepare_representatives
            ),
            _Route(EP_EXCHANGE_LATEST, EP_EXCHANGE_LATEST, _no_keys, self._prepare_exchange_latest),
            _Route(
                EP_EXCHANGE_DATE, EP_EXCHANGE_DATE, _text_key("fecha"), self._prepare_exchange_date
            ),
            _Route(EP_EXCHANGE_RANGE, EP_EXCHANGE_RANGE, _no_keys, self._prepare_exchange_range),
            _Route(EP_ACCOUNT, EP_ACCOUNT, _no_keys, self._prepare_account),
        )
        handle = self._handle if self.journal is None else self._handle_and_note
        for route in routes:
            app.router.add_post(route.path, functools.partial(handle, route=route))
        app.router.add_get("/", self._info)
        app.router.add_get("/__sim__/stats", self._get_stats)
        app.router.add_get("/__sim__/config", self._get_config)
        app.router.add_post("/__sim__/config", self._post_config)
        app.router.add_post("/__sim__/reset", self._post_reset)
        return app

    # -- the request pipeline ---------------------------------------------

    async def _handle_and_note(self, request: web.Request, route: _Route) -> web.StreamResponse:
        arrived = time.monotonic()
        response = await self._handle(request, route)
        try:
            body = json.loads(await request.read())  # aiohttp kept the body it read
        except ValueError:
            body = None
        keys = tuple(route.keys_of(body)) if isinstance(body, dict) else ()
        assert self.journal is not None
        self.journal.append(Exchange(arrived, time.monotonic(), route.path, keys, response.status))
        return response

    async def _handle(self, request: web.Request, route: _Route) -> web.StreamResponse:
        """Count, then network-level faults, then auth, then HTTP-level faults, then answer."""
        cfg = self.config
        stats = self.stats
        stats.requests_total += 1
        path = route.path
        stats.by_endpoint[path] = stats.by_endpoint.get(path, 0) + 1
        if cfg.seed != self._rng_seed:
            self._rng = random.Random(cfg.seed)
            self._rng_seed = cfg.seed
        rng = self._rng

        try:
            body = json.loads(await request.read())
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self._respond(_error(400, "El cuerpo debe ser un objeto JSON"))
        keys = route.keys_of(body)
        if path in LOOKUP_ENDPOINTS:
            by_ruc = stats.by_ruc
            for key in keys:
                by_ruc[key] = by_ruc.get(key, 0) + 1

        # Network: latency, slowness, hangs, dropped connections.
        if cfg.latency_ms > 0:
            ms = cfg.latency_ms
            if cfg.latency_sigma > 0:
                ms = rng.lognormvariate(math.log(ms), cfg.latency_sigma)
            await asyncio.sleep(ms / 1000)
        if cfg.slow_share > 0 and rng.random() < cfg.slow_share:
            await asyncio.sleep(rng.uniform(cfg.slow_min, cfg.slow_max))
        if (cfg.hang and not cfg.hang.isdisjoint(keys)) or (
            cfg.hang_share > 0 and rng.random() < cfg.hang_share
        ):
            await asyncio.sleep(cfg.hang_seconds)
        if cfg.drop_share > 0 and rng.random() < cfg.drop_share:
            return self._drop(request)

        # Authentication.
        token = body.get("token")
        if not isinstance(token, str) or not token.strip():
            return self._respond(_error(401, "Token requerido"))
        if cfg.token is not None and token != cfg.token:
            return self._respond(_error(401, "Token inválido"))

        job = route.prepare(body)
        if isinstance(job, _Reply):
            return self._respond(job)

        # Server-side faults.
        if cfg.fail_first > 0:
            attempts = self._attempts
            failing = False
            for key in job.keys or ("",):
                slot = f"{route.group} {key}"
                seen = attempts.get(slot, 0) + 1
                attempts[slot] = seen
                failing = failing or seen <= cfg.fail_first
            if failing:
                return self._respond(_error(503, "Servicio no disponible (simulado)"))
        if (cfg.always_500 and not cfg.always_500.isdisjoint(job.keys)) or (
            cfg.always_500_share > 0
            and any(_unit("500", str(cfg.seed), k) < cfg.always_500_share for k in job.keys)
        ):
            return self._respond(_error(500, "Error interno del servidor (simulado)"))
        if cfg.error_share > 0 and rng.random() < cfg.error_share:
            status = (500, 502, 503)[int(rng.random() * 3)]
            return self._respond(_error(status, "Error del servidor (simulado)"))
        if cfg.html_502_share > 0 and rng.random() < cfg.html_502_share:
            stats.by_status[502] = stats.by_status.get(502, 0) + 1
            return web.Response(status=502, body=_HTML_502, content_type="text/html")
        if cfg.rate_limit_share > 0 and rng.random() < cfg.rate_limit_share:
            return self._respond(self._rate_limited(cfg))

        # Credits.
        if job.cost and cfg.credits is not None:
            if cfg.credits < job.cost:
                return self._respond(_error(402, "No tiene consultas disponibles"))
            cfg.credits -= job.cost
        stats.credits_used += job.cost

        reply = job.answer()
        if (
            reply.status == 200
            and cfg.missing_success_share > 0
            and rng.random() < cfg.missing_success_share
        ):
            reply.payload = _without_success(reply.payload)
        return self._respond(reply)

    def _respond(self, reply: _Reply) -> web.Response:
        by_status = self.stats.by_status
        by_status[reply.status] = by_status.get(reply.status, 0) + 1
        headers = {"Content-Type": _JSON_CONTENT_TYPE}
        if reply.headers:
            headers.update(reply.headers)
        return web.Response(status=reply.status, body=_encode(reply.payload), headers=headers)

    def _drop(self, request: web.Request) -> web.StreamResponse:
        """Close the TCP connection unanswered: the client sees a disconnect, not HTTP."""
        self.stats.dropped += 1
        transport = request.transport
        if transport is not None:
            transport.abort()
        # Nothing can be sent any more; an empty answer ends the handler quietly.
        return web.Response(status=204)

    @staticmethod
    def _rate_limited(cfg: SimulatorConfig) -> _Reply:
        headers: dict[str, str] = {}
        if cfg.retry_after is not None:
            if cfg.retry_after_http_date:
                headers["Retry-After"] = email.utils.formatdate(
                    math.ceil(time.time() + cfg.retry_after), usegmt=True
                )
            elif cfg.retry_after == int(cfg.retry_after):
                headers["Retry-After"] = str(int(cfg.retry_after))
            else:  # not RFC 9110, but lets tests wait fractions of a second
                headers["Retry-After"] = str(cfg.retry_after)
        return _error(429, "Demasiadas solicitudes, intente más tarde", headers)

    def _not_found(self, message: str, **extra: str) -> _Reply:
        return _Reply(self.config.not_found_status, {"success": False, **extra, "message": message})

    # -- endpoints ---------------------------------------------------------

    def _prepare_ruc(self, body: dict[str, Any]) -> _Job | _Reply:
        value = body.get("ruc")
        if not _is_key(value):
            return _error(422, "El campo ruc es obligatorio")
        ruc = str(value)

        def answer() -> _Reply:
            data = _lookup_ruc(ruc, self.config.not_found_share)
            if data is None:
                return self._not_found("No se encontró el RUC", ruc=ruc)
            return _Reply(200, data)

        return _Job((ruc,), 1, answer)

    def _prepare_collection(self, body: dict[str, Any]) -> _Job | _Reply:
        rucs = body.get("ruc")
        if not isinstance(rucs, list) or not rucs:
            return _error(422, "El campo ruc debe ser una lista de RUCs")
        if len(rucs) > COLLECTION_MAX:
            return _error(422, f"Se permiten como máximo {COLLECTION_MAX} RUCs por consulta")
        items = [str(r) if _is_key(r) else "" for r in rucs]

        def answer() -> _Reply:
            share = self.config.not_found_share
            results: list[dict[str, Any]] = []
            for ruc in items:
                data = _lookup_ruc(ruc, share)
                if data is None:
                    results.append(
                        {"success": False, "ruc": ruc, "message": "No se encontró el RUC"}
                    )
                else:
                    results.append(data)
            if self.config.collection_envelope:
                return _Reply(200, {"success": True, "data": results})
            return _Reply(200, results)

        return _Job(tuple(items), len(items), answer)

    def _prepare_dni(self, body: dict[str, Any]) -> _Job | _Reply:
        dni = body.get("dni")
        if not isinstance(dni, str) or len(dni) != 8 or not dni.isdigit():
            return _error(422, "El DNI debe tener 8 dígitos")

        def answer() -> _Reply:
            data = dni_answer(dni, self.config.not_found_share)
            return _Reply(200, data) if data else self._not_found("No se encontró el DNI", dni=dni)

        return _Job((dni,), 1, answer)

    def _prepare_representatives(self, body: dict[str, Any]) -> _Job | _Reply:
        ruc = body.get("ruc")
        if not isinstance(ruc, str) or not ruc:
            return _error(422, "El campo ruc es obligatorio")

        def answer() -> _Reply:
            if _lookup_ruc(ruc, self.config.not_found_share) is None:
                return self._not_found("No se encontró el RUC", ruc=ruc)
            return _Reply(200, {"success": True, "data": _representatives(ruc)})

        return _Job((ruc,), 1, answer)

    def _prepare_exchange_latest(self, body: dict[str, Any]) -> _Job | _Reply:
        return _Job((), 0, lambda: _Reply(200, {"success": True, **exchange_rate(_today())}))

    def _prepare_exchange_date(self, body: dict[str, Any]) -> _Job | _Reply:
        day = _parse_date(body.get("fecha"))
        if day is None:
            return _error(422, "El campo fecha debe tener el formato AAAA-MM-DD")

        def answer() -> _Reply:
            if day > _today():
                return self._not_found("No hay tipo de cambio para la fecha", fecha=day.isoformat())
            return _Reply(200, {"success": True, **exchange_rate(day)})

        return _Job((day.isoformat(),), 0, answer)

    def _prepare_exchange_range(self, body: dict[str, Any]) -> _Job | _Reply:
        start = _parse_date(body.get("fecha_inicio"))
        end = _parse_date(body.get("fecha_fin"))
        if start is None or end is None:
            return _error(422, "fecha_inicio y fecha_fin deben tener el formato AAAA-MM-DD")
        if start > end:
            return _error(422, "fecha_inicio no puede ser posterior a fecha_fin")
        if (end - start).days >= _MAX_EXCHANGE_DAYS:
            return _error(422, f"El rango no puede superar {_MAX_EXCHANGE_DAYS} días")

        def answer() -> _Reply:
            last = min(end, _today())
            days = (start + timedelta(days=n) for n in range((last - start).days + 1))
            return _Reply(200, {"success": True, "data": [exchange_rate(d) for d in days]})

        return _Job((f"{start}:{end}",), 0, answer)

    def _prepare_account(self, body: dict[str, Any]) -> _Job | _Reply:
        def answer() -> _Reply:
            payload = {
                "success": True,
                "nombre": "Cuenta simulada",
                "email": "simulador@migo.invalid",
                "plan": "SIMULADO",
                # Remaining credits; null when the simulator is unlimited.
                "consultas_disponibles": self.config.credits,
                "consultas_realizadas": self.stats.credits_used,
            }
            return _Reply(200, payload)

        return _Job((), 0, answer)

    # -- control -----------------------------------------------------------

    async def _info(self, request: web.Request) -> web.Response:
        info = {
            "nombre": "Simulador de APIMIGO (migo)",
            "descripcion": "Datos ficticios: no consulte aquí RUC reales con fines legales.",
            "endpoints": list(ENDPOINTS),
            "control": ["GET /__sim__/stats", "GET|POST /__sim__/config", "POST /__sim__/reset"],
            "rucs_especiales": dict(SPECIAL_RUCS),
        }
        return web.json_response(info, dumps=lambda o: json.dumps(o, ensure_ascii=False))

    async def _get_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats.snapshot())

    async def _get_config(self, request: web.Request) -> web.Response:
        return web.json_response(self.config.to_json())

    async def _post_config(self, request: web.Request) -> web.Response:
        try:
            changes = json.loads(await request.read())
            if not isinstance(changes, dict):
                raise ValueError("el cuerpo debe ser un objeto JSON de parámetros")
            self.config.update(changes)
        except ValueError as exc:
            return web.json_response({"success": False, "message": str(exc)}, status=400)
        return web.json_response(self.config.to_json())

    async def _post_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response(self.stats.snapshot())


def _without_success(payload: _Payload) -> _Payload:
    if isinstance(payload, list):
        return [{k: v for k, v in item.items() if k != "success"} for item in payload]
    return {k: v for k, v in payload.items() if k != "success"}


# ---------------------------------------------------------------------------
# Running it from synchronous code
# ---------------------------------------------------------------------------

_T = TypeVar("_T")


class SimulatorThread:
    """A ``Simulator`` on its own event loop in a daemon thread.

    For synchronous tests and for tests that run the ``migo`` process against
    it: ``with SimulatorThread(config) as sim:`` then ``sim.base_url``,
    ``sim.stats`` and ``sim.config`` (assign knobs between runs).
    """

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        start_timeout: float = 10.0,
        journal: bool = False,
    ) -> None:
        self.simulator = Simulator(config, host=host, port=port, journal=journal)
        self._start_timeout = start_timeout
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def config(self) -> SimulatorConfig:
        return self.simulator.config

    @property
    def stats(self) -> SimulatorStats:
        return self.simulator.stats

    @property
    def base_url(self) -> str:
        return self.simulator.base_url

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("el simulador ya está en marcha")
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, name="migo-simulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(self._start_timeout):
            raise RuntimeError("el simulador no arrancó a tiempo")
        if self._error is not None:
            self._thread.join()
            self._thread = None
            raise self._error

    def stop(self, timeout: float = 10.0) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and thread.is_alive():
            loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout)
        if thread.is_alive():
            logger.warning("simulator thread did not stop within %s s", timeout)

    def call(self, func: Callable[[], _T], timeout: float = 10.0) -> _T:
        """Run ``func`` on the simulator's loop and return its result (thread-safe)."""
        loop = self._loop
        if loop is None or self._thread is None:
            raise RuntimeError("el simulador no está en marcha")

        async def run() -> _T:
            return func()

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout)

    def reset(self) -> None:
        """Zero the counters, on the loop's thread."""
        self.call(self.simulator.reset)

    def snapshot(self) -> dict[str, Any]:
        """A consistent copy of the counters, taken on the loop's thread."""
        return self.call(self.simulator.stats.snapshot)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._error = None
        try:
            await self.simulator.start()
        except Exception as exc:  # handed to start() in the caller's thread
            self._error = exc
            return
        finally:
            self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            await self.simulator.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve(
    config: SimulatorConfig | None = None,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    *,
    on_ready: Callable[[Simulator], None] | None = None,
) -> None:
    """Serve until interrupted (``migo simulador``); prints nothing.

    ``on_ready`` is called once listening, with the running ``Simulator`` (for
    its ``base_url``). Ctrl-C stops the server cleanly and then KeyboardInterrupt
    propagates, so the CLI can exit 130; an OSError (port taken) propagates too.
    """
    asyncio.run(_serve_forever(Simulator(config, host=host, port=port), on_ready))


async def _serve_forever(sim: Simulator, on_ready: Callable[[Simulator], None] | None) -> None:
    async with sim:
        if on_ready is not None:
            on_ready(sim)
        await asyncio.Event().wait()  # until cancelled
