"""The ``migo`` command: parse options, call one library function, render, pick the exit code.

Nothing here decides how RUCs are looked up; that is the library's job. This
module owns what only a process has: signals, exit codes (SPEC §5), stderr
logging and progress, and one-line Spanish messages instead of tracebacks.

A command imports what it uses when it runs: ``--help`` and ``migo cuenta``
never load pandas, the Excel libraries or the simulator's server, and ``--help``
not even asyncio or Rich (tests/test_imports.py holds every command to that).
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import json
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple, NoReturn, Self, TextIO, TypeVar, cast

import typer

from migo_cli.config import (
    DEFAULT_CONCURRENCY,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT_S,
    SIMULATOR_PORT,
    default_cache_dir,
    redact,
    resolve_base_url,
    resolve_dialect,
    resolve_source,
    resolve_token,
)
from migo_cli.exceptions import (
    APIError,
    FatalAPIError,
    InvalidValueError,
    MigoError,
    NotFoundError,
    OutputError,
    RejectedValueError,
    UsageError,
)
from migo_cli.models import (
    LookupMode,
    RucResult,
    Source,
    Status,
    check_dni,
    parse_date,
    today_in_lima,
)
from migo_cli.numfmt import format_number
from migo_cli.spanish import (
    OPTIONS_METAVAR,
    SUBCOMMAND_METAVAR,
    MigoGroup,
    MigoTyper,
    SpanishBadParameter,
    print_error,
)

if TYPE_CHECKING:
    import asyncio

    from rich.console import Console

    from migo_cli import render
    from migo_cli import ruc as _ruc
    from migo_cli.batch import BatchJob, BatchReport
    from migo_cli.cache import ResultCache
    from migo_cli.client import MigoClient
    from migo_cli.config import Limits
    from migo_cli.history import HistoryScope, HistoryStore
    from migo_cli.padron.lookup import PadronLookup
    from migo_cli.padron.store import PadronIndex
    from migo_cli.progress import ProgressReporter, StepProgress
    from migo_cli.writers import Output


def _on_first_use(name: str) -> ModuleType:
    """Module ``name``, executed when first used (importlib's ``LazyLoader``).

    asyncio, Rich and python-stdnum cost more to import than the rest of ``migo --help``
    (benchmarks, figure 7); the commands that use them load them when they run.
    """
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:  # pragma: no cover - names written below
        raise ModuleNotFoundError(name)
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class _ConsoleOnFirstUse:
    """A Rich ``Console``, created (and Rich imported) when something first asks it.

    Whether it is a terminal is answered without Rich when Rich could only say no
    (cron, a pipe): the log set-up asks on every command, and ``--json`` prints no Rich.
    """

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    @property
    def is_terminal(self) -> bool:
        if self._console is None:
            stream = sys.stderr if self._options.get("stderr") else sys.stdout
            forced = os.environ.get("TTY_COMPATIBLE") == "1" or "FORCE_COLOR" in os.environ
            if not forced and not _isatty(stream):  # Rich's own rules would say False
                return False
        return self.console.is_terminal

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.console, name)

    def __enter__(self) -> Console:  # Rich's Live holds its console with ``with``
        return self.console.__enter__()

    def __exit__(self, *exc_info: Any) -> None:
        self.console.__exit__(*exc_info)


def _isatty(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty is not None and isatty())
    except ValueError:  # a closed stream
        return False


if not TYPE_CHECKING:
    asyncio = _on_first_use("asyncio")
    render = _on_first_use("migo_cli.render")
    _ruc = _on_first_use("migo_cli.ruc")

log = logging.getLogger("migo")

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_FATAL = 0, 1, 2, 3
SIMULATED_TOKEN = "simulado"
SIMULATED_NOTICE = "DATOS SIMULADOS: no provienen de SUNAT ni de APIMIGO (--simulado)."

# Spanish usage errors and help: see migo_cli.spanish for why these classes.
app = MigoTyper(
    cls=MigoGroup,
    options_metavar=OPTIONS_METAVAR,
    subcommand_metavar=SUBCOMMAND_METAVAR,
    name="migo",
    help="Consulta de RUC (SUNAT) en lote, a través de la API de APIMIGO.",
    no_args_is_help=True,
    add_completion=False,
    # Pretty tracebacks print local variables, the token among them.
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    # Help is migo_cli.spanish's plain text: Typer's Rich help is never used.
    rich_markup_mode=None,
    # Help fills the terminal up to 100 columns (Click's own limit is 80).
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
cache_app = MigoTyper(
    cls=MigoGroup,
    options_metavar=OPTIONS_METAVAR,
    subcommand_metavar=SUBCOMMAND_METAVAR,
    help="Ver o limpiar la caché en disco.",
    no_args_is_help=True,
)
app.add_typer(cache_app, name="cache")
padron_app = MigoTyper(
    cls=MigoGroup,
    options_metavar=OPTIONS_METAVAR,
    subcommand_metavar=SUBCOMMAND_METAVAR,
    help="El padrón reducido de SUNAT en este equipo: crearlo, actualizarlo, ver su estado.",
    no_args_is_help=True,
)
app.add_typer(padron_app, name="padron")

stderr = cast("Console", _ConsoleOnFirstUse(stderr=True))
stdout = cast("Console", _ConsoleOnFirstUse())


# -- options shared by every command that calls the API ---------------------------


def _positive(value: float | None) -> float | None:
    """Refuse 0 and below while Click parses: a usage error (exit 2) before anything runs."""
    if value is not None and value <= 0:
        raise SpanishBadParameter(f"{value:g} no es válido: debe ser mayor que 0")
    return value


_API = "Conexión con APIMIGO"
_OUT = "Mensajes"

# Each command that calls the API declares all of these, after its own options
# and in this order (--help lists them so), and reads them as ``ApiOptions.of(ctx)``.
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        help="Token de APIMIGO (si no: variable MIGO_TOKEN, o el archivo de configuración).",
        rich_help_panel=_API,
    ),
]
BaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        help="URL de la API (si no: MIGO_BASE_URL, o https://api.migo.pe).",
        rich_help_panel=_API,
    ),
]
TimeoutOption = Annotated[
    float,
    typer.Option(
        "--timeout",
        help="Segundos de espera por cada consulta.",
        rich_help_panel=_API,
        callback=_positive,
    ),
]
RetriesOption = Annotated[
    int,
    typer.Option(
        "--reintentos",
        help="Reintentos tras el primer intento ante fallas transitorias.",
        rich_help_panel=_API,
        min=0,
    ),
]
NoCacheOption = Annotated[
    bool, typer.Option("--sin-cache", help="No leer ni guardar la caché.", rich_help_panel=_API)
]
RefreshOption = Annotated[
    bool,
    typer.Option(
        "--refrescar",
        help="Consultar de nuevo aunque haya respuesta en caché (y guardar las nuevas).",
        rich_help_panel=_API,
    ),
]
CacheDirOption = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir",
        help="Carpeta de la caché (si no: MIGO_CACHE_DIR, o la carpeta de caché del usuario).",
        rich_help_panel=_API,
    ),
]
SimulatedOption = Annotated[
    bool,
    typer.Option(
        "--simulado",
        help="Usar un simulador local de APIMIGO: sin token, datos ficticios.",
        rich_help_panel=_API,
    ),
]
DialectOption = Annotated[
    str | None,
    typer.Option(
        "--api",
        help="Versión de la API de APIMIGO: v1 o v2 (si no: MIGO_API, la clave api del archivo "
        "de configuración, o v1). Lo que la v2 no ofrece se consulta con la v1.",
        rich_help_panel=_API,
    ),
]
VerboseOption = Annotated[
    bool,
    typer.Option("-v", "--verbose", help="Más detalle en los mensajes.", rich_help_panel=_OUT),
]
QuietOption = Annotated[
    bool,
    typer.Option(
        "-q",
        "--quiet",
        help="Solo errores: sin barra de progreso ni resumen.",
        rich_help_panel=_OUT,
    ),
]
SourceOption = Annotated[
    str | None,
    typer.Option(
        "--fuente",
        help="Quién responde: api (APIMIGO, con caché), padron (solo el padrón local de SUNAT: "
        "sin token ni costo) o auto (el padrón, y APIMIGO solo para los RUC que no tiene). Si "
        "no: MIGO_FUENTE, la clave fuente del archivo de configuración, o api.",
        metavar="api|padron|auto",
        show_default=False,
    ),
]
#: ``consultar`` and ``masivo``: history is on wherever the cache is (SPEC §8).
NoHistoryOption = Annotated[
    bool,
    typer.Option(
        "--sin-historial",
        help="No comparar con el historial de cambios ni anotar en él (columna cambio vacía).",
    ),
]
DEFAULT_TIMEOUT = DEFAULT_TIMEOUT_S


class ApiOptions(NamedTuple):
    """The options above, as one value; field names are the commands' parameter names.

    A named tuple rather than a frozen dataclass: creating the class costs a sixth
    (0.2 ms, not 1.2), on every command (benchmarks, figure 14).
    """

    token: str | None
    base_url: str | None
    timeout: float
    retries: int
    no_cache: bool
    refresh: bool
    cache_dir: Path | None
    simulated: bool
    dialect: str | None
    verbose: bool
    quiet: bool

    @classmethod
    def of(cls, ctx: typer.Context) -> Self:
        """Read from the parsed command line: a command that forgot one fails every test."""
        return cls._make(ctx.params[name] for name in cls._fields)


# -- process concerns: logging, signals, exit codes ------------------------------


class _Redact(logging.Filter):
    """The token never reaches a log line, whatever an exception message carried."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.secret in message:
            record.msg, record.args = redact(message, self.secret), None
        if record.exc_info and not record.exc_text:  # a traceback (-v) may quote the token
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and self.secret in record.exc_text:
            record.exc_text = redact(record.exc_text, self.secret)
        return True


def _setup_logging(verbose: bool, quiet: bool) -> None:
    logger = logging.getLogger("migo")
    logger.handlers.clear()
    logger.propagate = False
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
    if stderr.is_terminal:  # a person: the message, marked when it is a warning or worse
        handler: logging.Handler = render.TerminalLogHandler(stderr)
    else:  # cron: timestamp and level, for the log file
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            logging.Formatter("%(asctime)s migo %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
        )
    logger.addHandler(handler)


def _quiet_retries() -> None:
    """We log retries ourselves, in Spanish; stamina's default hook would warn in English.

    Called where a client is made: a command answered by the padrón alone never loads stamina.
    """
    import stamina.instrumentation

    stamina.instrumentation.set_on_retry_hooks([])


def _redact_logs(secret: str) -> None:
    for handler in logging.getLogger("migo").handlers:
        handler.addFilter(_Redact(secret))


class _Signals:
    """SIGINT/SIGTERM become a stop request: the run saves what it has and exits 130/143.

    A second signal stops at once (the cache already holds every answer).
    """

    def __init__(self, stopping: str) -> None:
        self.stopping = stopping  # what the command does with a stop request
        self.stop = asyncio.Event()
        self.received: int | None = None
        self._task: asyncio.Task[Any] | None = None

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self._on_signal, signum)
        try:
            yield
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)

    def _on_signal(self, signum: int) -> None:
        if self.received is None:
            self.received = signum
            self.stop.set()
            log.warning("interrupción (%s): %s", signal.Signals(signum).name, self.stopping)
        elif self._task is not None:
            self._task.cancel()

    @property
    def exit_code(self) -> int | None:
        return None if self.received is None else 128 + self.received


