"""Figures 1–6 (issue 5): the pipeline, mostly timed in this process.

Each returns a ``Figure`` whose checks are ratios; each check names what it
divides by: another thing measured in the same run against the same server, a
bound computed from the run's parameters (N·L/C), or a fixed target.
Figures 7–10, the whole process, are in ``benchmarks.whole_process``.
"""

from __future__ import annotations

import heapq
import json
import math
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from benchmarks.baselines import bare_loop, chunked_original, write_xlsx_openpyxl
from benchmarks.report import Check, Figure
from benchmarks.server import Latencies, ServerProcess
from benchmarks.workload import (
    DEAD_UPSTREAM,
    TOKEN,
    MigoRun,
    check_complete,
    child_env,
    migo_command,
    profiled_migo,
    run_child,
    run_migo,
    simulated_result,
    warm_cache,
    write_csv,
)
from migo_cli.client import LookupMode
from migo_cli.config import COLLECTION_MAX
from migo_cli.models import OUTPUT_COLUMNS, Origin
from migo_cli.simulator import make_rucs
from migo_cli.writers import open_writer

T = TypeVar("T")
IN_PROCESS = (
    "in-process: run_batch with a MigoClient in the bench process (the collector tuned "
    "around it as `migo masivo` does: frozen imports, rarer young passes)"
)
CHILD = "whole process: `python -m migo_cli` as a child, spawn to exit"
GIB = 2**30
CONCURRENCY = 50


@dataclass(slots=True)
class Context:
    """Run-wide settings: scale, scratch space, profiling."""

    workdir: Path
    quick: bool = False
    profile_dir: Path | None = None
    seeds: Sequence[int] = (1, 2, 3)

    def n(self, full: int) -> int:
        """``--quick`` runs every figure at a tenth of its size."""
        return max(1, full // 10) if self.quick else full

    def rounds(self, full: int) -> int:
        return 1 if self.quick else full

    def directory(self, name: str) -> Path:
        """A fresh, empty directory (a fresh cache is an empty directory)."""
        path = self.workdir / name
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        return path

    def profiled(self, name: str, func: Callable[[], T]) -> T | None:
        """With ``--profile``, run ``func`` once more under pyinstrument; keep the text report."""
        if self.profile_dir is None:
            return None
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005, async_mode="disabled")
        profiler.start()
        try:
            result = func()
        finally:
            profiler.stop()
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        target = self.profile_dir / f"{name}.txt"
        target.write_text(profiler.output_text(unicode=True, color=False), encoding="utf-8")
        print(f"    profile: {target}", file=sys.stderr)
        return result


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else math.inf


def _list_schedule(durations: Sequence[float], workers: int, *, probe: bool = False) -> float:
    """Makespan of a zero-overhead pool of ``workers`` taking jobs in arrival order.

    With ``probe`` the first job runs alone first, as migo's token probe does.
    """
    offset, rest = (durations[0], durations[1:]) if probe and durations else (0.0, durations)
    finish = [offset] * workers
    for duration in rest:
        heapq.heappush(finish, heapq.heappop(finish) + duration)
    return max(finish) if rest else offset


def _migo_side(
    ctx: Context,
    label: str,
    source: Path,
    base_url: str,
    *,
    expected: int,
    suffix: str = ".jsonl",
    mode: LookupMode = LookupMode.INDIVIDUAL,
    cache_dir: Path | None = None,
) -> MigoRun:
    """One timed migo run with a fresh cache (unless given one) and a fresh output."""
    out_dir = ctx.directory(f"{label}-out")
    run = run_migo(
        source,
        out_dir / f"resultado{suffix}",
        cache_dir or ctx.directory(f"{label}-cache"),
        base_url=base_url,
        concurrency=CONCURRENCY,
        mode=mode,
    )
    check_complete(run, expected)
    return run


# -- 1 ------------------------------------------------------------------------------


