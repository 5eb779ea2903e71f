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
``cache`` (diskcache), ``readers``/``writers`` (files), ``batch`` (the
``masivo`` pipeline), ``progress``, ``simulator``, ``config`` (defaults),
``exceptions``, ``services`` (DNI, exchange rates, representatives, account, batch
summaries), ``sync`` (the synchronous ``Migo``), and ``cli`` (the thin command on top).
"""

from migo_cli._version import __version__
from migo_cli.batch import BatchJob, BatchReport, CreditCheck, run_batch
from migo_cli.cache import CacheInfo, ResultCache
from migo_cli.client import ClientStats, LookupMode, MigoClient
from migo_cli.config import CacheTTL, Limits, Retry, Timeout
from migo_cli.diagnostics import Check, Diagnosis, Outcome, Problem, diagnose
from migo_cli.dialects import V1, V2, Dialect, Operation
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
    QuotaExceededError,
    RateLimitedError,
    RejectedValueError,
    RequestTimeoutError,
    ServerError,
    TransientAPIError,
    UsageError,
)
from migo_cli.models import OUTPUT_COLUMNS, Origin, RucResult, Status
from migo_cli.pace import set_testing
from migo_cli.progress import LogProgress, NullProgress, ProgressReporter, RichProgress
from migo_cli.readers import InputTable, read_input
from migo_cli.ruc import RucCheck, check_ruc, is_valid_ruc, normalize
from migo_cli.services import (
    AccountInfo,
    DniResult,
    ExchangeRate,
    LegalRepresentatives,
    check_dni,
    parse_date,
)
from migo_cli.settle import LookupSummary, Settlement, Tally
from migo_cli.simulator import Simulator, SimulatorConfig, SimulatorThread
from migo_cli.sync import Migo, MigoSync
from migo_cli.writers import Output, ResultWriter, default_output, open_writer

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
    "Status",
    "Tally",
    "Timeout",
    "TransientAPIError",
    "UsageError",
    "__version__",
    "check_dni",
    "check_ruc",
    "default_output",
    "diagnose",
    "is_valid_ruc",
    "normalize",
    "open_writer",
    "parse_date",
    "read_input",
    "run_batch",
    "set_testing",
]
