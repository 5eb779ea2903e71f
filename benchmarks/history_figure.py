"""Figure 11 (issue 13): what the history of changes costs a nightly run, and its size.

Two measurements:

* The whole ``migo masivo --refrescar`` process on N RUCs against the simulator
  (its own process, no latency), with history and with ``--sin-historial``,
  paired in the same rounds. Each side keeps its own cache directory across
  rounds, as cron's nights would: after the untimed first night, the side with
  history compares every answer with the one recorded the night before. Between
  rounds SUNAT changes 1 % of the RUCs (``overrides``), so every timed night
  also records and reports changes.
* The store's size on disk for M RUCs: a first night records M answers through
  ``HistoryScope.record_many`` (in bursts of C, as the client's loop turns
  come), a second night the same RUCs with 1 % changed; bytes after closing.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

from benchmarks.figures import CONCURRENCY, Context
from benchmarks.report import Check, Figure
from benchmarks.server import ServerProcess
from benchmarks.whole_process import WHOLE_PROCESS, _ok, _ratio, _rotated, _timings
from benchmarks.workload import TOKEN, ChildRun, child_env, migo_entry_point, run_child, write_csv
from migo_cli.cache import LOCAL_SCOPE
from migo_cli.history import APIMIGO_SCOPE, HistoryEntry, HistoryStore, history_file
from migo_cli.simulator import make_rucs, ruc_answer

#: Share of RUCs whose data SUNAT changes between two nights.
CHANGED_SHARE = 0.01
NIGHT_1 = "2026-11-30T02:00:00-05:00"
NIGHT_2 = "2026-12-01T02:00:00-05:00"


class _Nights:
    """One side of the comparison: ``migo masivo --refrescar`` night after night, one cache."""

    def __init__(
        self, ctx: Context, server: ServerProcess, source: Path, n: int, label: str, *extra: str
    ) -> None:
        self.ctx, self.server, self.source, self.n, self.label = ctx, server, source, n, label
        self.base = ctx.directory(label)
        self.cache = ctx.directory(f"{label}-cache")
        self.extra = extra
        self.changes: list[int] = []  # the resumen's ``cambios`` of each night

    def __call__(self) -> ChildRun:
        self.server.reset()
        out = self.ctx.directory(f"{self.label}-out")
        args = [
            "masivo", str(self.source), "-o", str(out / "resultado.jsonl"),
            "--json-resumen", str(out / "resumen.json"),
            "--token", TOKEN, "--base-url", self.server.base_url,
            "--cache-dir", str(self.cache), "--concurrencia", str(CONCURRENCY),
            "--refrescar", *self.extra,
        ]  # fmt: skip
        command = migo_entry_point(*args)
        run = _ok(run_child(command, cwd=self.base, env=child_env(self.base)), self.label)
        summary = json.loads((out / "resumen.json").read_text("utf-8"))
        if summary.get("unicos") != self.n or not summary.get("completo") or summary["errores"]:
            raise RuntimeError(f"{self.label}: migo's run is incomplete: {summary}")
        lookups = self.server.latencies().lookup_requests
        if lookups != self.n:
            raise RuntimeError(f"{self.label}: the server saw {lookups} lookups for {self.n}")
        self.changes.append(int(summary["cambios"]))
        return run


def _sunat_changes(rucs: list[str], night: int) -> dict[str, dict[str, str]]:
    """What SUNAT changed on ``night``: 1 % of the RUCs, another 1 % each night, a new address.

    Only RUCs that exist can change (the simulator answers the rest ``no_existe``).
    """
    step = round(1 / CHANGED_SHARE)
    chosen = (i for i in range(len(rucs)) if i % step == night % step)
    return {
        rucs[i]: {"direccion": f"AV. NOCHE {night} NRO. {i}"}
        for i in chosen
        if ruc_answer(rucs[i]) is not None
    }


def _entries(path: Path) -> int:
    """Entries in one history file, read as any SQLite client would."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        return int(db.execute("SELECT count(*) FROM entries").fetchone()[0])


def _files_bytes(directory: Path, name: str) -> int:
    return sum(p.stat().st_size for p in directory.glob(f"{name}*") if p.is_file())


def _store_size(ctx: Context, m: int) -> dict[str, Any]:
    """Two nights of M RUCs through the library's API, 1 % changed the second."""
    directory = ctx.directory("f11-store")
    rucs = make_rucs(m, start=8_000_000)
    step = round(1 / CHANGED_SHARE)
    nights: dict[str, float] = {}
    with HistoryStore(directory) as store:
        history = store.scope(APIMIGO_SCOPE)
        for night, stamp in (("night_1", NIGHT_1), ("night_2", NIGHT_2)):
            started, changes = time.perf_counter(), 0
            for first in range(0, m, CONCURRENCY):
                burst = []
                for i in range(first, min(first + CONCURRENCY, m)):
                    answer = ruc_answer(rucs[i])
                    if answer is not None and night == "night_2" and i % step == 0:
                        answer = {**answer, "condicion_de_domicilio": "NO HABIDO"}
                    burst.append((rucs[i], HistoryEntry.of(stamp, answer)))
                changes += sum(c is not None for c in history.record_many(burst))
            nights[f"{night}_s"] = time.perf_counter() - started
            nights[f"{night}_changes"] = changes
        history.delivered(ruc for i, ruc in enumerate(rucs) if i % step == 0)  # published
        path = history.path
    size = _files_bytes(directory, path.name)  # closed: the WAL is folded into the file
    return {
        "store_rucs": m,
        "store_entries": _entries(path),
        "store_bytes": size,
        "store_mib": size / 2**20,
        "store_bytes_per_ruc": size / m,
        **{f"store_{key}": value for key, value in nights.items()},
    }