def figure_1(ctx: Context) -> Figure:
    """Latency-bound efficiency: fixed latency, so the ideal is N·L/C."""
    n, latency = ctx.n(2000), 0.100
    rucs = make_rucs(n)
    source = write_csv(ctx.directory("f1") / "entrada.csv", rucs)
    migo_s: list[float] = []
    bare_s: list[float] = []
    with ServerProcess(latency_ms=latency * 1000, seed=1) as server:
        for _ in range(ctx.rounds(2)):
            server.reset()
            run = _migo_side(ctx, "f1", source, server.base_url, expected=n)
            if server.latencies().lookup_requests != n:
                raise RuntimeError("figure 1: the server did not see one request per RUC")
            migo_s.append(run.seconds)
            server.reset()
            bare_s.append(bare_loop(server.base_url, TOKEN, rucs, CONCURRENCY).seconds)
        ctx.profiled(
            "fig1-migo", lambda: _migo_side(ctx, "f1p", source, server.base_url, expected=n)
        )
    ideal = n * latency / CONCURRENCY
    with_probe = latency * (1 + math.ceil((n - 1) / CONCURRENCY))
    migo, bare = statistics.median(migo_s), statistics.median(bare_s)
    return Figure(
        1,
        "Latency-bound efficiency (fixed 100 ms, C=50)",
        "run_batch in this process (CSV in, .jsonl out, fresh cache) against the simulator "
        "in its own process; a bare aiohttp pool against the same server as reference. "
        "In-process so that the time is the pipeline's, not Python's start-up.",
        timed=IN_PROCESS,
        raw={
            "n": n,
            "concurrency": CONCURRENCY,
            "latency_s": latency,
            "ideal_s": ideal,
            "ideal_with_probe_s": with_probe,
            "migo_s": migo,
            "bare_loop_s": bare,
            "migo_runs_s": migo_s,
            "bare_runs_s": bare_s,
        },
        checks=[
            Check("ideal ÷ migo", "N·L/C", "migo wall time (median)", ideal / migo, 0.95),
            Check("ideal ÷ bare aiohttp pool", "N·L/C", "bare loop wall time", ideal / bare),
            Check(
                "ideal incl. token probe ÷ migo",
                "(1 + ⌈(N−1)/C⌉)·L",
                "migo wall time",
                with_probe / migo,
            ),
            Check(
                "(bare pool + one L for the probe) ÷ migo",
                "bare loop wall time + L",
                "migo wall time",
                (bare + latency) / migo,
            ),
        ],
    )


# -- 2 ------------------------------------------------------------------------------

_LOGNORMAL = {
    "latency_ms": 200.0,
    "latency_sigma": 0.25,
    "slow_share": 0.01,
    "slow_min": 1.0,
    "slow_max": 2.0,
}


def _expected_sum(n: int) -> float:
    """E[Σ latencies] from the knobs: lognormal mean plus 1 % of U(1, 2) s."""
    knobs = _LOGNORMAL
    mean = knobs["latency_ms"] / 1000 * math.exp(knobs["latency_sigma"] ** 2 / 2)
    slow = knobs["slow_share"] * (knobs["slow_min"] + knobs["slow_max"]) / 2
    return n * (mean + slow)


def figure_2(ctx: Context) -> Figure:
    """migo vs the original chunked service, lognormal latency with a slow tail."""
    n = ctx.n(1000)
    rucs = make_rucs(n, start=100_000)
    source = write_csv(ctx.directory("f2") / "entrada.csv", rucs)
    seeds = list(ctx.seeds[:1] if ctx.quick else ctx.seeds)
    runs: list[dict[str, Any]] = []
    with ServerProcess(**_LOGNORMAL, seed=seeds[0]) as server:
        for seed in seeds:
            server.configure(seed=seed)
            server.reset()  # reseeds: both sides draw from the same sequence
            chunked = chunked_original(server.base_url, TOKEN, rucs)
            chunked_lat = server.latencies()
            server.reset()
            migo = _migo_side(ctx, "f2", source, server.base_url, expected=n)
            migo_lat = server.latencies()
            runs.append(
                _figure_2_run(
                    seed,
                    n,
                    migo_s=migo.seconds,
                    migo=migo_lat,
                    chunked_s=chunked,
                    chunked=chunked_lat,
                )
            )
        ctx.profiled(
            "fig2-migo", lambda: _migo_side(ctx, "f2p", source, server.base_url, expected=n)
        )
    median = {key: statistics.median(r[key] for r in runs) for key in runs[0] if key != "seed"}
    figure = Figure(
        2,
        "Against the original chunked approach (lognormal 200 ms, σ 0.25, 1 % slow 1–2 s)",
        "Same simulator process, reset (and so reseeded) before each side. Σ latencies is what "
        "the simulator drew for that side's requests (recorded by a RNG subclass in the "
        "bench's server process). migo: run_batch in process; original: chunks of 50 with "
        "asyncio.gather on one aiohttp session, 0.05 s pause between chunks.",
        timed=IN_PROCESS,
        raw={
            "n": n,
            "concurrency": CONCURRENCY,
            "seeds": seeds,
            "expected_bound_s": _expected_sum(n) / CONCURRENCY,
            **{f"median_{k}": v for k, v in median.items()},
            "runs": runs,
        },
        checks=[
            Check(
                "migo ÷ concurrency bound",
                "migo wall time",
                "Σ drawn latencies ÷ C",
                median["migo_over_bound"],
                1.1,
                "<=",
            ),
            Check(
                "migo ÷ chunked original",
                "migo wall time",
                "chunked wall time",
                median["migo_over_chunked"],
                0.3,
                "<=",
            ),
            Check(
                "chunked original ÷ its concurrency bound",
                "chunked wall time",
                "Σ drawn latencies ÷ C",
                median["chunked_over_bound"],
            ),
            Check(
                "migo ÷ zero-overhead pool with probe",
                "migo wall time",
                "list schedule of served latencies, first alone",
                median["migo_over_pool_with_probe"],
            ),
            # What any client that never sends a RUC twice could reach with these
            # latencies: the slow requests that start late set the finish, not Σ/C.
            Check(
                "zero-overhead pool ÷ concurrency bound",
                "list schedule of served latencies",
                "Σ drawn latencies ÷ C",
                median["pool_over_bound"],
            ),
        ],
    )
    if len(runs) > 1:
        figure.notes.append(
            "checks use the median over seeds "
            + ", ".join(str(s) for s in seeds)
            + "; migo ÷ bound per seed: "
            + ", ".join(f"{r['migo_over_bound']:.3f}" for r in runs)
        )
    return figure


