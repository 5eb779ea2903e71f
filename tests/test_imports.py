"""Each command loads what it uses, nothing heavier: a fast start for cron, people and Django.

Every case runs in a fresh interpreter and reports which modules were loaded by
the end; nothing here is timed. pandas, the Excel libraries and the simulator's
server cost from a tenth of a second to half a second each to import; asyncio,
Rich, python-stdnum and pydantic (which Typer converts values with) together cost
``migo --help`` more than Typer itself (benchmarks, figures 7 and 8).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import openpyxl
import pytest

from migo_cli.simulator import RUC_ACTIVO_HABIDO, SimulatorThread
from tests.conftest import TOKEN

#: Never needed to parse a command line, to show help, or to call APIMIGO.
HEAVY = frozenset(
    {"pandas", "numpy", "python_calamine", "xlsxwriter", "openpyxl", "aiohttp.web"}
    | {"migo_cli.simulator", "migo_cli.readers", "migo_cli.writers", "migo_cli.batch"}
)
#: What only a command that talks to APIMIGO needs.
NETWORK = frozenset({"aiohttp", "migo_cli.client", "diskcache", "stamina"})
#: Packages (with every module inside) that showing help or the version never needs:
#: the help is plain text (migo_cli.spanish), commands run on asyncio and print with Rich.
NOT_FOR_HELP = frozenset({"asyncio", "rich", "stdnum", "pydantic", "pydantic_core"})
#: migo converts its own kinds of values (migo_cli.spanish), never through pydantic.
PYDANTIC = frozenset({"pydantic", "pydantic_core"})


def packages(modules: set[str]) -> set[str]:
    """The top-level package of each module: ``rich`` for ``rich.console``."""
    return {name.partition(".")[0] for name in modules}


# Runs the migo command in this interpreter, then lists on the real stdout the modules
# in sys.modules that were executed: migo_cli.cli puts some there to be loaded on first
# use (importlib's LazyLoader), which costs nothing until then.
PROBE = textwrap.dedent(
    """
    import contextlib, importlib.util, io, json, sys
    from migo_cli.cli import app
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = app(sys.argv[1:], prog_name="migo", standalone_mode=False)
    loaded = [name for name, module in sys.modules.items()
              if not isinstance(module, importlib.util._LazyModule)]
    sys.__stdout__.write(json.dumps({"code": code, "modules": sorted(loaded)}))
    """
)


@pytest.fixture
def child_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIGO_")}
    env["MIGO_CACHE_DIR"] = str(tmp_path / "cache")
    env["MIGO_CONFIG"] = str(tmp_path / "no-config.toml")
    return env


def loaded(env: dict[str, str], *args: str) -> set[str]:
    """The modules a fresh interpreter has loaded after ``migo ARGS`` (which must succeed)."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["code"] == 0, args
    return set(report["modules"])


def against(sim: SimulatorThread, *args: str) -> tuple[str, ...]:
    return (*args, "--base-url", sim.base_url, "--token", TOKEN, "-q")


def test_importing_the_package_loads_nothing_heavy(child_env: dict[str, str]) -> None:
    probe = "import json, sys, migo_cli; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=child_env, check=True
    )
    modules = set(json.loads(done.stdout))
    assert not modules & (HEAVY | NETWORK)


@pytest.mark.parametrize(
    "args", [("--help",), ("masivo", "--help"), ("cache", "limpiar", "--help"), ("--version",)]
)
def test_help_and_version_load_nothing_heavy(child_env: dict[str, str], args: tuple[str]) -> None:
    modules = loaded(child_env, *args)
    assert not modules & (HEAVY | NETWORK)
    assert not packages(modules) & NOT_FOR_HELP
    # the version comes from the dist-info's name (migo_cli._version): not this ~25 ms
    assert "importlib.metadata" not in modules


