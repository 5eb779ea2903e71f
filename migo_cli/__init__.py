"""migo: look up Peruvian RUCs in bulk through APIMIGO, without paying twice.

The library is what the ``migo`` command runs::

    from migo_cli import MigoClient

    async with MigoClient(token) as client:
        result = await client.lookup_ruc("20100038146")
        async for result in client.lookup_many(rucs):
            ...
        summary = await client.lookup_batch(rucs)   # .to_dict(): validos/invalidos/errores

    from migo_cli import Migo                        # the same, synchronous (scripts, Celery)

    with Migo(token) as migo:
        result = migo.lookup_ruc("20100038146")

Layout: ``ruc`` (local rules), ``dialects`` (APIMIGO's API 1.0 and 2.0 as a table of
routes), ``client`` (APIMIGO over aiohttp), ``pace``, ``diagnostics`` (``migo diagnostico``),
``cache`` (diskcache), ``history`` (each RUC's past answers), ``testing`` (no waits
in tests), ``readers``/``writers`` (files), ``batch`` (the
``masivo`` pipeline), ``progress``, ``simulator``, ``config`` (defaults),
``exceptions``, ``models`` (RUC results, DNI and date checks), ``answers`` (the DNI,
representatives, exchange-rate and account answers), ``padron`` (SUNAT's
padrón reducido kept locally: ``store``, ``lookup`` for ``--fuente``, ``ubigeo``), ``services``
(``lookup_batch``'s summary), ``sync`` (the synchronous ``Migo``), and ``cli`` (the
thin command on top), ``background`` (an event loop in a thread, for ``Migo`` and
``SimulatorThread``), ``render``/``spanish``/``numfmt`` (what a person reads).

Names are imported on first use (PEP 562): ``import migo_cli`` costs almost
nothing, and ``from migo_cli import MigoClient`` loads the client, not pandas.
Tests of code that calls migo turn every wait off with ``migo_cli.testing.no_waits()``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# The exception tree costs nothing to import; everything else waits to be used.
from migo_cli.exceptions import (
    AccessDeniedError,
    APIError,
    AuthenticationError,
    ConfigError,
    EndpointNotFoundError,
    FatalAPIError,
    InputError,
    InsecureBaseURLError,
    InvalidResponseError,
    InvalidValueError,
    MigoError,
    MissingTokenError,
    NetworkError,
    NotFoundError,
    OutputError,
    OutputLockedError,
    PadronError,
    PadronMissingError,
    QuotaExceededError,
    RateLimitedError,
    RejectedValueError,
    RequestTimeoutError,
    ServerError,
    TransientAPIError,
    UsageError,
)

if TYPE_CHECKING:
    from migo_cli._version import __version__
    from migo_cli.answers import AccountInfo, DniResult, ExchangeRate, LegalRepresentatives
    from migo_cli.batch import BatchJob, BatchReport, CreditCheck, run_batch
    from migo_cli.cache import CacheInfo, ResultCache
    from migo_cli.client import ClientStats, MigoClient
    from migo_cli.config import CacheTTL, Limits, Retry, Timeout
    from migo_cli.diagnostics import Check, Diagnosis, Outcome, Problem, diagnose
    from migo_cli.dialects import V1, V2, Dialect, Operation
    from migo_cli.history import Change, HistoryEntry, HistoryStore
    from migo_cli.models import (
        OUTPUT_COLUMNS,
        LookupMode,
        Origin,
        RucResult,
        Source,
        Status,
        check_dni,
        parse_date,
    )
    from migo_cli.padron.build import build_index
    from migo_cli.padron.lookup import PadronLookup
    from migo_cli.padron.store import PadronIndex, PadronInfo
    from migo_cli.padron.ubigeo import Place, place_of
    from migo_cli.progress import LogProgress, NullProgress, ProgressReporter, RichProgress
    from migo_cli.readers import InputTable, read_input
    from migo_cli.ruc import RucCheck, check_ruc, is_valid_ruc, normalize
    from migo_cli.settle import LookupSummary, Settlement, Tally
    from migo_cli.simulator import Simulator, SimulatorConfig, SimulatorThread
    from migo_cli.sync import Migo, MigoSync
    from migo_cli.writers import Output, ResultWriter, default_output, open_writer

#: Where each public name lives: its module is imported the first time the name is used.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "migo_cli._version": ("__version__",),
    "migo_cli.answers": ("AccountInfo", "DniResult", "ExchangeRate", "LegalRepresentatives"),
    "migo_cli.batch": ("BatchJob", "BatchReport", "CreditCheck", "run_batch"),
    "migo_cli.cache": ("CacheInfo", "ResultCache"),
    "migo_cli.client": ("ClientStats", "MigoClient"),
    "migo_cli.config": ("CacheTTL", "Limits", "Retry", "Timeout"),
    "migo_cli.diagnostics": ("Check", "Diagnosis", "Outcome", "Problem", "diagnose"),
    "migo_cli.dialects": ("V1", "V2", "Dialect", "Operation"),
    "migo_cli.history": ("Change", "HistoryEntry", "HistoryStore"),
    "migo_cli.models": (
        "OUTPUT_COLUMNS",
        "LookupMode",
        "Origin",
        "RucResult",
        "Source",
        "Status",
        "check_dni",
        "parse_date",
    ),
    "migo_cli.padron.lookup": ("PadronLookup",),
    "migo_cli.padron.build": ("build_index",),
    "migo_cli.padron.store": ("PadronIndex", "PadronInfo"),
    "migo_cli.padron.ubigeo": ("Place", "place_of"),
    "migo_cli.progress": ("LogProgress", "NullProgress", "ProgressReporter", "RichProgress"),
    "migo_cli.readers": ("InputTable", "read_input"),
    "migo_cli.ruc": ("RucCheck", "check_ruc", "is_valid_ruc", "normalize"),
    "migo_cli.settle": ("LookupSummary", "Settlement", "Tally"),
    "migo_cli.simulator": ("Simulator", "SimulatorConfig", "SimulatorThread"),
    "migo_cli.sync": ("Migo", "MigoSync"),
    "migo_cli.writers": ("Output", "ResultWriter", "default_output", "open_writer"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'migo_cli' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # found once: later uses skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "OUTPUT_COLUMNS",
    "V1",
    "V2",
    "APIError",
    "AccessDeniedError",
    "AccountInfo",
    "AuthenticationError",
    "BatchJob",
    "BatchReport",
    "CacheInfo",
    "CacheTTL",
    "Change",
    "Check",
    "ClientStats",
    "ConfigError",
    "CreditCheck",
    "Diagnosis",
    "Dialect",
    "DniResult",
    "EndpointNotFoundError",
    "ExchangeRate",
    "FatalAPIError",
    "HistoryEntry",
    "HistoryStore",
    "InputError",
    "InputTable",
    "InsecureBaseURLError",
    "InvalidResponseError",
    "InvalidValueError",
    "LegalRepresentatives",
    "Limits",
    "LogProgress",
    "LookupMode",
    "LookupSummary",
    "Migo",
    "MigoClient",
    "MigoError",
    "MigoSync",
    "MissingTokenError",
    "NetworkError",
    "NotFoundError",
    "NullProgress",
    "Operation",
    "Origin",
    "Outcome",
    "Output",
    "OutputError",
    "OutputLockedError",
    "PadronError",
    "PadronIndex",
    "PadronInfo",
    "PadronLookup",
    "PadronMissingError",
    "Place",
    "Problem",
    "ProgressReporter",
    "QuotaExceededError",
    "RateLimitedError",
    "RejectedValueError",
    "RequestTimeoutError",
    "ResultCache",
    "ResultWriter",
    "Retry",
    "RichProgress",
    "RucCheck",
    "RucResult",
    "ServerError",
    "Settlement",
    "Simulator",
    "SimulatorConfig",
    "SimulatorThread",
    "Source",
    "Status",
    "Tally",
    "Timeout",
    "TransientAPIError",
    "UsageError",
    "__version__",
    "build_index",
    "check_dni",
    "check_ruc",
    "default_output",
    "diagnose",
    "is_valid_ruc",
    "normalize",
    "open_writer",
    "parse_date",
    "place_of",
    "read_input",
    "run_batch",
]
