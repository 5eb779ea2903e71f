"""Figures 13–14 of issue 14: answers from the local padrón, as a user's process gets them.

13. ``migo masivo`` of 100,000 RUCs with ``--fuente padron`` to ``.jsonl``, the whole
    process (spawn to exit: start-up, reading the CSV, the padrón, the history, the
    writer), in RUC/s, divided by figure 4's warm-cache RUC/s (run_batch in process,
    every RUC from the cache) measured in the same run by figure 4's own code.
    The history is on, as by default: one untimed first run records every RUC
    (reported as ``first_run_s``); the timed rounds are the nightly case, the same
    padrón again.
14. ``migo consultar R --fuente padron`` (the default table, and ``--json``) against
    ``python -c "import typer"``, median of 10 rounds in rotating order; ``migo
    --version`` is the CLI's own floor. The command must not load the network stack
    (aiohttp, diskcache, the client): checked with ``-X importtime`` on every run of
    the figure.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

from benchmarks.figures import Context, warm_cache_jsonl
from benchmarks.report import Check, Figure
from benchmarks.whole_process import (
    TYPER,
    WHOLE_PROCESS,
    _importtime,
    _ok,
    _pyinstrument,
    _python,
    _ratio,
    _rotated,
    _timings,
)
from benchmarks.workload import ChildRun, child_env, migo_entry_point, run_child, write_csv
from migo_cli.padron.build import build_index
from migo_cli.simulator import make_rucs
from migo_cli.simulator.padron import write_padron

#: Never loaded to answer from the padrón alone.
NETWORK = ("aiohttp", "diskcache", "migo_cli.client", "stamina")
START = 3_000_000


def _padron(ctx: Context, label: str, count: int) -> Path:
    """An index of ``count`` generated rows (``make_rucs`` numbering from ``START``)."""
    base = ctx.directory(label)
    source = write_padron(base / "padron.txt", count=count, start=START, fast=True)
    build_index(source.path, base / "indice", fecha=date.today())
    return base / "indice"


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


# -- 13 -----------------------------------------------------------------------------


def figure_13(ctx: Context) -> Figure:
    n = ctx.n(100_000)
    padron = _padron(ctx, "f13-padron", n)
    base = ctx.directory("f13")
    source = write_csv(base / "entrada.csv", make_rucs(n, start=START))
    env = child_env(base)
    env["MIGO_PADRON_DIR"] = str(padron)
    env["MIGO_CACHE_DIR"] = str(ctx.directory("f13-cache"))  # the history lives there
    output = base / "resultado.jsonl"
    command = migo_entry_point("masivo", str(source), "-o", str(output), "--fuente", "padron", "-q")

    def run() -> ChildRun:
        done = _ok(run_child(command, cwd=base, env=env), "migo masivo --fuente padron")
        if sum(1 for _ in output.open(encoding="utf-8")) != n:
            raise RuntimeError("figure 13: the output does not hold one row per RUC")
        return done

    first = run()  # records every RUC in the history: a first night
    rounds = [run() for _ in range(ctx.rounds(3))]
    _pyinstrument(ctx, "fig13-masivo-padron", command[1:], base, env)
    seconds = sorted(r.seconds for r in rounds)[len(rounds) // 2]
    padron_rate = _rate(n, seconds)
    warm = warm_cache_jsonl(ctx, n, label="f13-f4")
    return Figure(
        13,
        "`masivo --fuente padron` (whole process) vs warm cache (figure 4)",
        f"{n:,} generated RUCs, all in a generated padrón (index built untimed); "
        "`migo masivo entrada.csv -o resultado.jsonl --fuente padron -q` as a child, "
        "history on (default): one untimed first run records every RUC, then "
        f"{len(rounds)} timed runs (median). Yardstick: figure 4's warm-cache .jsonl run "
        "(run_batch in this process, the same N), by figure 4's code, in this run.",
        timed=WHOLE_PROCESS + "; the yardstick in-process",
        raw={
            "n": n,
            "command": command,
            "first_run_s": first.seconds,
            "padron_ruc_per_s": padron_rate,
            "padron_peak_rss_bytes": max(r.peak_rss_bytes for r in rounds),
            **_timings("padron", rounds),
            "warm_cache_jsonl_s": warm.jsonl.seconds,
            "warm_cache_ruc_per_s": warm.rate,
        },
        checks=[
            Check(
                "padrón RUC/s (whole process) ÷ warm-cache RUC/s (figure 4)",
                "N ÷ masivo --fuente padron wall (median)",
                "figure 4's N ÷ warm-cache .jsonl run time",
                padron_rate / warm.rate,
                1.0,
            ),
            Check(
                "first night ÷ nightly (history records every RUC)",
                "first run wall",
                "timed run wall (median)",
                first.seconds / seconds,
            ),
        ],
    )


# -- 14 -----------------------------------------------------------------------------


def _loads_no_network(command: list[str], cwd: Path, env: dict[str, str]) -> None:
    """``-X importtime`` of the command: fail the figure if it loads the network stack."""
    run = run_child([sys.executable, "-X", "importtime", *command], cwd=cwd, env=env)
    loaded = {
        line.split("|")[-1].strip()
        for line in run.stderr.splitlines()
        if line.startswith("import time:")
    }
    heavy = sorted(name for name in loaded if name.split(".")[0] in NETWORK or name in NETWORK)
    if run.returncode != 0 or heavy:
        raise RuntimeError(f"figure 14: {command[-4:]} loaded {heavy} (exit {run.returncode})")


def figure_14(ctx: Context) -> Figure:
    padron = _padron(ctx, "f14-padron", 1_000)
    ruc = make_rucs(1, start=START + 7)[0]
    base = ctx.directory("f14")
    env = child_env(base)
    env["MIGO_PADRON_DIR"] = str(padron)
    env["MIGO_CACHE_DIR"] = str(ctx.directory("f14-cache"))
    table = migo_entry_point("consultar", ruc, "--fuente", "padron")
    as_json = [*table, "--json"]
    version = migo_entry_point("--version")

    def migo(args: list[str], what: str) -> Callable[[], ChildRun]:
        def run() -> ChildRun:
            done = _ok(run_child(args, cwd=base, env=env), what)
            if ruc not in done.stdout:
                raise RuntimeError(f"{what}: no answer for {ruc}: {done.stdout[:200]!r}")
            return done

        return run

    for command in (table, as_json):
        _loads_no_network(["-m", "migo_cli", *command[1:]], base, env)

    def floor() -> ChildRun:
        return _ok(run_child(version, cwd=base, env=env), "migo --version")

    rows = _rotated(
        ctx.rounds(10),
        [
            migo(table, "consultar --fuente padron"),
            _python(TYPER, base, env),
            migo(as_json, "consultar --fuente padron --json"),
            floor,
        ],
    )
    _importtime(ctx, "fig14-importtime", table[1:], base, env)
    _pyinstrument(ctx, "fig14-consultar-padron", table[1:], base, env)
    return Figure(
        14,
        "`consultar R --fuente padron` start to answer",
        "`migo consultar R --fuente padron` (Rich card, the default), the same with "
        f'--json, `python -c "{TYPER}"` and `migo --version` as child processes, spawn '
        "to exit, rotating order, after one untimed run of each; a 1,000-row padrón, "
        "history on. Each variant is first run under -X importtime: loading aiohttp, "
        "diskcache, stamina or the client fails the figure.",
        timed=WHOLE_PROCESS,
        raw={
            "rounds": len(rows),
            "command": table,
            **_timings("table", [row[0] for row in rows]),
            **_timings("yardstick", [row[1] for row in rows]),
            **_timings("json", [row[2] for row in rows]),
            **_timings("version", [row[3] for row in rows]),
        },
        checks=[
            Check(
                "consultar --fuente padron ÷ import typer",
                "consultar R --fuente padron wall",
                f"`{TYPER}` wall",
                _ratio(rows, 0, 1),
                1.3,
                "<=",
            ),
            Check(
                "same, CPU time", "consultar CPU", f"`{TYPER}` CPU", _ratio(rows, 0, 1, cpu=True)
            ),
            Check(
                "--json ÷ import typer",
                "consultar --json wall",
                f"`{TYPER}` wall",
                _ratio(rows, 2, 1),
            ),
            Check(
                "the card (Rich) ÷ --json",
                "consultar (card) wall",
                "consultar --json wall",
                _ratio(rows, 0, 2),
            ),
            Check(
                "floor: migo --version ÷ import typer",
                "migo --version wall",
                f"`{TYPER}` wall",
                _ratio(rows, 3, 1),
            ),
        ],
    )


FIGURES: dict[int, Callable[[Context], Figure]] = {13: figure_13, 14: figure_14}
