"""Inputs, warm caches and the two ways of running migo that the figures time.

migo is measured on its real path: ``run_batch`` (read → validate → dedupe →
cache|API → ordered streaming write) with a ``MigoClient`` and a fresh
``ResultCache``, in this process; or, where peak memory is the question, the
``migo`` CLI as a child process, whose peak RSS ``os.wait4`` reports.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from migo_cli.batch import BatchJob, BatchReport, run_batch
from migo_cli.cache import ResultCache
from migo_cli.cli import _long_lived_objects_frozen
from migo_cli.client import LookupMode, MigoClient
from migo_cli.config import Limits
from migo_cli.models import Origin, RucResult, Status, now_iso
from migo_cli.simulator import ruc_answer

REPO = Path(__file__).resolve().parent.parent
# run_batch imports the CSV parser and the Excel reader and writer the first time
# a run needs them: a start-up cost, paid once per process. The in-process
# figures time the pipeline, so they are imported here, before any clock starts.
for _library in ("pandas", "python_calamine", "xlsxwriter"):
    importlib.import_module(_library)

TOKEN = "bench-token-not-secret"
#: A loopback port nobody listens on: a fully cached run must never reach it
#: (any request would end as a connection-refused ``error`` row, and be counted).
DEAD_UPSTREAM = "http://127.0.0.1:9"
CACHE_SCOPE = "local"  # what every loopback upstream (the simulator) reads and writes


def write_csv(path: Path, rucs: list[str]) -> Path:
    """A typical ERP export: a ``RUC`` column among others."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("RUC,Cliente,Monto\n")
        for index, ruc in enumerate(rucs):
            fh.write(f"{ruc},Cliente {index},{index % 997}.50\n")
    return path


def simulated_result(ruc: str) -> RucResult:
    """What migo would have cached after asking the simulator about ``ruc``."""
    data = ruc_answer(ruc)
    if data is None:
        return RucResult(ruc, Status.NOT_FOUND, "SUNAT no registra este RUC", queried_at=now_iso())
    return RucResult(ruc, Status.VALID, "", data, Origin.API, now_iso())


def warm_cache(directory: Path, rucs: list[str]) -> float:
    """Fill a cache as a first run would, through the public ``put_ruc``; returns seconds.

    One process, one ``ResultCache``, one SQLite transaction per entry (what
    migo itself does): about 15,000 entries/s here. Cheaper than a first run
    against the simulator, and it exercises the same code that stores answers.
    """
    started = time.perf_counter()
    with ResultCache(directory) as cache:
        scope = cache.scope(CACHE_SCOPE)
        for ruc in rucs:
            scope.put_ruc(simulated_result(ruc))
    return time.perf_counter() - started


@dataclass(frozen=True, slots=True)
class MigoRun:
    seconds: float
    cpu_seconds: float  # this process only: the simulator runs in another one
    report: BatchReport
    client_requests: int


async def _run_migo(
    source: Path,
    output: Path,
    cache_dir: Path,
    *,
    base_url: str,
    concurrency: int,
    mode: LookupMode,
) -> MigoRun:
    cache = ResultCache(cache_dir)
    # The collector as `migo masivo` tunes it at its edge (frozen imports, rarer young passes).
    with _long_lived_objects_frozen():
        try:
            started, cpu = time.perf_counter(), time.process_time()
            async with MigoClient(
                TOKEN, base_url=base_url, limits=Limits(concurrency=concurrency), cache=cache
            ) as client:
                report = await run_batch(BatchJob(source, output, mode=mode), client=client)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            return MigoRun(seconds, cpu, report, client.stats.lookup_requests)
        finally:
            cache.close()


def run_migo(
    source: Path,
    output: Path,
    cache_dir: Path,
    *,
    base_url: str = DEAD_UPSTREAM,
    concurrency: int = 50,
    mode: LookupMode = LookupMode.INDIVIDUAL,
) -> MigoRun:
    """One ``migo masivo`` run in this process, timed from client creation to closed output."""
    return asyncio.run(
        _run_migo(source, output, cache_dir, base_url=base_url, concurrency=concurrency, mode=mode)
    )


