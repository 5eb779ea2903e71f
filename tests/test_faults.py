"""Issue 4: the real ``migo masivo`` process against a faulty upstream, a damaged disk and signals.

Every test starts ``python -m migo_cli masivo`` as a child process, with a
private cache dir, no config file and no inherited token, against a
``SimulatorThread`` on 127.0.0.1 whose knobs inject the fault. The simulator
keeps counters only, so ``RecordingSimulator`` adds a per-request log (when
each request arrived, what it carried, what it got): enough to check that a
429's ``Retry-After`` was honoured and which RUCs a run was answered for.

Fuzzing of the readers and of the RUC rules lives in ``tests/test_fuzz.py``
(also marked ``faults``); it is not repeated here.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from migo_cli.cache import ResultCache
from migo_cli.client import MigoClient, cache_scope_for
from migo_cli.config import Retry
from migo_cli.models import UPSTREAM_FIELDS
from migo_cli.simulator import Exchange, SimulatorConfig, SimulatorThread, ruc_answer
from migo_cli.writers import Output
from tests.conftest import TOKEN, as_plain_user, make_rucs

pytestmark = pytest.mark.faults

#: No run of these tests should take a tenth of this; it only keeps CI from hanging.
RUN_TIMEOUT = 120.0
#: Columns that legitimately differ between two runs that got the same answers.
VOLATILE = ("origen", "consultado_en")


# -- running migo ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    code: int
    stdout: bytes
    stderr: bytes
    seconds: float

    @property
    def err(self) -> str:
        return self.stderr.decode("utf-8", "replace")


class Workspace:
    """A private place to run ``migo masivo`` against one recording simulator."""

    def __init__(self, root: Path, sim: SimulatorThread) -> None:
        self.root = root
        self.sim = sim
        self.cache_dir = root / "cache"

    def environ(self, cache_dir: Path | None = None, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        for name in ("MIGO_TOKEN", "MIGO_BASE_URL", "MIGO_CACHE_DIR", "MIGO_CONFIG"):
            env.pop(name, None)
        env["MIGO_CACHE_DIR"] = str(cache_dir or self.cache_dir)
        env["MIGO_CONFIG"] = str(self.root / "no-existe" / "config.toml")
        env["COLUMNS"] = "200"  # Rich folds long messages at 80 columns when not on a TTY
        env.update(extra)
        return env

    def write_rucs(self, rucs: Iterable[str], name: str = "rucs.txt") -> Path:
        path = self.root / name
        path.write_text("ruc\n" + "".join(f"{ruc}\n" for ruc in rucs), encoding="utf-8")
        return path

    def command(
        self, source: Path, output: Path | str, *extra: str, token: str | None = TOKEN
    ) -> list[str]:
        args = [sys.executable, "-m", "migo_cli", "masivo", str(source), "-o", str(output)]
        args += ["--base-url", self.sim.base_url]
        if token is not None:
            args += ["--token", token]
        return [*args, *extra]

    def run(
        self,
        source: Path,
        output: Path | str,
        *extra: str,
        token: str | None = TOKEN,
        cache_dir: Path | None = None,
        env: Mapping[str, str] | None = None,
        plain_user: bool = False,
    ) -> Outcome:
        """Run to the end; ``plain_user``: file modes bind even when the tests run as root."""
        command = self.command(source, output, *extra, token=token)
        started = time.monotonic()
        done = subprocess.run(
            as_plain_user(command) if plain_user else command,
            env=self.environ(cache_dir, **(env or {})),
            cwd=self.root,
            capture_output=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        return Outcome(done.returncode, done.stdout, done.stderr, time.monotonic() - started)

    @contextlib.contextmanager
    def start(
        self, source: Path, output: Path | str, *extra: str, log: Path
    ) -> Iterator[subprocess.Popen[bytes]]:
        """A background run, its stderr going to ``log`` (as cron would have it)."""
        with (
            log.open("wb") as stderr,
            subprocess.Popen(
                self.command(source, output, *extra),
                env=self.environ(),
                cwd=self.root,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            ) as process,
        ):
            try:
                yield process
            finally:
                if process.poll() is None:
                    process.kill()
                process.wait(RUN_TIMEOUT)

    @property
    def journal(self) -> list[Exchange]:
        """Every API request the simulator answered, in order (see ``Simulator(journal=)``)."""
        journal = self.sim.simulator.journal
        assert journal is not None
        return journal

    def answered_with(self, status: int) -> set[str]:
        return {ruc for seen in self.journal if seen.status == status for ruc in seen.keys}

    def lookups(self) -> int:
        return self.sim.stats.lookup_requests

    def requested(self) -> dict[str, int]:
        return dict(self.sim.stats.by_ruc)

    def fresh_upstream(self, **knobs: Any) -> None:
        """A healthy simulator with zeroed counters, then ``knobs``."""
        self.sim.config.clear_faults()
        for name, value in knobs.items():
            setattr(self.sim.config, name, value)
        self.sim.reset()
        self.journal.clear()


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    with SimulatorThread(SimulatorConfig(token=TOKEN), journal=True) as thread:
        yield Workspace(tmp_path, thread)


def wait_for(
    condition: Callable[[], bool], process: subprocess.Popen[bytes], timeout: float = 60.0
) -> None:
    """Poll ``condition`` while ``process`` runs; fail if it ends or time runs out first."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"migo terminó antes de tiempo (código {process.returncode})"
        assert time.monotonic() < deadline, "la condición no se cumplió a tiempo"
        time.sleep(0.005)


