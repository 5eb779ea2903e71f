"""The values migo hands back: one result per RUC, and the columns they become."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = [
    "BASE_COLUMNS",
    "COLUMN_DESCRIPTIONS",
    "OUTPUT_COLUMNS",
    "UPSTREAM_FIELDS",
    "Clock",
    "Origin",
    "RucResult",
    "Status",
    "now_iso",
]


class Status(StrEnum):
    """``estado_consulta`` of a row."""

    VALID = "valido"
    NOT_FOUND = "no_existe"
    INVALID = "formato_invalido"
    ERROR = "error"
    UNCHECKED = "sin_consultar"  # only with --solo-validar

    @property
    def is_answer(self) -> bool:
        """An answer is final for the run: a rerun need not ask again."""
        return self is not Status.ERROR


class Origin(StrEnum):
    API = "api"
    CACHE = "cache"
    LOCAL = "local"


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
    "origen": "De dónde vino la respuesta: api, cache (consulta anterior) o local "
    "(validación sin consulta).",
    "consultado_en": "Fecha y hora en que APIMIGO respondió (se conserva la original si la "
    "respuesta vino de la caché).",
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

_NOT_DATA = frozenset({"success", "ruc"})


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


def _normal(value: object) -> str:
    return " ".join(value.split()).upper() if isinstance(value, str) else ""


@dataclass(slots=True)
class RucResult:
    """What migo knows about one RUC after this run.

    ``data`` holds APIMIGO's fields as it sent them (``valido`` rows only);
    ``queried_at`` is when APIMIGO answered, kept as is when the answer comes
    from the cache.
    """

    ruc: str
    status: Status
    reason: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    origin: Origin = Origin.API
    queried_at: str = field(default_factory=now_iso)

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
        return (
            self.status is Status.VALID
            and _normal(self.data.get("estado_del_contribuyente")) == "ACTIVO"
            and _normal(self.data.get("condicion_de_domicilio")) == "HABIDO"
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
        state = _normalised(self.data.get("estado_del_contribuyente"))
        if state != "ACTIVO":
            return state or "SIN ESTADO"
        condition = _normalised(self.data.get("condicion_de_domicilio"))
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
        }
        for key, value in self.data.items():
            if key not in _NOT_DATA and key not in row:
                row[key] = value
        return row


def _normalised(value: Any) -> str:
    """An upstream label compared as SPEC §4 says: trimmed, upper-cased."""
    return " ".join(str(value or "").split()).upper()
