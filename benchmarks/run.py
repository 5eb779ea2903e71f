"""Command line of the bench: pick figures and scale, run them, print and record the results.

    python -m benchmarks                 # all ten figures, full size → results.json
    python -m benchmarks 3               # figure 3 alone (results.json keeps the others)
    python -m benchmarks --quick         # every N ÷ 10: a smoke run → results-quick.json
    python -m benchmarks 1 3 --profile   # also keep pyinstrument reports in profiles/

``MIGO_BENCH_QUICK=1`` is the same as ``--quick`` (also one round per figure
instead of 2–7). Quick numbers are for checking that the bench works, not for
judging targets: fixed costs (the token probe, interpreter start) weigh ten
times more on them.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import (
    figures,
    history_figure,
    padron_import,
    padron_lookup,
    padron_search,
    whole_process,
)
from benchmarks.figures import Context
from benchmarks.report import Figure, code_state, machine, render_table, write_results

HERE = Path(__file__).resolve().parent
FIGURES = {
    **figures.FIGURES,
    **whole_process.FIGURES,
    **history_figure.FIGURES,
    **padron_import.FIGURES,
    **padron_lookup.FIGURES,
    **padron_search.FIGURES,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "figures", nargs="*", type=int, help=f"figures to run, of {sorted(FIGURES)} (default: all)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        default=os.environ.get("MIGO_BENCH_QUICK", "") not in ("", "0"),
        help="scale every N down 10× (also MIGO_BENCH_QUICK=1)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="rerun migo's side of each figure under pyinstrument; reports in benchmarks/profiles/",
    )
    parser.add_argument(
        "--seeds",
        default="1,2,3",
        help="simulator seeds for figure 2 (median over them; --quick uses the first)",
    )
    parser.add_argument(
        "--workdir", type=Path, help="scratch space (default: a new dir in benchmarks/_work/)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch space")
    parser.add_argument("--results", type=Path, help="where to write the JSON results")
    return parser


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return math.nan


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    unknown = sorted(set(args.figures) - set(FIGURES))
    if unknown:
        parser.error(f"no such figure: {', '.join(map(str, unknown))}")
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.WARNING)
    numbers = args.figures or sorted(FIGURES)
    # Scratch space on the repository's disk (git-ignored), not /tmp: /tmp is often a
    # RAM-backed tmpfs, which would flatter SQLite and fsync next to a user's real files.
    if args.workdir is None:
        (HERE / "_work").mkdir(exist_ok=True)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="run-", dir=HERE / "_work"))
    workdir.mkdir(parents=True, exist_ok=True)
    results = args.results or HERE / ("results-quick.json" if args.quick else "results.json")
    ctx = Context(
        workdir=workdir,
        quick=args.quick,
        profile_dir=HERE / "profiles" if args.profile else None,
        seeds=tuple(int(s) for s in args.seeds.split(",") if s.strip()),
    )
    info = machine()
    code = code_state(HERE.parent)  # before the run: what is measured, even if HEAD moves
    print(
        f"migo bench{' (quick: N ÷ 10)' if args.quick else ''}: {info['cpu']}, "
        f"{info['cpu_count']} CPUs, Python {info['python']}, {info['platform']}",
        file=sys.stderr,
    )
    figures: list[Figure] = []
    try:
        for number in numbers:
            print(f"[{number}] running…", file=sys.stderr, flush=True)
            started, load_before = time.perf_counter(), _load()
            figure = FIGURES[number](ctx)
            figure.raw["bench_seconds"] = time.perf_counter() - started
            # Other work on the machine skews every figure: keep the evidence with it.
            figure.raw["load_avg_1min_before"] = load_before
            figure.raw["load_avg_1min_after"] = _load()
            figures.append(figure)
            write_results(results, [figure], quick=args.quick, argv=argv, code=code)
            print(render_table([figure]), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    verdicts = [f.passed for f in figures if f.passed is not None]
    print(f"\nresults: {results}  ({sum(verdicts)} of {len(verdicts)} figures meet their targets)")
    return 0
