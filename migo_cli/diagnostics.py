"""``migo diagnostico`` as a library call: is this machine ready to pay for lookups?

Each check says one thing in one line, so an operator can read what to fix. None
of them spends a lookup credit as far as APIMIGO documents: the token and the
route are tested with a RUC that APIMIGO's validation refuses (HTTP 422 comes
only after the token was accepted, and before any lookup), and the credits come
from the account endpoint, which is not a lookup.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from migo_cli.cache import ResultCache
from migo_cli.client import MigoClient
from migo_cli.config import (
    Retry,
    Timeout,
    default_cache_dir,
    find_token,
    resolve_base_url,
    resolve_dialect,
)
from migo_cli.dialects import Dialect, Operation
from migo_cli.exceptions import (
    APIError,
    EndpointNotFoundError,
    FatalAPIError,
    NotFoundError,
    PadronError,
    PadronMissingError,
    QuotaExceededError,
    RejectedValueError,
    UsageError,
)
from migo_cli.models import today_in_lima
from migo_cli.numfmt import format_number

__all__ = ["Check", "Diagnosis", "Outcome", "Problem", "diagnose"]

#: What the route check asks for: a value no validation accepts, so nothing is looked up.
PROBE_RUC = "0"


class Outcome(StrEnum):
    OK = "ok"
    FAILED = "falla"
    INFO = "info"  # worth knowing, never a failure (e.g. no padrón built)
    SKIPPED = "omitido"  # an earlier failure made this check meaningless


class Problem(StrEnum):
    """The kind of the first failure, which decides the exit code (SPEC §3)."""

    CONFIG = "configuracion"  # no token, wrong URL, unknown --api: exit 2
    REJECTED = "rechazo"  # token rejected, access denied, no credits: exit 3
    OTHER = "otro"  # the network, the server: exit 1


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    outcome: Outcome
    detail: str
    problem: Problem | None = None

    def to_dict(self) -> dict[str, str]:
        return {"control": self.name, "resultado": self.outcome.value, "detalle": self.detail}


@dataclass(slots=True)
class Diagnosis:
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(check.outcome is not Outcome.FAILED for check in self.checks)

    @property
    def problem(self) -> Problem | None:
        """The most serious failure: configuration, then rejection, then anything else."""
        found = {check.problem for check in self.checks if check.problem is not None}
        return next((p for p in Problem if p in found), None)

    def add(
        self, name: str, outcome: Outcome, detail: str, problem: Problem | None = None
    ) -> Check:
        check = Check(name, outcome, detail, problem if outcome is Outcome.FAILED else None)
        self.checks.append(check)
        return check


async def diagnose(
    token: str | None = None,
    *,
    base_url: str | None = None,
    api: Dialect | str | None = None,
    cache_dir: Path | None = None,
    limits: Timeout | None = None,
    padron_dir: Path | None = None,
) -> Diagnosis:
    """Run every check; never raises for what it checks (each failure is a ``Check``).

    ``padron_dir``: where the padrón's index is (default: ``MIGO_PADRON_DIR`` or the
    user data dir); a padrón not built is information, never a failure.

    ``limits`` bounds each request (``Timeout``); a check never retries.
    """
    report = Diagnosis()
    secret = _token(report, token)
    url = _base_url(report, base_url, api)
    if secret is not None and url is not None:
        dialect, base = url
        await _upstream(report, secret, base, dialect, limits or Timeout())
    else:
        for name in ("ruta", "token aceptado", "créditos"):
            report.add(name, Outcome.SKIPPED, "no se puede comprobar sin token y URL válidos")
    _cache(report, cache_dir)
    _padron(report, padron_dir)
    return report


def _padron(report: Diagnosis, directory: Path | None) -> None:
    """The local padrón: information either way (SPEC §3), a warning in words when it is old."""
    from migo_cli.padron.lookup import stale_warning
    from migo_cli.padron.store import PadronIndex

    try:
        with PadronIndex.open(directory) as index:
            info = index.info
    except PadronMissingError:
        report.add(
            "padrón",
            Outcome.INFO,
            "sin padrón local (--fuente padron|auto lo necesitan: migo padron actualizar)",
        )
        return
    except PadronError as exc:
        report.add("padrón", Outcome.INFO, f"{exc} (vuelva a crearlo: migo padron actualizar)")
        return
    today = today_in_lima()
    detail = (
        f"del {info.fecha.isoformat()} ({info.age_days(today)} días), "
        f"{format_number(info.filas)} RUC, en {info.ruta}"
    )
    warning = stale_warning(info, today)
    report.add("padrón", Outcome.INFO, f"{detail}; {warning}" if warning else detail)


def _token(report: Diagnosis, explicit: str | None) -> str | None:
    try:
        token, source = find_token(explicit)
    except UsageError as exc:
        report.add("token", Outcome.FAILED, str(exc), Problem.CONFIG)
        return None
    report.add("token", Outcome.OK, f"encontrado en {source} ({len(token)} caracteres)")
    return token


def _base_url(
    report: Diagnosis, explicit: str | None, api: Dialect | str | None
) -> tuple[Dialect, str] | None:
    try:
        base = resolve_base_url(explicit)
        dialect = resolve_dialect(api)
    except UsageError as exc:
        report.add("url base", Outcome.FAILED, str(exc), Problem.CONFIG)
        return None
    report.add("url base", Outcome.OK, f"{base} (API {dialect.name})")
    return dialect, base


async def _upstream(
    report: Diagnosis, token: str, base: str, dialect: Dialect, limits: Timeout
) -> None:
    async with MigoClient(
        token, base_url=base, api=dialect, timeout=limits, retry=Retry(retries=0)
    ) as client:
        route = dialect.route(Operation.RUC)
        assert route is not None  # every dialect looks RUCs up
        try:
            await client.request(Operation.RUC, {"ruc": PROBE_RUC})
        except (RejectedValueError, NotFoundError):
            pass  # the route answered as APIMIGO does, after accepting the token
        except EndpointNotFoundError as exc:
            report.add("ruta", Outcome.FAILED, str(exc), Problem.CONFIG)
            report.add("token aceptado", Outcome.SKIPPED, "la ruta de consulta no existe")
            report.add("créditos", Outcome.SKIPPED, "la ruta de consulta no existe")
            return
        except FatalAPIError as exc:
            report.add("ruta", Outcome.OK, f"{route.method} {route.path} responde")
            report.add("token aceptado", Outcome.FAILED, str(exc), Problem.REJECTED)
            report.add("créditos", Outcome.SKIPPED, "APIMIGO no aceptó el token")
            return
        except APIError as exc:
            report.add("ruta", Outcome.FAILED, str(exc), Problem.OTHER)
            report.add("token aceptado", Outcome.SKIPPED, "APIMIGO no respondió")
            report.add("créditos", Outcome.SKIPPED, "APIMIGO no respondió")
            return
        report.add("ruta", Outcome.OK, f"{route.method} {route.path} responde")
        report.add("token aceptado", Outcome.OK, "APIMIGO aceptó el token")
        await _credits(report, client)


async def _credits(report: Diagnosis, client: MigoClient) -> None:
    try:
        account = await client.account()
    except QuotaExceededError as exc:
        report.add("créditos", Outcome.FAILED, str(exc), Problem.REJECTED)
        return
    except EndpointNotFoundError:
        report.add("créditos", Outcome.INFO, "APIMIGO no informa los créditos en esta URL")
        return
    except FatalAPIError as exc:
        report.add("créditos", Outcome.FAILED, str(exc), Problem.REJECTED)
        return
    except APIError as exc:
        report.add("créditos", Outcome.FAILED, str(exc), Problem.OTHER)
        return
    if account.credits is None:
        report.add("créditos", Outcome.INFO, "la cuenta no informa un saldo (¿plan ilimitado?)")
    elif account.credits <= 0:
        report.add("créditos", Outcome.FAILED, "no quedan consultas disponibles", Problem.REJECTED)
    else:
        report.add("créditos", Outcome.OK, f"{account.credits} consultas disponibles")


def _cache(report: Diagnosis, cache_dir: Path | None) -> None:
    path = cache_dir or default_cache_dir()
    with ResultCache(path) as cache:
        info = cache.info() if cache.available else None
    if info is None or not os.access(path, os.W_OK):
        report.add("caché", Outcome.FAILED, f"{path}: no se puede escribir", Problem.CONFIG)
        return
    size = info.size_bytes / 2**20
    report.add("caché", Outcome.OK, f"{info.path} ({info.entries} entradas, {size:.1f} MiB)")
