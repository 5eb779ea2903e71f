"""Figures 7–10 of issue 11: the whole ``migo`` process, as a user or cron runs it.

Each figure times child processes from spawn to exit (``run_child``): interpreter
start-up, imports, the work, writing, shutting down. migo is the ``migo`` console
script installed beside this interpreter. Every migo run is paired with its
yardstick in the same round, the order alternating between rounds so that neither
side always runs second on a warmer machine; a check is the median of the
per-round ratios. One untimed run of each side comes first (``.pyc`` files
compiled, files in the page cache), as a user's second run of the day would find.

Where the simulator is involved, it runs in its own process (``ServerProcess``)
and records when each call arrived; on Linux its ``time.monotonic()`` is the one
the launcher read at spawn, so every migo run gets a timeline: start-up until the
first call, the calls, and the tail after the last answer.

Before and after: with ``MIGO_BENCH_BEFORE=DIR`` (another checkout of migo, with its
own ``make install``), each figure also runs that checkout's ``migo`` in the same
rounds, against the same yardstick and server, and reports its ratios as ``before:``
checks and ``before_*`` raw numbers::

    git worktree add /tmp/before <commit> && make -C /tmp/before install
    MIGO_BENCH_BEFORE=/tmp/before python -m benchmarks 7 8 9 10
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

from benchmarks.baselines import bare_loop, bare_loop_command
from benchmarks.figures import CONCURRENCY, Context
from benchmarks.report import Check, Figure
from benchmarks.server import Latencies, ServerProcess
from benchmarks.workload import (
    TOKEN,
    ChildRun,
    child_env,
    migo_entry_point,
    profiled_migo,
    run_child,
    write_csv,
)
from migo_cli.simulator import make_rucs

T = TypeVar("T")

RUC = "20100038146"
TYPER = "import typer"
#: What any aiohttp CLI with Typer, Rich and a disk cache pays before doing anything.
CLIENT_STACK = "import aiohttp, typer, rich, diskcache"
WHOLE_PROCESS = "whole process: the `migo` console script as a child, spawn to exit"


@dataclass(frozen=True, slots=True)
class Checkout:
    """A checkout whose ``migo`` is timed: this one, or the one ``MIGO_BENCH_BEFORE`` names."""

    label: str
    root: Path | None  # None: this checkout (the bench's own interpreter and PYTHONPATH)

    def command(self, *args: str) -> list[str]:
        if self.root is None:
            return migo_entry_point(*args)
        return [str(self.root / ".venv" / "bin" / "migo"), *args]

    def env(self, workdir: Path) -> dict[str, str]:
        env = child_env(workdir)
        if self.root is not None:  # its own migo_cli, not the one next to this bench
            env["PYTHONPATH"] = str(self.root)
        return env


HERE = Checkout("migo", None)


def _before() -> Checkout | None:
    """The checkout to compare with (``MIGO_BENCH_BEFORE``), if any."""
    root = os.environ.get("MIGO_BENCH_BEFORE")
    if not root:
        return None
    path = Path(root).resolve()
    if not (path / ".venv" / "bin" / "migo").is_file():
        raise RuntimeError(f"MIGO_BENCH_BEFORE={root}: no .venv/bin/migo there (make install)")
    return Checkout("before", path)


def _rotated(rounds: int, sides: Sequence[Callable[[], T]]) -> list[list[T]]:
    """``rounds`` rows of one run per side, after one untimed run of each; the order rotates.

    With two sides, who goes first alternates.
    """
    for side in sides:
        side()
    rows: list[list[T]] = []
    for index in range(rounds):
        row: dict[int, T] = {}
        for step in range(len(sides)):
            which = (index + step) % len(sides)
            row[which] = sides[which]()
        rows.append([row[which] for which in range(len(sides))])
    return rows


def _ok(run: ChildRun, what: str) -> ChildRun:
    if run.returncode != 0:
        tail = "\n".join(run.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"{what} exited with {run.returncode}: {tail}")
    return run


def _python(code: str, cwd: Path, env: dict[str, str]) -> Callable[[], ChildRun]:
    args = [sys.executable, "-c", code]
    return lambda: _ok(run_child(args, cwd=cwd, env=env), f"python -c {code!r}")


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def _timings(prefix: str, runs: Sequence[ChildRun]) -> dict[str, Any]:
    return {
        f"{prefix}_s": _median([r.seconds for r in runs]),
        f"{prefix}_cpu_s": _median([r.cpu_seconds for r in runs]),
        f"{prefix}_runs_s": [r.seconds for r in runs],
    }


def _ratio(
    rows: Sequence[Sequence[ChildRun]], top: int, bottom: int, *, cpu: bool = False
) -> float:
    """Median over rounds of side ``top`` ÷ side ``bottom`` (wall time, or CPU time)."""

    def value(run: ChildRun) -> float:
        return run.cpu_seconds if cpu else run.seconds

    return _median([value(row[top]) / value(row[bottom]) for row in rows if value(row[bottom])])


_BEFORE_NOTE = (
    " The `before:` checks time MIGO_BENCH_BEFORE's `migo` in the same rounds (the code "
    "before the change being measured)."
)


def _before_checks(
    before: Checkout | None,
    rows: Sequence[Sequence[ChildRun]],
    side: int,
    yardstick: int,
    *,
    name: str,
    what: str,
    denominator: str,
) -> list[Check]:
    """Wall and CPU ratios of the checkout ``MIGO_BENCH_BEFORE`` names, if any (informative)."""
    if before is None:
        return []
    return [
        Check(
            f"before: {name}",
            f"before: {what} wall",
            f"{denominator} wall",
            _ratio(rows, side, yardstick),
        ),
        Check(
            "before: same, CPU time",
            f"before: {what} CPU",
            f"{denominator} CPU",
            _ratio(rows, side, yardstick, cpu=True),
        ),
    ]


def _floor_command(*args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).with_name("minimal_cli.py")), *args]


def _importtime(
    ctx: Context, name: str, args: Sequence[str], cwd: Path, env: dict[str, str]
) -> None:
    """With ``--profile``: ``-X importtime`` of the same command, heaviest imports first."""
    if ctx.profile_dir is None:
        return
    run = run_child([sys.executable, "-X", "importtime", "-m", "migo_cli", *args], cwd=cwd, env=env)
    rows = [line for line in run.stderr.splitlines() if line.startswith("import time:")]
    cumulative = sorted(rows[1:], key=lambda line: -int(line.split("|")[1]))
    ctx.profile_dir.mkdir(parents=True, exist_ok=True)
    target = ctx.profile_dir / f"{name}.txt"
    target.write_text("\n".join([rows[0], *cumulative[:60]]) + "\n", encoding="utf-8")
    print(f"    profile: {target}", file=sys.stderr)


def _pyinstrument(
    ctx: Context, name: str, args: Sequence[str], cwd: Path, env: dict[str, str]
) -> None:
    """With ``--profile``: the same migo command once more under pyinstrument."""
    if ctx.profile_dir is None:
        return
    ctx.profile_dir.mkdir(parents=True, exist_ok=True)
    report = ctx.profile_dir / f"{name}.txt"
    run_child(profiled_migo(report, *args), cwd=cwd, env=env)
    print(f"    profile: {report}", file=sys.stderr)


# -- 7 ------------------------------------------------------------------------------


def figure_7(ctx: Context) -> Figure:
    """``migo --help`` against the import of the library it is built on."""
    base = ctx.directory("f7")
    env = child_env(base)
    command = migo_entry_point("--help")
    before = _before()

    def help_of(
        args: list[str], what: str, expected: str, env: dict[str, str] = env
    ) -> Callable[[], ChildRun]:
        def run() -> ChildRun:
            done = _ok(run_child(args, cwd=base, env=env), what)
            if expected not in done.stdout:
                raise RuntimeError(f"{what} printed no command list: {done.stdout[:200]!r}")
            return done

        return run

    sides = [
        help_of(command, "migo --help", "consultar"),
        _python(TYPER, base, env),
        help_of(_floor_command("--help"), "minimal_cli.py --help", "consultar"),
    ]
    if before is not None:
        args = before.command("--help")
        sides.append(help_of(args, "before: migo --help", "consultar", before.env(base)))
    rows = _rotated(ctx.rounds(7), sides)
    _importtime(ctx, "fig7-importtime", ["--help"], base, env)
    return Figure(
        7,
        "Start-up: `migo --help`",
        f'`{" ".join(Path(a).name for a in command)}`, `python -c "{TYPER}"` and '
        "`benchmarks/minimal_cli.py --help` (a two-command Typer app with Typer's own Rich "
        "help, which migo's plain help replaces) as child processes, spawn to exit, same "
        "interpreter and environment; rounds in rotating order, after one untimed run of "
        f"each.{_BEFORE_NOTE if before is not None else ''}",
        timed=WHOLE_PROCESS,
        raw={
            "rounds": len(rows),
            "command": command,
            **_timings("migo", [row[0] for row in rows]),
            **_timings("yardstick", [row[1] for row in rows]),
            **_timings("floor", [row[2] for row in rows]),
            **(_timings("before", [row[3] for row in rows]) if before is not None else {}),
        },
        checks=[
            Check(
                "migo --help ÷ import typer",
                "migo --help wall",
                f"`{TYPER}` wall",
                _ratio(rows, 0, 1),
                1.3,
                "<=",
            ),
            # CPU seconds move less than wall time when the machine is shared.
            Check(
                "same, CPU time", "migo --help CPU", f"`{TYPER}` CPU", _ratio(rows, 0, 1, cpu=True)
            ),
            Check(
                "floor: minimal Typer --help ÷ import typer",
                "minimal_cli.py --help wall",
                f"`{TYPER}` wall",
                _ratio(rows, 2, 1),
            ),
            Check(
                "migo --help ÷ minimal Typer --help",
                "migo --help wall",
                "minimal_cli.py --help wall",
                _ratio(rows, 0, 2),
            ),
            *_before_checks(
                before,
                rows,
                3,
                1,
                name="migo --help ÷ import typer",
                what="migo --help",
                denominator=f"`{TYPER}`",
            ),
        ],
    )


# -- 8 ------------------------------------------------------------------------------


def figure_8(ctx: Context) -> Figure:
    """``migo consultar R --json`` answered from the cache: start-up and nothing else."""
    base = ctx.directory("f8")
    cache = ctx.directory("f8-cache")
    env = child_env(base)
    before = _before()
    floor_args = _floor_command(
        "consultar", RUC, "--json", "--cache-dir", str(ctx.directory("f8-floor-cache"))
    )
    with ServerProcess(seed=1) as server:
        args = [
            "consultar", RUC, "--json", "--token", TOKEN,
            "--base-url", server.base_url, "--cache-dir", str(cache),
        ]  # fmt: skip

        def answered(
            command: list[str], what: str, origin: str, env: dict[str, str] = env
        ) -> Callable[[], ChildRun]:
            def run() -> ChildRun:
                done = _ok(run_child(command, cwd=base, env=env), what)
                answer = json.loads(done.stdout)
                if answer.get("ruc") != RUC or answer.get("origen") != origin:
                    raise RuntimeError(f"figure 8, {what}: expected origen={origin}: {answer}")
                return done

            return run

        migo = migo_entry_point(*args)
        answered(migo, "migo consultar", "api")()  # migo warms its cache, with one call
        _ok(run_child(floor_args, cwd=base, env=env), "minimal_cli.py consultar")
        sides = [
            answered(migo, "migo consultar", "cache"),
            _python(CLIENT_STACK, base, env),
            answered(floor_args, "minimal_cli.py consultar", "cache"),
        ]
        if before is not None:  # its own cache, warmed the same way
            earlier = before.command(*args[:-1], str(ctx.directory("f8-before-cache")))
            answered(earlier, "before: migo consultar", "api", before.env(base))()
            sides.append(answered(earlier, "before: migo consultar", "cache", before.env(base)))
        server.reset()
        rows = _rotated(ctx.rounds(7), sides)
        calls = server.latencies().requests
        if calls:
            raise RuntimeError(f"figure 8: answered from the cache, yet {calls} calls were made")
        _importtime(ctx, "fig8-importtime", args, base, env)
    return Figure(
        8,
        "Start-up: `migo consultar R --json` answered from the cache",
        f"`migo {' '.join(args[:3])} …` (its cache warmed by one migo run against the "
        f"simulator in its own process; the server then saw 0 calls), `python -c "
        f'"{CLIENT_STACK}"` and the floor (`benchmarks/minimal_cli.py consultar`: a Typer '
        "command with migo's kinds of options that imports the same four libraries and "
        "reads one diskcache entry) as child processes, spawn to exit; rounds in rotating "
        f"order, after one untimed run of each.{_BEFORE_NOTE if before is not None else ''}",
        timed=WHOLE_PROCESS,
        raw={
            "rounds": len(rows),
            **_timings("migo", [row[0] for row in rows]),
            **_timings("yardstick", [row[1] for row in rows]),
            **_timings("floor", [row[2] for row in rows]),
            **(_timings("before", [row[3] for row in rows]) if before is not None else {}),
        },
        checks=[
            Check(
                "migo consultar (cache) ÷ import client stack",
                "migo consultar wall",
                f"`{CLIENT_STACK}` wall",
                _ratio(rows, 0, 1),
                1.3,
                "<=",
            ),
            Check(
                "same, CPU time",
                "migo consultar CPU",
                f"`{CLIENT_STACK}` CPU",
                _ratio(rows, 0, 1, cpu=True),
            ),
            Check(
                "floor: minimal Typer consultar ÷ client stack",
                "minimal_cli.py consultar wall",
                f"`{CLIENT_STACK}` wall",
                _ratio(rows, 2, 1),
            ),
            Check(
                "migo consultar ÷ minimal Typer consultar",
                "migo consultar wall",
                "minimal_cli.py consultar wall",
                _ratio(rows, 0, 2),
            ),
            *_before_checks(
                before,
                rows,
                3,
                1,
                name="migo consultar ÷ client stack",
                what="migo consultar",
                denominator=f"`{CLIENT_STACK}`",
            ),
        ],
    )


# -- 9 and 10: migo masivo ------------------------------------------------------------


def _masivo(source: Path, ctx: Context, server: ServerProcess, label: str) -> list[str]:
    """``masivo``'s arguments: fresh output and cache directories named after ``label``."""
    out = ctx.directory(f"{label}-out")
    return [
        "masivo", str(source), "-o", str(out / "resultado.jsonl"),
        "--json-resumen", str(out / "resumen.json"),
        "--token", TOKEN, "--base-url", server.base_url,
        "--cache-dir", str(ctx.directory(f"{label}-cache")),
        "--concurrencia", str(CONCURRENCY),
    ]  # fmt: skip


