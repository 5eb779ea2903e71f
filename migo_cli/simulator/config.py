"""The simulator's knobs (healthy by default; faults are opt-in) and its counters."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from migo_cli.config import SIMULATOR_PORT
from migo_cli.dialects import V1, V2, Route
from migo_cli.simulator.data import DEFAULT_NOT_FOUND_SHARE

__all__ = [
    "DEFAULT_PORT",
    "ENDPOINTS",
    "LOOKUP_ENDPOINTS",
    "ROUTES",
    "Exchange",
    "SimulatorConfig",
    "SimulatorStats",
]

DEFAULT_PORT: Final = SIMULATOR_PORT

#: Every route served: API 1.0's and API 2.0's own, from the shared table.
ROUTES: Final[tuple[Route, ...]] = (*V1.own_routes(), *V2.own_routes())
#: Every API path template the simulator answers (``by_endpoint``'s keys).
ENDPOINTS: Final = tuple(route.path for route in ROUTES)
#: The paths that look RUCs up, in both dialects: what ``llamadas_api`` counts (SPEC §4).
LOOKUP_ENDPOINTS: Final = tuple(route.path for route in ROUTES if route.operation.is_lookup)


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
    "reject_422",
    "forbidden",
    "token_message",
    "redirect_to",
)


@dataclass(slots=True)
class SimulatorConfig:
    """Every knob of the simulator; the defaults are a healthy, unlimited, instant upstream.

    The running simulator reads this object on every request, so assigning an
    attribute (from any thread) or POSTing to ``/__sim__/config`` takes effect at
    once. Shares are probabilities in [0, 1]; times are seconds unless ``_ms``.

    - ``token``: the one accepted token; None accepts any non-empty token.
    - ``laravel``: errors before the API's own code (token, validation, routes)
      depend on ``Accept`` as in Laravel (see the module docstring); False
      answers them as JSON whatever the request asks for.
    - ``latency_ms`` / ``latency_sigma``: every request waits ``latency_ms``; with
      ``latency_sigma > 0`` the wait is lognormal with that median and sigma.
    - ``slow_share`` of requests also wait ``slow_min``..``slow_max`` seconds.
    - ``error_share`` answer 500, 502 or 503 (JSON body); ``html_502_share`` answer
      502 with an nginx HTML page; ``missing_success_share`` of 200 answers lack
      ``success``; ``drop_share`` close the connection without answering.
    - ``rate_limit_share`` answer 429 with ``Retry-After: retry_after`` in whole
      seconds, rounded up as RFC 9110 wants (or an HTTP date with
      ``retry_after_http_date``; None sends no header).
    - ``not_found_share`` of well-formed RUCs (and DNIs) are unknown, decided per
      RUC by a hash, so the same RUC is always found or always not;
      ``not_found_status`` is 404 or 200 (then ``success: false``).
    - ``collection_envelope``: ``/ruc/collection`` answers ``{"success", "data"}``
      instead of a bare list.
    - ``credits``: remaining paid lookups, decremented as they are spent (each RUC
      of ``/ruc``, ``/ruc/collection``, ``/ruc/representantes-legales`` and each
      DNI costs one); when fewer are left than a request needs, ``quota_status``
      (402, or 403: APIMIGO documents both for plan and credit problems) and
      nothing is spent. None is unlimited.
    - ``reject_422`` (a set of well-formed RUCs) fail APIMIGO's validation: 422.
    - ``forbidden``: every API request with an accepted token answers 403.
    - ``token_message``: every API request with an accepted token answers
      ``200 {"success": false, "message": "Token inválido"}``.
    - ``redirect_to``: every API request answers ``307`` to this URL, token or
      not (a moved service, a meddling proxy): a client that followed it would
      send the same request, token included, wherever it points.
    - ``fail_first``: each RUC's (or DNI's, date's...) first N requests answer 503,
      counted from when it was set or from the last reset.
    - ``always_500`` (a set of RUCs) and ``always_500_share`` (a share of RUCs,
      chosen by hash of ``seed`` and RUC) always answer 500.
    - ``hang`` (a set of RUCs) and ``hang_share`` (a share of requests) wait
      ``hang_seconds`` before answering.
    - ``overrides``: RUC -> fields its answer carries instead of the generated
      ones (only while it is found): SUNAT's data changing between two runs.
    - ``seed`` seeds the random draws of latency and faults.

    Replace the sets and dicts (``cfg.hang = {...}``) rather than mutating them in
    place from another thread while requests are served.
    """

    token: str | None = None
    laravel: bool = True
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
    quota_status: int = 402
    reject_422: set[str] = field(default_factory=set)
    forbidden: bool = False
    token_message: bool = False
    redirect_to: str | None = None
    fail_first: int = 0
    always_500: set[str] = field(default_factory=set)
    always_500_share: float = 0.0
    hang: set[str] = field(default_factory=set)
    hang_share: float = 0.0
    hang_seconds: float = 30.0
    drop_share: float = 0.0
    html_502_share: float = 0.0
    missing_success_share: float = 0.0
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
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
        if self.quota_status not in (402, 403):
            raise ValueError("quota_status debe ser 402 o 403")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError("retry_after no puede ser negativo")
        if self.credits is not None and self.credits < 0:
            raise ValueError("credits no puede ser negativo")
        if self.fail_first < 0:
            raise ValueError("fail_first no puede ser negativo")
        if self.token is not None and not self.token.strip():
            raise ValueError("token no puede estar vacío (use None para aceptar cualquiera)")
        for ruc, fields in self.overrides.items():
            if {"success", "ruc"} & set(fields):
                raise ValueError(f"overrides de {ruc}: no puede cambiar success ni ruc")

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
        data["overrides"] = {ruc: dict(fields) for ruc, fields in self.overrides.items()}
        data["token"] = "***" if self.token is not None else None
        return data


_OVERRIDES_TYPE: Final = "dict[str, dict[str, Any]]"


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
    if kind == "set[str]" and isinstance(value, list) and all(map(is_key, value)):
        return {str(v) for v in value}
    if (
        kind == _OVERRIDES_TYPE
        and isinstance(value, dict)
        and all(isinstance(fields, dict) for fields in value.values())
    ):
        return {str(ruc): dict(fields) for ruc, fields in value.items()}
    expected = {
        "float": "un número",
        "int": "un número entero",
        "bool": "true o false",
        "str": "un texto",
        "set[str]": "una lista de RUCs",
        _OVERRIDES_TYPE: "un objeto {RUC: {campo: valor}}",
    }
    raise ValueError(f"{name} debe ser {expected.get(kind, kind)}")


def is_key(value: object) -> bool:
    """A RUC (or DNI) as JSON may carry it: a string, or a number that lost its quotes."""
    return isinstance(value, str | int) and not isinstance(value, bool)


class Exchange(NamedTuple):
    """One request as the simulator saw it (``Simulator(journal=True)``)."""

    arrived: float  # time.monotonic()
    answered: float
    path: str  # the route's path template; the path itself for an unknown route
    keys: tuple[str, ...]  # the RUCs (or DNI, date) it asked about
    status: int


@dataclass(slots=True)
class SimulatorStats:
    """What the simulator received since it started or was last reset.

    Updated on the server's event loop only; reading the ints from another
    thread is safe, and ``snapshot()`` copies the dicts in one step each.
    Control endpoints (``/__sim__/...``, ``/``) are not counted.

    - ``requests_total``: every request to an API path, whatever its answer,
      plus those to unknown paths and to ``/login``.
    - ``by_endpoint``: path template (``/api/v1/ruc``, ``/api/v2/ruc/{ruc}``) ->
      requests, whatever the method; an unknown path and ``/login`` count under
      the path itself. ``by_ruc``: RUC -> requests that carried it (the RUC
      routes of both dialects; a collection counts once per RUC).
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
        """Requests to the RUC and collection routes of both dialects: ``llamadas_api``."""
        return sum(self.by_endpoint.get(path, 0) for path in LOOKUP_ENDPOINTS)

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
