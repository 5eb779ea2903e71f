"""The async APIMIGO client: one aiohttp session, a shared pace, retries, classification.

Everything a batch, a Django view or a Celery task needs to ask APIMIGO goes
through ``MigoClient``. Design points, each one paid for by a user somewhere:

* The first paid request of a client goes alone; the rest wait for its answer
  (a moment at most). A wrong token or an empty account then costs one call,
  not one per worker. A batch's credit check settles the same question for
  free: when its ``/account`` answer comes first, an accepted token with credits
  left lets every worker start at once, a rejected one stops the client before
  its first lookup.
* aiohttp is imported by the first request, not with this module; a credit check
  sent before that goes by the standard library from a thread (``preflight``), so
  its round trip overlaps the 0.1-0.2 s the import takes (benchmarks, figure 9).
* Requests ask for JSON and never follow a redirect; the dialect (``dialects``)
  decides method, path and where the token travels.
* After an authentication or quota failure the client sends nothing more: the
  error is raised again, locally, for every later call.
* ``stream`` yields each result as soon as it is known, in input order or as
  they complete; a slow RUC never holds back requests for the others, and a
  bounded window keeps memory flat on million-row inputs.
* Every answer (valid, not found, or refused by APIMIGO's validation) goes into
  the cache before it is yielded; nothing else ever does.
* With a ``HistoryStore``, each fresh ``valido``/``no_existe`` answer is
  recorded there before the cache (the order ``history`` explains), in the
  cache's scope of the base URL, and every RUC row carries the change still
  pending for it as ``cambio``.
* Whether and when a failed request is tried again is decided in one place,
  ``request``: a transient failure and a 429 each spend their own budget, and a
  stopping stream says so to it explicitly.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import email.utils
import functools
import itertools
import json
import logging
import random
import re
import ssl
import sys
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Iterable,
    Sequence,
)
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal, Self
from urllib.parse import urlsplit

import stamina

from migo_cli.answers import AccountInfo, DniResult, ExchangeRate, LegalRepresentatives
from migo_cli.cache import CacheScope, ResultCache, cache_scope_for
from migo_cli.config import (
    ACCOUNT_CHECK_TIMEOUT,
    COLLECTION_MAX,
    FIRST_BATCH,
    CacheTTL,
    Limits,
    Retry,
    Timeout,
    redact,
    resolve_base_url,
    resolve_dialect,
    resolve_token,
)
from migo_cli.dialects import Dialect, Operation, Reply
from migo_cli.exceptions import (
    AccessDeniedError,
    APIError,
    AuthenticationError,
    EndpointNotFoundError,
    FatalAPIError,
    InvalidResponseError,
    InvalidValueError,
    NetworkError,
    NotFoundError,
    QuotaExceededError,
    RateLimitedError,
    RejectedValueError,
    RequestTimeoutError,
    ServerError,
    ServiceUnavailableError,
    TransientAPIError,
)
from migo_cli.history import HistoryEntry, HistoryScope, HistoryStore
from migo_cli.models import (
    Clock,
    LookupMode,
    Origin,
    RucResult,
    Status,
    check_dni,
    parse_date,
    today_in_lima,
)
from migo_cli.pace import Pace
from migo_cli.ruc import RucCheck, check_ruc
from migo_cli.settle import LookupSummary, Plan, settle

if TYPE_CHECKING:
    import aiohttp

__all__ = ["ClientStats", "LookupMode", "MigoClient", "cache_scope_for"]

log = logging.getLogger("migo.client")

#: Cache kinds of the other services (``CacheScope.get/put``); RUC answers have their own.
_DNI, _REPRESENTATIVES, _EXCHANGE, _EXCHANGE_RANGE = "dni", "representantes", "tc", "tc-rango"

_RUC_UNKNOWN = "SUNAT no registra este RUC"

#: How long the other requests wait for the first one's answer. A wrong token then
#: costs one call; a first RUC that hangs holds the rest back only this long.
PROBE_PATIENCE = 2.0

#: How many results may wait to be consumed (or to be put in order) before
#: the stream stops reading input: bounds memory on huge inputs.
DEFAULT_WINDOW = 20_000

_QUOTA_MESSAGE = re.compile(
    r"cr[ée]dito|saldo|agotad|sin consultas|consultas disponibles|l[ií]mite de consultas|quota",
    re.IGNORECASE,
)
#: A ``success: false`` that is about the token, not the RUC (SPEC §1).
_AUTH_MESSAGE = re.compile(r"token|unauthenticated|autentic|no autorizado", re.IGNORECASE)


@dataclass(slots=True)
class ClientStats:
    requests: int = 0  # every HTTP request sent
    lookup_requests: int = 0  # to the RUC endpoints: the resumen's ``llamadas_api``
    retries: int = 0
    rate_limited: int = 0


def _backoff(retry: Retry, number: int) -> float:
    """stamina's exponential backoff with jitter, counted over transient retries alone.

    The exponent stops growing long after ``wait_max`` is reached, so that
    ``--reintentos 2000`` cannot overflow a float.
    """
    growth = 2.0 ** min(number - 1, 64)
    return min(retry.wait_max, retry.wait_initial * growth + random.uniform(0, retry.wait_jitter))


def parse_retry_after(value: str | None, retry: Retry) -> float:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return retry.default_retry_after
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return retry.default_retry_after
    return min(max(seconds, 0.0), retry.max_retry_after)


class MigoClient:
    """Async APIMIGO client; use as ``async with MigoClient(token) as client:``.

    ``token``/``base_url`` default to ``MIGO_TOKEN``/``MIGO_BASE_URL`` (then the
    config file / https://api.migo.pe). Pass ``cache`` to never pay twice for an
    answer, ``history`` to learn what changed since the last answer (``cambio``,
    ``history_of``), and ``session`` to bring your own aiohttp session (it is
    not closed).
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str | None = None,
        limits: Limits | None = None,
        timeout: Timeout | None = None,
        retry: Retry | None = None,
        cache: ResultCache | None = None,
        session: aiohttp.ClientSession | None = None,
        api: Dialect | str | None = None,
        history: HistoryStore | None = None,
    ) -> None:
        self._token = resolve_token(token)
        self.base_url = resolve_base_url(base_url)
        self.dialect = resolve_dialect(api)
        self.limits = limits or Limits()
        self.timeout = timeout or Timeout()
        self.retry = retry or Retry()
        scope = cache_scope_for(self.base_url)
        self.cache = CacheScope(cache, scope)
        self.stats = ClientStats()
        #: This upstream's history (the cache's scope): a simulator's never mixes with APIMIGO's.
        self.history: HistoryScope | None = None if history is None else history.scope(scope)
        self._session = session
        self._owns_session = session is None
        self._pace = Pace(self.limits.concurrency, self.limits.rpm)
        self.clock = Clock()  # stamps ``consultado_en`` on lookups
        self._fatal: FatalAPIError | None = None
        self._gate = asyncio.Event()  # set once the first paid request has been answered
        self._probing = False
        #: The credit check's ``/account`` sent before aiohttp was imported (``preflight``).
        self._early: concurrent.futures.Future[Reply] | None = None
        self._early_taken = False
        self._early_info: AccountInfo | None = None  # what it said, once accepted

    def __repr__(self) -> str:  # the token stays out of reprs, logs and tracebacks
        return f"MigoClient(base_url={self.base_url!r}, api={self.dialect.name!r})"

    async def __aenter__(self) -> Self:
        # The aiohttp session is made by the first request (``_ensure_session``): a
        # client that answers from the cache alone never needs one.
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            # Here, not at import: aiohttp (0.1-0.2 s) and the version, read from the
            # package's metadata, are what an answer from the cache never needs.
            import aiohttp

            from migo_cli._version import __version__

            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(
                    total=self.timeout.total, connect=self.timeout.connect
                ),
                connector=aiohttp.TCPConnector(limit=self.limits.concurrency, ttl_dns_cache=300),
                headers={"User-Agent": f"migo/{__version__}"},
            )
        return self._session

    # -- one request ---------------------------------------------------------

    async def request(
        self,
        operation: Operation,
        values: dict[str, Any] | None = None,
        *,
        stopping: Callable[[], bool] | None = None,
    ) -> Any:
        """Ask APIMIGO for ``operation`` with ``values``; the parsed JSON on success.

        The dialect decides the method, path and where the token travels. Raises
        ``NotFoundError`` for a well-formed value APIMIGO does not know,
        ``RejectedValueError`` for one its validation refuses (422),
        ``FatalAPIError`` subclasses for token, access, credit and URL problems,
        and the last failure once retrying is over.

        The whole retry policy is ``on`` below, stamina's hook, deciding per failure:

        * a transient failure (5xx, timeout, reset, unreadable body) is retried up
          to ``Retry.retries`` times, with exponential backoff and jitter;
        * a 429 is retried after its ``Retry-After`` (the pace holds every other
          request back as long), up to ``Retry.rate_limit_waits`` times, without
          spending the transient budget;
        * once ``stopping()`` is true (a stream was stopped or halted), nothing is;
        * anything else is raised at once.

        The first attempt is sent before ``retry_context`` is built: setting that
        up costs as much as a whole request on loopback (benchmark figure 3), and
        most requests succeed at once. When it fails and ``on`` says retry, the
        wait ``on`` chose is slept here (instant in stamina's testing mode, like
        the waits stamina sleeps), and the other attempts run under stamina.
        """
        values = values or {}
        retry = self.retry
        transient = rate_limited = 0

        def on(exc: Exception) -> float | Literal[False]:
            nonlocal transient, rate_limited
            if not isinstance(exc, TransientAPIError) or (stopping is not None and stopping()):
                return False
            if isinstance(exc, RateLimitedError):
                rate_limited += 1
                return exc.retry_after if rate_limited <= retry.rate_limit_waits else False
            transient += 1
            if transient > retry.retries:
                return False
            self.stats.retries += 1
            log.debug("reintento%s: %s", f" de {exc.ruc}" if exc.ruc else "", exc)
            return _backoff(retry, transient)

        try:
            return await self._send(operation, values)
        except TransientAPIError as exc:
            if (wait := on(exc)) is False:
                raise
        await asyncio.sleep(0.0 if stamina.is_testing() else wait)
        async for attempt in stamina.retry_context(
            on=on,  # the budgets above bound the attempts; this bound is never reached first
            attempts=retry.retries + retry.rate_limit_waits,
            timeout=None,
        ):
            with attempt:
                return await self._send(operation, values)
        raise AssertionError("unreachable: stamina re-raises the last failure")  # pragma: no cover

    async def _send(self, operation: Operation, values: dict[str, Any]) -> Any:
        if self._early is not None and not self._early_taken and self._early.done():
            self._adopt_account(self._early)  # now, not a loop turn later: the gate may open
        if self._fatal is not None:
            raise self._refused()
        probing = False
        # Only paid requests wait for the first one: a free answer (the credit check)
        # says nothing about whether the next lookup will be refused.
        if operation.is_paid and not self._gate.is_set():
            if self._probing:
                try:
                    await asyncio.wait_for(self._gate.wait(), PROBE_PATIENCE)
                except TimeoutError:
                    self._gate.set()  # the first request is slow, not necessarily wrong
                if self._fatal is not None:
                    raise self._refused()
            else:
                self._probing = probing = True
        try:
            return await self._exchange(operation, values)
        finally:
            if probing:
                self._probing = False
                self._gate.set()

    def _adopt_account(self, answer: concurrent.futures.Future[Reply]) -> None:
        """What the early ``/account`` said about the token, as if aiohttp had carried it.

        Taken once, from whichever comes first: the loop hearing that the thread
        is done, or a request that finds it done (the loop may have been busy
        importing aiohttp). An answer to an earlier check is not taken.
        """
        if answer is not self._early or self._early_taken:
            return
        exc = answer.exception()
        self._early_taken = True
        if exc is not None:
            log.debug("la consulta anticipada de la cuenta no respondió (%s)", exc)
            return
        reply = answer.result()
        self.stats.requests += 1
        where: dict[str, Any] = {"endpoint": self.dialect.path(Operation.ACCOUNT), "ruc": None}
        try:
            body = self._classify(Operation.ACCOUNT, reply, where)
        except FatalAPIError as exc:
            if self._fatal is not None:  # stopped: whoever waits at the gate is refused
                self._gate.set()
            else:  # a missing /account (a wrong --base-url?): the lone first lookup will tell
                log.debug("la consulta anticipada de la cuenta falló (%s)", exc)
            return
        except APIError as exc:  # no verdict: the first lookup goes alone, as ever
            log.debug("la consulta anticipada de la cuenta falló (%s)", exc)
            return
        info = AccountInfo.from_api(body if isinstance(body, dict) else {})
        self._early_info = info
        if info.credits != 0:  # an empty account: let the lone first lookup hear the 402
            self._gate.set()

    async def _exchange(self, operation: Operation, values: dict[str, Any]) -> Any:
        route = self.dialect.route(operation)
        if route is None:
            raise InvalidValueError(
                f"la API {self.dialect.name} de APIMIGO no ofrece {operation.value}"
                " (pruebe con --api v2)"
            )
        session = self._ensure_session()
        ruc = values.get("ruc") if isinstance(values.get("ruc"), str) else None
        call = route.request(self._token, values)
        url = self.base_url + call.path
        where: dict[str, Any] = {"endpoint": call.path, "ruc": ruc}
        async with self._pace.slot():
            if self._fatal is not None:
                raise self._refused()
            self.stats.requests += 1
            if operation.is_lookup:
                self.stats.lookup_requests += 1
            try:
                # Never follow a redirect: APIMIGO redirects a rejected token to a login
                # page, and a redirect must never carry the token to another host.
                async with session.request(
                    call.method,
                    url,
                    json=call.json,
                    params=call.params,
                    headers=call.headers,
                    allow_redirects=False,
                ) as response:
                    body = await response.read()
                    status = response.status
                    retry_after = response.headers.get("Retry-After")
                    location = response.headers.get("Location")
            except TimeoutError as exc:
                raise RequestTimeoutError(
                    f"APIMIGO no respondió en {self.timeout.total:g} s", **where
                ) from exc
            except _client_error() as exc:  # evaluated only when something was raised
                raise NetworkError(_network_reason(exc, url), **where) from exc
        reply = Reply(status, body, retry_after, location, url)
        return self._classify(operation, reply, where)

    def _classify(self, operation: Operation, reply: Reply, where: dict[str, Any]) -> Any:
        """SPEC §1's table, in one place, for both dialects."""
        status = reply.status
        where = {"status": status, **where}
        if 300 <= status < 400:
            target = f" a {reply.location}" if reply.location else ""
            raise self._poison(
                AuthenticationError(
                    f"APIMIGO respondió con una redirección (HTTP {status}{target}) en lugar de "
                    "datos: no aceptó el token",
                    **where,
                )
            )
        if status == 401:
            raise self._poison(AuthenticationError("APIMIGO rechazó el token (HTTP 401)", **where))
        if status == 429:
            self.stats.rate_limited += 1
            wait = parse_retry_after(reply.retry_after, self.retry)
            self._pace.rate_limited(wait)
            raise RateLimitedError(
                f"límite de consultas de APIMIGO (HTTP 429), espera {wait:g} s",
                retry_after=wait,
                **{k: v for k, v in where.items() if k != "status"},
            )
        self._pace.succeeded()
        if status >= 500:
            raise ServerError(f"error del servidor de APIMIGO (HTTP {status})", **where)
        try:
            body = json.loads(reply.body)
        except ValueError:
            body = None
        message = self._message(body)
        refused = isinstance(body, dict) and body.get("success") is False
        if refused and _AUTH_MESSAGE.search(message):
            raise self._poison(AuthenticationError(f"APIMIGO rechazó el token: {message}", **where))
        if status == 402 or (refused and _QUOTA_MESSAGE.search(message)):
            said = f": {message}" if message else ""
            raise self._poison(
                QuotaExceededError(
                    f"APIMIGO: sin consultas disponibles (HTTP {status}){said}", **where
                )
            )
        if status == 403:
            said = f": {message}" if message else ""
            raise self._poison(
                AccessDeniedError(f"APIMIGO denegó el acceso (HTTP 403){said}", **where)
            )
        if status == 404 and refused:
            raise NotFoundError(message or "no existe", **where)
        if status in (404, 405):
            error = EndpointNotFoundError(
                f"la dirección {reply.url} no existe en APIMIGO (HTTP {status}); revise "
                f"--base-url (ahora {self.base_url}) y --api (ahora {self.dialect.name})",
                **where,
            )
            # The credit check is informative: a missing /account must not stop lookups.
            raise error if operation is Operation.ACCOUNT else self._poison(error)
        if status == 422:
            raise RejectedValueError(message or "dato no válido", **where)
        if refused:
            if status >= 400:
                raise APIError(f"APIMIGO rechazó la consulta (HTTP {status}): {message}", **where)
            raise NotFoundError(message or "no existe", **where)
        if status >= 400:
            said = f": {message}" if message else ""
            raise APIError(f"APIMIGO rechazó la consulta (HTTP {status}){said}", **where)
        if body is None:
            raise InvalidResponseError(
                f"respuesta ilegible de APIMIGO (HTTP {status}, no es JSON)", **where
            )
        if isinstance(body, list) or (isinstance(body, dict) and body.get("success") is True):
            return body
        raise InvalidResponseError("respuesta de APIMIGO sin el campo 'success'", **where)

    def _message(self, body: Any) -> str:
        """APIMIGO's words (``message``, else the first validation error), token masked."""
        if not isinstance(body, dict):
            return ""
        text = body.get("message")
        errors = body.get("errors")
        if not isinstance(text, str) or not text.strip():
            text = _first_error(errors)
        if not isinstance(text, str):
            return ""
        return " ".join(redact(text, self._token).split())[:200]

    def _poison(self, exc: FatalAPIError) -> FatalAPIError:
        if self._fatal is None:
            self._fatal = exc
            log.error("%s; no se enviarán más consultas", exc)
        return exc

    def _refused(self) -> FatalAPIError:
        fatal = self._fatal
        assert fatal is not None
        return type(fatal)(str(fatal), status=fatal.status, endpoint=fatal.endpoint)

    # -- RUC lookups -----------------------------------------------------------

    async def lookup_ruc(self, value: object) -> RucResult:
        """One RUC: local checks, then the cache, then APIMIGO (which may raise FatalAPIError).

        With a history, ``change`` stays on this RUC's rows (cached ones too) until
        its delivery is noted: ``lookup_batch``, ``migo masivo`` and ``migo consultar``
        do it; a caller of this method calls ``client.history.delivered([ruc])`` once
        it has shown it.
        """
        check = check_ruc(value)
        if check is None:
            raise InvalidValueError("RUC vacío")
        if not check.valid:
            return RucResult.rejected(check.raw, check.reason)
        cached = self.cache.get_ruc(check.ruc)
        return self._pending(cached) if cached is not None else await self._fetch_ruc(check.ruc)

    def history_of(self, ruc: object) -> list[HistoryEntry]:
        """One RUC's recorded timeline, oldest first (empty without a history store).

        Raises ``InvalidValueError`` for a malformed RUC.
        """
        check = check_ruc(ruc)
        if check is None or not check.valid:
            shown = "" if check is None else f" {check.raw!r}: {check.reason}"
            raise InvalidValueError(f"RUC no válido{shown}")
        return [] if self.history is None else self.history.timeline(check.ruc)

    async def _keep(self, result: RucResult) -> None:
        """Record a fresh answer in the history, then keep it in the cache; set its ``cambio``.

        Both commits are scheduled in this loop turn, the history's first, and run
        back to back at its end: one wait for both, and the same bursts for both.
        If the history fails, the answer is still kept in the cache (it was paid for),
        and the failure reaches the caller.
        """
        noted = None
        if self.history is not None:
            self.history.join_turn()  # even for an answer it does not record: it commits first
            if result.status in (Status.VALID, Status.NOT_FOUND):
                data = result.data if result.status is Status.VALID else None
                noted = self.history.noting(result.ruc, HistoryEntry.of(result.queried_at, data))
        kept = self.cache.keeping_ruc(result)  # scheduled after the history's, as is its commit
        if noted is not None:
            change = await noted
            if change is not None:
                result.change, result.change_severity = change.text, change.severity
        if kept is not None:
            await asyncio.shield(kept)

    def _pending(self, result: RucResult) -> RucResult:
        """Give a row the change not yet shown in a published output, if any."""
        if self.history is not None and result.status in (Status.VALID, Status.NOT_FOUND):
            change = self.history.pending(result.ruc)
            if change is not None:
                result.change, result.change_severity = change.text, change.severity
        return result

    async def _ask(
        self,
        operation: Operation,
        values: dict[str, Any],
        unknown: str,
        *,
        listing: bool = False,
        stopping: Callable[[], bool] | None = None,
    ) -> tuple[Status, str, dict[str, Any]]:
        """One lookup's outcome (SPEC §1): ``(status, motivo, body)``.

        ``valido`` with the answer, ``no_existe`` with ``unknown`` (plus
        APIMIGO's words), ``formato_invalido`` when APIMIGO's validation refused
        the value (422), or ``error`` after the retries. A ``FatalAPIError``
        propagates: it ends a batch, not a row. With ``listing``, a bare list
        answer is taken as ``{"data": [...]}``. ``stopping`` as in ``request``.
        """
        try:
            body = await self.request(operation, values, stopping=stopping)
        except NotFoundError as exc:
            return Status.NOT_FOUND, _unknown(unknown, str(exc)), {}
        except RejectedValueError as exc:
            return Status.INVALID, f"APIMIGO: {exc}", {}
        except FatalAPIError:
            raise
        except APIError as exc:
            return Status.ERROR, str(exc), {}
        if listing and isinstance(body, list):
            body = {"data": body}
        if not isinstance(body, dict):
            return Status.ERROR, "respuesta de APIMIGO con forma inesperada", {}
        return Status.VALID, "", body

    async def _fetch_ruc(self, ruc: str, stopping: Callable[[], bool] | None = None) -> RucResult:
        asked = await self._ask(Operation.RUC, {"ruc": ruc}, _RUC_UNKNOWN, stopping=stopping)
        result = RucResult(ruc, *asked, queried_at=self.clock.now())
        await self._keep(result)
        return result

    async def _fetch_collection(
        self, rucs: list[str], stopping: Callable[[], bool] | None = None
    ) -> list[RucResult]:
        """Up to 100 RUCs in one call; RUCs the answer does not settle are asked one by one."""
        try:
            body = await self.request(Operation.COLLECTION, {"ruc": rucs}, stopping=stopping)
            entries = _collection_entries(body)
        except FatalAPIError:
            raise
        except APIError as exc:
            log.info("respuesta de colección inutilizable (%s); consulta individual", exc)
            entries = {}
        results: list[RucResult] = []
        missing: list[str] = []
        answered = self.clock.now()
        for ruc in rucs:
            entry = entries.get(ruc)
            success = entry.get("success") if entry is not None else None
            if entry is None or not isinstance(success, bool):
                missing.append(ruc)
                continue
            if success:
                result = RucResult(ruc, Status.VALID, "", entry, queried_at=answered)
            else:
                reason = _unknown(_RUC_UNKNOWN, entry.get("message"))
                result = RucResult(ruc, Status.NOT_FOUND, reason, queried_at=answered)
            results.append(result)
        await asyncio.gather(*(self._keep(result) for result in results))
        if missing:
            asked = (self._fetch_ruc(ruc, stopping) for ruc in missing)
            results.extend(await asyncio.gather(*asked))
        return results

    async def stream(
        self,
        values: Iterable[object] | AsyncIterable[object],
        *,
        mode: LookupMode = LookupMode.INDIVIDUAL,
        ordered: bool = False,
        stop: asyncio.Event | None = None,
        on_result: Callable[[RucResult], None] | None = None,
        window: int = DEFAULT_WINDOW,
        first: FirstAnswers | None = None,
    ) -> AsyncGenerator[tuple[int, RucResult]]:
        """Look up many values; yields ``(position, result)`` as results are known.

        A value is anything ``check_ruc`` reads, or a ``RucCheck`` already made
        (then it is not checked again: a raw value refused once stays refused).

        ``position`` is the value's index in ``values`` (blank values yield
        nothing). ``ordered=True`` yields in input order (a result waits only for
        those before it, never for a batch). ``on_result`` sees each result the
        moment it arrives, whatever the order. Setting ``stop`` ends the stream
        early: nothing new is sent, failures are not retried, in-flight requests
        finish. A ``FatalAPIError`` (token, credits) or ``ServiceUnavailableError``
        (``Retry.give_up_after`` RUCs failed in a row) is raised after every result
        already paid for has been yielded; positions never yielded got no answer.

        ``first`` answers what it can before the cache and APIMIGO (the padrón,
        for ``--fuente auto``): it gets the well-formed checks ``FIRST_BATCH`` at
        a time and returns a result or None for each; only the Nones are asked.
        Its answers cost nothing, so they keep coming after a fatal error (the
        rest of the input is still read); only ``stop`` ends them.
        """
        stream = _Stream(
            self,
            mode=mode,
            ordered=ordered,
            stop=stop or asyncio.Event(),
            on_result=on_result,
            window=window,
            first=first,
        )
        async for item in stream.run(values):
            yield item

    async def lookup_many(
        self, values: Iterable[object] | AsyncIterable[object], **options: Any
    ) -> AsyncIterator[RucResult]:
        """Results as they complete (see ``stream`` for the options)."""
        async for _, result in self.stream(values, **options):
            yield result

    async def lookup_batch(
        self,
        values: Iterable[object] | AsyncIterable[object],
        *,
        mode: LookupMode = LookupMode.INDIVIDUAL,
    ) -> LookupSummary:
        """Look up a list at once; a ``LookupSummary`` (``.to_dict()``: the service's shape).

        Blank values are skipped and duplicates (after normalisation) are looked
        up once; results keep the order of first appearance. Malformed RUCs are
        answered locally, cached answers from the cache. A rejected token or
        exhausted credits does not raise: the summary's ``fatal`` is set and
        the values left unanswered are in ``errors``. This is ``settle`` (the
        engine of ``migo masivo``) with the rows kept in a list.
        """
        started = time.monotonic()
        if isinstance(values, AsyncIterable):
            values = [value async for value in values]
        results: list[RucResult] = []

        def lookup(
            checks: Sequence[RucCheck], arrived: Callable[[RucResult], None]
        ) -> AsyncGenerator[tuple[int, RucResult]]:
            return self.stream(checks, mode=mode, ordered=True, on_result=arrived)

        settled = await settle(Plan.of(values), lookup, lambda _, r: results.append(r))
        if self.history is not None:  # handed to the caller: a rerun from the cache shows none
            self.history.delivered(r.ruc for r in results if r.change)
        duration_ms = round((time.monotonic() - started) * 1000)
        return LookupSummary(results, duration_ms, settled=settled)

    # -- the other services (SPEC §1) --------------------------------------------

    async def lookup_dni(self, dni: object) -> DniResult:
        """One DNI (RENIEC): the cache, then APIMIGO; never raises for an unknown DNI.

        Raises ``InvalidValueError`` (before any request) unless ``dni`` is
        exactly 8 digits, and ``FatalAPIError`` for token or credit problems; a
        DNI still failing after the retries is a result with status ``error``.
        """
        number = check_dni(dni)
        cached = DniResult.from_cache(number, self.cache.get(_DNI, number))
        if cached is not None:
            return cached
        status, reason, body = await self._ask(
            Operation.DNI, {"dni": number}, "RENIEC no registra este DNI"
        )
        result = DniResult(number, status, reason, _data(body, "dni"))
        if status is Status.ERROR:
            return result
        ttl = self.cache.ttl
        expire = ttl.dni if result.found else ttl.not_found
        self.cache.put(_DNI, number, result.cache_entry(), expire)
        return result

    async def legal_representatives(self, ruc: object) -> LegalRepresentatives:
        """The legal representatives of a RUC: the cache, then APIMIGO.

        Raises ``InvalidValueError`` (before any request) for a malformed RUC and
        ``FatalAPIError`` for token or credit problems; an unknown RUC is status
        ``no_existe``, one still failing after the retries ``error``.
        """
        check = check_ruc(ruc)
        if check is None:
            raise InvalidValueError("RUC vacío")
        if not check.valid:
            raise InvalidValueError(f"RUC no válido {check.raw!r}: {check.reason}")
        number = check.ruc
        cached = LegalRepresentatives.from_cache(number, self.cache.get(_REPRESENTATIVES, number))
        if cached is not None:
            return cached
        status, reason, body = await self._ask(
            Operation.REPRESENTATIVES, {"ruc": number}, _RUC_UNKNOWN, listing=True
        )
        if status is not Status.VALID:
            result = LegalRepresentatives(number, status, reason)
            if status is Status.ERROR:
                return result
        else:
            people = body.get("data")
            if not isinstance(people, list):
                reason = "respuesta de APIMIGO sin lista de representantes"
                return LegalRepresentatives(number, Status.ERROR, reason)
            kept = tuple(p for p in people if isinstance(p, dict))
            result = LegalRepresentatives(number, Status.VALID, "", kept)
        ttl = self.cache.ttl
        expire = ttl.representatives if result.found else ttl.not_found
        self.cache.put(_REPRESENTATIVES, number, result.cache_entry(), expire)
        return result

    async def exchange_rate(self, day: date | str | None = None) -> ExchangeRate:
        """SUNAT's dollar exchange rate for ``day`` (``YYYY-MM-DD``), or the latest published.

        Cached: a past day's rate never changes (``CacheTTL.exchange_past``);
        today's and the latest for ``CacheTTL.exchange_today``. Raises
        ``InvalidValueError`` for a date that is not real (before any request),
        ``NotFoundError`` when APIMIGO has no rate for that day, other
        ``APIError`` subclasses when it did not answer.
        """
        if day is None:
            key, operation, payload, requested = "latest", Operation.EXCHANGE_LATEST, {}, None
        else:
            requested = parse_date(day).isoformat()
            key, operation, payload = requested, Operation.EXCHANGE_DATE, {"fecha": requested}
        cached = ExchangeRate.from_cache(self.cache.get(_EXCHANGE, key), requested)
        if cached is not None:
            return cached
        body = await self.request(operation, payload)
        if not isinstance(body, dict):
            raise InvalidResponseError("respuesta de tipo de cambio con forma inesperada")
        rate = ExchangeRate.from_api(body, requested=requested)
        ttl = self.cache.ttl
        if requested is None:
            self.cache.put(_EXCHANGE, key, rate.cache_entry(), ttl.exchange_today)
        elif rate.day != requested:  # e.g. a Sunday answered with Saturday's rate
            self._keep_rate(rate, ttl, requested)
        self._keep_rate(rate, ttl)
        return rate

    async def exchange_rates(self, start: date | str, end: date | str) -> list[ExchangeRate]:
        """The rates from ``start`` to ``end`` (inclusive, ``YYYY-MM-DD``), as APIMIGO lists them.

        A range that ends before today is cached for good
        (``CacheTTL.exchange_past``), one reaching today for
        ``CacheTTL.exchange_today``; each past day is also kept for
        ``exchange_rate``. Raises ``InvalidValueError`` when a date is not real or
        ``start`` is after ``end`` (before any request), ``APIError`` subclasses
        when APIMIGO did not answer.
        """
        first, last = parse_date(start, "desde"), parse_date(end, "hasta")
        if first > last:
            raise InvalidValueError(f"la fecha inicial ({first}) es posterior a la final ({last})")
        key = f"{first}|{last}"
        entry = self.cache.get(_EXCHANGE_RANGE, key)
        if isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], list):
            items, queried_at = entry
            return [
                ExchangeRate.from_api(i, origin=Origin.CACHE, queried_at=str(queried_at))
                for i in items
                if isinstance(i, dict)
            ]
        payload = {"fecha_inicio": first.isoformat(), "fecha_fin": last.isoformat()}
        body = await self.request(Operation.EXCHANGE_RANGE, payload)
        items = body.get("data") if isinstance(body, dict) else body
        if not isinstance(items, list):
            raise InvalidResponseError("respuesta de tipo de cambio sin lista de fechas")
        rates = [ExchangeRate.from_api(i) for i in items if isinstance(i, dict)]
        ttl = self.cache.ttl
        if rates:  # an empty answer may be a passing glitch: never kept for a year
            expire = ttl.exchange_past if last < today_in_lima() else ttl.exchange_today
            entry = ([dict(r.data) for r in rates], rates[0].queried_at)
            self.cache.put(_EXCHANGE_RANGE, key, entry, expire)
        for rate in rates:
            self._keep_rate(rate, ttl)
        return rates

    def _keep_rate(self, rate: ExchangeRate, ttl: CacheTTL, under: str | None = None) -> None:
        """Cache a rate under its own day (or ``under``): for good once that day is over."""
        try:
            day = date.fromisoformat(under or rate.day)
        except ValueError:
            return
        expire = ttl.exchange_past if day < today_in_lima() else ttl.exchange_today
        self.cache.put(_EXCHANGE, day.isoformat(), rate.cache_entry(), expire)

    async def account(self) -> AccountInfo:
        """The account and its remaining credits (never cached; not a lookup: free).

        Raises ``APIError`` subclasses when APIMIGO does not answer with it
        (``NotFoundError`` if the endpoint is not there).
        """
        body = await self.request(Operation.ACCOUNT)
        if not isinstance(body, dict):
            raise InvalidResponseError("respuesta de la cuenta con forma inesperada")
        return AccountInfo.from_api(body)

    async def remaining_credits(
        self, *, patience: float = ACCOUNT_CHECK_TIMEOUT, threaded: bool | None = None
    ) -> int | None:
        """Best effort: the credits left, or None when ``/account`` does not say.

        One attempt, no retries, ``patience`` seconds at most: for a check before
        a batch, which must not hold it back. Any failure gives None (logged at
        debug level). A rejected token still stops the client as always: the
        lookups that follow are refused without being sent; an accepted one with
        credits left spares them the lone first lookup.

        ``threaded``: send it by the standard library from a thread
        (``preflight``) rather than through the aiohttp session. By default, only
        while this client has no session and aiohttp is not imported yet: a
        process's first request, whose round trip then overlaps that import.
        """
        if threaded is None:
            threaded = self._session is None and "aiohttp" not in sys.modules
        if threaded and self._fatal is None:
            return await self._credits_by_thread(patience)
        try:
            async with asyncio.timeout(patience):
                body = await self._send(Operation.ACCOUNT, {})
        except (APIError, TimeoutError) as exc:
            log.debug("no se pudo consultar la cuenta (%s)", str(exc) or "sin respuesta")
            return None
        if not isinstance(body, dict):
            log.debug("respuesta de la cuenta con forma inesperada")
            return None
        return AccountInfo.from_api(body).credits

    async def _credits_by_thread(self, patience: float) -> int | None:
        """``remaining_credits`` by the standard library, while the first lookups import aiohttp.

        The credit check is a batch's first request; sent from a thread, its round
        trip overlaps the import instead of following it, and its verdict on the
        token usually comes before the first lookup is sent (``_adopt_account``).
        """
        from migo_cli.preflight import ask_account

        early = self._early = ask_account(
            self._token, self.base_url, self.dialect, timeout=min(self.timeout.total, patience)
        )
        self._early_taken, self._early_info = False, None
        waiting = asyncio.wrap_future(early)
        waiting.add_done_callback(functools.partial(self._on_early_account, early))
        try:
            async with asyncio.timeout(patience):
                await asyncio.shield(waiting)
        except TimeoutError:
            log.debug("la cuenta no respondió en %g s", patience)
            return None
        except Exception:  # said by _adopt_account (debug)
            return None
        return None if self._early_info is None else self._early_info.credits

    def _on_early_account(
        self, early: concurrent.futures.Future[Reply], waiting: asyncio.Future[Reply]
    ) -> None:
        if waiting.cancelled():
            return
        waiting.exception()  # retrieved here, even after the check stopped waiting
        self._adopt_account(early)


