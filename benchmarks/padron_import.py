"""Figure 12 of issue 14: importing SUNAT's padrón, `migo padron actualizar` as a whole process.

A generated 2,000,000-row padrón (``write_padron(fast=True)``: SUNAT's format, Latin-1,
0.05 % malformed lines) zipped as SUNAT publishes it; ``migo padron actualizar
--desde FILE -q`` runs as a child, spawn to exit. The child is the ``migo`` console
script run through a small wrapper that, once it is done, reports its own peak RSS
and its worker processes' (``RUSAGE_CHILDREN``); the build's workers are spawned,
so each starts small. Alongside, informative: the same build in one process
(``build_index(workers=1)`` in this process), to show what the partitions buy.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable

from benchmarks.figures import Context
from benchmarks.report import Check, Figure
from benchmarks.workload import ChildRun, child_env, migo_entry_point, run_child
from migo_cli.padron.build import build_index
from migo_cli.padron.store import PadronIndex
from migo_cli.simulator.padron import MEMBER_NAME, write_padron

GIB = 2**30
TARGET_ROWS_PER_S = 150_000
MALFORMED = 0.0005

#: Runs the migo console script as ``__main__`` (so worker processes see the same
#: main module as under a user's ``migo``), then prints its peak RSS and its
#: children's, in KiB, after a marker: from an ``atexit`` hook, because ``migo``
#: ends its process with ``os._exit`` once its own exit hooks have run.
_WRAPPER = """
import atexit, json, resource, runpy, sys
script, sys.argv = sys.argv[1], ["migo", *sys.argv[2:]]

def report():
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print("@@rss " + json.dumps([own, workers]), flush=True)

atexit.register(report)
runpy.run_path(script, run_name="__main__")
"""


def _rss(run: ChildRun) -> tuple[int, int]:
    """(own, largest worker) peak RSS in bytes, from the wrapper's report."""
    line = next(line for line in run.stdout.splitlines() if line.startswith("@@rss "))
    own, workers = json.loads(line.removeprefix("@@rss "))
    scale = 1 if sys.platform == "darwin" else 1024
    return int(own) * scale, int(workers) * scale


def _ok(run: ChildRun) -> ChildRun:
    if run.returncode != 0:
        tail = "\n".join(run.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"migo padron actualizar exited with {run.returncode}: {tail}")
    return run


def figure_12(ctx: Context) -> Figure:
    n = ctx.n(2_000_000)
    base = ctx.directory("f12")
    started = time.perf_counter()
    source = write_padron(base / "padron_reducido_ruc.zip", count=n, fast=True, malformed=MALFORMED)
    generate_s = time.perf_counter() - started
    import zipfile

    with zipfile.ZipFile(source.path) as archive:
        text_bytes = archive.getinfo(MEMBER_NAME).file_size
    env = child_env(base)
    padron_dir = base / "padron"
    env["MIGO_PADRON_DIR"] = str(padron_dir)
    script = migo_entry_point()[0]
    args = [
        sys.executable, "-c", _WRAPPER, script,
        "padron", "actualizar", "--desde", str(source.path), "-q",
    ]  # fmt: skip

    def actualizar() -> ChildRun:
        return _ok(run_child(args, cwd=base, env=env))

    runs = [actualizar() for _ in range(ctx.rounds(3))]
    with PadronIndex.open(padron_dir) as index:
        info = index.info
    if info.filas != source.rows:
        raise RuntimeError(f"figure 12: {info.filas} rows indexed, {source.rows} written")
    wall = statistics.median(run.seconds for run in runs)
    rate = info.filas / wall
    own, worker = max((_rss(run) for run in runs), key=sum)
    single_s = _in_process(lambda: build_index(source.path, base / "uno", workers=1))
    workers = os.cpu_count() or 1
    return Figure(
        12,
        f"Padrón import: {n:,} rows, `migo padron actualizar --desde ZIP`",
        "Generated zip (SUNAT's format, 0.05 % malformed lines), in the page cache. The "
        "`migo` console script as a child through a wrapper that reports peak RSS of the "
        f"process and of its largest worker (RUSAGE_CHILDREN); {workers} CPUs, so "
        f"{workers} partitions ({workers - 1} worker process{'es' if workers > 2 else ''}). "
        "Median of the rounds. Single-process build: build_index(workers=1) in the bench "
        "process, for comparison.",
        timed="whole process: the `migo` console script as a child, spawn to exit",
        raw={
            "n": n,
            "rows": info.filas,
            "omitidas": info.omitidas,
            "generate_s": generate_s,
            "zip_bytes": source.path.stat().st_size,
            "text_bytes": text_bytes,
            "index_bytes": info.bytes,
            "workers": workers,
            "wall_s": wall,
            "wall_runs_s": [run.seconds for run in runs],
            "cpu_s": statistics.median(run.cpu_seconds for run in runs),
            "rows_per_s": rate,
            "peak_rss_main_mib": own / 2**20,
            "peak_rss_worker_mib": worker / 2**20,
            "single_process_s": single_s,
            "single_process_rows_per_s": info.filas / single_s,
        },
        checks=[
            Check(
                "import rows/s ÷ 150,000",
                "rows ÷ wall time of `migo padron actualizar`",
                "issue 14's 150,000 rows/s",
                rate / TARGET_ROWS_PER_S,
                1.0,
            ),
            Check(
                "peak RSS (process + workers) ÷ 1 GiB",
                "main's peak RSS + (partitions - 1) × largest worker's",
                "1 GiB budget",
                (own + (workers - 1) * worker) / GIB,
                1.0,
                "<=",
            ),
            Check("index bytes ÷ text bytes", "index file", "padrón text", info.bytes / text_bytes),
            Check(
                "partitions ÷ one process (rows/s)",
                "whole-process rows/s",
                "in-process build_index(workers=1) rows/s",
                single_s / wall,
            ),
        ],
    )


def _in_process(build: Callable[[], object]) -> float:
    started = time.perf_counter()
    build()
    return time.perf_counter() - started


FIGURES: dict[int, Callable[[Context], Figure]] = {12: figure_12}