def figure_11(ctx: Context) -> Figure:
    """Nightly ``--refrescar`` with history ÷ without; the store's size for 1M RUCs."""
    n, m = ctx.n(100_000), ctx.n(1_000_000)
    rucs = make_rucs(n, start=6_000_000)
    base = ctx.directory("f11")
    source = write_csv(base / "entrada.csv", rucs)
    night = 0
    overrides: dict[str, dict[str, str]] = {}  # SUNAT's changes so far
    changed: list[int] = []  # how many RUCs changed each night
    with ServerProcess(seed=1) as server:
        with_history = _Nights(ctx, server, source, n, "f11-con")
        without = _Nights(ctx, server, source, n, "f11-sin", "--sin-historial")

        def next_night() -> None:
            nonlocal night
            night += 1
            news = _sunat_changes(rucs, night)
            changed.append(len(news))
            overrides.update(news)  # the nights before stay as they were
            server.configure(overrides=overrides)

        def paired_night() -> ChildRun:  # a new night starts with the side that runs first
            if len(with_history.changes) == len(without.changes):
                next_night()
            return with_history()

        def paired_without() -> ChildRun:
            if len(with_history.changes) == len(without.changes):
                next_night()
            return without()

        rows = _rotated(ctx.rounds(3), [paired_night, paired_without])
    reported = with_history.changes[1:]  # the first night knew nothing before it
    if reported != changed[1:] or any(without.changes):
        raise RuntimeError(
            f"figure 11: cambios per night {with_history.changes} (changed: {changed}, the "
            f"first night reports none), without history {without.changes}"
        )
    history_bytes = _files_bytes(with_history.cache, history_file(LOCAL_SCOPE))
    entries = _entries(with_history.cache / history_file(LOCAL_SCOPE))
    if _files_bytes(without.cache, "historial") or entries < n:
        raise RuntimeError(f"figure 11: history files wrong ({entries} entries on the side with)")
    store = _store_size(ctx, m)
    return Figure(
        11,
        f"History: whole `migo masivo --refrescar`, {n:,} RUCs, no latency, C={CONCURRENCY}; "
        f"its store for {m:,} RUCs",
        f"`migo masivo entrada.csv -o resultado.jsonl --refrescar --concurrencia "
        f"{CONCURRENCY}` as a child process against the simulator in its own process, with "
        "history and with `--sin-historial`, each side with its own cache directory kept "
        "from night to night; paired rounds after one untimed first night each, the order "
        f"alternating; before each round SUNAT changes {CHANGED_SHARE:.0%} of the RUCs, so "
        "every timed night with history records and reports that many changes. The store: "
        f"{m:,} RUCs recorded twice through `HistoryScope.record_many` in bursts of "
        f"{CONCURRENCY}, {CHANGED_SHARE:.0%} changed the second time; bytes of the closed file.",
        timed=WHOLE_PROCESS + "; the store in-process",
        raw={
            "n": n,
            "concurrency": CONCURRENCY,
            "rounds": len(rows),
            **_timings("with_history", [r[0] for r in rows]),
            **_timings("without_history", [r[1] for r in rows]),
            "cambios_per_night": reported,
            "history_entries_after_runs": entries,
            "history_bytes_after_runs": history_bytes,
            **store,
        },
        checks=[
            Check(
                "with history ÷ --sin-historial, wall",
                "migo masivo --refrescar wall",
                "the same with --sin-historial",
                _ratio(rows, 0, 1),
                1.10,
                "<=",
            ),
            Check(
                "same, CPU time",
                "migo masivo --refrescar CPU",
                "the same with --sin-historial",
                _ratio(rows, 0, 1, cpu=True),
            ),
            Check(
                "store bytes per RUC (1 % changed once)",
                f"history file bytes, {m:,} RUCs",
                "RUCs",
                store["store_bytes_per_ruc"],
            ),
        ],
        notes=[
            f"store: {store['store_mib']:.1f} MiB for {m:,} RUCs "
            f"({store['store_entries']:,} entries); the run's own history: "
            f"{history_bytes / 2**20:.1f} MiB for {n:,} RUCs",
            "wall ratio per round: "
            + ", ".join(f"{r[0].seconds / r[1].seconds:.3f}" for r in rows)
            + f" (median {statistics.median(r[0].seconds / r[1].seconds for r in rows):.3f})",
        ],
    )


FIGURES = {11: figure_11}