def _client_error() -> type[aiohttp.ClientError]:
    from aiohttp import ClientError  # imported already: a request was sent

    return ClientError


def _network_reason(exc: aiohttp.ClientError, url: str) -> str:
    """A Spanish sentence naming the host and the cause, never a Python class name."""
    import aiohttp

    host = urlsplit(url).hostname or url
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"certificado TLS inválido para {host}"
    if isinstance(exc, aiohttp.ClientSSLError) or isinstance(
        getattr(exc, "os_error", None), ssl.SSLError
    ):
        return f"falló la conexión segura (TLS) con {host}"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"no se encontró el servidor {host} (DNS)"
    if isinstance(exc, aiohttp.ClientConnectorError):
        cause = exc.os_error
        if isinstance(cause, ConnectionRefusedError):
            return f"no se pudo conectar con {host}: conexión rechazada"
        return f"no se pudo conectar con {host}: {cause.strerror or 'sin ruta al servidor'}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return f"{host} cerró la conexión sin responder"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return f"la respuesta de {host} llegó incompleta"
    if isinstance(exc, aiohttp.ClientOSError) and isinstance(exc.__cause__ or exc, OSError):
        return f"la conexión con {host} se interrumpió"
    return f"falla de red al consultar {host}"


def _first_error(errors: object) -> str | None:
    """The first message of a Laravel validation answer (``{"errors": {"ruc": ["..."]}}``)."""
    if isinstance(errors, dict):
        for messages in errors.values():
            if isinstance(messages, list) and messages and isinstance(messages[0], str):
                return messages[0]
            if isinstance(messages, str):
                return messages
    return None