T = TypeVar("T")


def _run(
    api_secret: list[str],
    main: Callable[[_Signals], Awaitable[int]],
    stopping: str = "se detiene",
) -> None:
    """Run ``main`` under signal handling; map library exceptions to SPEC §5's exit codes."""
    signals = _Signals(stopping)

    async def wrapped() -> int:
        with signals.installed():
            return await main(signals)

    _exit(api_secret, lambda: asyncio.run(wrapped()), lambda: signals.exit_code)


def _run_now(api: ApiOptions, secrets: list[str], main: Callable[[], int]) -> NoReturn:
    """``_run_api`` for work that needs no event loop (``consultar --fuente padron``).

    Milliseconds of SQLite: asyncio's import and loop would cost more than the
    work (figure 14). Ctrl+C exits 130; SIGTERM, 143, as ``_run`` does.
    """
    _setup_logging(api.verbose, api.quiet)

    received: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        _exit(secrets, main, lambda: 128 + received[0] if received else None)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _exit(
    api_secret: list[str], main: Callable[[], int], interrupted: Callable[[], int | None]
) -> NoReturn:
    """Run ``main``; end with its exit code, or SPEC §5's for what it raised."""
    try:
        code = main()
    except UsageError as exc:
        code = _fail(str(exc), EXIT_USAGE, api_secret)
    except FatalAPIError as exc:
        code = _fail(str(exc), EXIT_FATAL, api_secret)
    except (KeyboardInterrupt, asyncio.CancelledError):
        code = interrupted() or 130
    except Exception as exc:  # a bug: one line by default, the traceback with -v
        log.debug("detalle del error interno", exc_info=True)
        detail = f"{type(exc).__name__}: {exc}"
        code = _fail(f"error interno ({detail}); use -v para ver el detalle", 1, api_secret)
    raise typer.Exit(code)


def _run_api(
    api: ApiOptions,
    secrets: list[str],
    main: Callable[[_Signals], Awaitable[int]],
    stopping: str = "se detiene",
) -> None:
    """``_run`` for a command with the common API options, once logging is set up."""
    _setup_logging(api.verbose, api.quiet)
    _run(secrets, main, stopping)


def _fail(message: str, code: int, secrets: list[str]) -> int:
    for secret in secrets:
        message = redact(message, secret)
    print_error(message)
    return code


