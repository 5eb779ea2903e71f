"""What APIMIGO's services other than RUC lookups answer: DNI, representatives, rates, account.

Two families, each with English attributes and a ``to_dict()`` giving the JSON
the CLI prints (Spanish keys, the API's own):

* Lookups of an identifier (``DniResult``, ``LegalRepresentatives``) carry a
  ``status`` as ``RucResult`` does: ``valido``, ``no_existe`` or ``error``.
* ``ExchangeRate`` and ``AccountInfo`` are plain data: the client methods that
  return them raise ``NotFoundError`` (no rate for that date) or another
  ``APIError`` instead.

``data`` always keeps what APIMIGO sent (minus ``success``), unknown keys
included; the typed attributes tolerate missing keys and ``null``. Apart from
``models`` because building these four classes costs a few milliseconds that
``migo consultar`` (every RUC lookup) need not pay (benchmarks, figure 14).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from migo_cli.models import Origin, Status, now_iso

__all__ = ["AccountInfo", "DniResult", "ExchangeRate", "LegalRepresentatives"]

_DIGITS = re.compile(r"\d+")
#: Where APIMIGO's account answer may carry the remaining credits, most specific first.
_CREDIT_KEYS = (
    "consultas_disponibles",
    "consultas_restantes",
    "creditos_disponibles",
    "creditos",
    "saldo",
    "consultas",
)


def _payload(body: Mapping[str, Any], *skip: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "success" and k not in skip}


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().replace(",", "."))
        except ValueError:
            return None
    return None


def _count(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip().replace(".", "")):
        return int(value.strip().replace(".", ""))
    return None


def _state(entry: object) -> tuple[Status, str, Any, str] | None:
    """A cached (status, reason, payload, queried_at) tuple, or None if it is not one."""
    if not isinstance(entry, tuple) or len(entry) != 4:
        return None
    status, reason, payload, queried_at = entry
    try:
        return Status(status), str(reason), payload, str(queried_at)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class DniResult:
    """What migo knows about one DNI (``/api/v1/dni``)."""

    dni: str
    status: Status
    reason: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    origin: Origin = Origin.API
    queried_at: str = field(default_factory=now_iso)

    @property
    def found(self) -> bool:
        return self.status is Status.VALID

    @property
    def name(self) -> str:
        """``nombre`` as RENIEC gives it (empty when not found)."""
        return str(self.data.get("nombre") or "")

    def to_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "dni": self.dni,
            "estado_consulta": self.status.value,
            "motivo": self.reason,
            "nombre": self.data.get("nombre"),
            "origen": self.origin.value,
            "consultado_en": self.queried_at,
        }
        row.update((k, v) for k, v in self.data.items() if k not in row)
        return row

    def cache_entry(self) -> tuple[str, str, dict[str, Any], str]:
        return (self.status.value, self.reason, dict(self.data), self.queried_at)

    @classmethod
    def from_cache(cls, dni: str, entry: object) -> DniResult | None:
        state = _state(entry)
        if state is None or not isinstance(state[2], dict):
            return None
        status, reason, data, queried_at = state
        return cls(dni, status, reason, data, Origin.CACHE, queried_at)


@dataclass(frozen=True, slots=True)
class LegalRepresentatives:
    """The legal representatives of one RUC (``/api/v1/ruc/representantes-legales``).

    ``people`` holds each representative as APIMIGO sent it (usually
    ``tipo_de_documento``, ``numero_de_documento``, ``nombre``, ``cargo``,
    ``fecha_desde``); empty when the RUC has none registered or was not found.
    """

    ruc: str
    status: Status
    reason: str = ""
    people: tuple[Mapping[str, Any], ...] = ()
    origin: Origin = Origin.API
    queried_at: str = field(default_factory=now_iso)

    @property
    def found(self) -> bool:
        return self.status is Status.VALID

    def to_dict(self) -> dict[str, Any]:
        return {
            "ruc": self.ruc,
            "estado_consulta": self.status.value,
            "motivo": self.reason,
            "representantes": [dict(person) for person in self.people],
            "origen": self.origin.value,
            "consultado_en": self.queried_at,
        }

    def cache_entry(self) -> tuple[str, str, list[dict[str, Any]], str]:
        return (self.status.value, self.reason, [dict(p) for p in self.people], self.queried_at)

    @classmethod
    def from_cache(cls, ruc: str, entry: object) -> LegalRepresentatives | None:
        state = _state(entry)
        if state is None or not isinstance(state[2], list):
            return None
        status, reason, people, queried_at = state
        kept = tuple(p for p in people if isinstance(p, dict))
        return cls(ruc, status, reason, kept, Origin.CACHE, queried_at)


@dataclass(frozen=True, slots=True)
class ExchangeRate:
    """SUNAT's US dollar exchange rate for one day (``/api/v1/exchange...``).

    ``day`` is ``fecha`` as sent (ISO ``YYYY-MM-DD``), or the date asked for when
    the answer lacks it; ``buy``/``sell`` are ``precio_compra``/``precio_venta``
    as numbers (None when missing or not numeric; ``data`` keeps them as sent).
    """

    day: str
    currency: str | None
    buy: float | None
    sell: float | None
    data: Mapping[str, Any] = field(default_factory=dict)
    origin: Origin = Origin.API
    queried_at: str = field(default_factory=now_iso)

    @classmethod
    def from_api(
        cls,
        body: Mapping[str, Any],
        *,
        requested: str | None = None,
        origin: Origin = Origin.API,
        queried_at: str | None = None,
    ) -> ExchangeRate:
        data = _payload(body)
        day = data.get("fecha")
        currency = data.get("moneda")
        return cls(
            day=str(day) if day else (requested or ""),
            currency=str(currency) if currency else None,
            buy=_number(data.get("precio_compra")),
            sell=_number(data.get("precio_venta")),
            data=data,
            origin=origin,
            queried_at=queried_at or now_iso(),
        )

    def to_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "fecha": self.day,
            "moneda": self.currency,
            "precio_compra": self.buy,
            "precio_venta": self.sell,
        }
        row.update((k, v) for k, v in self.data.items() if k not in row)
        row["origen"] = self.origin.value
        row["consultado_en"] = self.queried_at
        return row

    def cache_entry(self) -> tuple[dict[str, Any], str]:
        return (dict(self.data), self.queried_at)

    @classmethod
    def from_cache(cls, entry: object, requested: str | None = None) -> ExchangeRate | None:
        if not (isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], dict)):
            return None
        data, queried_at = entry
        return cls.from_api(
            data, requested=requested, origin=Origin.CACHE, queried_at=str(queried_at)
        )


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """The APIMIGO account (``/api/v1/account``); never cached.

    ``credits`` is the number of lookups left, read from whichever key the answer
    carries it in (``consultas_disponibles``, ``consultas``...); None when the
    answer does not say (or the plan is unlimited).
    """

    data: Mapping[str, Any]
    credits: int | None = None
    queried_at: str = field(default_factory=now_iso)

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> AccountInfo:
        data = _payload(body)
        credits = next(
            (n for key in _CREDIT_KEYS if (n := _count(data.get(key))) is not None), None
        )
        return cls(data, credits)

    @property
    def name(self) -> str:
        return str(self.data.get("nombre") or "")

    @property
    def email(self) -> str:
        return str(self.data.get("email") or "")

    def to_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {"consultas_disponibles": self.credits}
        row.update((k, v) for k, v in self.data.items() if k not in row)
        row["consultado_en"] = self.queried_at
        return row
