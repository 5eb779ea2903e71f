"""The values migo hands back for RUCs, and the local checks that run before anything is sent.

One result per RUC (``RucResult``) and the columns it becomes, with English
attributes and a ``to_dict()``/``to_row()`` giving the JSON the CLI prints
(Spanish keys, the API's own); the DNI and date checks. A ``RucResult``
carries a ``status``: ``valido``, ``no_existe`` or ``error`` (after the
retries); it never raises for a value APIMIGO does not know, so a list of them
never stops on one bad value. ``data`` always keeps what APIMIGO sent (minus
``success``), unknown keys included.

What APIMIGO's other services answer (DNI, representatives, exchange rates,
the account) is in ``migo_cli.answers``: every ``migo consultar`` imports
this module, and none of those four needs to be built for it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

from migo_cli.exceptions import InvalidValueError

__all__ = [
    "BASE_COLUMNS",
    "COLUMN_DESCRIPTIONS",
    "DNI_LENGTH",
    "LIMA",
    "OUTPUT_COLUMNS",
    "UPSTREAM_FIELDS",
    "Clock",
    "LookupMode",
    "Origin",
    "RucResult",
    "Source",
    "Status",
    "check_dni",
    "now_iso",
    "parse_date",
    "today_in_lima",
]


class Status(StrEnum):
    """``estado_consulta`` of a row."""

    VALID = "valido"
    NOT_FOUND = "no_existe"
    INVALID = "formato_invalido"
    ERROR = "error"
    UNCHECKED = "sin_consultar"  # only with --solo-validar


class Origin(StrEnum):
    API = "api"
    CACHE = "cache"
    LOCAL = "local"
    PADRON = "padron"


class Source(StrEnum):
    """``--fuente``: who answers a RUC (SPEC §7)."""

    API = "api"  # the cache, then APIMIGO
    PADRON = "padron"  # only the local padrón: no token, nothing paid
    AUTO = "auto"  # the padrón first; APIMIGO only for the RUCs it does not hold


class LookupMode(StrEnum):
    """How RUCs are asked: one per request, or up to 100 per ``/ruc/collection`` request."""

    INDIVIDUAL = "individual"
    COLLECTION = "coleccion"


#: The fields APIMIGO documents for a RUC, in its order (SPEC §1). Tabular outputs
#: have exactly these columns; JSON outputs also keep any extra keys it sends.
UPSTREAM_FIELDS: tuple[str, ...] = (
    "nombre_o_razon_social",
    "estado_del_contribuyente",
    "condicion_de_domicilio",
    "ubigeo",
    "tipo_de_via",
    "nombre_de_via",
    "codigo_de_zona",
    "tipo_de_zona",
    "numero",
    "interior",
    "lote",
    "dpto",
    "manzana",
    "kilometro",
    "distrito",
    "provincia",
    "departamento",
    "direccion_simple",
    "direccion",
    "actualizado_en",
)

BASE_COLUMNS: tuple[str, ...] = (
    "ruc",
    "estado_consulta",
    "motivo",
    "apto_facturacion",
    "origen",
    "consultado_en",
    "cambio",
)

OUTPUT_COLUMNS: tuple[str, ...] = BASE_COLUMNS + UPSTREAM_FIELDS

#: What each output column means, for people: headers keep the machine names
#: (scripts read them), the xlsx output shows these beside them.
COLUMN_DESCRIPTIONS: Mapping[str, str] = {
    "ruc": "RUC consultado (11 dígitos; el valor tal como vino si su formato no es válido).",
    "estado_consulta": "Resultado de la consulta: valido, no_existe, formato_invalido, error "
    "o sin_consultar (solo con --solo-validar).",
    "motivo": "Por qué la consulta no es valido (vacío si lo es).",
    "apto_facturacion": "VERDADERO (TRUE) si el contribuyente está ACTIVO y HABIDO: puede figurar "
    "en una factura.",
    "origen": "De dónde vino la respuesta: api, cache (consulta anterior), padron (copia "
    "local del padrón reducido de SUNAT) o local (validación sin consulta).",
    "consultado_en": "Fecha y hora en que APIMIGO respondió (se conserva la original si la "
    "respuesta vino de la caché).",
    "cambio": "Qué cambió desde la consulta anterior (campo: antes → ahora, y la fecha de lo "
    "anterior); vacío si nada cambió, si no se conocía antes o si vino de la caché.",
    "nombre_o_razon_social": "Nombre o razón social (SUNAT).",
    "estado_del_contribuyente": "Estado del contribuyente: ACTIVO, BAJA DE OFICIO, "
    "SUSPENSION TEMPORAL...",
    "condicion_de_domicilio": "Condición del domicilio fiscal: HABIDO, NO HABIDO, NO HALLADO...",
    "ubigeo": "Código de ubigeo (INEI) del domicilio fiscal.",
    "tipo_de_via": "Tipo de vía del domicilio fiscal (AV., JR., CAL....).",
    "nombre_de_via": "Nombre de la vía.",
    "codigo_de_zona": "Tipo de zona (URB., P.J., A.H....).",
    "tipo_de_zona": "Nombre de la zona.",
    "numero": "Número.",
    "interior": "Interior.",
    "lote": "Lote.",
    "dpto": "Departamento (dentro del edificio).",
    "manzana": "Manzana.",
    "kilometro": "Kilómetro.",
    "distrito": "Distrito.",
    "provincia": "Provincia.",
    "departamento": "Departamento (región).",
    "direccion_simple": "Dirección sin distrito, provincia ni departamento.",
    "direccion": "Dirección completa del domicilio fiscal.",
    "actualizado_en": "Cuándo SUNAT actualizó estos datos por última vez (según APIMIGO).",
    "simulado": "VERDADERO (TRUE): datos inventados por el simulador (--simulado), no de SUNAT.",
}

#: APIMIGO fields left out of a row: its envelope, and names the row's own columns
#: already hold (SPEC §4's come first and win).
_NOT_DATA = frozenset({"success", *BASE_COLUMNS})


def now_iso() -> str:
    """Local time with its UTC offset, to the second: what a person reads in a log."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