def _source_now(fuente: str | None) -> Source | None:
    """``--fuente`` as ``resolve_source`` reads it; None when it is wrong (``_run`` says why)."""
    try:
        return resolve_source(fuente)
    except MigoError:
        return None


def _print_plain_cards(results: list[RucResult], notice: str | None) -> bool:
    """The cards without loading Rich (``card.plain_cards``), where Rich would add no colour."""
    from migo_cli.card import plain_cards

    return _print_plain(sys.stdout, stdout, lambda width: plain_cards(results, width, notice))


def _print_plain(stream: TextIO, console: Console, lay_out: Callable[[int], str | None]) -> bool:
    """Write what ``lay_out`` makes for the console's width, where Rich would add nothing.

    False where Rich must lay it out: a terminal, Windows' consoles, a stream that
    cannot take the box's characters, or ``lay_out`` saying None (a line to wrap).
    """
    if sys.platform == "win32" or console.is_terminal:
        return False
    if not (getattr(stream, "encoding", None) or "utf-8").lower().startswith("utf"):
        return False  # Rich would draw the box in ASCII
    from migo_cli.card import plain_width

    text = lay_out(plain_width())
    if text is None:
        return False
    stream.write(text)
    stream.flush()
    return True


# -- building the client -----------------------------------------------------------


def _open_cache(api: ApiOptions) -> ResultCache | None:
    if api.no_cache:
        return None
    from migo_cli.cache import ResultCache

    return ResultCache(api.cache_dir or default_cache_dir(), read=not api.refresh)


def _open_history(api: ApiOptions) -> HistoryStore | None:
    """The history next to the cache (SPEC §8); none with ``--sin-cache``.

    The client keeps each upstream's apart, as the cache does: what ``--simulado``
    or a local simulator answers never becomes a real RUC's past.
    """
    if api.no_cache:
        return None
    from migo_cli.history import HistoryStore

    return HistoryStore(api.cache_dir or default_cache_dir())


@contextlib.asynccontextmanager
async def _upstream(api: ApiOptions) -> AsyncIterator[tuple[str, str]]:
    """(token, base URL): the real API, or an in-process simulator with ``--simulado``."""
    if not api.simulated:
        base_url = resolve_base_url(api.base_url)
        token = resolve_token(api.token)
        yield token, base_url
        return
    if not api.quiet:
        stderr.print(f"[bold yellow]{SIMULATED_NOTICE}[/]")
    from migo_cli.simulator import Simulator, SimulatorConfig

    async with Simulator(SimulatorConfig()) as simulator:
        yield SIMULATED_TOKEN, simulator.base_url


@contextlib.asynccontextmanager
async def _client(
    api: ApiOptions, secrets: list[str], limits: Limits | None = None, *, history: bool = True
) -> AsyncIterator[MigoClient]:
    """The client of a command; ``history=False`` is ``--sin-historial``."""
    from migo_cli.client import MigoClient
    from migo_cli.config import Retry, Timeout

    _quiet_retries()
    async with _upstream(api) as (token, base_url):
        if not api.simulated:  # config.redact decides what is long enough to mask
            secrets.append(token)
            _redact_logs(token)
        cache = _open_cache(api)
        store = _open_history(api) if history else None
        try:
            async with MigoClient(
                token,
                base_url=base_url,
                api=api.dialect,
                limits=limits,
                timeout=Timeout(total=api.timeout),
                retry=Retry(retries=api.retries),
                cache=cache,
                history=store,
            ) as client:
                yield client
        finally:
            if store is not None:
                store.close()
            if cache is not None:
                cache.close()


@contextlib.contextmanager
def _padron_index() -> Iterator[PadronIndex]:
    """The local padrón (``MIGO_PADRON_DIR`` or the data dir); none built: exit 2, saying how."""
    from migo_cli.padron.store import PadronIndex

    with PadronIndex.open() as index:
        yield index


@contextlib.asynccontextmanager
async def _padron_lookup(
    api: ApiOptions,
    secrets: list[str],
    source: Source,
    limits: Limits | None = None,
    *,
    history: bool = True,
) -> AsyncIterator[PadronLookup]:
    """``--fuente padron`` (no token, no HTTP) or ``auto`` (the padrón, then the client)."""
    from migo_cli.padron.lookup import PadronLookup

    with _padron_index() as index:
        if source is Source.AUTO:
            async with _client(api, secrets, limits, history=history) as client:
                yield PadronLookup(index, client)
            return
        with _padron_history(api, enabled=history) as scope:
            yield PadronLookup(index, history=scope)


@contextlib.contextmanager
def _padron_history(api: ApiOptions, *, enabled: bool) -> Iterator[HistoryScope | None]:
    """Where ``--fuente padron`` records: the history of the upstream the base URL names.

    As the client's answers: SUNAT's data under APIMIGO's, a simulator's apart.
    """
    from migo_cli.config import cache_scope_for

    store = _open_history(api) if enabled else None
    if store is None:
        yield None
        return
    with store:
        base_url = resolve_base_url(api.base_url)
        yield store.scope(cache_scope_for(base_url, simulated=api.simulated))


def _progress(quiet: bool) -> ProgressReporter:
    from migo_cli.progress import LogProgress, NullProgress

    if quiet:
        return NullProgress()
    if stderr.is_terminal:
        from migo_cli.progress_bars import RichProgress

        return RichProgress(stderr)
    return LogProgress(log)


# -- commands ------------------------------------------------------------------------


def _version(value: bool) -> None:
    if value:
        from migo_cli._version import __version__

        sys.stdout.write(f"migo {__version__}\n")  # plain: no Rich for one line
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Muestra la versión y termina."
        ),
    ] = False,
) -> None:
    """Consulta de RUC (SUNAT) en lote, a través de la API de APIMIGO."""