def _run_masivo(
    ctx: Context,
    server: ServerProcess,
    source: Path,
    *,
    base: Path,
    n: int,
    label: str,
    migo: Checkout = HERE,
) -> tuple[ChildRun, Latencies]:
    """One whole ``migo masivo`` run, fresh cache and output; checked complete."""
    server.reset()
    command = migo.command(*_masivo(source, ctx, server, label))
    run = _ok(run_child(command, cwd=base, env=migo.env(base)), f"{migo.label} masivo")
    summary = json.loads((ctx.workdir / f"{label}-out" / "resumen.json").read_text("utf-8"))
    if summary.get("unicos") != n or not summary.get("completo") or summary.get("errores"):
        raise RuntimeError(f"{label}: migo's run is incomplete: {summary}")
    latencies = server.latencies()
    if latencies.lookup_requests != n:
        raise RuntimeError(f"{label}: the server saw {latencies.lookup_requests} lookups for {n}")
    return run, latencies


Masivo = tuple[ChildRun, Latencies]


def _masivo_rounds(
    rounds: int,
    masivo: Callable[[Checkout], Masivo],
    yardstick: Callable[[], ChildRun],
    before: Checkout | None,
) -> tuple[list[tuple[Masivo, ChildRun]], list[Masivo]]:
    """(migo, yardstick) per round, and ``before``'s runs in the same rounds (or none)."""
    sides: list[Callable[[], object]] = [lambda: masivo(HERE), yardstick]
    if before is not None:
        sides.append(lambda: masivo(before))
    rows = _rotated(rounds, sides)
    pairs = [(cast("Masivo", row[0]), cast("ChildRun", row[1])) for row in rows]
    return pairs, [cast("Masivo", row[2]) for row in rows] if before is not None else []


