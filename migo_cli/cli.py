"""The ``migo`` command: parse options, call one library function, render, pick the exit code.

Nothing here decides how RUCs are looked up; that is the library's job. This
module owns what only a process has: signals, exit codes (SPEC §5), stderr
logging and progress, and one-line Spanish messages instead of tracebacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import json
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import stamina.instrumentation
import typer
from rich.console import Console
from rich.table import Table

from migo_cli._version import __version__
from migo_cli.batch import BatchJob, BatchReport, default_output, run_batch
from migo_cli.cache import ResultCache
from migo_cli.client import LookupMode, MigoClient, cache_scope_for
from migo_cli.config import (
    Limits,
    Retry,
    Timeout,
    default_cache_dir,
    resolve_base_url,
    resolve_token,
)
from migo_cli.exceptions import FatalAPIError, InvalidValueError, MigoError, UsageError
from migo_cli.models import RucResult, Status
from migo_cli.progress import LogProgress, NullProgress, ProgressReporter, RichProgress
from migo_cli.ruc import check_ruc
from migo_cli.simulator import DEFAULT_PORT, Simulator, SimulatorConfig, serve

log = logging.getLogger("migo")

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_FATAL = 0, 1, 2, 3
SIMULATED_TOKEN = "simulado"
SIMULATED_NOTICE = "DATOS SIMULADOS: no provienen de SUNAT ni de APIMIGO (--simulado)."

app = typer.Typer(
    name="migo",
    help="Consulta de RUC (SUNAT) en lote, a través de la API de APIMIGO.",
    no_args_is_help=True,
    add_completion=False,
    # Pretty tracebacks print local variables, the token among them.
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)
cache_app = typer.Typer(help="Ver o limpiar la caché en disco.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")

stderr = Console(stderr=True)
stdout = Console()


# -- options shared by every command that calls the API ---------------------------


@dataclass(frozen=True, slots=True)
class ApiOptions:
    token: str | None
    base_url: str | None
    timeout: float
    retries: int
    no_cache: bool
    refresh: bool
    cache_dir: Path | None
    simulated: bool
    verbose: bool
    quiet: bool


_API = "Conexión con APIMIGO"
_OUT = "Mensajes"
_API_PARAMETERS = [
    inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        default=default,
        annotation=Annotated[kind, typer.Option(*flags, help=text, rich_help_panel=panel)],
    )
    for name, kind, default, flags, text, panel in [
        ("token", str | None, None, ("--token",),
         "Token de APIMIGO (si no: variable MIGO_TOKEN, o el archivo de configuración).", _API),
        ("base_url", str | None, None, ("--base-url",),
         "URL de la API (si no: MIGO_BASE_URL, o https://api.migo.pe).", _API),
        ("timeout", float, Timeout().total, ("--timeout",),
         "Segundos de espera por cada consulta.", _API),
        ("retries", int, Retry().retries, ("--reintentos",),
         "Reintentos tras el primer intento ante fallas transitorias.", _API),
        ("no_cache", bool, False, ("--sin-cache",), "No leer ni guardar la caché.", _API),
        ("refresh", bool, False, ("--refrescar",),
         "Consultar de nuevo aunque haya respuesta en caché (y guardar las nuevas).", _API),
        ("cache_dir", Path | None, None, ("--cache-dir",),
         "Carpeta de la caché (si no: MIGO_CACHE_DIR, o la carpeta de caché del usuario).", _API),
        ("simulated", bool, False, ("--simulado",),
         "Usar un simulador local de APIMIGO: sin token, datos ficticios.", _API),
        ("verbose", bool, False, ("-v", "--verbose"), "Más detalle en los mensajes.", _OUT),
        ("quiet", bool, False, ("-q", "--quiet"),
         "Solo errores: sin barra de progreso ni resumen.", _OUT),
    ]
]  # fmt: skip
_API_NAMES = [p.name for p in _API_PARAMETERS]

F = TypeVar("F", bound=Callable[..., Any])


def api_options(func: F) -> F:
    """Add the common API options to a command; it receives them as ``api: ApiOptions``."""
    signature = inspect.signature(func, eval_str=True)
    own = [p for p in signature.parameters.values() if p.name != "api"]

    @functools.wraps(func)
    def command(**kwargs: Any) -> Any:
        api = ApiOptions(**{name: kwargs.pop(name) for name in _API_NAMES})
        return func(api=api, **kwargs)

    command.__signature__ = signature.replace(parameters=own + _API_PARAMETERS)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in own + _API_PARAMETERS}
    return command  # type: ignore[return-value]


# -- process concerns: logging, signals, exit codes ------------------------------


class _Redact(logging.Filter):
    """The token never reaches a log line, whatever an exception message carried."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.secret in message:
            record.msg, record.args = message.replace(self.secret, "***"), None
        return True