def _figure_2_run(
    seed: int, n: int, *, migo_s: float, migo: Latencies, chunked_s: float, chunked: Latencies
) -> dict[str, Any]:
    for side, lat in (("migo", migo), ("chunked", chunked)):
        if lat.lookup_requests != n or len(lat.served) != n:
            raise RuntimeError(f"figure 2 ({side}): the server saw {lat.lookup_requests} requests")
    bound = migo.drawn_s / CONCURRENCY
    chunked_bound = chunked.drawn_s / CONCURRENCY
    pool = _list_schedule(migo.served, CONCURRENCY)
    pool_probe = _list_schedule(migo.served, CONCURRENCY, probe=True)
    return {
        "seed": seed,
        "migo_s": migo_s,
        "chunked_s": chunked_s,
        "migo_sum_latency_s": migo.drawn_s,
        "migo_bound_s": bound,
        "migo_slow_requests": migo.slow_draws,
        "chunked_sum_latency_s": chunked.drawn_s,
        "chunked_bound_s": chunked_bound,
        "pool_s": pool,
        "pool_with_probe_s": pool_probe,
        "migo_over_bound": migo_s / bound,
        "migo_over_chunked": migo_s / chunked_s,
        "chunked_over_bound": chunked_s / chunked_bound,
        "migo_over_pool_with_probe": migo_s / pool_probe,
        "pool_over_bound": pool / bound,
    }


# -- 3 ------------------------------------------------------------------------------