@app.command()
def consultar(
    ctx: typer.Context,
    rucs: Annotated[
        list[str], typer.Argument(help="Uno o más RUC.", show_default=False, metavar="RUC")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Salida JSON (para scripts).")] = False,
    detalle: Annotated[
        bool, typer.Option("--detalle", help="Una ficha por RUC, aunque sean varios.")
    ] = False,
    *,
    no_history: NoHistoryOption = False,
    token: TokenOption = None,
    base_url: BaseUrlOption = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    retries: RetriesOption = DEFAULT_RETRIES,
    no_cache: NoCacheOption = False,
    refresh: RefreshOption = False,
    cache_dir: CacheDirOption = None,
    simulated: SimulatedOption = False,
    dialect: DialectOption = None,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
    fuente: SourceOption = None,
) -> None:
    """Consultar uno o algunos RUC. Sale con 0 solo si todos son válidos.

    Un RUC se muestra como ficha con todos sus datos; varios, como tabla (--detalle: fichas).
    Con --fuente padron responde el padrón local de SUNAT, sin token ni costo.
    """
    api = ApiOptions.of(ctx)
    secrets: list[str] = []

    def show(results: list[RucResult]) -> None:
        if as_json:
            rows = [r.to_row() for r in results]
            _emit_json(rows[0] if len(rows) == 1 else rows, api.simulated)
            return
        notice = SIMULATED_NOTICE if api.simulated else None
        if (detalle or len(results) == 1) and _print_plain_cards(results, notice):
            return
        stdout.print(render.ruc_results(results, detail=detalle, width=stdout.width, notice=notice))

    def from_padron() -> int:
        """``--fuente padron``: SQLite only, no event loop (``_run_now``)."""
        checks = [_ruc.check_ruc(value) for value in dict.fromkeys(rucs)]
        if any(check is None for check in checks):
            raise InvalidValueError("hay un RUC vacío entre los argumentos")
        from migo_cli.padron.lookup import PadronLookup

        with (
            _padron_index() as index,
            _padron_history(api, enabled=not no_history) as scope,
        ):
            lookup = PadronLookup(index, history=scope)
            results = lookup.answer(checks)
            show(results)
            if scope is not None:  # shown: the next consultar repeats none
                scope.delivered(r.ruc for r in results if r.change)
        return EXIT_OK if all(r.status is Status.VALID for r in results) else EXIT_PARTIAL

    if _source_now(fuente) is Source.PADRON:
        _run_now(api, secrets, from_padron)

    async def main(signals: _Signals) -> int:
        source = resolve_source(fuente)
        checks = [_ruc.check_ruc(value) for value in dict.fromkeys(rucs)]
        if any(check is None for check in checks):
            raise InvalidValueError("hay un RUC vacío entre los argumentos")
        values = [c.key for c in checks if c is not None]
        if not any(check.valid for check in checks if check is not None):
            # nothing to pay for: no token needed to say what is wrong
            results = [RucResult.rejected(c.raw, c.reason) for c in checks if c is not None]
            show(results)
        elif source is not Source.API:
            async with _padron_lookup(api, secrets, source, history=not no_history) as lookup:
                results = [r async for _, r in lookup.stream(values, stop=signals.stop)]
                show(results)
                if lookup.history is not None:  # shown: the next consultar repeats none
                    lookup.history.delivered(r.ruc for r in results if r.change)
        else:
            async with _client(api, secrets, history=not no_history) as client:
                stream = client.stream(values, ordered=True, stop=signals.stop)
                results = [result async for _, result in stream]
                show(results)
                if client.history is not None:  # shown: the next consultar repeats none
                    client.history.delivered(r.ruc for r in results if r.change)
        if signals.exit_code is not None:
            return signals.exit_code
        return EXIT_OK if all(r.status is Status.VALID for r in results) else EXIT_PARTIAL

    _run_api(api, secrets, main)


@app.command()
def masivo(
    ctx: typer.Context,
    entrada: Annotated[
        str,
        typer.Argument(
            help="Archivo con los RUC: .csv .tsv .txt .xlsx .xlsm .json .jsonl, o - (entrada "
            "estándar).",
            show_default=False,
            metavar="ENTRADA",
        ),
    ],
    *,
    salida: Annotated[
        str | None,
        typer.Option(
            "-o",
            "--salida",
            help="Archivo de resultados: .xlsx .csv .jsonl .json, o - (JSONL por la salida "
            "estándar). Por omisión: ENTRADA_resultado.xlsx junto a la entrada (con - como "
            "entrada: -).",
            show_default=False,
        ),
    ] = None,
    columna: Annotated[
        str | None, typer.Option("--columna", help="Columna con los RUC (si no, se detecta).")
    ] = None,
    hoja: Annotated[
        str | None, typer.Option("--hoja", help="Hoja de Excel (si no, la primera).")
    ] = None,
    concurrencia: Annotated[
        int, typer.Option("--concurrencia", help="Consultas simultáneas.", min=1)
    ] = DEFAULT_CONCURRENCY,
    rpm: Annotated[
        float | None,
        typer.Option(
            "--rpm",
            help="Máximo de consultas por minuto (sin límite si se omite).",
            callback=_positive,
        ),
    ] = None,
    modo: Annotated[
        LookupMode,
        typer.Option("--modo", help="individual, o coleccion (hasta 100 RUC por llamada)."),
    ] = LookupMode.INDIVIDUAL,
    json_resumen: Annotated[
        Path | None,
        typer.Option("--json-resumen", help="Escribir el resumen en JSON en esta ruta."),
    ] = None,
    enriquecer: Annotated[
        bool,
        typer.Option(
            "--enriquecer", help="Devolver la tabla de entrada completa con las columnas añadidas."
        ),
    ] = False,
    solo_validar: Annotated[
        bool,
        typer.Option("--solo-validar", help="Solo validación local: sin consultas ni token."),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Decir cuántas consultas pagadas haría, sin hacerlas."),
    ] = False,
    estricto: Annotated[
        bool,
        typer.Option(
            "--estricto",
            help="No empezar (código 2) si la cuenta tiene menos consultas disponibles "
            "que las que necesita la ejecución.",
        ),
    ] = False,
    no_history: NoHistoryOption = False,
    token: TokenOption = None,
    base_url: BaseUrlOption = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    retries: RetriesOption = DEFAULT_RETRIES,
    no_cache: NoCacheOption = False,
    refresh: RefreshOption = False,
    cache_dir: CacheDirOption = None,
    simulated: SimulatedOption = False,
    dialect: DialectOption = None,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
    fuente: SourceOption = None,
) -> None:
    """Consultar en lote los RUC de un archivo y escribir los resultados.

    Ejemplos:

      migo masivo clientes.xlsx -o resultado.xlsx

      migo masivo proveedores.csv --columna "Nro. RUC" -o verificados.csv --rpm 600

      migo masivo rucs.txt --dry-run

      migo masivo clientes.xlsx --fuente auto   (se paga solo lo que el padrón no tiene)
    """
    from migo_cli.batch import BatchJob, CreditCheck, run_batch
    from migo_cli.writers import Output

    api = ApiOptions.of(ctx)
    secrets: list[str] = []

    async def main(signals: _Signals) -> int:
        summary = Output.summary(json_resumen) if json_resumen is not None else None
        source = resolve_source(fuente)
        job = BatchJob(
            source=entrada,
            output=salida,
            column=columna,
            sheet=hoja,
            mode=modo,
            enrich=enriquecer,
            validate_only=solo_validar,
            dry_run=dry_run,
            credit_check=CreditCheck.STRICT if estricto else CreditCheck.WARN,
            simulated=api.simulated,
            answers=source,
        )
        progress = _progress(api.quiet)
        with contextlib.ExitStack() as stack, _long_lived_objects_frozen():
            # Opened first: no padrón is a usage error before any token or file is touched.
            padron = None
            if source is not Source.API and not solo_validar:
                padron = stack.enter_context(_padron_index())
            if solo_validar or dry_run:
                report = await _offline(job, api, progress, padron)
            elif source is Source.PADRON:
                history = stack.enter_context(_padron_history(api, enabled=not no_history))
                report = await run_batch(
                    job, padron=padron, history=history, progress=progress, stop=signals.stop
                )
            else:
                from migo_cli.config import Limits

                limits = Limits(concurrency=concurrencia, rpm=rpm)
                async with _client(api, secrets, limits, history=not no_history) as client:
                    report = await run_batch(
                        job, client=client, padron=padron, progress=progress, stop=signals.stop
                    )
        if summary is not None:
            _write_summary(summary, report)
        if dry_run:  # the number is what a dry run is for: shown even with -q
            _render_dry_run(report)
        elif not api.quiet:
            _render_report(report)
        if report.fatal is not None:  # a wrong URL is the user's to fix (2), the rest 3
            code = EXIT_USAGE if isinstance(report.fatal, UsageError) else EXIT_FATAL
            return _fail(str(report.fatal), code, secrets)
        if report.unavailable is not None:
            _fail(f"{report.unavailable}; vuelva a ejecutar más tarde", EXIT_PARTIAL, secrets)
        if signals.exit_code is not None:
            return signals.exit_code
        return EXIT_PARTIAL if report.errors else EXIT_OK

    _run_api(api, secrets, main, stopping="se guarda lo respondido y se escribe la salida parcial")


#: Container objects allocated between two young collections during a batch (Python's
#: default is 700). Each fresh answer allocates dozens (aiohttp's request and response,
#: futures, dicts), so the default collects every ~15 answers: about 5 % of a batch's
#: CPU at zero latency, a fifth of that with this (benchmarks, figure 10).
BATCH_GC_THRESHOLD = 10_000


@contextlib.contextmanager
def _long_lived_objects_frozen() -> Iterator[None]:
    """Keep the garbage collector's full passes off what lives for the whole run (the imports),
    and its young passes less frequent while answers stream through.

    Process-wide tuning, so it belongs to the command that owns the process, never to
    the library (a Django or Celery process shares its collector). Worth a few per
    cent of CPU on a long cached run (benchmarks, figure 4) and on fresh answers
    (figure 10).
    """
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(BATCH_GC_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


async def _offline(
    job: BatchJob, api: ApiOptions, progress: ProgressReporter, padron: PadronIndex | None
) -> BatchReport:
    """``--solo-validar`` and ``--dry-run``: no token, no calls; a dry run reads the cache."""
    from migo_cli.batch import run_batch
    from migo_cli.config import cache_scope_for

    cache = None if job.validate_only else _open_cache(api)
    try:
        scope = None
        if cache is not None:
            scope = cache.scope(cache_scope_for(api.base_url, simulated=api.simulated))
        return await run_batch(job, cache=scope, padron=padron, progress=progress)
    finally:
        if cache is not None:
            cache.close()


def _write_summary(output: Output, report: BatchReport) -> None:
    """The run is over and its output written: a summary that cannot be written is logged."""
    from migo_cli.writers import write_summary

    try:
        write_summary(output, report.summary())
    except OutputError as exc:
        log.error("%s", exc)


def _render_dry_run(report: BatchReport) -> None:
    stderr.print(render.dry_run_message(report))


def _render_report(report: BatchReport) -> None:
    from migo_cli.summary import plain_summary

    if not _print_plain(sys.stderr, stderr, lambda width: plain_summary(report, width)):
        stderr.print(render.summary_table(report))
    if report.errors and not (report.fatal or report.unavailable):
        stderr.print(
            f"[yellow]{format_number(report.errors)} RUC quedaron con error; vuelva a ejecutar "
            "el mismo comando: solo se consultarán esos.[/]"
        )


_CacheDir = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir", help="Carpeta de la caché (si no: MIGO_CACHE_DIR o la del usuario)."
    ),
]


