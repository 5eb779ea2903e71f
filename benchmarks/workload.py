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
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from migo_cli.batch import BatchJob, BatchReport, run_batch
from migo_cli.cache import ResultCache
from migo_cli.client import LookupMode, MigoClient
from migo_cli.config import Limits
from migo_cli.models import Origin, RucResult, Status, now_iso
from migo_cli.simulator import ruc_answer

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


# Linux carries the forking process's RSS high-water mark into the child across
# exec, so ``wait4`` from this (large) process would floor every child's peak at
# our own size. A minimal launcher forks instead, and reports the rusage of its
# child (its own few MiB are the floor) on its stdout.
_LAUNCHER = """
import json, os, sys, time
started = time.perf_counter()
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ)
_, status, usage = os.wait4(pid, 0)
code = os.waitstatus_to_exitcode(status)
print(json.dumps([time.perf_counter() - started, usage.ru_maxrss, code]))
"""


def run_child(args: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> ChildRun:
    """Run ``args``: its wall time, its own peak RSS, exit code and stderr."""
    process = subprocess.run(
        [sys.executable, "-S", "-c", _LAUNCHER, *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if process.returncode != 0 or not process.stdout.strip():
        raise RuntimeError(f"launcher failed: {process.stderr.strip()}")
    seconds, max_rss, returncode = json.loads(process.stdout.strip().splitlines()[-1])
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB elsewhere
    return ChildRun(float(seconds), int(max_rss) * scale, int(returncode), process.stderr)


def migo_command(*args: str) -> list[str]:
    """The installed CLI, run with this interpreter (the project's virtualenv)."""
    return [sys.executable, "-m", "migo_cli", *args]