def _data(body: dict[str, Any], *skip: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "success" and k not in skip}


def _unknown(prefix: str, message: object) -> str:
    """Why a value is ``no_existe``: our words, then APIMIGO's when it said more."""
    text = " ".join(message.split()) if isinstance(message, str) else ""
    return f"{prefix} ({text})" if text and text != "no existe" else prefix


def _collection_entries(body: Any) -> dict[str, dict[str, Any]]:
    """A collection answer by RUC; raises InvalidResponseError when it has no usable list."""
    if isinstance(body, dict):
        body = body.get("data")
    if not isinstance(body, list):
        raise InvalidResponseError("respuesta de colección sin lista de resultados")
    return {
        str(entry["ruc"]): entry
        for entry in body
        if isinstance(entry, dict) and isinstance(entry.get("ruc"), str | int)
    }


async def _one_at_a_time(values: AsyncIterable[object]) -> AsyncIterator[list[tuple[int, object]]]:
    position = 0
    async for value in values:
        yield [(position, value)]
        position += 1


async def _runs_of(
    runs: AsyncIterable[list[tuple[int, object]]], size: int
) -> AsyncIterator[list[tuple[int, object]]]:
    batch: list[tuple[int, object]] = []
    async for run in runs:
        batch.extend(run)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def _slices(values: Iterable[object], size: int) -> AsyncIterator[list[tuple[int, object]]]:
    numbered = enumerate(values)
    while run := list(itertools.islice(numbered, size)):
        yield run