def _timeline(run: ChildRun, lat: Latencies) -> dict[str, float]:
    """Where a masivo run's wall time went, seconds from spawn, as the server saw it."""
    first_call = min([*lat.arrivals, *(a for _, a, _ in lat.others)])
    last_answer = max(a + s for a, s in zip(lat.arrivals, lat.served, strict=True))
    return {
        "first_call": first_call - run.spawned_at,  # imports, reading, validating
        "first_lookup": lat.arrivals[0] - run.spawned_at,  # … and the credit check
        "second_lookup": lat.arrivals[1] - run.spawned_at if len(lat.arrivals) > 1 else math.nan,
        "last_answer": last_answer - run.spawned_at,
        "lookups_span": last_answer - lat.arrivals[0],
        "tail": run.spawned_at + run.seconds - last_answer,  # writing, closing, exiting
    }


def _timeline_raw(
    runs: Sequence[tuple[ChildRun, Latencies]], prefix: str = "timeline"
) -> dict[str, float]:
    lines = [_timeline(run, lat) for run, lat in runs]
    return {f"{prefix}_{key}_s": _median([line[key] for line in lines]) for key in lines[0]}


def figure_9(ctx: Context) -> Figure:
    """Whole ``migo masivo`` at 100 ms latency: start-up plus N·L/C is the bound."""
    n, latency = ctx.n(1000), 0.100
    rucs = make_rucs(n, start=4_000_000)
    base = ctx.directory("f9")
    source = write_csv(base / "entrada.csv", rucs)
    env = child_env(base)
    before = _before()
    with ServerProcess(latency_ms=latency * 1000, seed=1) as server:
        pairs, befores = _masivo_rounds(
            ctx.rounds(5),
            lambda migo: _run_masivo(
                ctx, server, source, base=base, n=n, label=f"f9-{migo.label}", migo=migo
            ),
            _python(CLIENT_STACK, base, env),
            before,
        )
        if ctx.profile_dir is not None:
            _pyinstrument(ctx, "fig9-masivo", _masivo(source, ctx, server, "f9p"), base, env)
    ideal = n * latency / CONCURRENCY
    with_probe = latency * (1 + math.ceil((n - 1) / CONCURRENCY))
    runs = [m for (m, _), _ in pairs]
    ratio = _median([m.seconds / (y.seconds + ideal) for (m, _), y in pairs])
    ratio_probe = _median([m.seconds / (y.seconds + with_probe) for (m, _), y in pairs])
    span = _median([_timeline(m, lat)["lookups_span"] for (m, lat), _ in pairs])
    earlier = []
    if befores:
        ratios = [
            b.seconds / (y.seconds + ideal) for (b, _), (_, y) in zip(befores, pairs, strict=True)
        ]
        earlier.append(
            Check(
                "before: migo masivo ÷ (client stack + N·L/C)",
                "before: migo masivo wall",
                f"`{CLIENT_STACK}` wall + N·L/C",
                _median(ratios),
            )
        )
    return Figure(
        9,
        f"Whole `migo masivo`: {n:,} RUCs, 100 ms latency, C=50",
        "`migo masivo entrada.csv -o resultado.jsonl --concurrencia 50` (fresh cache, CSV "
        "in, credit check (whose answer opens the lookups' gate), lookups, .jsonl out) as "
        "a child process against the simulator in its own process, paired with figure 8's "
        "yardstick; the bound is that yardstick's wall time plus N·L/C. Timeline (from "
        "spawn, medians) from the arrivals the server recorded."
        f"{_BEFORE_NOTE if before is not None else ''}",
        timed=WHOLE_PROCESS,
        raw={
            "n": n,
            "concurrency": CONCURRENCY,
            "latency_s": latency,
            "rounds": len(pairs),
            "ideal_s": ideal,
            **_timings("migo", runs),
            **_timings("yardstick", [y for _, y in pairs]),
            **_timeline_raw([run for run, _ in pairs]),
            **(_timings("before", [b for b, _ in befores]) if befores else {}),
            **(_timeline_raw(befores, "before_timeline") if befores else {}),
        },
        checks=[
            Check(
                "migo masivo ÷ (import client stack + N·L/C)",
                "migo masivo wall",
                f"`{CLIENT_STACK}` wall + N·L/C",
                ratio,
                1.15,
                "<=",
            ),
            Check(
                "same, bound incl. a lone probe's L (when the account answers late)",
                "migo masivo wall",
                f"`{CLIENT_STACK}` wall + (1 + ⌈(N−1)/C⌉)·L",
                ratio_probe,
            ),
            Check("lookups' span ÷ N·L/C", "first lookup to last answer", "N·L/C", span / ideal),
            *earlier,
        ],
    )