def check_complete(run: MigoRun, expected: int) -> None:
    """A timing is only worth reporting if every row got its answer."""
    summary = run.report.summary()
    if summary["unicos"] != expected or not summary["completo"]:
        raise RuntimeError(f"migo's run is incomplete: {summary}")


@dataclass(frozen=True, slots=True)
class ChildRun:
    seconds: float
    peak_rss_bytes: int
    returncode: int
    stderr: str
    stdout: str = ""
    cpu_seconds: float = 0.0  # user + system of the child alone
    #: ``time.monotonic()`` when the child was spawned: on Linux one clock for every
    #: process, so it lines up with the arrivals the bench's server records.
    spawned_at: float = 0.0


# Linux carries the forking process's RSS high-water mark into the child across
# exec, so ``wait4`` from this (large) process would floor every child's peak at
# our own size. A minimal launcher forks instead, and reports the rusage of its
# child (its own few MiB are the floor) on its stdout, after a marker: the child
# shares that stdout, and its output need not end with a newline.
_MARKER = "\n@@migo-bench-launcher "
_LAUNCHER = f"""
import json, os, sys, time
spawned_at = time.monotonic()
started = time.perf_counter()
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - started
code = os.waitstatus_to_exitcode(status)
cpu = usage.ru_utime + usage.ru_stime
sys.stdout.flush()
print({_MARKER!r} + json.dumps([seconds, usage.ru_maxrss, code, cpu, spawned_at]))
"""


def run_child(args: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> ChildRun:
    """Run ``args``: its wall time, its own peak RSS and CPU, exit code, stdout and stderr.

    The wall time is the child's alone, from spawn to exit: not the launcher's start-up.
    ``args[0]`` must be a path (no ``PATH`` search).
    """
    process = subprocess.run(
        [sys.executable, "-S", "-c", _LAUNCHER, *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    output, marker, report = process.stdout.rpartition(_MARKER)
    if process.returncode != 0 or not marker:
        raise RuntimeError(f"launcher failed: {process.stderr.strip()}")
    seconds, max_rss, returncode, cpu, spawned_at = json.loads(report)
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB elsewhere
    return ChildRun(
        float(seconds),
        int(max_rss) * scale,
        int(returncode),
        process.stderr,
        output,
        float(cpu),
        float(spawned_at),
    )


def migo_command(*args: str) -> list[str]:
    """The CLI as a module, run with this interpreter (the project's virtualenv)."""
    return [sys.executable, "-m", "migo_cli", *args]


def migo_entry_point(*args: str) -> list[str]:
    """The ``migo`` command a user types: the console script installed beside this interpreter.

    Falls back to ``python -m migo_cli`` where there is none (the package not installed).
    """
    script = Path(sys.executable).parent / "migo"
    return [str(script), *args] if script.is_file() else migo_command(*args)


# pyinstrument's command line (``-m migo_cli`` or ``-c``) reports migo's imports and
# loses the run itself; the Profiler API inside the child keeps both.
_PROFILED_MAIN = """
import contextlib, sys
from pyinstrument import Profiler
report, sys.argv = sys.argv[1], ["migo", *sys.argv[2:]]
profiler = Profiler(interval=0.0005)
profiler.start()
try:
    from migo_cli.cli import app  # not main(): it ends the process (os._exit) when done
    with contextlib.suppress(SystemExit):
        app(prog_name="migo")
finally:
    profiler.stop()
    with open(report, "w", encoding="utf-8") as fh:
        fh.write(profiler.output_text(unicode=True, color=False))
"""


def profiled_migo(report: Path, *args: str) -> list[str]:
    """``migo ARGS`` under pyinstrument, its text report written to ``report``."""
    return [sys.executable, "-c", _PROFILED_MAIN, str(report), *args]


def child_env(workdir: Path) -> dict[str, str]:
    """No token, no config file, no user cache: the child sees only what we pass."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIGO_")}
    # A user's install has its bytecode (pip compiles it): let the untimed first run
    # write migo_cli's, rather than compile ~10,000 lines in every timed run.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = str(REPO)  # the migo_cli next to this bench, as in the bench process
    env["MIGO_CONFIG"] = str(workdir / "no-config.toml")
    env["MIGO_CACHE_DIR"] = str(workdir / "unused-cache")
    return env