def _setup_logging(verbose: bool, quiet: bool) -> None:
    logger = logging.getLogger("migo")
    logger.handlers.clear()
    logger.propagate = False
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
    if stderr.is_terminal:
        from rich.logging import RichHandler

        handler: logging.Handler = RichHandler(
            console=stderr, show_path=False, show_time=False, markup=False
        )
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            logging.Formatter("%(asctime)s migo %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
        )
    logger.addHandler(handler)
    # We log retries ourselves, in Spanish; stamina's default hook would warn in English.
    stamina.instrumentation.set_on_retry_hooks([])


def _redact_logs(secret: str) -> None:
    for handler in logging.getLogger("migo").handlers:
        handler.addFilter(_Redact(secret))


class _Signals:
    """SIGINT/SIGTERM become a stop request: the run saves what it has and exits 130/143.

    A second signal stops at once (the cache already holds every answer).
    """

    def __init__(self) -> None:
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
            log.warning(
                "interrupción (%s): se guarda lo respondido y se escribe la salida parcial",
                signal.Signals(signum).name,
            )
        elif self._task is not None:
            self._task.cancel()

    @property
    def exit_code(self) -> int | None:
        return None if self.received is None else 128 + self.received


T = TypeVar("T")


def _run(api_secret: list[str], main: Callable[[_Signals], Awaitable[int]]) -> None:
    """Run ``main`` under signal handling; map library exceptions to SPEC §5's exit codes."""
    signals = _Signals()

    async def wrapped() -> int:
        with signals.installed():
            return await main(signals)

    try:
        code = asyncio.run(wrapped())
    except UsageError as exc:
        code = _fail(str(exc), EXIT_USAGE, api_secret)
    except FatalAPIError as exc:
        code = _fail(str(exc), EXIT_FATAL, api_secret)
    except (KeyboardInterrupt, asyncio.CancelledError):
        code = signals.exit_code or 130
    except Exception as exc:  # a bug: one line by default, the traceback with -v
        log.debug("detalle del error interno", exc_info=True)
        detail = f"{type(exc).__name__}: {exc}"
        code = _fail(f"error interno ({detail}); use -v para ver el detalle", 1, api_secret)
    raise typer.Exit(code)


def _fail(message: str, code: int, secrets: list[str]) -> int:
    for secret in secrets:
        message = message.replace(secret, "***")
    stderr.print(f"[bold red]Error:[/] {message}", highlight=False, soft_wrap=True)
    return code


# -- building the client -----------------------------------------------------------


def _open_cache(api: ApiOptions) -> ResultCache | None:
    if api.no_cache:
        return None
    return ResultCache(api.cache_dir or default_cache_dir(), read=not api.refresh)


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
    async with Simulator(SimulatorConfig()) as simulator:
        yield SIMULATED_TOKEN, simulator.base_url


@contextlib.asynccontextmanager
async def _client(
    api: ApiOptions, secrets: list[str], limits: Limits | None = None
) -> AsyncIterator[MigoClient]:
    async with _upstream(api) as (token, base_url):
        secrets.append(token)
        _redact_logs(token)
        cache = _open_cache(api)
        try:
            async with MigoClient(
                token,
                base_url=base_url,
                limits=limits,
                timeout=Timeout(total=api.timeout),
                retry=Retry(retries=api.retries),
                cache=cache,
            ) as client:
                yield client
        finally:
            if cache is not None:
                cache.close()


def _progress(quiet: bool) -> ProgressReporter:
    if quiet:
        return NullProgress()
    if stderr.is_terminal:
        return RichProgress(stderr)
    return LogProgress(log)


def _check_positive(value: float, option: str) -> None:
    if value <= 0:
        raise InvalidValueError(f"{option} debe ser mayor que 0")


# -- commands ------------------------------------------------------------------------


def _version(value: bool) -> None:
    if value:
        stdout.print(f"migo {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Mostrar la versión."),
    ] = False,
) -> None:
    """Consulta de RUC (SUNAT) en lote, a través de la API de APIMIGO."""