# A job: (sequence number, input position, RUC) for each RUC it asks about.
_Job = list[tuple[int, int, str]]
# None: a job dropped after a fatal error; its place in the order is passed over.
_Outgoing = tuple[int, int, RucResult | None]
_DONE = object()

#: Answers some well-formed RUCs before the cache and APIMIGO (``stream``'s ``first``).
FirstAnswers = Callable[[Sequence[RucCheck]], Sequence[RucResult | None]]


class _Window:
    """How many results the feeder may have ahead of the consumer.

    A counter, and a future only while the feeder waits for room. An
    ``asyncio.Semaphore`` does the same, but costs a coroutine and a scan of
    its waiters for every value, a visible share of a cached answer's cost.
    """

    __slots__ = ("ahead", "room", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self.ahead = 0
        self.room: asyncio.Future[None] | None = None

    @property
    def full(self) -> bool:
        return self.ahead >= self.size

    def release(self) -> None:
        self.ahead -= 1
        if self.room is not None and not self.room.done():
            self.room.set_result(None)

    async def take(self, ends: asyncio.Event) -> bool:
        """One place, or False when ``ends`` is set while waiting for one."""
        while self.full:
            if ends.is_set():
                return False
            room = self.room = asyncio.get_running_loop().create_future()
            ended = asyncio.ensure_future(ends.wait())
            either: set[asyncio.Future[Any]] = {room, ended}
            try:
                await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            finally:
                ended.cancel()
                self.room = None
        if ends.is_set():
            return False
        self.ahead += 1
        return True


class _Stream:
    """One run of ``MigoClient.stream``: a feeder, a pool of workers, one outbox.

    The feeder checks each value locally and against the cache (those answers go
    straight out) and queues the rest as jobs of one RUC, or of up to 100 in
    collection mode. ``concurrency`` workers take jobs as they free up, so there
    is no batch barrier. A window semaphore, released as results are yielded,
    keeps the feeder at most ``window`` results ahead of the consumer.
    """

    def __init__(
        self,
        client: MigoClient,
        *,
        mode: LookupMode,
        ordered: bool,
        stop: asyncio.Event,
        on_result: Callable[[RucResult], None] | None,
        window: int,
        first: FirstAnswers | None = None,
    ) -> None:
        self.client = client
        self.chunk = COLLECTION_MAX if mode is LookupMode.COLLECTION else 1
        self.ordered = ordered
        self.stop = stop
        self.halt = asyncio.Event()  # stop requested, or a fatal error
        self.first = first
        # What ends the reading of the input: with free answers to give, only a stop.
        self.ends_feeding = stop if first is not None else self.halt
        self.on_result = on_result
        self.workers = client.limits.concurrency
        # The window must hold every job in flight or queued, or the feeder could wait forever.
        self.window = _Window(max(window, 2 * (self.workers + 1) * self.chunk))
        self.jobs: asyncio.Queue[_Job | None] = asyncio.Queue(maxsize=self.workers)
        self.outbox: asyncio.Queue[_Outgoing | object] = asyncio.Queue()
        self.fatal: FatalAPIError | None = None
        self.gave_up: ServiceUnavailableError | None = None
        self.failures_in_a_row = 0

    def _emit(self, seq: int, position: int, result: RucResult) -> None:
        if self.on_result is not None:
            self.on_result(result)
        self.outbox.put_nowait((seq, position, result))

    def _drop(self, job: _Job) -> None:
        """A job that will never be answered: ordered output passes over its places."""
        for seq, position, _ in job:
            self.outbox.put_nowait((seq, position, None))

    async def _checks(
        self, values: Iterable[object] | AsyncIterable[object]
    ) -> AsyncIterator[list[tuple[int, RucCheck, RucResult | None]]]:
        """The non-blank values checked, in runs, each with ``first``'s answer (None: ask on).

        A run is what the source holds at hand: up to ``FIRST_BATCH`` values of an
        in-memory list (one hop of this generator for many values), one value of
        an async source (it may be slow: each value goes on as it arrives), unless
        ``first`` needs a batch to answer it in one query.
        """
        if isinstance(values, AsyncIterable):
            runs: AsyncIterable[list[tuple[int, object]]] = _one_at_a_time(values)
            if self.first is not None:
                runs = _runs_of(runs, FIRST_BATCH)
        else:
            runs = _slices(values, FIRST_BATCH)
        async for run in runs:
            checked: list[tuple[int, RucCheck]] = []
            for position, value in run:
                check = value if isinstance(value, RucCheck) else check_ruc(value)
                if check is not None:
                    checked.append((position, check))
            if self.first is None:
                yield [(position, check, None) for position, check in checked]
            elif checked:
                yield self._answer_first(checked)

    def _answer_first(
        self, batch: list[tuple[int, RucCheck]]
    ) -> list[tuple[int, RucCheck, RucResult | None]]:
        assert self.first is not None
        valid = [check for _, check in batch if check.valid]
        answers = iter(self.first(valid))
        return [(p, c, next(answers) if c.valid else None) for p, c in batch]

    async def _feed(self, values: Iterable[object] | AsyncIterable[object]) -> None:
        job: _Job = []
        cache = self.client.cache
        clock = self.client.clock
        window = self.window
        seq = 0
        try:
            ended = False
            async for run in self._checks(values):
                kept = cache.get_rucs([c.ruc for _, c, first in run if c.valid and first is None])
                for position, check, answered in run:
                    if self.ends_feeding.is_set():
                        ended = True
                        break
                    if window.full:
                        if job:  # a partial chunk must not wait for its own window
                            await self.jobs.put(job)
                            job = []
                        if not await window.take(self.ends_feeding):
                            ended = True
                            break
                    else:
                        window.ahead += 1
                    seq += 1
                    if not check.valid:
                        local = RucResult.rejected(check.raw, check.reason, clock.now())
                        self._emit(seq - 1, position, local)
                        continue
                    if answered is not None:
                        self._emit(seq - 1, position, answered)
                        continue
                    cached = kept.get(check.ruc)
                    if cached is not None:
                        self._emit(seq - 1, position, self.client._pending(cached))
                        continue
                    if self.halt.is_set():  # after a fatal error: nothing more is paid for
                        window.release()
                        seq -= 1
                        continue
                    job.append((seq - 1, position, check.ruc))
                    if len(job) >= self.chunk:
                        await self.jobs.put(job)
                        job = []
                if ended:
                    break
                # Let the consumer write what was answered here (cache, padrón, local
                # checks) before the next run: rows flow, and results die young.
                await asyncio.sleep(0)
            if job:
                if self.halt.is_set():
                    self._drop(job)
                else:
                    await self.jobs.put(job)
        finally:
            for _ in range(self.workers):
                await self.jobs.put(None)

    def stopping(self) -> bool:
        """Once a stop is asked for or the run halts, failures are not retried.

        ``stop`` is read too: ``halt`` follows it only once ``_watch_stop`` has run.
        """
        return self.stop.is_set() or self.halt.is_set()

    async def _work(self) -> None:
        client = self.client
        while (job := await self.jobs.get()) is not None:
            if self.halt.is_set():
                self._drop(job)  # drain: these positions get no answer
                continue
            try:
                if self.chunk == 1:
                    seq, position, ruc = job[0]
                    result = await client._fetch_ruc(ruc, self.stopping)
                    self._emit(seq, position, result)
                    self._watch_health(result)
                    continue
                results = await client._fetch_collection([ruc for _, _, ruc in job], self.stopping)
            except FatalAPIError as exc:
                self.fatal = self.fatal or exc
                self.halt.set()
                self._drop(job)
                continue
            where = {ruc: (seq, position) for seq, position, ruc in job}
            for result in results:
                self._emit(*where[result.ruc], result)
                self._watch_health(result)

    def _watch_health(self, result: RucResult) -> None:
        """Stop asking once ``give_up_after`` RUCs in a row failed (see ``Retry``)."""
        if result.status is not Status.ERROR:
            self.failures_in_a_row = 0
            return
        self.failures_in_a_row += 1
        limit = self.client.retry.give_up_after
        if self.failures_in_a_row >= limit and self.gave_up is None:
            self.gave_up = ServiceUnavailableError(
                f"APIMIGO no responde: {limit} RUC seguidos terminaron en error "
                f"(el último: {result.reason})"
            )
            log.error("%s; no se consulta el resto", self.gave_up)
            self.halt.set()

    async def _watch_stop(self) -> None:
        await self.stop.wait()
        self.halt.set()

    async def _run_tasks(self, values: Iterable[object] | AsyncIterable[object]) -> None:
        watcher = asyncio.create_task(self._watch_stop())
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._feed(values))
                for _ in range(self.workers):
                    group.create_task(self._work())
        finally:
            watcher.cancel()
            self.outbox.put_nowait(_DONE)

    async def run(
        self, values: Iterable[object] | AsyncIterable[object]
    ) -> AsyncIterator[tuple[int, RucResult]]:
        runner = asyncio.create_task(self._run_tasks(values))
        held: dict[
            int, tuple[int, RucResult | None]
        ] = {}  # ordered mode: results ahead of their turn
        next_seq = 0
        try:
            while (item := await self.outbox.get()) is not _DONE:
                seq, position, result = item  # type: ignore[misc]
                if not self.ordered:
                    self.window.release()
                    if result is not None:
                        yield position, result
                    continue
                held[seq] = (position, result)
                while next_seq in held:
                    self.window.release()
                    position, result = held.pop(next_seq)
                    next_seq += 1
                    if result is not None:
                        yield position, result
            await runner  # re-raises a crash of the feeder or a worker
            for seq in sorted(held):  # after a stop or a fatal error: the gaps never fill
                position, result = held.pop(seq)
                if result is not None:
                    yield position, result
            if self.fatal is not None:
                raise self.fatal
            if self.gave_up is not None:
                raise self.gave_up
        finally:
            if not runner.done():
                runner.cancel()
                await asyncio.gather(runner, return_exceptions=True)
