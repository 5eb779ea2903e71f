"""Every tunable default, as small frozen value objects (in the spirit of httpx's ``_config``).

The CLI, the library and the tests build on these; a number that shapes behaviour
(concurrency, pace, retries, timeouts, TTLs) is written once, here or in the value
objects (``Timeout``, ``Limits``, ``Retry``, ``CacheTTL``), which are defined in
``migo_cli._tunables`` and created the first time one is asked for (``_TUNABLES``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from migo_cli.exceptions import ConfigError, InsecureBaseURLError, MissingTokenError
from migo_cli.models import Source

if TYPE_CHECKING:  # re-exported (``X as X``) for the type checker; at run time, ``__getattr__``
    from migo_cli._tunables import CacheTTL as CacheTTL  # noqa: PLC0414
    from migo_cli._tunables import Limits as Limits  # noqa: PLC0414
    from migo_cli._tunables import Retry as Retry  # noqa: PLC0414
    from migo_cli._tunables import Timeout as Timeout  # noqa: PLC0414
    from migo_cli.dialects import Dialect

# platformdirs, tomllib, ipaddress and the dialects are imported where they are used:
# ``migo --help`` reads the defaults below and nothing else (benchmarks, figure 7).

APP_NAME = "migo"
DEFAULT_BASE_URL = "https://api.migo.pe"
ENV_TOKEN = "MIGO_TOKEN"
ENV_BASE_URL = "MIGO_BASE_URL"
ENV_CACHE_DIR = "MIGO_CACHE_DIR"
ENV_CONFIG_FILE = "MIGO_CONFIG"
ENV_API = "MIGO_API"
ENV_PADRON_DIR = "MIGO_PADRON_DIR"
ENV_SOURCE = "MIGO_FUENTE"
DEFAULT_API = "v1"

#: Most RUCs APIMIGO accepts in one ``/api/v1/ruc/collection`` call.
COLLECTION_MAX = 100
#: RUCs read in one go: from the cache (one query), or by ``stream``'s ``first`` (the padrón).
FIRST_BATCH = 512
#: ``migo simulador``'s port when none is given.
SIMULATOR_PORT = 8787
#: A local padrón older than this many days gets a warning when it answers (SPEC §7).
PADRON_MAX_AGE_DAYS = 7
#: Shorter "tokens" are not masked: replacing a letter or two would mangle every message.
MIN_REDACTED = 6
#: The defaults of ``Timeout.total``, ``Retry.retries`` and ``Limits.concurrency``, which
#: the CLI's options show without building those classes.
DEFAULT_TIMEOUT_S = 20.0
DEFAULT_RETRIES = 3
DEFAULT_CONCURRENCY = 20
#: The credit check before a batch asks ``/account`` once, without retries, for this long
#: at most: it must never hold a run back.
ACCOUNT_CHECK_TIMEOUT = 5.0

#: ``Timeout``, ``Limits``, ``Retry`` and ``CacheTTL`` live in ``migo_cli._tunables`` and are
#: read through this module (``__getattr__`` below): creating four frozen dataclasses
#: costs about 4 ms, which a ``migo consultar`` that never sends a request need not pay
#: (benchmarks, figure 14). ``from migo_cli.config import Limits`` works as ever.
_TUNABLES = frozenset({"Timeout", "Limits", "Retry", "CacheTTL"})


def __getattr__(name: str) -> object:
    if name in _TUNABLES:
        from migo_cli import _tunables

        return getattr(_tunables, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def default_cache_dir() -> Path:
    env = os.environ.get(ENV_CACHE_DIR)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME))


def default_padron_dir() -> Path:
    """Where the padrón's index lives: data, not cache (``migo cache limpiar`` keeps it)."""
    env = os.environ.get(ENV_PADRON_DIR)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME))


def config_file() -> Path:
    env = os.environ.get(ENV_CONFIG_FILE)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def _read_config() -> dict[str, object]:
    path = config_file()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"no se pudo leer el archivo de configuración {path}: {exc}") from exc
    import tomllib  # only when there is a file to read

    try:
        return tomllib.loads(data.decode())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"no se pudo leer el archivo de configuración {path}: {exc}") from exc