def test_python_m_migo_cli_help_imports_nothing_heavy(child_env: dict[str, str]) -> None:
    """The real entry point, as ``-X importtime`` lists every module it imports."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "migo_cli", "--help"],
        capture_output=True,
        text=True,
        env=child_env,
        check=True,
    )
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }
    assert "migo_cli.cli" in imported
    assert not imported & (HEAVY | NETWORK)
    assert not packages(imported) & NOT_FOR_HELP


def test_cache_info_loads_the_cache_not_the_network(child_env: dict[str, str]) -> None:
    modules = loaded(child_env, "cache", "info")
    assert "diskcache" in modules
    assert not modules & (HEAVY | {"aiohttp", "migo_cli.client"})


def test_cuenta_and_consultar_load_the_client_only(
    child_env: dict[str, str], sim: SimulatorThread
) -> None:
    for args in (("cuenta", "--json"), ("consultar", RUC_ACTIVO_HABIDO, "--json")):
        modules = loaded(child_env, *against(sim, *args))
        assert "migo_cli.client" in modules
        assert not modules & HEAVY, args
        assert not packages(modules) & PYDANTIC, args
        assert "rich" not in packages(modules), args  # JSON, and no terminal to decorate


def test_masivo_loads_the_reader_and_writer_its_files_need(
    child_env: dict[str, str], sim: SimulatorThread, tmp_path: Path
) -> None:
    text = tmp_path / "rucs.txt"
    text.write_text(f"{RUC_ACTIVO_HABIDO}\n", encoding="utf-8")
    csv = tmp_path / "rucs.csv"
    csv.write_text(f"RUC;Nombre\n{RUC_ACTIVO_HABIDO};uno\n", encoding="utf-8")
    xlsx = tmp_path / "rucs.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["RUC"])
    sheet.append([int(RUC_ACTIVO_HABIDO)])
    book.save(xlsx)

    excel = {"python_calamine", "xlsxwriter"}
    cases: list[tuple[Path, str, tuple[str, ...], set[str], set[str]]] = [
        (text, "out.jsonl", (), set(), {"pandas", *excel}),
        (csv, "out.csv", (), set(), {"pandas", *excel}),  # a CSV is read without pandas
        (csv, "enriquecido.csv", ("--enriquecer",), {"pandas"}, excel),  # the kept table
        (xlsx, "out.xlsx", (), excel, {"pandas"}),
    ]
    for source, output, extra, needed, unneeded in cases:
        modules = loaded(
            child_env,
            *against(sim, "masivo", str(source), "-o", str(tmp_path / output), *extra),
        )
        assert modules >= {"migo_cli.readers", "migo_cli.writers", *needed}, source.name
        assert not modules & {*unneeded, "openpyxl", "aiohttp.web", "migo_cli.simulator"}
        assert not packages(modules) & PYDANTIC, source.name
        assert "rich.progress" not in modules, source.name  # -q: no bar to draw


def test_masivo_in_a_log_prints_its_summary_without_rich(
    child_env: dict[str, str], sim: SimulatorThread, tmp_path: Path
) -> None:
    source = tmp_path / "rucs.txt"
    source.write_text(f"{RUC_ACTIVO_HABIDO}\n", encoding="utf-8")
    args = against(sim, "masivo", str(source), "-o", str(tmp_path / "out.jsonl"))
    wide = {**child_env, "COLUMNS": "200"}  # room for tmp_path in the table's Salida row
    modules = loaded(wide, *(arg for arg in args if arg != "-q"))  # the summary is printed
    assert "rich" not in packages(modules)  # not a terminal: log lines, a plain table


def test_every_public_name_resolves_to_its_module() -> None:
    import importlib

    import migo_cli

    for name in migo_cli.__all__:
        value = getattr(migo_cli, name)
        module = migo_cli._MODULE_OF.get(name, "migo_cli.exceptions")
        assert value is getattr(importlib.import_module(module), name), name
    assert set(migo_cli.__all__) <= set(dir(migo_cli))
    assert set(migo_cli._MODULE_OF) <= set(migo_cli.__all__)
    with pytest.raises(AttributeError):
        _ = migo_cli.no_such_name


def test_padron_info_loads_neither_the_network_nor_the_heavy_libraries(
    child_env: dict[str, str], tmp_path: Path
) -> None:
    from migo_cli.padron.build import build_index
    from migo_cli.simulator.padron import write_padron

    source = write_padron(tmp_path / "padron.txt", rucs=[RUC_ACTIVO_HABIDO]).path
    build_index(source, tmp_path / "padron")
    child_env["MIGO_PADRON_DIR"] = str(tmp_path / "padron")
    for args in (("padron", "info"), ("padron", "info", "--json")):
        modules = loaded(child_env, *args)
        assert "migo_cli.padron.store" in modules
        unneeded = {"aiohttp", "migo_cli.client", "diskcache", "multiprocessing", "urllib.request"}
        assert not modules & (HEAVY | unneeded), args


#: Never loaded by ``consultar R --fuente padron`` answered from the padrón: no event
#: loop, no Rich where stdout is not a terminal (migo_cli.card), no stdnum for a good
#: RUC (migo_cli.ruc), none of a build's zipfile/hashlib (benchmarks, figure 14); nor
#: the modules whose dataclasses cost a millisecond each to create and that only a
#: request (``_tunables``), another service (``answers``) or a build (``padron.build``)
#: needs.
NOT_FOR_A_PADRON_ANSWER = frozenset(
    {
        *("asyncio", "rich", "stdnum", "ssl", "zipfile", "hashlib", "decimal"),
        *("migo_cli.settle", "migo_cli._tunables", "migo_cli.answers", "migo_cli.padron.build"),
    }
)


@pytest.mark.parametrize("as_json", [False, True])
def test_consultar_from_the_padron_loads_sqlite_and_nothing_else_heavy(
    child_env: dict[str, str], tmp_path: Path, as_json: bool
) -> None:
    from migo_cli.padron.build import build_index
    from migo_cli.simulator.padron import write_padron

    source = write_padron(tmp_path / "padron.txt", rucs=[RUC_ACTIVO_HABIDO]).path
    build_index(source, tmp_path / "padron")
    child_env["MIGO_PADRON_DIR"] = str(tmp_path / "padron")
    args = ("consultar", RUC_ACTIVO_HABIDO, "--fuente", "padron", *(["--json"] * as_json))
    modules = loaded(child_env, *args)
    assert {"sqlite3", "migo_cli.padron.lookup", "migo_cli.history"} <= modules
    assert ("migo_cli.card" in modules) is not as_json
    unneeded = packages(modules) & NOT_FOR_A_PADRON_ANSWER | modules & NOT_FOR_A_PADRON_ANSWER
    assert not unneeded, args
    assert not modules & (HEAVY | NETWORK), args
    assert list((tmp_path / "cache").glob("historial*.sqlite3")), "the answer was not recorded"