@app.command()
@api_options
def consultar(
    rucs: Annotated[list[str], typer.Argument(help="Uno o más RUC.", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Salida JSON (para scripts).")] = False,
    *,
    api: ApiOptions,
) -> None:
    """Consultar uno o algunos RUC. Sale con 0 solo si todos son válidos."""
    _setup_logging(api.verbose, api.quiet)
    secrets: list[str] = []

    async def main(signals: _Signals) -> int:
        _check_positive(api.timeout, "--timeout")
        checks = [check_ruc(value) for value in dict.fromkeys(rucs)]
        if any(check is None for check in checks):
            raise InvalidValueError("hay un RUC vacío entre los argumentos")
        if any(check.valid for check in checks if check is not None):
            async with _client(api, secrets) as client:
                values = [c.key for c in checks if c is not None]
                stream = client.stream(values, ordered=True, stop=signals.stop)
                results = [result async for _, result in stream]
        else:  # nothing to pay for: no token needed to say what is wrong
            results = [RucResult.rejected(c.raw, c.reason) for c in checks if c is not None]
        if as_json:
            _print_json(results, api.simulated)
        else:
            _print_table(results, api.simulated)
        if signals.exit_code is not None:
            return signals.exit_code
        return EXIT_OK if all(r.status is Status.VALID for r in results) else EXIT_PARTIAL

    _run(secrets, main)


def _print_json(results: list[RucResult], simulated: bool) -> None:
    rows = [r.to_row() | ({"simulado": True} if simulated else {}) for r in results]
    document: Any = rows[0] if len(rows) == 1 else rows
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")


_STATUS_STYLE = {
    Status.VALID: "green",
    Status.NOT_FOUND: "yellow",
    Status.INVALID: "red",
    Status.ERROR: "bold red",
}


def _print_table(results: list[RucResult], simulated: bool) -> None:
    table = Table(caption=SIMULATED_NOTICE if simulated else None, caption_style="yellow")
    for header in ("RUC", "Consulta"):
        table.add_column(header, no_wrap=True)
    for header in ("Razón social", "Estado", "Condición", "Apto", "Detalle"):
        table.add_column(header, overflow="fold")
    for r in results:
        data = r.data
        table.add_row(
            r.ruc,
            f"[{_STATUS_STYLE.get(r.status, '')}]{r.status.value}[/]",
            str(data.get("nombre_o_razon_social") or ""),
            str(data.get("estado_del_contribuyente") or ""),
            str(data.get("condicion_de_domicilio") or ""),
            "sí" if r.billable else "no",
            r.reason or str(data.get("direccion") or ""),
        )
    stdout.print(table)


@app.command()
@api_options
def masivo(
    entrada: Annotated[
        str,
        typer.Argument(
            help="Archivo con los RUC: .csv .tsv .txt .xlsx .xlsm .json .jsonl, o - (stdin).",
            show_default=False,
        ),
    ],
    *,
    salida: Annotated[
        str | None,
        typer.Option(
            "-o",
            "--salida",
            help="Archivo de resultados: .xlsx .csv .jsonl .json, o - (JSONL a stdout). "
            "Por omisión: ENTRADA_resultado.xlsx junto a la entrada (stdin: -).",
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
        int, typer.Option("--concurrencia", help="Consultas simultáneas.")
    ] = Limits().concurrency,
    rpm: Annotated[
        float | None,
        typer.Option("--rpm", help="Máximo de consultas por minuto (sin límite si se omite)."),
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
    api: ApiOptions,
) -> None:
    """Consultar en lote los RUC de un archivo y escribir los resultados.

    Ejemplos:

      migo masivo clientes.xlsx -o resultado.xlsx

      migo masivo proveedores.csv --columna "Nro. RUC" -o verificados.csv --rpm 600

      migo masivo rucs.txt --dry-run
    """
    _setup_logging(api.verbose, api.quiet)
    secrets: list[str] = []

    async def main(signals: _Signals) -> int:
        _check_positive(api.timeout, "--timeout")
        _check_positive(concurrencia, "--concurrencia")
        if rpm is not None:
            _check_positive(rpm, "--rpm")
        job = BatchJob(
            source=entrada,
            output=salida or default_output(entrada),
            column=columna,
            sheet=hoja,
            mode=modo,
            enrich=enriquecer,
            validate_only=solo_validar,
            dry_run=dry_run,
        )
        progress = _progress(api.quiet)
        if solo_validar or dry_run:
            report = await _offline(job, api, progress)
        else:
            limits = Limits(concurrency=concurrencia, rpm=rpm)
            async with _client(api, secrets, limits) as client:
                report = await run_batch(job, client=client, progress=progress, stop=signals.stop)
        report.simulated = api.simulated
        if json_resumen is not None:
            _write_summary(json_resumen, report)
        if not api.quiet:
            _render_report(report, dry_run)
        if report.fatal is not None:
            _fail(str(report.fatal), EXIT_FATAL, secrets)
            return EXIT_FATAL
        if signals.exit_code is not None:
            return signals.exit_code
        return EXIT_PARTIAL if report.errors else EXIT_OK

    _run(secrets, main)


async def _offline(job: BatchJob, api: ApiOptions, progress: ProgressReporter) -> BatchReport:
    """``--solo-validar`` and ``--dry-run``: no token, no calls; a dry run reads the cache."""
    cache = None if job.validate_only else _open_cache(api)
    try:
        scope = None
        if cache is not None:
            base_url = "http://127.0.0.1" if api.simulated else resolve_base_url(api.base_url)
            scope = cache.scope(cache_scope_for(base_url))
        return await run_batch(job, cache=scope, progress=progress)
    finally:
        if cache is not None:
            cache.close()


def _write_summary(path: Path, report: BatchReport) -> None:
    text = json.dumps(report.summary(), ensure_ascii=False, indent=2) + "\n"
    temporary = path.with_name(f".{path.name}.migo-tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        log.error("no se pudo escribir el resumen en %s: %s", path, exc.strerror or exc)


def _render_report(report: BatchReport, dry_run: bool) -> None:
    summary = report.summary()
    if dry_run:
        stderr.print(
            f"Consultas pagadas que haría esta ejecución: [bold]{report.estimated_calls}[/] "
            f"({summary['unicos']} RUC distintos, {summary['formato_invalido']} con formato "
            "inválido; nada se gastó)"
        )
        return
    table = Table(title="Resumen", show_header=False, title_justify="left")
    table.add_column("campo", style="bold")
    table.add_column("valor", justify="right")
    labels = {
        "total": "Valores leídos",
        "unicos": "RUC distintos",
        "duplicados": "Duplicados",
        "validos": "Válidos",
        "sin_consultar": "Sin consultar (solo validación)",
        "no_existe": "No existen",
        "formato_invalido": "Formato inválido",
        "errores": "Errores",
        "desde_cache": "Desde caché",
        "llamadas_api": "Llamadas a la API",
        "duracion_s": "Duración (s)",
        "salida": "Salida",
        "completo": "Completo",
    }
    for key, label in labels.items():
        if key in summary:
            value = summary[key]
            shown = ("sí" if value else "no") if isinstance(value, bool) else str(value)
            table.add_row(label, shown)
    stderr.print(table)
    if report.errors and not report.fatal:
        stderr.print(
            f"[yellow]{report.errors} RUC quedaron con error; vuelva a ejecutar el mismo "
            "comando: solo se consultarán esos.[/]"
        )


@cache_app.command("info")
def cache_info(
    cache_dir: Annotated[
        Path | None, typer.Option("--cache-dir", help="Carpeta de la caché.")
    ] = None,
) -> None:
    """Entradas, tamaño y ubicación de la caché."""
    _setup_logging(False, False)
    with ResultCache(cache_dir or default_cache_dir()) as cache:
        info = cache.info()
    stdout.print(f"Ubicación: {info.path}")
    stdout.print(f"Entradas:  {info.entries}")
    stdout.print(f"Tamaño:    {info.size_bytes / 1024:.1f} KiB")


@cache_app.command("limpiar")
def cache_clear(
    ruc: Annotated[
        str | None, typer.Option("--ruc", help="Borrar solo las entradas de este RUC.")
    ] = None,
    cache_dir: Annotated[
        Path | None, typer.Option("--cache-dir", help="Carpeta de la caché.")
    ] = None,
) -> None:
    """Borrar la caché completa, o solo un RUC."""
    _setup_logging(False, False)
    with ResultCache(cache_dir or default_cache_dir()) as cache:
        removed = cache.clear(ruc)
    stdout.print(f"Entradas borradas: {removed}")


@app.command()
def simulador(
    *,
    puerto: Annotated[int, typer.Option("--puerto", help="Puerto en 127.0.0.1.")] = DEFAULT_PORT,
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
) -> None:
    """Servir un APIMIGO simulado en 127.0.0.1 (para pruebas y demostraciones)."""
    try:
        config = SimulatorConfig(
            latency_ms=latencia,
            error_share=errores,
            rate_limit_share=tasa_429,
            not_found_share=no_existe,
            token=token,
            credits=creditos,
            seed=semilla,
        )
    except ValueError as exc:
        raise typer.Exit(_fail(f"opción no válida: {exc}", EXIT_USAGE, [])) from None

    def ready(sim: Simulator) -> None:
        stderr.print(
            f"Simulador de APIMIGO en [bold]{sim.base_url}[/] (Ctrl-C para terminar)\n"
            f"Pruebe: migo consultar 20100038146 --base-url {sim.base_url} --token prueba"
        )

    try:
        serve(config, port=puerto, on_ready=ready)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except OSError as exc:
        raise typer.Exit(
            _fail(f"no se pudo abrir el puerto {puerto}: {exc.strerror}", EXIT_USAGE, [])
        ) from None


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except MigoError as exc:  # raised while Typer parses, before a command runs
        raise SystemExit(_fail(str(exc), EXIT_USAGE, [])) from None