def resolve_token(explicit: str | None) -> str:
    """The token from ``--token``, else ``MIGO_TOKEN``, else the config file."""
    return find_token(explicit)[0]


def find_token(explicit: str | None) -> tuple[str, str]:
    """``(token, where it came from)``: the source is said in Spanish, the token never is."""
    for candidate, source in ((explicit, "--token"), (os.environ.get(ENV_TOKEN), ENV_TOKEN)):
        if candidate and candidate.strip():
            return candidate.strip(), source
    value = _read_config().get("token")
    if isinstance(value, str) and value.strip():
        return value.strip(), f"archivo {config_file()}"
    raise MissingTokenError(config_file())


def redact(text: str, token: str | None) -> str:
    """``text`` with ``token`` masked as ``***``: anything a person or a log file may read."""
    if token is None or len(token) < MIN_REDACTED:
        return text
    return text.replace(token, "***")


def resolve_dialect(explicit: str | Dialect | None) -> Dialect:
    """``--api``, else ``MIGO_API``, else the config file's ``api``, else API 1.0."""
    from migo_cli.dialects import DIALECTS, Dialect, dialect_named

    if isinstance(explicit, Dialect):
        return explicit
    source, name = "--api", explicit
    if not name:
        source, name = ENV_API, os.environ.get(ENV_API)
    if not name:
        value = _read_config().get("api")
        source, name = f"la clave api de {config_file()}", value if isinstance(value, str) else None
    if not name:
        return dialect_named(DEFAULT_API)
    try:
        return dialect_named(name)
    except KeyError:
        choices = " o ".join(DIALECTS)
        raise ConfigError(
            f"{source}: versión de API desconocida {name!r} (use {choices})"
        ) from None


def resolve_source(explicit: str | Source | None) -> Source:
    """``--fuente``, else ``MIGO_FUENTE``, else the config file's ``fuente``, else ``api``."""
    if isinstance(explicit, Source):
        return explicit
    where, name = "--fuente", explicit
    if not name:
        where, name = ENV_SOURCE, os.environ.get(ENV_SOURCE)
    if not name:
        value = _read_config().get("fuente")
        where, name = (
            f"la clave fuente de {config_file()}",
            value if isinstance(value, str) else None,
        )
    if not name:
        return Source.API
    try:
        return Source(name.strip().lower())
    except ValueError:
        choices = ", ".join(source.value for source in Source)
        raise ConfigError(f"{where}: fuente desconocida {name!r} (use {choices})") from None


def resolve_base_url(explicit: str | None) -> str:
    url = explicit or os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL
    check_base_url(url)
    return url.rstrip("/")


def is_loopback_url(url: str) -> bool:
    return is_loopback_host(urlsplit(url).hostname or "")


def is_loopback_host(host: str) -> bool:
    """``localhost`` or a loopback address: traffic that never leaves this machine."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(url: str) -> None:
    """The token travels in the body: only over TLS, or in clear to this machine."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and is_loopback_url(url):
        return
    raise InsecureBaseURLError(url)


#: The cache and history scope of every local server (the simulator, on any port).
LOCAL_SCOPE = "local"


def cache_scope_for(base_url: str | None = None, *, simulated: bool = False) -> str:
    """The scope an upstream's answers live in: its host, or ``local`` for the simulator.

    ``base_url`` as ``MigoClient`` takes it (None: ``MIGO_BASE_URL``, else
    APIMIGO's); ``simulated`` is ``--simulado``, whose in-process simulator has
    no URL until it runs. Every local server shares one scope, so the
    simulator's fake answers never answer for the real API, whatever its port.
    """
    if simulated:
        return LOCAL_SCOPE
    url = resolve_base_url(base_url)
    if is_loopback_url(url):
        return LOCAL_SCOPE
    return (urlsplit(url).hostname or url).lower()