@cache_app.command("info")
def cache_info(cache_dir: _CacheDir = None) -> None:
    """Entradas, tamaño y ubicación de la caché."""
    from migo_cli.cache import ResultCache

    _setup_logging(False, False)
    with ResultCache(cache_dir or default_cache_dir()) as cache:
        info = cache.info()
    stdout.print(f"Ubicación: {info.path}")
    stdout.print(f"Entradas:  {format_number(info.entries)}")
    stdout.print(f"Tamaño:    {format_number(info.size_bytes / 1024, 1)} KiB")


@cache_app.command("limpiar")
def cache_clear(
    ruc: Annotated[
        str | None,
        typer.Option("--ruc", help="Borrar solo las entradas de este RUC.", metavar="RUC"),
    ] = None,
    cache_dir: _CacheDir = None,
) -> None:
    """Borrar la caché completa, o solo un RUC."""
    from migo_cli.cache import ResultCache

    _setup_logging(False, False)
    with ResultCache(cache_dir or default_cache_dir()) as cache:
        removed = cache.clear(ruc)
    stdout.print(f"Entradas borradas: {format_number(removed)}")


_PadronDir = Annotated[
    Path | None,
    typer.Option(
        "--padron-dir",
        help="Carpeta del padrón (si no: MIGO_PADRON_DIR o la de datos del usuario).",
        metavar="CARPETA",
    ),
]