def figure_3(ctx: Context) -> Figure:
    """Pipeline overhead: zero latency, so all that is left is CPU per RUC."""
    n = ctx.n(20_000)
    rucs = make_rucs(n, start=200_000)
    source = write_csv(ctx.directory("f3") / "entrada.csv", rucs)
    migo_s: list[float] = []
    bare_s: list[float] = []
    migo_cpu: list[float] = []
    bare_cpu: list[float] = []
    with ServerProcess(seed=1) as server:
        bare_loop(server.base_url, TOKEN, rucs, CONCURRENCY)  # warm the server's answer cache
        for _ in range(ctx.rounds(3)):
            server.reset()
            timing = bare_loop(server.base_url, TOKEN, rucs, CONCURRENCY)
            bare_s.append(timing.seconds)
            bare_cpu.append(timing.cpu_seconds)
            server.reset()
            run = _migo_side(ctx, "f3", source, server.base_url, expected=n)
            if run.client_requests != n:
                raise RuntimeError(f"figure 3: {run.client_requests} requests for {n} RUCs")
            migo_s.append(run.seconds)
            migo_cpu.append(run.cpu_seconds)
        ctx.profiled(
            "fig3-migo", lambda: _migo_side(ctx, "f3p", source, server.base_url, expected=n)
        )
    migo, bare = statistics.median(migo_s), statistics.median(bare_s)
    cpu_migo, cpu_bare = statistics.median(migo_cpu), statistics.median(bare_cpu)
    return Figure(
        3,
        "Pipeline overhead (zero latency, empty cache, C=50)",
        "Simulator in its own process (each side gets a core; neither pays for the server's "
        "CPU). Bare loop: the session MigoClient builds, 50 workers, POST + read + json.loads, "
        "nothing else. migo: run_batch in process (CSV in, .jsonl out, fresh cache). "
        "Interleaved rounds, medians.",
        timed=IN_PROCESS,
        raw={
            "n": n,
            "concurrency": CONCURRENCY,
            "migo_s": migo,
            "bare_loop_s": bare,
            "migo_ruc_per_s": _rate(n, migo),
            "bare_loop_ruc_per_s": _rate(n, bare),
            "migo_us_per_ruc": migo / n * 1e6,
            "bare_loop_us_per_ruc": bare / n * 1e6,
            "migo_cpu_us_per_ruc": cpu_migo / n * 1e6,
            "bare_loop_cpu_us_per_ruc": cpu_bare / n * 1e6,
            "migo_runs_s": migo_s,
            "bare_runs_s": bare_s,
        },
        checks=[
            Check(
                "migo RUC/s ÷ bare aiohttp RUC/s",
                "migo RUC/s",
                "bare loop RUC/s",
                _rate(n, migo) / _rate(n, bare),
                0.6,
            ),
            # Client CPU per RUC barely moves when other work shares the machine; wall
            # time does (the bare loop needs both cores, migo mostly one).
            Check(
                "bare CPU/RUC ÷ migo CPU/RUC (client process)",
                "bare loop CPU s",
                "migo CPU s",
                cpu_bare / cpu_migo,
            ),
        ],
    )


# -- 4 ------------------------------------------------------------------------------

JSONL_TARGET = 20_000.0  # RUC/s


def _time_writer(path: Path, rows: Sequence[dict[str, Any]], summary: dict[str, Any]) -> float:
    started = time.perf_counter()
    writer = open_writer(path, columns=OUTPUT_COLUMNS)
    for row in rows:
        writer.write(row)
    writer.close(summary)
    return time.perf_counter() - started


@dataclass(slots=True)
class WarmCacheRun:
    """Figure 4's measurement: ``n`` RUCs, every one cached, through run_batch to .jsonl."""

    rucs: list[str]
    source: Path
    cache: Path
    warm_s: float
    jsonl: MigoRun

    @property
    def rate(self) -> float:
        return _rate(len(self.rucs), self.jsonl.seconds)


def warm_cache_jsonl(ctx: Context, n: int, label: str = "f4") -> WarmCacheRun:
    """A cache filled with ``n`` answers, then one timed in-process run answered by it.

    Figure 4's own number, and the yardstick other figures divide by (figure 13).
    """
    rucs = make_rucs(n, start=1_000_000)
    base = ctx.directory(label)
    source = write_csv(base / "entrada.csv", rucs)
    cache = ctx.directory(f"{label}-cache")
    warm_s = warm_cache(cache, rucs)
    jsonl = _migo_side(ctx, f"{label}j", source, DEAD_UPSTREAM, expected=n, cache_dir=cache)
    if jsonl.report.from_cache != n or jsonl.client_requests:
        raise RuntimeError(f"{label}: not fully cached: {jsonl.report.summary()}")
    return WarmCacheRun(rucs, source, cache, warm_s, jsonl)


