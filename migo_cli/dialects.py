"""APIMIGO's two dialects as data: which method, path and token placement each operation uses.

APIMIGO publishes API 1.0 (``POST`` with the token in the JSON body) and API 2.0
(``GET``, the token as ``Authorization: Bearer``, values in the path or the query
string). Both are a table here, shared by the client (to build requests) and the
simulator (to serve them), so a route is written once. Whatever API 2.0 lacks
(collections, DNI, representatives, the account) falls back to API 1.0 with the
same token (SPEC §1).

Every request, in both dialects, asks for JSON: APIMIGO is a Laravel application
and, without ``Accept: application/json``, answers a rejected token with a
redirect to an HTML login page and an unknown route with an HTML page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from string import Formatter
from typing import Any, Final, NamedTuple
from urllib.parse import quote

__all__ = [
    "DIALECTS",
    "JSON_ACCEPT",
    "V1",
    "V2",
    "Auth",
    "Dialect",
    "Operation",
    "Reply",
    "Route",
    "dialect_named",
]

#: The ``Accept`` header every request sends (APIMIGO documents it as required).
JSON_ACCEPT: Final = "application/json"


class Operation(StrEnum):
    """What a request asks for, whatever the dialect calls it."""

    RUC = "ruc"
    COLLECTION = "ruc-coleccion"
    DNI = "dni"
    REPRESENTATIVES = "representantes"
    EXCHANGE_LATEST = "tipo-cambio-ultimo"
    EXCHANGE_DATE = "tipo-cambio-sunat"
    EXCHANGE_RANGE = "tipo-cambio-rango"
    EXCHANGE_SBS = "tipo-cambio-sbs"
    ACCOUNT = "cuenta"

    @property
    def is_lookup(self) -> bool:
        """A RUC lookup: what the resumen's ``llamadas_api`` counts (SPEC §4)."""
        return self in (Operation.RUC, Operation.COLLECTION)

    @property
    def is_paid(self) -> bool:
        """APIMIGO charges a credit for each value asked (RUC, DNI, representatives)."""
        return self in (
            Operation.RUC,
            Operation.COLLECTION,
            Operation.DNI,
            Operation.REPRESENTATIVES,
        )


class Auth(StrEnum):
    """Where the token travels: never in a URL."""

    BODY = "body"  # ``{"token": ...}`` in the JSON body (API 1.0)
    BEARER = "bearer"  # ``Authorization: Bearer ...`` (API 2.0)


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request, ready for aiohttp (``session.request(method, base + path, ...)``)."""

    method: str
    path: str
    json: dict[str, Any] | None
    params: dict[str, str] | None
    headers: dict[str, str]


class Reply(NamedTuple):
    """What came back for one request, read whole before its connection was released.

    Whatever carried it (aiohttp in the client, the standard library in
    ``preflight``), the client classifies it in one place.
    """

    status: int
    body: bytes
    retry_after: str | None
    location: str | None
    url: str


@dataclass(frozen=True, slots=True)
class Route:
    """One operation in one dialect.

    ``path`` may name values in braces (``/api/v2/ruc/{ruc}``): they are taken
    from the request's values and quoted into the path; the other values go in
    the JSON body (``POST``) or the query string (``GET``).
    """

    operation: Operation
    method: str
    path: str
    auth: Auth
    dialect: str
    path_fields: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        names = tuple(name for _, name, _, _ in Formatter().parse(self.path) if name)
        object.__setattr__(self, "path_fields", names)

    def request(self, token: str, values: Mapping[str, Any]) -> Request:
        """The request that asks this route for ``values`` with ``token``."""
        headers = {"Accept": JSON_ACCEPT}
        rest = {k: v for k, v in values.items() if k not in self.path_fields}
        path = self.path
        if self.path_fields:
            path = path.format_map({k: quote(str(values[k]), safe="") for k in self.path_fields})
        if self.auth is Auth.BEARER:
            headers["Authorization"] = f"Bearer {token}"
        if self.method == "GET":
            query = {k: str(v) for k, v in rest.items()}
            return Request("GET", path, None, query or None, headers)
        body = dict(rest)
        if self.auth is Auth.BODY:
            body["token"] = token
        return Request(self.method, path, body, None, headers)


@dataclass(frozen=True, slots=True)
class Dialect:
    """A table of routes; operations it lacks are asked through ``fallback``."""

    name: str
    routes: Mapping[Operation, Route]
    fallback: Dialect | None = None

    def route(self, operation: Operation) -> Route | None:
        """The route that serves ``operation``, or None when no dialect has it."""
        own = self.routes.get(operation)
        if own is not None:
            return own
        return self.fallback.route(operation) if self.fallback is not None else None

    def own_routes(self) -> tuple[Route, ...]:
        return tuple(self.routes.values())

    def path(self, operation: Operation) -> str:
        """The path (template) that serves ``operation``; KeyError when no dialect has it."""
        route = self.route(operation)
        if route is None:
            raise KeyError(operation)
        return route.path


def _table(dialect: str, auth: Auth, *rows: tuple[Operation, str, str]) -> dict[Operation, Route]:
    return {op: Route(op, method, path, auth, dialect) for op, method, path in rows}


V1: Final = Dialect(
    "v1",
    _table(
        "v1",
        Auth.BODY,
        (Operation.RUC, "POST", "/api/v1/ruc"),
        (Operation.COLLECTION, "POST", "/api/v1/ruc/collection"),
        (Operation.DNI, "POST", "/api/v1/dni"),
        (Operation.REPRESENTATIVES, "POST", "/api/v1/ruc/representantes-legales"),
        (Operation.EXCHANGE_LATEST, "POST", "/api/v1/exchange/latest"),
        (Operation.EXCHANGE_DATE, "POST", "/api/v1/exchange/date"),
        (Operation.EXCHANGE_RANGE, "POST", "/api/v1/exchange"),
        (Operation.ACCOUNT, "POST", "/api/v1/account"),
    ),
)

V2: Final = Dialect(
    "v2",
    _table(
        "v2",
        Auth.BEARER,
        (Operation.RUC, "GET", "/api/v2/ruc/{ruc}"),
        (Operation.EXCHANGE_DATE, "GET", "/api/v2/tipo-cambio/sunat"),
        (Operation.EXCHANGE_SBS, "GET", "/api/v2/tipo-cambio/sbs"),
    ),
    fallback=V1,
)

#: The dialects by the name ``--api`` / ``MIGO_API`` / the config key ``api`` take.
DIALECTS: Final[Mapping[str, Dialect]] = {"v1": V1, "v2": V2}


def dialect_named(name: str) -> Dialect:
    """``v1`` or ``v2`` (case and spaces ignored); raises KeyError otherwise."""
    return DIALECTS[name.strip().lower()]