@padron_app.command("actualizar")
def padron_actualizar(
    desde: Annotated[
        str | None,
        typer.Option(
            "--desde",
            help="URL del zip, o un .zip o .txt ya descargado (si no: la URL de SUNAT).",
            metavar="URL|ARCHIVO",
            show_default=False,
        ),
    ] = None,
    padron_dir: _PadronDir = None,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Descargar el padrón reducido de SUNAT (o leer un archivo) y crear el índice local.

    La descarga se reanuda donde quedó si se corta. El índice nuevo reemplaza al
    anterior solo cuando está completo: una consulta en curso o una interrupción
    nunca ven un índice a medias.

    Ejemplos:

      migo padron actualizar

      migo padron actualizar --desde padron_reducido_ruc.zip
    """
    from migo_cli.padron.update import update_padron

    _setup_logging(verbose, quiet)
    try:
        update = update_padron(
            desde, padron_dir, progress=_step_progress(quiet), workers=_padron_workers()
        )
    except UsageError as exc:
        raise typer.Exit(_fail(str(exc), EXIT_USAGE, [])) from None
    except MigoError as exc:  # PadronError: download, zip or file; the old index stays
        raise typer.Exit(_fail(str(exc), EXIT_PARTIAL, [])) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    if not quiet:
        lines = render.padron_update_lines(
            update.info, update.downloaded, unchanged=update.unchanged
        )
        for line in lines:
            stderr.print(line, highlight=False, soft_wrap=True)


@padron_app.command("info")
def padron_info(
    as_json: Annotated[bool, typer.Option("--json", help="Salida JSON (para scripts).")] = False,
    padron_dir: _PadronDir = None,
) -> None:
    """Fecha, antigüedad, filas, líneas omitidas, tamaño y ubicación del padrón local.

    Sale con código 1 si aún no hay padrón.
    """
    from migo_cli.padron.store import PadronIndex

    _setup_logging(False, False)
    try:
        with PadronIndex.open(padron_dir) as index:
            info = index.info
    except MigoError as exc:
        raise typer.Exit(_fail(str(exc), EXIT_PARTIAL, [])) from None
    if as_json:
        _emit_json(info.to_dict(), False)
        return
    for line in render.padron_info_lines(info, today_in_lima()):
        stdout.print(line, highlight=False, soft_wrap=True)


def _padron_workers() -> int:
    """One build process per CPU this process may use, at most four: the merge that
    follows is serial, and each process keeps its own page cache."""
    import os

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 1
    return max(1, min(usable, 4))


def _step_progress(quiet: bool) -> StepProgress:
    from migo_cli.progress import LogStepProgress, NullStepProgress

    if quiet:
        return NullStepProgress()
    if stderr.is_terminal:
        from migo_cli.progress_bars import RichStepProgress

        return RichStepProgress(stderr)
    return LogStepProgress(log)


@app.command()
def historial(
    ruc: Annotated[
        str | None,
        typer.Argument(
            help="RUC cuyo historial se muestra (con --borrar: se borra; sin él, todo).",
            show_default=False,
            metavar="RUC",
        ),
    ] = None,
    *,
    as_json: Annotated[bool, typer.Option("--json", help="Salida JSON (para scripts).")] = False,
    borrar: Annotated[
        bool,
        typer.Option(
            "--borrar", help="Borrar el historial de este RUC, o todo el historial si no se da."
        ),
    ] = False,
    cache_dir: _CacheDir = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            help="El historial de las respuestas de esta URL (si no: MIGO_BASE_URL, o "
            "https://api.migo.pe). Cada servidor tiene el suyo, como en la caché.",
        ),
    ] = None,
    simulated: Annotated[
        bool,
        typer.Option("--simulado", help="El historial de --simulado y de los simuladores locales."),
    ] = False,
) -> None:
    """Cómo cambió un RUC entre consultas: estado, condición, razón social, dirección.

    Cada fila es lo que el RUC era desde esa fecha. «migo cache limpiar» no borra el
    historial; --borrar sí. Lo respondido por un simulador local (--simulado, o
    --base-url http://127.0.0.1:...) tiene su propio historial, aparte del de APIMIGO.

    Ejemplos:

      migo historial 20100038146

      migo historial 20100038146 --json

      migo historial --borrar
    """
    from migo_cli.config import LOCAL_SCOPE, cache_scope_for
    from migo_cli.history import HistoryStore

    _setup_logging(False, False)
    try:
        scope = cache_scope_for(base_url, simulated=simulated)
    except UsageError as exc:
        raise typer.Exit(_fail(str(exc), EXIT_USAGE, [])) from None
    number: str | None = None
    if ruc is not None:
        check = _ruc.check_ruc(ruc)
        if check is None or not check.valid:
            shown = "" if check is None else f" {check.raw!r}: {check.reason}"
            raise typer.Exit(_fail(f"RUC no válido{shown}", EXIT_USAGE, []))
        number = check.ruc
    elif not borrar:
        raise typer.Exit(_fail("indique un RUC (o --borrar para borrar todo)", EXIT_USAGE, []))
    with HistoryStore(cache_dir or default_cache_dir()) as store:
        history = store.scope(scope)
        if borrar:
            removed = history.erase(number)
            stdout.print(f"Entradas del historial borradas: {format_number(removed)}")
            return
        assert number is not None
        entries = history.timeline(number)
    if as_json:
        _emit_json([entry.to_dict() for entry in entries], simulated)
    elif entries:
        stdout.print(render.history_table(number, entries))
    else:
        where = "un simulador local" if scope == LOCAL_SCOPE else scope
        stderr.print(
            f"No hay historial del RUC {number} con {where}: aún no se ha consultado con caché."
        )


@app.command()
def buscar(
    texto: Annotated[
        list[str],
        typer.Argument(
            help="Palabras de la razón social o del nombre, en cualquier orden; "
            "cada una vale también como comienzo de palabra.",
            show_default=False,
            metavar="TEXTO",
        ),
    ],
    limite: Annotated[
        int, typer.Option("--limite", help="Cuántas coincidencias mostrar.", min=1, max=200)
    ] = 20,
    as_json: Annotated[bool, _JSON_OPTION] = False,
) -> None:
    """Buscar el RUC de un contribuyente por su nombre, en el padrón local de SUNAT.

    Sin token ni costo. Sin importar tildes, mayúsculas ni Ñ/N; las mejores coincidencias
    primero. Sale con 0 si encontró alguna, con 1 si no encontró ninguna, y con 2 si no
    hay padrón local (créelo con «migo padron actualizar») o el texto es muy corto.

    Ejemplos:

      migo buscar "constructora san martin"

      migo buscar quispe mamani --limite 50

      migo buscar "inversiones peña" --json
    """
    from migo_cli.padron.search import search

    _setup_logging(False, False)
    query = " ".join(texto)
    try:
        with _padron_index() as index:
            hits = search(index, query, limite)
            fecha = index.info.fecha.isoformat()
    except MigoError as exc:  # no padrón, a damaged one, a query too short: nothing to show
        raise typer.Exit(_fail(str(exc), EXIT_USAGE, [])) from None
    if as_json:
        _emit_json([hit.to_dict() for hit in hits], False)
    elif hits:
        more = " (puede haber más: use --limite)" if len(hits) == limite else ""
        caption = f"Padrón de SUNAT del {fecha}; las mejores coincidencias primero{more}."
        stdout.print(render.search_table(hits, stdout.width, caption))
    if not hits:
        stderr.print(f"Ningún contribuyente del padrón del {fecha} coincide con «{query}».")
        raise typer.Exit(EXIT_PARTIAL)


@app.command()
def simulador(
    *,
    puerto: Annotated[int, typer.Option("--puerto", help="Puerto en 127.0.0.1.")] = SIMULATOR_PORT,
    latencia: Annotated[
        float, typer.Option("--latencia", help="Milisegundos de demora por respuesta.")
    ] = 0.0,
    errores: Annotated[
        float, typer.Option("--errores", help="Proporción de respuestas 5xx (0 a 1).")
    ] = 0.0,
    tasa_429: Annotated[
        float, typer.Option("--tasa-429", help="Proporción de respuestas 429 (0 a 1).")
    ] = 0.0,
    no_existe: Annotated[
        float, typer.Option("--no-existe", help="Proporción de RUC inexistentes (0 a 1).")
    ] = 0.10,
    token: Annotated[
        str | None, typer.Option("--token", help="Único token aceptado (si no: cualquiera).")
    ] = None,
    creditos: Annotated[
        int | None, typer.Option("--creditos", help="Consultas disponibles (si no: ilimitadas).")
    ] = None,
    semilla: Annotated[int, typer.Option("--semilla", help="Semilla de lo aleatorio.")] = 0,
    version_api: Annotated[
        str,
        typer.Option(
            "--api", help="Versión de la API del ejemplo que se muestra (se sirven la v1 y la v2)."
        ),
    ] = "v1",
) -> None:
    """Servir un APIMIGO simulado en 127.0.0.1 (para pruebas y demostraciones).

    Responde como APIMIGO documenta: las dos versiones de la API, token en el cuerpo (v1) o
    como Bearer (v2), y los códigos 401, 403, 404, 422 y 429 con sus formas.
    """
    from migo_cli.simulator import Simulator, SimulatorConfig, serve

    try:
        dialect = resolve_dialect(version_api)
        config = SimulatorConfig(
            latency_ms=latencia,
            error_share=errores,
            rate_limit_share=tasa_429,
            not_found_share=no_existe,
            token=token,
            credits=creditos,
            seed=semilla,
        )
    except UsageError as exc:
        raise typer.Exit(_fail(str(exc), EXIT_USAGE, [])) from None
    except ValueError as exc:
        raise typer.Exit(_fail(f"opción no válida: {exc}", EXIT_USAGE, [])) from None

    def ready(sim: Simulator) -> None:
        stderr.print(
            f"Simulador de APIMIGO en [bold]{sim.base_url}[/] (Ctrl-C para terminar)\n"
            f"Pruebe: migo consultar 20100038146 --base-url {sim.base_url} --token prueba"
            f" --api {dialect.name}"
        )

    try:
        serve(config, port=puerto, on_ready=ready)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except OSError as exc:
        raise typer.Exit(
            _fail(f"no se pudo abrir el puerto {puerto}: {exc.strerror}", EXIT_USAGE, [])
        ) from None


# -- the other services: dni, tipo-cambio, representantes, cuenta ----------------------


async def _unless_stopped(signals: _Signals, work: Awaitable[T]) -> T | None:
    """``work``'s result, or None when Ctrl-C / SIGTERM came first (``work`` is then cancelled).

    These commands have nothing partial to save: the first signal ends them.
    """
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(signals.stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    return None if task.cancelled() else task.result()


async def _all(works: list[Awaitable[T]]) -> list[T]:
    """Every result, concurrently; the first failure is raised once all have settled."""
    outcomes = await asyncio.gather(*works, return_exceptions=True)
    results: list[T] = []
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
        results.append(outcome)
    return results


def _emit_json(document: dict[str, Any] | list[dict[str, Any]], simulated: bool) -> None:
    """One object or a list of them on stdout; marked ``"simulado": true`` with --simulado."""
    mark = {"simulado": True} if simulated else {}
    marked = [row | mark for row in document] if isinstance(document, list) else document | mark
    sys.stdout.write(json.dumps(marked, ensure_ascii=False, indent=2) + "\n")


def _notice(api: ApiOptions) -> str | None:
    """What every table of simulated data says under it."""
    return SIMULATED_NOTICE if api.simulated else None


_JSON_OPTION = typer.Option("--json", help="Salida JSON (para scripts).")


@app.command()
def dni(
    ctx: typer.Context,
    dnis: Annotated[
        list[str],
        typer.Argument(help="Uno o más DNI (8 dígitos).", show_default=False, metavar="DNI"),
    ],
    as_json: Annotated[bool, _JSON_OPTION] = False,
    *,
    token: TokenOption = None,
    base_url: BaseUrlOption = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    retries: RetriesOption = DEFAULT_RETRIES,
    no_cache: NoCacheOption = False,
    refresh: RefreshOption = False,
    cache_dir: CacheDirOption = None,
    simulated: SimulatedOption = False,
    dialect: DialectOption = None,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Consultar uno o algunos DNI (RENIEC). Sale con 0 solo si todos existen.

    Ejemplo: migo dni 12345678 87654321 --json
    """
    api = ApiOptions.of(ctx)
    secrets: list[str] = []

    async def main(signals: _Signals) -> int:
        numbers = list(dict.fromkeys(check_dni(value) for value in dnis))
        async with _client(api, secrets) as client:
            work = _all([client.lookup_dni(number) for number in numbers])
            results = await _unless_stopped(signals, work)
        if results is None:
            return signals.exit_code or 130
        if as_json:
            rows = [r.to_dict() for r in results]
            _emit_json(rows[0] if len(rows) == 1 else rows, api.simulated)
        else:
            stdout.print(render.dni_table(results, _notice(api)))
        return EXIT_OK if all(r.found for r in results) else EXIT_PARTIAL

    _run_api(api, secrets, main)


@app.command("tipo-cambio")
def tipo_cambio(
    ctx: typer.Context,
    fecha: Annotated[
        str | None,
        typer.Option(
            "--fecha",
            help="Un día (si no: el último publicado).",
            show_default=False,
            metavar="AAAA-MM-DD",
        ),
    ] = None,
    desde: Annotated[
        str | None,
        typer.Option(
            "--desde",
            help="Primer día de un rango.",
            show_default=False,
            metavar="AAAA-MM-DD",
        ),
    ] = None,
    hasta: Annotated[
        str | None,
        typer.Option(
            "--hasta",
            help="Último día del rango (si no: hoy).",
            show_default=False,
            metavar="AAAA-MM-DD",
        ),
    ] = None,
    as_json: Annotated[bool, _JSON_OPTION] = False,
    *,
    token: TokenOption = None,
    base_url: BaseUrlOption = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    retries: RetriesOption = DEFAULT_RETRIES,
    no_cache: NoCacheOption = False,
    refresh: RefreshOption = False,
    cache_dir: CacheDirOption = None,
    simulated: SimulatedOption = False,
    dialect: DialectOption = None,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Tipo de cambio del dólar (SUNAT): el último publicado, el de un día o el de un rango.

    Ejemplos:

      migo tipo-cambio

      migo tipo-cambio --fecha 2024-05-31

      migo tipo-cambio --desde 2024-05-01 --hasta 2024-05-31 --json
    """
    api = ApiOptions.of(ctx)
    secrets: list[str] = []

    async def main(signals: _Signals) -> int:
        if fecha is not None and (desde is not None or hasta is not None):
            raise InvalidValueError("use --fecha, o bien --desde y --hasta, pero no ambos")
        if hasta is not None and desde is None:
            raise InvalidValueError("--hasta necesita --desde")
        day = parse_date(fecha, "--fecha") if fecha is not None else None
        span = None
        if desde is not None:
            start = parse_date(desde, "--desde")
            end = parse_date(hasta, "--hasta") if hasta is not None else today_in_lima()
            if start > end:
                limit = f"--hasta ({end})" if hasta is not None else f"hoy ({end})"
                raise InvalidValueError(f"--desde ({start}) es posterior a {limit}")
            span = (start, end)
        async with _client(api, secrets) as client:
            try:
                if span is not None:
                    rates = await _unless_stopped(signals, client.exchange_rates(*span))
                else:
                    rate = await _unless_stopped(signals, client.exchange_rate(day))
                    rates = None if rate is None else [rate]
            except NotFoundError as exc:
                when = f"el {day}" if day is not None else "hoy"
                message = f"APIMIGO no tiene tipo de cambio para {when} ({exc})"
                return _fail(message, EXIT_PARTIAL, secrets)
            except RejectedValueError as exc:
                return _fail(f"APIMIGO no aceptó la fecha: {exc}", EXIT_USAGE, secrets)
            except FatalAPIError:
                raise
            except APIError as exc:
                return _fail(str(exc), EXIT_PARTIAL, secrets)
        if rates is None:
            return signals.exit_code or 130
        if span is not None and not rates:
            message = f"APIMIGO no tiene tipos de cambio entre el {span[0]} y el {span[1]}"
            return _fail(message, EXIT_PARTIAL, secrets)
        if as_json:
            rows = [r.to_dict() for r in rates]
            _emit_json(rows if span is not None else rows[0], api.simulated)
        else:
            stdout.print(render.exchange_rates_table(rates, _notice(api)))
        return EXIT_OK

    _run_api(api, secrets, main)


@app.command()
def representantes(
    ctx: typer.Context,
    ruc: Annotated[
        str, typer.Argument(help="RUC de la empresa.", show_default=False, metavar="RUC")
    ],
    as_json: Annotated[bool, _JSON_OPTION] = False,
    *,
    token: TokenOption = None,
    base_url: BaseUrlOption = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    retries: RetriesOption = DEFAULT_RETRIES,
    no_cache: NoCacheOption = False,
    refresh: RefreshOption = False,
    cache_dir: CacheDirOption = None,
    simulated: SimulatedOption = False,
    dialect: DialectOption = None,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Representantes legales de una empresa (SUNAT). Sale con 1 si el RUC no existe.

    Ejemplo: migo representantes 20100038146
    """
    api = ApiOptions.of(ctx)
    secrets: list[str] = []

    async def main(signals: _Signals) -> int:
        check = _ruc.check_ruc(ruc)
        if check is None:
            raise InvalidValueError("el RUC está vacío")
        if not check.valid:
            raise InvalidValueError(f"RUC no válido {check.raw!r}: {check.reason}")
        async with _client(api, secrets) as client:
            result = await _unless_stopped(signals, client.legal_representatives(check.ruc))
        if result is None:
            return signals.exit_code or 130
        if as_json:
            _emit_json(result.to_dict(), api.simulated)
        else:
            stdout.print(render.representatives(result, _notice(api)))
        return EXIT_OK if result.found else EXIT_PARTIAL

    _run_api(api, secrets, main)


@app.command()
def cuenta(
    ctx: typer.Context,
    as_json: Annotated[bool, _JSON_OPTION] = False,
    *,
    token: TokenOption = None,
    base_url: BaseUrlOption = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    retries: RetriesOption = DEFAULT_RETRIES,
    no_cache: NoCacheOption = False,
    refresh: RefreshOption = False,
    cache_dir: CacheDirOption = None,
    simulated: SimulatedOption = False,
    dialect: DialectOption = None,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Datos de la cuenta de APIMIGO y consultas disponibles (no gasta consultas)."""
    api = ApiOptions.of(ctx)
    secrets: list[str] = []

    async def main(signals: _Signals) -> int:
        async with _client(api, secrets) as client:
            try:
                info = await _unless_stopped(signals, client.account())
            except FatalAPIError:
                raise
            except APIError as exc:
                return _fail(f"no se pudo consultar la cuenta: {exc}", EXIT_PARTIAL, secrets)
        if info is None:
            return signals.exit_code or 130
        if as_json:
            _emit_json(info.to_dict(), api.simulated)
        else:
            stdout.print(render.account_table(info, _notice(api)))
        return EXIT_OK

    _run_api(api, secrets, main)


@app.command()
def diagnostico(
    ctx: typer.Context,
    as_json: Annotated[bool, _JSON_OPTION] = False,
    *,
    token: TokenOption = None,
    base_url: BaseUrlOption = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    retries: RetriesOption = DEFAULT_RETRIES,
    no_cache: NoCacheOption = False,
    refresh: RefreshOption = False,
    cache_dir: CacheDirOption = None,
    simulated: SimulatedOption = False,
    dialect: DialectOption = None,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Revisar la configuración sin gastar consultas: token, URL, ruta, créditos, caché.

    Sale con 0 si todo está bien y con 1 si APIMIGO no respondió.

    Sale con 2 si falta configurar algo: el token, --base-url o --api.

    Sale con 3 si APIMIGO rechaza el token, niega el acceso o no quedan consultas.
    """
    from migo_cli.diagnostics import Diagnosis, Problem, diagnose

    api = ApiOptions.of(ctx)
    secrets: list[str] = []

    async def run(token: str | None, base_url: str | None) -> Diagnosis:
        from migo_cli.config import Timeout

        _quiet_retries()
        timeout = Timeout(total=api.timeout)
        return await diagnose(
            token, base_url=base_url, api=api.dialect, cache_dir=api.cache_dir, limits=timeout
        )

    async def main(signals: _Signals) -> int:
        if api.simulated:
            async with _upstream(api) as (fake_token, simulator_url):
                report = await run(fake_token, simulator_url)
        else:
            report = await run(api.token, api.base_url)
        if as_json:
            _emit_json([check.to_dict() for check in report.checks], api.simulated)
        else:
            for line in render.diagnosis_lines(report):
                stdout.print(line, highlight=False, soft_wrap=True)
        if report.passed:
            return EXIT_OK
        codes = {Problem.CONFIG: EXIT_USAGE, Problem.REJECTED: EXIT_FATAL}
        return codes.get(report.problem or Problem.OTHER, EXIT_PARTIAL)

    _run_api(api, secrets, main)


def main() -> None:
    """Console-script entry point: the command, then a quick exit (``_exit_now``)."""
    try:
        app()
    except MigoError as exc:  # raised while Typer parses, before a command runs
        code: object = _fail(str(exc), EXIT_USAGE, [])
    except SystemExit as exc:
        code = exc.code
    else:
        code = EXIT_OK
    _exit_now(code)


def _exit_now(code: object) -> NoReturn:
    """End the process with ``code`` once everything is written, skipping the teardown.

    Tearing the interpreter down (freeing every module and object one by one) takes
    a few tenths of a second with aiohttp and the cache loaded, after the work is
    done (benchmarks, figures 8-10). By now every command has closed its files, the
    cache and its connections; what remains is done here: the exit handlers Python
    would run (``atexit``: logging's flush and close among them), then stdout and
    stderr. When something is still to finish (another thread running, an output that
    cannot be flushed, an exit code that is not a number), the ordinary exit runs.
    """
    import atexit
    import threading

    if code is None:
        code = EXIT_OK
    others = [t for t in threading.enumerate() if t is not threading.current_thread()]
    if not isinstance(code, int) or any(not t.daemon for t in others):
        raise SystemExit(code)
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: Python reports it as it always does
        raise SystemExit(code) from None
    os._exit(code)