def figure_4(ctx: Context) -> Figure:
    """Warm cache: the whole run is read, validate, cache hit, write."""
    n = ctx.n(100_000)
    warm = warm_cache_jsonl(ctx, n)
    rucs, source, cache, warm_s, jsonl = warm.rucs, warm.source, warm.cache, warm.warm_s, warm.jsonl
    xlsx = _migo_side(
        ctx, "f4x", source, DEAD_UPSTREAM, expected=n, suffix=".xlsx", cache_dir=cache
    )
    for run in (jsonl, xlsx):
        if run.report.from_cache != n or run.client_requests:
            raise RuntimeError(f"figure 4: not fully cached: {run.report.summary()}")
    ctx.profiled(
        "fig4-jsonl",
        lambda: _migo_side(ctx, "f4jp", source, DEAD_UPSTREAM, expected=n, cache_dir=cache),
    )
    # Writer alone: the rows migo writes, already in memory.
    rows = []
    for ruc in rucs:
        result = simulated_result(ruc)
        result.origin = Origin.CACHE
        rows.append(result.to_row())
    summary = jsonl.report.summary()
    out = ctx.directory("f4w")
    writer_jsonl = _time_writer(out / "w.jsonl", rows, summary)
    writer_xlsxwriter = _time_writer(out / "w.xlsx", rows, summary)
    started = time.perf_counter()
    write_xlsx_openpyxl(out / "w-openpyxl.xlsx", OUTPUT_COLUMNS, rows, summary)
    writer_openpyxl = time.perf_counter() - started
    jsonl_rate = _rate(n, jsonl.seconds)
    return Figure(
        4,
        "Warm cache (every RUC cached), .jsonl and .xlsx",
        "Cache filled through ResultCache.scope('local').put_ruc with the simulator's answers; "
        "run_batch in process with a client pointed at a closed loopback port (any request "
        "would fail and be counted: none was sent). Writers alone: the same rows, in memory, "
        "through migo's writers and through an openpyxl write-only equivalent.",
        timed=IN_PROCESS + "; the writers alone, in-process too",
        raw={
            "n": n,
            "cache_warm_s": warm_s,
            "jsonl_run_s": jsonl.seconds,
            "xlsx_run_s": xlsx.seconds,
            "jsonl_ruc_per_s": jsonl_rate,
            "xlsx_ruc_per_s": _rate(n, xlsx.seconds),
            "xlsx_minus_jsonl_s": xlsx.seconds - jsonl.seconds,
            "writer_only_jsonl_s": writer_jsonl,
            "writer_only_xlsxwriter_s": writer_xlsxwriter,
            "writer_only_openpyxl_s": writer_openpyxl,
        },
        checks=[
            Check(
                "migo .jsonl RUC/s ÷ 20,000 RUC/s",
                "N ÷ jsonl run time",
                "target rate",
                jsonl_rate / JSONL_TARGET,
                1.0,
            ),
            Check(
                "xlsx run ÷ jsonl run",
                "xlsx run time",
                "jsonl run time",
                xlsx.seconds / jsonl.seconds,
            ),
            Check(
                "openpyxl ÷ xlsxwriter (writer only)",
                "openpyxl write-only time",
                "migo's xlsxwriter writer time",
                writer_openpyxl / writer_xlsxwriter,
            ),
        ],
    )


# -- 5 ------------------------------------------------------------------------------