class Clock:
    """``now_iso`` for whoever stamps thousands of results a second: formatted once a second.

    The time-zone lookup behind each stamp costs several microseconds, a visible
    share of what an answer costs at loopback speed (benchmarks, figure 3). A
    ``MigoClient`` and a batch run each own one, so the memo lives and dies with
    them instead of being a module global.
    """

    __slots__ = ("_second", "_stamp")

    def __init__(self) -> None:
        self._second = -1
        self._stamp = ""

    def now(self) -> str:
        second = int(time.time())
        if second != self._second:
            stamp = datetime.fromtimestamp(second).astimezone().isoformat(timespec="seconds")
            self._second, self._stamp = second, stamp
        return self._stamp


def upstream_label(value: object) -> str:
    """An estado or condición as SPEC §1 compares it: blanks trimmed and folded, upper-cased."""
    return " ".join(str(value).split()).upper() if value is not None else ""


@dataclass(slots=True)
class RucResult:
    """What migo knows about one RUC after this run.

    ``data`` holds APIMIGO's fields as it sent them (``valido`` rows only);
    ``queried_at`` is when APIMIGO answered, kept as is when the answer comes
    from the cache. ``change`` is ``cambio`` (SPEC §8), set by a client that
    keeps history; ``change_severity`` sorts the ``cambios`` sheet (lower is
    more serious).
    """

    ruc: str
    status: Status
    reason: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    origin: Origin = Origin.API
    queried_at: str = field(default_factory=now_iso)
    change: str = ""
    change_severity: int = 0

    @classmethod
    def rejected(cls, raw: str, reason: str, queried_at: str | None = None) -> RucResult:
        """A value refused by the local checks: an answer that cost nothing."""
        return cls(
            raw, Status.INVALID, reason, origin=Origin.LOCAL, queried_at=queried_at or now_iso()
        )

    @property
    def billable(self) -> bool:
        """``apto_facturacion``: the RUC can appear on an invoice.

        Compared after trimming and upper-casing (SPEC §1): APIMIGO passes on
        SUNAT's text as it comes, and a stray space must not block an invoice.
        """
        if self.status is not Status.VALID:
            return False
        data = self.data
        state, condition = data.get("estado_del_contribuyente"), data.get("condicion_de_domicilio")
        # Most answers spell both exactly so: compared as they come before any folding.
        return (state == "ACTIVO" or upstream_label(state) == "ACTIVO") and (
            condition == "HABIDO" or upstream_label(condition) == "HABIDO"
        )

    @property
    def unfit_reason(self) -> str | None:
        """Why a ``valido`` RUC is not ``apto_facturacion``: its estado, else its condición.

        The estado comes first because it is the graver one (a RUC dado de baja
        and not habido is counted under its baja). None when the RUC is fit, or
        is not a ``valido`` row at all.
        """
        if self.status is not Status.VALID or self.billable:
            return None
        state = upstream_label(self.data.get("estado_del_contribuyente"))
        if state != "ACTIVO":
            return state or "SIN ESTADO"
        condition = upstream_label(self.data.get("condicion_de_domicilio"))
        if condition != "HABIDO":
            return condition or "SIN CONDICIÓN"
        # Spelled differently from what ``billable`` compares (spaces, case): say it as sent.
        data = self.data
        return f"{data.get('estado_del_contribuyente')} / {data.get('condicion_de_domicilio')}"

    def to_row(self) -> dict[str, Any]:
        """The flat record written to files: SPEC §4's columns, then APIMIGO's fields."""
        row: dict[str, Any] = {
            "ruc": self.ruc,
            "estado_consulta": self.status.value,
            "motivo": self.reason,
            "apto_facturacion": self.billable,
            "origen": self.origin.value,
            "consultado_en": self.queried_at,
            "cambio": self.change,
        }
        for key, value in self.data.items():
            if key not in _NOT_DATA:
                row[key] = value
        return row


# -- dates and DNIs --------------------------------------------------------------------

DNI_LENGTH = 8
#: Peru has one time zone and no daylight saving time: SUNAT's "today".
LIMA = timezone(timedelta(hours=-5), "America/Lima")

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def today_in_lima() -> date:
    return datetime.now(LIMA).date()


def check_dni(value: object) -> str:
    """A DNI as exactly 8 digits (surrounding blanks trimmed); InvalidValueError otherwise."""
    text = (
        str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    )
    if len(text) == DNI_LENGTH and text.isascii() and text.isdigit():
        return text
    shown = str(value).strip() if value is not None else ""
    raise InvalidValueError(f"DNI no válido: {shown!r} (debe tener exactamente 8 dígitos)")


def parse_date(value: object, option: str = "fecha") -> date:
    """A real calendar date written ``YYYY-MM-DD`` (or a ``date``); InvalidValueError otherwise.

    ``option`` names the value in the message (``--desde``, ``fecha``...).
    """
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = value.strip() if isinstance(value, str) else ""
    if _ISO_DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise InvalidValueError(
        f"{option}: fecha no válida {str(value).strip()!r} (use AAAA-MM-DD, p. ej. 2024-05-31)"
    )