# -- reading and checking results --------------------------------------------------------


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Result rows of a ``.jsonl`` file, or of the three data sheets of an ``.xlsx``."""
    if path.suffix == ".jsonl":
        with path.open(encoding="utf-8") as fh:
            return [json.loads(line) for line in fh]
    assert path.suffix == ".xlsx"
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        assert book.sheetnames == ["validos", "invalidos", "errores", "resumen"]
        rows: list[dict[str, Any]] = []
        for name in ("validos", "invalidos", "errores"):
            values = book[name].iter_rows(values_only=True)
            header = next(values)
            for line in values:
                pairs = itertools.zip_longest(header, line)
                rows.append({str(key): "" if value is None else value for key, value in pairs})
        return rows
    finally:
        book.close()


def by_ruc(rows: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    table = {str(row["ruc"]): row for row in rows}
    assert len(table) == len(rows), "un RUC aparece en más de una fila"
    return table


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def assert_answered(row: Mapping[str, Any], ruc: str) -> None:
    """``row`` says what a healthy simulator says about ``ruc``."""
    expected = ruc_answer(ruc)
    if expected is None:
        assert row["estado_consulta"] == "no_existe", row
        return
    assert row["estado_consulta"] == "valido", row
    for name in UPSTREAM_FIELDS:
        assert _text(row.get(name)) == _text(expected.get(name)), (ruc, name)
    billable = expected["estado_del_contribuyente"] == "ACTIVO" and (
        expected["condicion_de_domicilio"] == "HABIDO"
    )
    assert row["apto_facturacion"] is billable


def assert_all_answered(output: Path, rucs: Sequence[str]) -> dict[str, Mapping[str, Any]]:
    rows = by_ruc(read_rows(output))
    assert sorted(rows) == sorted(rucs)
    for ruc in rucs:
        assert_answered(rows[ruc], ruc)
    return rows


def stable(rows: Iterable[Mapping[str, Any]]) -> set[str]:
    """Rows as comparable strings, without what differs between runs."""
    return {
        json.dumps({k: v for k, v in row.items() if k not in VOLATILE}, sort_keys=True)
        for row in rows
    }


def no_traceback(outcome: Outcome) -> None:
    assert "Traceback" not in outcome.err
    assert "error interno" not in outcome.err


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*") if ".migo-tmp" in p.name)


def cached_entries(cache_dir: Path) -> int:
    """Entries a running migo has committed to its cache, read without getting in its way."""
    db = cache_dir / "cache.db"
    if not db.exists():
        return 0
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)) as conn:
        try:
            return int(conn.execute("SELECT COUNT(*) FROM Cache").fetchone()[0])
        except sqlite3.OperationalError:  # the tables are not there yet
            return 0


# -- flaky upstream ------------------------------------------------------------------------


def test_every_ruc_failing_twice_is_answered_with_three_retries(ws: Workspace) -> None:
    rucs = make_rucs(24)
    ws.fresh_upstream(fail_first=2)
    source, output = ws.write_rucs(rucs), ws.root / "out.jsonl"
    summary = ws.root / "resumen.json"

    done = ws.run(
        source, output, "--reintentos", "3", "--concurrencia", "24", "--json-resumen", str(summary)
    )

    assert done.code == 0, done.err
    no_traceback(done)
    assert_all_answered(output, rucs)
    assert ws.requested() == dict.fromkeys(rucs, 3)
    refused = [seen for seen in ws.journal if seen.keys and seen.status == 503]
    assert len(refused) == 2 * len(rucs)
    # SPEC §4: llamadas_api counts every request sent, retries included.
    assert json.loads(summary.read_text(encoding="utf-8"))["llamadas_api"] == 3 * len(rucs)


def test_rucs_that_always_fail_end_in_error_and_a_rerun_asks_only_for_them(
    ws: Workspace,
) -> None:
    rucs = make_rucs(20)
    broken = set(rucs[3:20:4])
    ws.fresh_upstream(always_500=broken)
    source, output = ws.write_rucs(rucs), ws.root / "out.jsonl"
    summary = ws.root / "resumen.json"

    done = ws.run(source, output, "--reintentos", "1", "--json-resumen", str(summary))

    assert done.code == 1, done.err
    no_traceback(done)
    rows = by_ruc(read_rows(output))
    assert sorted(rows) == sorted(rucs)
    for ruc in rucs:
        if ruc in broken:
            assert rows[ruc]["estado_consulta"] == "error"
            assert "500" in rows[ruc]["motivo"]
            assert ws.requested()[ruc] == 2  # the first attempt and one retry
        else:
            assert_answered(rows[ruc], ruc)
            assert ws.requested()[ruc] == 1
    resumen = json.loads(summary.read_text(encoding="utf-8"))
    assert (resumen["errores"], resumen["completo"]) == (len(broken), False)

    ws.fresh_upstream()
    again = ws.run(source, output)

    assert again.code == 0, again.err
    assert ws.requested() == dict.fromkeys(broken, 1)
    assert ws.lookups() == len(broken)
    rows = assert_all_answered(output, rucs)
    assert {ruc for ruc, row in rows.items() if row["origen"] == "api"} == broken


def test_an_upstream_that_stopped_answering_is_given_up_on(ws: Workspace) -> None:
    """Every request fails: stop after ``give_up_after`` RUCs instead of hours of retries."""
    rucs = make_rucs(300, start=9000)
    ws.fresh_upstream(always_500_share=1.0)
    source = ws.write_rucs(rucs)
    output = ws.root / "caido.jsonl"

    done = ws.run(source, output, "--reintentos", "0", "--concurrencia", "10")

    assert done.code == 1, done.err
    no_traceback(done)
    assert "APIMIGO no responde" in done.err
    assert ws.lookups() <= Retry().give_up_after + 10
    rows = read_rows(output)
    assert len(rows) == len(rucs)
    assert {row["estado_consulta"] for row in rows} == {"error"}

    ws.fresh_upstream()
    again = ws.run(source, output)
    assert again.code == 0, again.err
    assert_all_answered(output, rucs)
    assert ws.lookups() == len(rucs)


# -- 429 storms ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("retry_after", "http_date", "count"),
    [pytest.param(0.5, False, 30, id="seconds"), pytest.param(1.0, True, 12, id="http-date")],
)
def test_429_storm_waits_as_told_and_never_fails_a_ruc(
    ws: Workspace, retry_after: float, http_date: bool, count: int
) -> None:
    rucs = make_rucs(count, start=100)
    ws.fresh_upstream(
        rate_limit_share=0.3, retry_after=retry_after, retry_after_http_date=http_date, seed=4
    )
    source, output = ws.write_rucs(rucs), ws.root / "out.jsonl"

    # No retries for failures: a 429 is not a failed attempt (SPEC §1), it has its own budget.
    done = ws.run(source, output, "--reintentos", "0", "--concurrencia", "10")

    assert done.code == 0, done.err
    no_traceback(done)
    assert_all_answered(output, rucs)
    limited = [seen for seen in ws.journal if seen.status == 429]
    assert limited, "el simulador no respondió ningún 429: la prueba no prueba nada"
    assert len(limited) == ws.sim.stats.by_status[429]
    assert done.seconds >= retry_after
    # No retry of a RUC came sooner than Retry-After asked, counted from the 429 being sent.
    # (An HTTP date has whole seconds: it asks for up to one second more, never less.)
    for ruc in rucs:
        history = sorted((s for s in ws.journal if ruc in s.keys), key=lambda s: s.arrived)
        for before, after in itertools.pairwise(history):
            if before.status == 429:
                waited = after.arrived - before.answered
                assert waited >= retry_after - 0.01, (ruc, waited)


# -- hangs and dropped connections -------------------------------------------------------------


@pytest.mark.parametrize(
    "knobs",
    [
        pytest.param({"hang_share": 0.2, "hang_seconds": 3600.0}, id="hangs"),
        pytest.param({"drop_share": 0.25}, id="dropped-connections"),
    ],
)
def test_hangs_and_dropped_connections_are_retried_in_bounded_time(
    ws: Workspace, knobs: dict[str, float]
) -> None:
    rucs = make_rucs(30, start=200)
    ws.fresh_upstream(seed=7, **knobs)
    source, output = ws.write_rucs(rucs), ws.root / "out.jsonl"

    done = ws.run(source, output, "--timeout", "1", "--reintentos", "6", "--concurrencia", "10")

    assert done.code == 0, done.err
    no_traceback(done)
    assert_all_answered(output, rucs)
    assert ws.lookups() > len(rucs), "ninguna falla inyectada: la prueba no prueba nada"
    if "drop_share" in knobs:
        assert ws.sim.stats.dropped > 0
    else:
        # A hang lasts an hour, past RUN_TIMEOUT: only --timeout 1 let this run end.
        answered = sum(1 for seen in ws.journal if seen.keys)
        assert ws.lookups() > answered, "ninguna consulta quedó colgada: la prueba no prueba nada"


# -- bodies that are not what the client expects -----------------------------------------------


def test_html_502_and_answers_without_success_are_retried_never_a_crash(
    ws: Workspace,
) -> None:
    rucs = make_rucs(20, start=300)
    ws.fresh_upstream(html_502_share=0.15, missing_success_share=0.15, seed=11)
    source, output = ws.write_rucs(rucs), ws.root / "out.jsonl"

    done = ws.run(source, output, "--reintentos", "7", "--concurrencia", "20", "-v")

    assert done.code == 0, done.err
    no_traceback(done)
    rows = assert_all_answered(output, rucs)
    lookups = [seen for seen in ws.journal if seen.keys]
    assert any(seen.status == 502 for seen in lookups), "ningún 502 HTML: no prueba nada"
    valid = sum(row["estado_consulta"] == "valido" for row in rows.values())
    answered_200 = sum(seen.status == 200 for seen in lookups)
    assert answered_200 > valid, "ningún 200 sin 'success': la prueba no prueba nada"


# -- token and credits ----------------------------------------------------------------------


def test_wrong_token_stops_at_once_with_exit_3(ws: Workspace) -> None:
    rucs = make_rucs(200, start=400)
    ws.fresh_upstream()
    source, output = ws.write_rucs(rucs), ws.root / "out.jsonl"

    done = ws.run(source, output, "--concurrencia", "20", token="token-equivocado-0000")

    assert done.code == 3, done.err
    no_traceback(done)
    assert ws.lookups() <= 3
    assert "rechazó el token" in done.err
    rows = read_rows(output)
    assert len(rows) == len(rucs)
    assert {row["estado_consulta"] for row in rows} == {"error"}
    assert all("no consultado" in row["motivo"] for row in rows)


def test_quota_exhausted_mid_run_keeps_every_answer_and_the_rerun_asks_for_the_rest(
    ws: Workspace,
) -> None:
    rucs = make_rucs(40, start=500)
    credits = 15
    ws.fresh_upstream(credits=credits)
    source, output = ws.write_rucs(rucs), ws.root / "out.jsonl"

    done = ws.run(source, output, "--concurrencia", "4")

    assert done.code == 3, done.err
    no_traceback(done)
    assert "sin consultas disponibles" in done.err
    assert ws.sim.stats.by_status[402] >= 1
    rows = by_ruc(read_rows(output))
    assert sorted(rows) == sorted(rucs)
    found, missing = ws.answered_with(200), ws.answered_with(404)
    assert len(found | missing) == credits  # every credit spent was an answer
    for ruc, row in rows.items():
        if ruc in found | missing:
            assert_answered(row, ruc)
        else:
            assert row["estado_consulta"] == "error"
            assert "no consultado" in row["motivo"], row
    rest = {ruc for ruc, row in rows.items() if row["estado_consulta"] == "error"}
    assert len(rest) == len(rucs) - credits

    ws.fresh_upstream(credits=None)
    again = ws.run(source, output, "--concurrencia", "4")

    assert again.code == 0, again.err
    assert ws.requested() == dict.fromkeys(rest, 1)
    assert_all_answered(output, rucs)


# -- kill -9 and signals --------------------------------------------------------------------


def test_kill_9_mid_run_then_rerun_pays_little_and_matches_an_uninterrupted_run(
    ws: Workspace,
) -> None:
    rucs = make_rucs(400, start=1000)
    args = ("--concurrencia", "20")
    # The last RUC hangs for an hour: however slow the machine, the kill lands mid-run.
    ws.fresh_upstream(latency_ms=50.0, hang={rucs[-1]}, hang_seconds=3600.0)
    source, output = ws.write_rucs(rucs), ws.root / "out.xlsx"

    patient = (*args, "--timeout", "3600")  # the hanging request is never retried
    with ws.start(source, output, *patient, log=ws.root / "first.log") as process:
        wait_for(lambda: cached_entries(ws.cache_dir) >= len(rucs) // 2, process)
        process.kill()
        assert process.wait(RUN_TIMEOUT) == -signal.SIGKILL
    assert not output.exists(), "quedó una salida a medio escribir"
    # What the dead run left behind, for the rerun to cope with: its lock file and temp files.
    assert (ws.root / f".{output.name}.lock").exists()
    assert leftovers(ws.root)
    with ResultCache(ws.cache_dir) as cache:
        scope = cache.scope(cache_scope_for(ws.sim.base_url))
        held = {ruc for ruc in rucs if scope.has_ruc(ruc)}
    assert 0 < len(held) < len(rucs)
    ws.fresh_upstream()

    again = ws.run(source, output, *args)

    assert again.code == 0, again.err  # not 2: the dead run's lock does not block
    # Every answer the cache held is not paid for again; every other RUC exactly once.
    assert ws.requested() == dict.fromkeys(sorted(set(rucs) - held), 1)
    assert ws.lookups() == len(rucs) - len(held)
    assert leftovers(ws.root) == []
    rows = read_rows(output)
    assert len(rows) == len(rucs)
    assert {str(row["ruc"]) for row in rows if row["origen"] == "cache"} == held

    reference = ws.root / "reference.xlsx"
    ws.fresh_upstream()
    clean = ws.run(source, reference, *args, cache_dir=ws.root / "reference-cache")
    assert clean.code == 0, clean.err
    assert stable(rows) == stable(read_rows(reference))
    assert_all_answered(reference, rucs)


@pytest.mark.parametrize(
    ("signum", "suffix", "code"),
    [
        pytest.param(signal.SIGINT, ".xlsx", 130, id="sigint-xlsx"),
        pytest.param(signal.SIGTERM, ".jsonl", 143, id="sigterm-jsonl"),
    ],
)
def test_signal_mid_run_writes_a_valid_partial_output_and_the_rerun_completes(
    ws: Workspace, signum: int, suffix: str, code: int
) -> None:
    rucs = make_rucs(120, start=2000)
    # The last RUC hangs for an hour: however slow the machine, the signal lands mid-run.
    ws.fresh_upstream(latency_ms=100.0, hang={rucs[-1]}, hang_seconds=3600.0)
    source, output = ws.write_rucs(rucs), ws.root / f"out{suffix}"
    summary = ws.root / "resumen.json"
    log = ws.root / "migo.log"
    args = ("--concurrencia", "4", "--timeout", "3600", "--json-resumen", str(summary))

    with ws.start(source, output, *args, log=log) as process:
        wait_for(lambda: ws.lookups() >= 20, process)
        process.send_signal(signum)
        assert process.wait(30) == code
    err = log.read_text(encoding="utf-8")
    assert "Traceback" not in err
    assert "interrupción" in err

    rows = by_ruc(read_rows(output))  # a complete, openable file
    assert sorted(rows) == sorted(rucs)
    unanswered = {ruc for ruc, row in rows.items() if row["estado_consulta"] == "error"}
    assert unanswered, "la ejecución terminó antes de la señal: la prueba no prueba nada"
    for ruc, row in rows.items():
        if ruc in unanswered:
            assert "interrumpida" in row["motivo"] or "sin respuesta" in row["motivo"], row
        else:
            assert_answered(row, ruc)
            assert ruc in ws.requested()
    resumen = json.loads(summary.read_text(encoding="utf-8"))
    assert (resumen["completo"], resumen.get("interrumpido")) == (False, True)

    ws.fresh_upstream()
    again = ws.run(source, output, "--concurrencia", "4")

    assert again.code == 0, again.err
    assert ws.requested() == dict.fromkeys(unanswered, 1)
    assert_all_answered(output, rucs)
    assert leftovers(ws.root) == []


# -- the output: locked, unwritable ---------------------------------------------------------


def test_second_run_on_a_locked_output_exits_2_at_once_without_spending(
    ws: Workspace,
) -> None:
    first, second = make_rucs(200, start=3000), make_rucs(20, start=4000)
    # The first run's last RUC hangs for an hour: it holds the lock until it is stopped.
    ws.fresh_upstream(latency_ms=100.0, hang={first[-1]}, hang_seconds=3600.0)
    output = ws.root / "out.xlsx"
    source = ws.write_rucs(first, "primera.txt")
    args = ("--concurrencia", "2", "--timeout", "3600")

    with ws.start(source, output, *args, log=ws.root / "first.log") as process:
        wait_for(lambda: ws.lookups() >= 2, process)
        blocked = ws.run(ws.write_rucs(second, "segunda.txt"), output)
        still_running = process.poll() is None
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 143

    assert blocked.code == 2, blocked.err
    no_traceback(blocked)
    assert "otra ejecución" in blocked.err
    # The first run cannot end by itself: had the second waited for the lock, it would
    # have hit RUN_TIMEOUT instead of exiting.
    assert still_running, "la primera terminó antes: la segunda no encontró el bloqueo"
    assert set(second).isdisjoint(ws.requested())
    assert {str(row["ruc"]) for row in read_rows(output)} == set(first)


def test_locked_output_is_refused_before_any_request(ws: Workspace) -> None:
    """Not even the free ``/account`` credit check: the lock comes first."""
    ws.fresh_upstream()
    output = ws.root / "out.xlsx"
    with Output.parse(output).lock():  # what a running migo holds
        blocked = ws.run(ws.write_rucs(make_rucs(5)), output)

    assert blocked.code == 2, blocked.err
    assert "otra ejecución" in blocked.err
    assert ws.sim.stats.requests_total == 0, ws.sim.stats.by_endpoint


def _readonly_dir(root: Path) -> Path:
    folder = root / "solo-lectura"
    folder.mkdir()
    folder.chmod(0o555)
    return folder / "out.xlsx"


UNWRITABLE: dict[str, Callable[[Path], Path]] = {
    "missing-folder": lambda root: root / "no-existe" / "out.xlsx",
    "parent-is-a-file": lambda root: root / "archivo" / "out.csv",
    "output-is-a-folder": lambda root: root / "carpeta.jsonl",
    "read-only-folder": _readonly_dir,
    "proc": lambda root: Path("/proc/migo-salida.xlsx"),
}


@pytest.mark.parametrize("case", sorted(UNWRITABLE))
def test_unwritable_output_exits_2_before_any_request(ws: Workspace, case: str) -> None:
    if case == "proc" and not Path("/proc/self").is_dir():
        pytest.skip("sin /proc")
    (ws.root / "archivo").write_text("no soy una carpeta\n", encoding="utf-8")
    (ws.root / "carpeta.jsonl").mkdir()
    ws.fresh_upstream()
    output = UNWRITABLE[case](ws.root)
    try:
        done = ws.run(ws.write_rucs(make_rucs(5)), output, plain_user=True)
    finally:
        if case == "read-only-folder":
            output.parent.chmod(0o755)

    assert done.code == 2, done.err
    no_traceback(done)
    assert "salida" in done.err
    assert ws.sim.stats.requests_total == 0


# -- the token never leaks -------------------------------------------------------------------

SECRET = "tok-FUGA-7f3a9c1e5b2d8e4f"

#: Put first on PYTHONPATH, this makes every answer raise an unexpected exception whose
#: message carries the token, as a careless library might: an internal error that escapes.
BOOBY_TRAP = """
import migo_cli.client