def _summary(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def figure_5(ctx: Context) -> Figure:
    """Scale: a million rows through the CLI process; wall time and peak RSS."""
    n = ctx.n(1_000_000)
    base = ctx.directory("f5")
    started = time.perf_counter()
    rucs = make_rucs(n, start=10_000_000)
    source = write_csv(base / "entrada.csv", rucs)
    input_s = time.perf_counter() - started
    env = child_env(base)
    import_only = run_child([sys.executable, "-c", "import migo_cli.cli"], cwd=base, env=env)

    validate_args = migo_command(
        "masivo", str(source), "--solo-validar", "-q",
        "-o", str(base / "validado.jsonl"), "--json-resumen", str(base / "validado.json"),
    )  # fmt: skip
    validate = run_child(validate_args, cwd=base, env=env)
    if validate.returncode != 0:
        raise RuntimeError(f"figure 5 --solo-validar failed: {validate.stderr}")
    validated = _summary(base / "validado.json")
    if validated.get("sin_consultar") != n:
        raise RuntimeError(f"figure 5 --solo-validar: {validated}")

    cache = ctx.directory("f5-cache")
    warm_s = warm_cache(cache, rucs)
    cached_args = migo_command(
        "masivo", str(source), "-q", "--cache-dir", str(cache),
        "--base-url", DEAD_UPSTREAM, "--token", TOKEN, "--concurrencia", str(CONCURRENCY),
        "-o", str(base / "resultado.jsonl"), "--json-resumen", str(base / "resultado.json"),
    )  # fmt: skip
    cached = run_child(cached_args, cwd=base, env=env)
    if cached.returncode != 0:
        raise RuntimeError(f"figure 5 warm cache failed: {cached.stderr}")
    summary = _summary(base / "resultado.json")
    if summary.get("desde_cache") != n or summary.get("llamadas_api") != 0:
        raise RuntimeError(f"figure 5 warm cache: not fully cached: {summary}")
    if ctx.profile_dir is not None:
        ctx.profile_dir.mkdir(parents=True, exist_ok=True)
        for name, args in (("fig5-solo-validar", validate_args), ("fig5-cache", cached_args)):
            report = ctx.profile_dir / f"{name}.txt"
            run_child(profiled_migo(report, *args[3:]), cwd=base, env=env)  # after -m migo_cli
            print(f"    profile: {report}", file=sys.stderr)
    return Figure(
        5,
        f"Scale: {n:,}-row CSV through the CLI (--solo-validar; warm cache to .jsonl)",
        "`python -m migo_cli masivo` as a child process (wall time includes interpreter start "
        "and imports); peak RSS from os.wait4 (this child's rusage only). The 1M-entry cache "
        "is filled in one process through ResultCache.scope('local').put_ruc; the run points "
        "at a closed loopback port and the resumen confirms 0 API calls.",
        timed=CHILD,
        raw={
            "n": n,
            "input_write_s": input_s,
            "input_bytes": source.stat().st_size,
            "import_only_rss_mib": import_only.peak_rss_bytes / 2**20,
            "solo_validar_s": validate.seconds,
            "solo_validar_ruc_per_s": _rate(n, validate.seconds),
            "solo_validar_rss_mib": validate.peak_rss_bytes / 2**20,
            "cache_warm_s": warm_s,
            "cache_bytes": sum(p.stat().st_size for p in cache.rglob("*") if p.is_file()),
            "cached_s": cached.seconds,
            "cached_ruc_per_s": _rate(n, cached.seconds),
            "cached_rss_mib": cached.peak_rss_bytes / 2**20,
        },
        checks=[
            Check(
                "peak RSS --solo-validar ÷ 1 GiB",
                "child's peak RSS",
                "1 GiB budget",
                validate.peak_rss_bytes / GIB,
                1.0,
                "<=",
            ),
            Check(
                "peak RSS warm cache ÷ 1 GiB",
                "child's peak RSS",
                "1 GiB budget",
                cached.peak_rss_bytes / GIB,
                1.0,
                "<=",
            ),
            Check(
                "warm-cache RUC/s ÷ 20,000 RUC/s",
                "N ÷ CLI wall time",
                "figure 4's target rate",
                _rate(n, cached.seconds) / JSONL_TARGET,
            ),
        ],
    )


# -- 6 ------------------------------------------------------------------------------


def figure_6(ctx: Context) -> Figure:
    """Collection mode: up to 100 RUCs a call instead of one."""
    n, latency = ctx.n(10_000), 0.100
    rucs = make_rucs(n, start=3_000_000)
    source = write_csv(ctx.directory("f6") / "entrada.csv", rucs)
    with ServerProcess(latency_ms=latency * 1000, seed=1) as server:
        server.reset()
        single = _migo_side(ctx, "f6i", source, server.base_url, expected=n)
        single_calls = server.latencies().lookup_requests
        server.reset()
        collection = _migo_side(
            ctx, "f6c", source, server.base_url, expected=n, mode=LookupMode.COLLECTION
        )
        collection_calls = server.latencies().lookup_requests
        ctx.profiled(
            "fig6-coleccion",
            lambda: _migo_side(
                ctx, "f6p", source, server.base_url, expected=n, mode=LookupMode.COLLECTION
            ),
        )
    minimum_calls = math.ceil(n / COLLECTION_MAX)
    return Figure(
        6,
        "Collection mode vs individual (100 ms latency, C=50)",
        "run_batch in process, --modo coleccion vs individual, fresh cache each, same "
        "simulator process; upstream calls counted by the simulator (and by the client).",
        timed=IN_PROCESS,
        raw={
            "n": n,
            "concurrency": CONCURRENCY,
            "individual_s": single.seconds,
            "individual_calls": single_calls,
            "coleccion_s": collection.seconds,
            "coleccion_calls": collection_calls,
            "coleccion_client_calls": collection.client_requests,
            "individual_ideal_s": n * latency / CONCURRENCY,
        },
        checks=[
            Check(
                "coleccion calls ÷ ⌈N/100⌉",
                "upstream calls, coleccion",
                "fewest possible calls",
                collection_calls / minimum_calls,
                1.0,
                "<=",
            ),
            Check(
                "coleccion calls ÷ individual calls",
                "upstream calls, coleccion",
                "upstream calls, individual",
                collection_calls / single_calls,
            ),
            Check(
                "coleccion wall ÷ individual wall",
                "coleccion wall time",
                "individual wall time",
                collection.seconds / single.seconds,
            ),
        ],
    )


FIGURES: dict[int, Callable[[Context], Figure]] = {
    1: figure_1,
    2: figure_2,
    3: figure_3,
    4: figure_4,
    5: figure_5,
    6: figure_6,
}