def figure_10(ctx: Context) -> Figure:
    """Whole ``migo masivo`` at zero latency against a bare aiohttp process."""
    n = ctx.n(5000)
    rucs = make_rucs(n, start=5_000_000)
    base = ctx.directory("f10")
    source = write_csv(base / "entrada.csv", rucs)
    plain = base / "rucs.txt"
    plain.write_text("\n".join(rucs) + "\n", encoding="utf-8")
    env = child_env(base)
    before = _before()
    in_process: list[float] = []
    with ServerProcess(seed=1) as server:
        bare_loop(server.base_url, TOKEN, rucs, CONCURRENCY)  # warm the server's answer cache
        bare_command = bare_loop_command(server.base_url, TOKEN, plain, CONCURRENCY)

        def bare() -> ChildRun:
            server.reset()
            run = _ok(run_child(bare_command, cwd=base, env=env), "the bare loop")
            if server.latencies().lookup_requests != n:
                raise RuntimeError("figure 10: the bare loop did not send one request per RUC")
            server.reset()
            in_process.append(bare_loop(server.base_url, TOKEN, rucs, CONCURRENCY).seconds)
            return run

        pairs, befores = _masivo_rounds(
            ctx.rounds(5),
            lambda migo: _run_masivo(
                ctx, server, source, base=base, n=n, label=f"f10-{migo.label}", migo=migo
            ),
            bare,
            before,
        )
        if ctx.profile_dir is not None:
            _pyinstrument(ctx, "fig10-masivo", _masivo(source, ctx, server, "f10p"), base, env)
    runs = [m for (m, _), _ in pairs]
    bares = [y for _, y in pairs]
    ratio = _median([y.seconds / m.seconds for (m, _), y in pairs])
    migo_s, bare_s = _median([r.seconds for r in runs]), _median([b.seconds for b in bares])
    loop_s = _median(in_process[1:])  # the first came with the untimed warm-up round
    earlier = []
    if befores:
        ratios = [y.seconds / b.seconds for (b, _), (_, y) in zip(befores, pairs, strict=True)]
        earlier.append(
            Check(
                "before: migo RUC/s ÷ bare process RUC/s",
                "before: N ÷ migo masivo wall",
                "N ÷ bare loop process wall",
                _median(ratios),
            )
        )
    return Figure(
        10,
        f"Whole `migo masivo`: {n:,} RUCs, no latency, C=50",
        "`migo masivo entrada.csv -o resultado.jsonl --concurrencia 50` (fresh cache) and "
        "`python -m benchmarks.bare_loop` (imports aiohttp, reads the RUCs, 50 workers: "
        "POST + read + json.loads) as child processes against the same simulator process, "
        "paired rounds; RUC/s = N ÷ process wall time. The same bare loop in this process "
        f"(no start-up) as reference.{_BEFORE_NOTE if before is not None else ''}",
        timed=WHOLE_PROCESS + "; the bare loop too",
        raw={
            "n": n,
            "concurrency": CONCURRENCY,
            "rounds": len(pairs),
            "migo_ruc_per_s": n / migo_s,
            "bare_process_ruc_per_s": n / bare_s,
            "bare_in_process_ruc_per_s": n / loop_s,
            **_timings("migo", runs),
            **_timings("bare_process", bares),
            "bare_in_process_s": loop_s,
            **_timeline_raw([run for run, _ in pairs]),
            **(_timings("before", [b for b, _ in befores]) if befores else {}),
            **(_timeline_raw(befores, "before_timeline") if befores else {}),
        },
        checks=[
            Check(
                "migo RUC/s ÷ bare aiohttp process RUC/s",
                "N ÷ migo masivo wall",
                "N ÷ bare loop process wall",
                ratio,
                0.6,
            ),
            Check(
                "migo RUC/s ÷ bare loop in-process RUC/s",
                "N ÷ migo masivo wall",
                "N ÷ bare loop wall, no start-up",
                loop_s / migo_s,
            ),
            Check(
                "bare CPU ÷ migo CPU (client processes)",
                "bare loop process CPU",
                "migo masivo CPU",
                _median([y.cpu_seconds / m.cpu_seconds for (m, _), y in pairs]),
            ),
            *earlier,
        ],
    )


FIGURES: dict[int, Callable[[Context], Figure]] = {
    7: figure_7,
    8: figure_8,
    9: figure_9,
    10: figure_10,
}