def _explode(self, *args, **kwargs):
    raise RuntimeError("fallo inyectado; cuerpo enviado: {'token': %r}" % self._token)

migo_cli.client.MigoClient._classify = _explode
"""


def _corrupt_one_entry(cache_db: Path) -> None:
    """Rot one byte of one stored answer, the way a bad sector would."""
    with contextlib.closing(sqlite3.connect(cache_db)) as db, db:
        key, value = db.execute(
            "SELECT key, value FROM Cache WHERE value IS NOT NULL AND instr(value, ?) > 0"
            " ORDER BY key LIMIT 1",
            (b"estado_del_contribuyente\x94",),
        ).fetchone()
        # MEMOIZE (0x94) becomes STACK_GLOBAL (0x93): unpickling now imports a "module".
        rotten = bytes(value).replace(
            b"estado_del_contribuyente\x94", b"estado_del_contribuyente\x93"
        )
        db.execute("UPDATE Cache SET value = ? WHERE key = ?", (rotten, key))


def assert_no_secret(root: Path, *outcomes: Outcome) -> None:
    needle = SECRET.encode()
    for outcome in outcomes:
        assert needle not in outcome.stdout
        assert needle not in outcome.stderr
    files = [p for p in root.rglob("*") if p.is_file()]
    assert any(p.suffix == ".db" for p in files), "no hay caché que revisar"
    for path in files:
        assert needle not in path.read_bytes(), f"el token quedó en {path.relative_to(root)}"


def test_token_never_leaks_in_a_verbose_run(ws: Workspace) -> None:
    ws.sim.config.token = SECRET
    ws.fresh_upstream(fail_first=1, rate_limit_share=0.2, retry_after=0.2)
    source = ws.write_rucs(make_rucs(20, start=5000))
    summary, log = ws.root / "resumen.json", ws.root / "migo.log"

    done = ws.run(
        source,
        ws.root / "out.xlsx",
        "-v",
        "--json-resumen",
        str(summary),
        token=None,
        env={"MIGO_TOKEN": SECRET},
    )
    log.write_bytes(done.stderr)

    assert done.code == 0, done.err
    assert summary.exists()
    assert_no_secret(ws.root, done)


def test_token_never_leaks_when_it_is_rejected_or_credits_run_out(ws: Workspace) -> None:
    source = ws.write_rucs(make_rucs(30, start=5100))
    ws.fresh_upstream()  # the simulator wants TOKEN: SECRET is rejected
    rejected = ws.run(source, ws.root / "rechazado.jsonl", "-v", token=SECRET)
    assert rejected.code == 3, rejected.err

    ws.sim.config.token = SECRET
    ws.fresh_upstream(credits=10)
    exhausted = ws.run(source, ws.root / "agotado.xlsx", "-v", token=SECRET)
    assert exhausted.code == 3, exhausted.err

    assert_no_secret(ws.root, rejected, exhausted)


def test_token_never_leaks_from_an_internal_error_traceback(ws: Workspace) -> None:
    if not callable(getattr(MigoClient, "_classify", None)):
        pytest.fail("la trampa ya no encuentra MigoClient._classify: actualícela")
    ws.sim.config.token = SECRET
    ws.fresh_upstream()
    trap = ws.root / "trampa"
    trap.mkdir()
    (trap / "sitecustomize.py").write_text(BOOBY_TRAP, encoding="utf-8")
    pythonpath = os.pathsep.join(filter(None, [str(trap), os.environ.get("PYTHONPATH")]))
    source = ws.write_rucs(make_rucs(5, start=5200))

    quiet = ws.run(source, ws.root / "a.jsonl", token=SECRET, env={"PYTHONPATH": pythonpath})
    verbose = ws.run(
        source, ws.root / "b.jsonl", "-v", token=SECRET, env={"PYTHONPATH": pythonpath}
    )

    for done in (quiet, verbose):
        if "error interno" not in done.err:  # not an AssertionError: that would be the bug
            pytest.fail(f"la trampa no se disparó:\n{done.err}")
        assert done.code == 1, done.err
    assert_no_secret(ws.root, quiet, verbose)


# -- a damaged cache ----------------------------------------------------------------------


def _truncate(size: Callable[[int], int]) -> Callable[[Path], None]:
    def damage(cache_dir: Path) -> None:
        db = cache_dir / "cache.db"
        with db.open("r+b") as fh:
            fh.truncate(size(db.stat().st_size))

    return damage


def _garbage_db(cache_dir: Path) -> None:
    (cache_dir / "cache.db").write_bytes(bytes(range(256)) * 200)


def _dir_is_a_file(cache_dir: Path) -> None:
    shutil.rmtree(cache_dir)
    cache_dir.write_bytes(b"esto no es una carpeta\n")


def _garbage_files(cache_dir: Path) -> None:
    (cache_dir / "basura.bin").write_bytes(bytes(range(256)) * 40)
    (cache_dir / "cache.db-wal").write_bytes(b"\x00garbage WAL\xff" * 300)


def _rotten_entry(cache_dir: Path) -> None:
    _corrupt_one_entry(cache_dir / "cache.db")


# (damage, whether migo must warn, whether the cache must still answer)
DAMAGE: dict[str, tuple[Callable[[Path], None], bool, bool]] = {
    "truncated-half": (_truncate(lambda size: size // 2), True, False),
    "truncated-to-header": (_truncate(lambda size: 100), True, False),
    "garbage-db": (_garbage_db, True, False),
    "dir-is-a-file": (_dir_is_a_file, True, False),
    # Files the cache does not own (an invalid WAL is ignored by SQLite): nothing to warn about.
    "garbage-files": (_garbage_files, False, True),
    "rotten-entry": (_rotten_entry, True, False),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damaged_cache_warns_and_the_run_proceeds(ws: Workspace, case: str) -> None:
    damage, warns, survives = DAMAGE[case]
    rucs = make_rucs(20, start=6000)
    ws.fresh_upstream()
    source = ws.write_rucs(rucs)
    assert ws.run(source, ws.root / "antes.jsonl").code == 0
    damage(ws.cache_dir)
    ws.fresh_upstream()
    output = ws.root / "despues.jsonl"

    done = ws.run(source, output)

    assert done.code == 0, done.err
    no_traceback(done)
    assert_all_answered(output, rucs)
    warnings = [line for line in done.err.splitlines() if " WARNING " in line]
    if warns:
        assert any("caché" in line for line in warnings), done.err
    if survives:
        assert ws.lookups() == 0
    paid = ws.lookups()
    again = ws.run(source, ws.root / "otra-vez.jsonl")  # the rebuilt cache answers
    assert again.code == 0, again.err
    assert ws.lookups() == paid
