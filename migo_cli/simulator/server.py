"""The simulator's aiohttp application: APIMIGO's routes, Laravel's errors, the faults.

Every route comes from the table the client uses (``migo_cli.dialects``); each
request goes through one pipeline (count, network faults, token, validation,
server faults, credits, answer) driven by ``SimulatorConfig``.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import html
import json
import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from types import TracebackType
from typing import Any, Final, Self

from aiohttp import web

from migo_cli.config import COLLECTION_MAX, is_loopback_host
from migo_cli.dialects import V2, Auth, Operation, Route
from migo_cli.models import today_in_lima
from migo_cli.simulator.config import (
    DEFAULT_PORT,
    ROUTES,
    Exchange,
    SimulatorConfig,
    SimulatorStats,
    is_key,
)
from migo_cli.simulator.data import (
    SPECIAL_RUCS,
    dni_answer,
    exchange_rate,
    lookup_ruc,
    representatives,
    ruc_problem,
    stable_unit,
)

__all__ = ["LOGIN_PATH", "Simulator", "serve"]

logger = logging.getLogger(__name__)

LOGIN_PATH: Final = "/login"
_MAX_EXCHANGE_DAYS = 366
_CURRENCIES = ("USD", "EUR")
_JSON_CONTENT_TYPE = "application/json; charset=utf-8"
#: Deliberately not the words migo's client looks for: the status code must be enough.
_QUOTA_MESSAGE = "Ha superado el número de consultas de su plan"
_FORBIDDEN_MESSAGE = "No tiene acceso a este recurso"
_HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


_Payload = dict[str, Any] | list[dict[str, Any]]
_KeysOf = Callable[[Mapping[str, Any]], tuple[str, ...]]


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


_Prepare = Callable[[dict[str, Any]], _Job | _Reply]


@dataclass(frozen=True, slots=True)
class _Served:
    """One route of the shared table (``migo_cli.dialects``) and how to answer it.

    ``keys_of`` gives what counters and faults key on, before any validation;
    ``group`` lets routes share fail_first's count (the RUC routes of both
    dialects, the collection included); ``prepare`` validates the request's
    values into a ``_Job``, or into an error ``_Reply``.
    """

    route: Route
    group: str
    keys_of: _KeysOf
    prepare: _Prepare

    @property
    def path(self) -> str:
        return self.route.path


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> _Reply:
    return _Reply(status, {"success": False, "message": message}, headers)


def _invalid(name: str, message: str) -> _Reply:
    """APIMIGO's validation error: Laravel's 422 body, with ``success`` added."""
    return _Reply(422, {"success": False, "message": message, "errors": {name: [message]}})


def _encode(payload: object) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _as_text(value: Any) -> Any:
    if value is None or isinstance(value, bool | str | dict | list):
        return value
    if isinstance(value, float):
        return f"{value:.3f}"  # prices: "3.726"
    return str(value)


def _as_strings(payload: dict[str, Any]) -> dict[str, Any]:
    """API 2.0 sends every value as a string; nulls stay null, ``success`` a boolean."""
    return {key: _as_text(value) for key, value in payload.items()}


def _ruc_keys(values: Mapping[str, Any]) -> tuple[str, ...]:
    value = values.get("ruc")
    if isinstance(value, list):
        return tuple(str(v) for v in value if is_key(v))
    if is_key(value):
        return (str(value),)
    return ()


def _text_key(name: str) -> _KeysOf:
    def keys(values: Mapping[str, Any]) -> tuple[str, ...]:
        value = values.get(name)
        return (value,) if isinstance(value, str) else ()

    return keys


def _no_keys(values: Mapping[str, Any]) -> tuple[str, ...]:
    return ()


def _parse_date(value: object) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None


def _origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _bearer(request: web.Request) -> str | None:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


def _laravel_page(title: str, text: str) -> bytes:
    return (
        '<!DOCTYPE html>\n<html lang="es">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n</head>\n<body>\n{text}\n</body>\n</html>\n"
    ).encode()


_LOGIN_PAGE: Final = _laravel_page(
    "Iniciar sesión - APIMIGO (simulado)",
    '<form method="POST" action="/login"><input type="email" name="email">'
    '<input type="password" name="password"><button>Ingresar</button></form>',
)


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
        if not is_loopback_host(host):
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
        app = self._build_app()
        # Last, after whatever a subclass added: every other path is Laravel's "no route".
        app.router.add_route("*", "/{path:.*}", self._no_route)
        runner = web.AppRunner(
            app,
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

    def _served_routes(self) -> list[_Served]:
        """Every route of both dialects with its answer; a route without one fails here."""
        answers: dict[Operation, tuple[_KeysOf, _Prepare]] = {
            Operation.RUC: (_ruc_keys, self._prepare_ruc),
            Operation.COLLECTION: (_ruc_keys, self._prepare_collection),
            Operation.DNI: (_text_key("dni"), self._prepare_dni),
            Operation.REPRESENTATIVES: (_ruc_keys, self._prepare_representatives),
            Operation.EXCHANGE_LATEST: (_no_keys, self._prepare_exchange_latest),
            Operation.EXCHANGE_DATE: (_text_key("fecha"), self._prepare_exchange_date),
            Operation.EXCHANGE_SBS: (_text_key("fecha"), self._prepare_exchange_sbs),
            Operation.EXCHANGE_RANGE: (_no_keys, self._prepare_exchange_range),
            Operation.ACCOUNT: (_no_keys, self._prepare_account),
        }
        served = []
        for route in ROUTES:
            keys_of, prepare = answers[route.operation]
            group = Operation.RUC.value if route.operation.is_lookup else route.operation.value
            served.append(_Served(route, group, keys_of, prepare))
        return served

    def _build_app(self) -> web.Application:
        app = web.Application()
        handle = self._handle if self.journal is None else self._handle_and_note
        for served in self._served_routes():
            route = served.route
            app.router.add_route(route.method, route.path, functools.partial(handle, served=served))
            # Any other method on a known path: Laravel's 405, not aiohttp's.
            app.router.add_route(
                "*", route.path, functools.partial(self._wrong_method, served=served)
            )
        app.router.add_get("/", self._info)
        app.router.add_get(LOGIN_PATH, self._login)
        app.router.add_get("/__sim__/stats", self._get_stats)
        app.router.add_get("/__sim__/config", self._get_config)
        app.router.add_post("/__sim__/config", self._post_config)
        app.router.add_post("/__sim__/reset", self._post_reset)
        app.router.add_post("/__sim__/ruc/{ruc}", self._post_ruc)
        return app

    # -- the request pipeline ---------------------------------------------

    async def _handle(self, request: web.Request, served: _Served) -> web.StreamResponse:
        return (await self._serve(request, served))[0]

    async def _handle_and_note(self, request: web.Request, served: _Served) -> web.StreamResponse:
        arrived = time.monotonic()
        response, keys = await self._serve(request, served)
        self._note(arrived, served.path, keys, response.status)
        return response

    def _note(self, arrived: float, path: str, keys: tuple[str, ...], status: int) -> None:
        if self.journal is not None:
            self.journal.append(Exchange(arrived, time.monotonic(), path, keys, status))

    def _count(self, path: str) -> None:
        stats = self.stats
        stats.requests_total += 1
        stats.by_endpoint[path] = stats.by_endpoint.get(path, 0) + 1

    def _wants_json(self, request: web.Request) -> bool:
        """Laravel's ``expectsJson()``, near enough: does ``Accept`` name JSON?"""
        return not self.config.laravel or "json" in request.headers.get("Accept", "").lower()

    @staticmethod
    async def _values(request: web.Request, route: Route) -> tuple[dict[str, Any] | None, Any]:
        """The request's values and its token, from where ``route``'s dialect puts them.

        Values are None when a ``POST`` body is not a JSON object.
        """
        values: dict[str, Any]
        if route.method == "GET":
            values = {**request.query, **request.match_info}
        else:
            try:
                body = json.loads(await request.read())
            except ValueError:
                return None, None
            if not isinstance(body, dict):
                return None, None
            values = body
        token = _bearer(request) if route.auth is Auth.BEARER else values.get("token")
        return values, token

    async def _serve(
        self, request: web.Request, served: _Served
    ) -> tuple[web.StreamResponse, tuple[str, ...]]:
        """Count, network faults, auth, validation, HTTP faults, credits, answer; and the keys."""
        cfg = self.config
        stats = self.stats
        self._count(served.path)
        if cfg.seed != self._rng_seed:
            self._rng = random.Random(cfg.seed)
            self._rng_seed = cfg.seed
        rng = self._rng

        values, token = await self._values(request, served.route)
        if values is None:
            return self._respond(_error(400, "El cuerpo debe ser un objeto JSON")), ()
        keys = served.keys_of(values)
        if served.route.operation.is_lookup:
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
            return self._drop(request), keys
        if cfg.redirect_to is not None:
            return self._redirect(cfg.redirect_to, 307), keys

        # Authentication (Laravel's guard), then what the API says about the account.
        wants_json = self._wants_json(request)
        if (
            not isinstance(token, str)
            or not token.strip()
            or (cfg.token is not None and token != cfg.token)
        ):
            return self._unauthenticated(request, wants_json), keys
        if cfg.token_message:
            return self._respond(_error(200, "Token inválido")), keys
        if cfg.forbidden:
            return self._respond(_error(403, _FORBIDDEN_MESSAGE)), keys

        job = served.prepare(values)
        if isinstance(job, _Reply):
            return self._answer(request, served, job, wants_json), keys

        # Server-side faults.
        if cfg.fail_first > 0:
            attempts = self._attempts
            failing = False
            for key in job.keys or ("",):
                slot = f"{served.group} {key}"
                seen = attempts.get(slot, 0) + 1
                attempts[slot] = seen
                failing = failing or seen <= cfg.fail_first
            if failing:
                return self._respond(_error(503, "Servicio no disponible (simulado)")), keys
        if (cfg.always_500 and not cfg.always_500.isdisjoint(job.keys)) or (
            cfg.always_500_share > 0
            and any(stable_unit("500", str(cfg.seed), k) < cfg.always_500_share for k in job.keys)
        ):
            return self._respond(_error(500, "Error interno del servidor (simulado)")), keys
        if cfg.error_share > 0 and rng.random() < cfg.error_share:
            status = (500, 502, 503)[int(rng.random() * 3)]
            return self._respond(_error(status, "Error del servidor (simulado)")), keys
        if cfg.html_502_share > 0 and rng.random() < cfg.html_502_share:
            return self._page(502, _HTML_502), keys
        if cfg.rate_limit_share > 0 and rng.random() < cfg.rate_limit_share:
            return self._respond(self._rate_limited(cfg)), keys

        # Credits.
        if job.cost and cfg.credits is not None:
            if cfg.credits < job.cost:
                return self._respond(_error(cfg.quota_status, _QUOTA_MESSAGE)), keys
            cfg.credits -= job.cost
        stats.credits_used += job.cost

        reply = job.answer()
        if (
            reply.status == 200
            and cfg.missing_success_share > 0
            and rng.random() < cfg.missing_success_share
        ):
            reply.payload = _without_success(reply.payload)
        return self._answer(request, served, reply, wants_json), keys

    def _answer(
        self, request: web.Request, served: _Served, reply: _Reply, wants_json: bool
    ) -> web.Response:
        """The API's own answer, in the route's dialect; a validation error Laravel's way."""
        if reply.status == 422 and not wants_json:
            return self._redirect(request.headers.get("Referer") or _origin(request) + "/")
        if served.route.dialect == V2.name and isinstance(reply.payload, dict):
            reply.payload = _as_strings(reply.payload)
        return self._respond(reply)

    def _respond(self, reply: _Reply) -> web.Response:
        by_status = self.stats.by_status
        by_status[reply.status] = by_status.get(reply.status, 0) + 1
        headers = {"Content-Type": _JSON_CONTENT_TYPE}
        if reply.headers:
            headers.update(reply.headers)
        return web.Response(status=reply.status, body=_encode(reply.payload), headers=headers)

    def _page(
        self, status: int, body: bytes, headers: dict[str, str] | None = None
    ) -> web.Response:
        by_status = self.stats.by_status
        by_status[status] = by_status.get(status, 0) + 1
        return web.Response(
            status=status, body=body, headers=headers, content_type="text/html", charset="utf-8"
        )

    def _redirect(self, location: str, status: int = 302) -> web.Response:
        """Laravel's ``RedirectResponse``: ``Location`` and a small HTML page."""
        shown = html.escape(location)
        body = _laravel_page(
            f"Redirecting to {location}",
            f'Redirecting to <a href="{shown}">{shown}</a>.',
        )
        return self._page(status, body, {"Location": location})

    def _unauthenticated(self, request: web.Request, wants_json: bool) -> web.Response:
        if wants_json:
            return self._respond(_Reply(401, {"message": "Unauthenticated."}))
        return self._redirect(_origin(request) + LOGIN_PATH)

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
        """429; ``Retry-After`` as RFC 9110 has it: whole seconds (rounded up) or a date."""
        headers: dict[str, str] = {}
        if cfg.retry_after is not None:
            if cfg.retry_after_http_date:
                headers["Retry-After"] = email.utils.formatdate(
                    math.ceil(time.time() + cfg.retry_after), usegmt=True
                )
            else:
                headers["Retry-After"] = str(math.ceil(cfg.retry_after))
        return _error(429, "Demasiadas solicitudes, intente más tarde", headers)

    def _not_found(self, message: str, **extra: str) -> _Reply:
        return _Reply(self.config.not_found_status, {"success": False, **extra, "message": message})

    # -- Laravel's own answers: no route, wrong method, the login page ----

    async def _no_route(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        path = request.path
        self._count(path)
        if self._wants_json(request):
            message = f"The route {path.lstrip('/')} could not be found."
            response = self._respond(_Reply(404, {"message": message}))
        else:
            response = self._page(404, _laravel_page("Not Found", "404 | Not Found"))
        self._note(arrived, path, (), response.status)
        return response

    async def _wrong_method(self, request: web.Request, served: _Served) -> web.Response:
        arrived = time.monotonic()
        self._count(served.path)
        allowed = served.route.method
        headers = {"Allow": allowed}
        if self._wants_json(request):
            message = (
                f"The {request.method} method is not supported for route "
                f"{request.path.lstrip('/')}. Supported methods: {allowed}."
            )
            response = self._respond(_Reply(405, {"message": message}, headers))
        else:
            page = _laravel_page("Method Not Allowed", "405 | Method Not Allowed")
            response = self._page(405, page, headers)
        self._note(arrived, served.path, (), response.status)
        return response

    async def _login(self, request: web.Request) -> web.Response:
        """Where APIMIGO's redirects lead: HTML, never data (a client must not get here)."""
        self._count(LOGIN_PATH)
        return self._page(200, _LOGIN_PAGE)

    # -- endpoints ---------------------------------------------------------

    def _ruc_data(self, ruc: str) -> dict[str, Any] | None:
        data = lookup_ruc(ruc, self.config.not_found_share)
        changed = self.config.overrides.get(ruc) if data is not None else None
        return {**data, **changed} if data is not None and changed else data

    def _ruc_refused(self, ruc: str) -> str | None:
        """APIMIGO's validation message for ``ruc``, None when it passes."""
        return ruc_problem(ruc) or (
            "El ruc seleccionado es inválido." if ruc in self.config.reject_422 else None
        )

    def _prepare_ruc(self, values: dict[str, Any]) -> _Job | _Reply:
        value = values.get("ruc")
        if not is_key(value) or not str(value):
            return _invalid("ruc", "El campo ruc es obligatorio.")
        ruc = str(value)
        problem = self._ruc_refused(ruc)
        if problem:
            return _invalid("ruc", problem)

        def answer() -> _Reply:
            data = self._ruc_data(ruc)
            if data is None:
                return self._not_found("No se encontró el RUC", ruc=ruc)
            return _Reply(200, data)

        return _Job((ruc,), 1, answer)

    def _prepare_collection(self, values: dict[str, Any]) -> _Job | _Reply:
        rucs = values.get("ruc")
        if not isinstance(rucs, list) or not rucs:
            return _invalid("ruc", "El campo ruc debe ser una lista de RUCs.")
        if len(rucs) > COLLECTION_MAX:
            return _invalid("ruc", f"El campo ruc no debe tener más de {COLLECTION_MAX} elementos.")
        items = [str(r) if is_key(r) else "" for r in rucs]
        for index, ruc in enumerate(items):  # Laravel validates each element: "ruc.3"
            problem = self._ruc_refused(ruc)
            if problem:
                return _invalid(f"ruc.{index}", problem)

        def answer() -> _Reply:
            results: list[dict[str, Any]] = []
            for ruc in items:
                data = self._ruc_data(ruc)
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

    def _prepare_dni(self, values: dict[str, Any]) -> _Job | _Reply:
        dni = values.get("dni")
        if not isinstance(dni, str) or len(dni) != 8 or not dni.isdigit():
            return _invalid("dni", "El campo dni debe tener 8 dígitos.")

        def answer() -> _Reply:
            data = dni_answer(dni, self.config.not_found_share)
            return _Reply(200, data) if data else self._not_found("No se encontró el DNI", dni=dni)

        return _Job((dni,), 1, answer)

    def _prepare_representatives(self, values: dict[str, Any]) -> _Job | _Reply:
        ruc = values.get("ruc")
        if not isinstance(ruc, str) or not ruc:
            return _invalid("ruc", "El campo ruc es obligatorio.")
        problem = self._ruc_refused(ruc)
        if problem:
            return _invalid("ruc", problem)

        def answer() -> _Reply:
            if self._ruc_data(ruc) is None:
                return self._not_found("No se encontró el RUC", ruc=ruc)
            return _Reply(200, {"success": True, "data": representatives(ruc)})

        return _Job((ruc,), 1, answer)

    def _prepare_exchange_latest(self, values: dict[str, Any]) -> _Job | _Reply:
        return _Job((), 0, lambda: _Reply(200, {"success": True, **exchange_rate(today_in_lima())}))

    def _rate_on(self, day: date, currency: str = "USD") -> _Reply:
        if day > today_in_lima():
            return self._not_found("No hay tipo de cambio para la fecha", fecha=day.isoformat())
        return _Reply(200, {"success": True, **exchange_rate(day, currency)})

    def _prepare_exchange_date(self, values: dict[str, Any]) -> _Job | _Reply:
        day = _parse_date(values.get("fecha"))
        if day is None:
            return _invalid("fecha", "El campo fecha debe tener el formato AAAA-MM-DD.")
        return _Job((day.isoformat(),), 0, lambda: self._rate_on(day))

    def _prepare_exchange_sbs(self, values: dict[str, Any]) -> _Job | _Reply:
        day = _parse_date(values.get("fecha"))
        if day is None:
            return _invalid("fecha", "El campo fecha debe tener el formato AAAA-MM-DD.")
        currency = values.get("moneda")
        if currency not in _CURRENCIES:
            return _invalid("moneda", "El campo moneda debe ser USD o EUR.")
        return _Job((day.isoformat(),), 0, lambda: self._rate_on(day, str(currency)))

    def _prepare_exchange_range(self, values: dict[str, Any]) -> _Job | _Reply:
        start = _parse_date(values.get("fecha_inicio"))
        end = _parse_date(values.get("fecha_fin"))
        if start is None or end is None:
            return _invalid(
                "fecha_inicio" if start is None else "fecha_fin",
                "fecha_inicio y fecha_fin deben tener el formato AAAA-MM-DD.",
            )
        if start > end:
            return _invalid("fecha_inicio", "fecha_inicio no puede ser posterior a fecha_fin.")
        if (end - start).days >= _MAX_EXCHANGE_DAYS:
            return _invalid("fecha_fin", f"El rango no puede superar {_MAX_EXCHANGE_DAYS} días.")

        def answer() -> _Reply:
            last = min(end, today_in_lima())
            days = (start + timedelta(days=n) for n in range((last - start).days + 1))
            return _Reply(200, {"success": True, "data": [exchange_rate(d) for d in days]})

        return _Job((f"{start}:{end}",), 0, answer)

    def _prepare_account(self, values: dict[str, Any]) -> _Job | _Reply:
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
            "endpoints": [f"{route.method} {route.path}" for route in ROUTES],
            "control": [
                "GET /__sim__/stats",
                "GET|POST /__sim__/config",
                "POST /__sim__/reset",
                "POST /__sim__/ruc/{ruc}",
            ],
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

    async def _post_ruc(self, request: web.Request) -> web.Response:
        """Merge a JSON object of fields into what one RUC answers from now on."""
        ruc = request.match_info["ruc"]
        try:
            fields = json.loads(await request.read())
            if not isinstance(fields, dict):
                raise ValueError("el cuerpo debe ser un objeto JSON de campos")
            overrides = dict(self.config.overrides)
            overrides[ruc] = {**overrides.get(ruc, {}), **fields}
            self.config.update({"overrides": overrides})
        except ValueError as exc:
            return web.json_response({"success": False, "message": str(exc)}, status=400)
        answer = self._ruc_data(ruc)
        return web.json_response(
            answer or {"success": False, "ruc": ruc, "message": "No se encontró el RUC"},
            dumps=lambda o: json.dumps(o, ensure_ascii=False),
        )


def _without_success(payload: _Payload) -> _Payload:
    if isinstance(payload, list):
        return [{k: v for k, v in item.items() if k != "success"} for item in payload]
    return {k: v for k, v in payload.items() if k != "success"}


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
