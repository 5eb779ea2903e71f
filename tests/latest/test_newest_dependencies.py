"""migo on the newest releases of its dependencies, installed as a user installs it.

``make test-latest`` builds ``.venv-latest`` with ``pip install .`` and no
constraints (so the newest aiohttp, pandas, numpy… that ``pyproject.toml``
allows), adds pytest, and runs these tests there. They run the ``migo`` console
script of that environment in a scratch directory, so the code under test is the
installed copy, not this source tree. Marked ``latest``: ``make test`` leaves
them out (its environment is the pinned one, constraints.txt). Only what needs no
test library: the suites built on aioresponses stay in ``make test``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.latest

MIGO = Path(sys.executable).parent / "migo"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "rucs.csv"
RUC = "20100038146"


def migo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed ``migo`` with no token, config file or user cache of the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIGO_")}
    env.pop("PYTHONPATH", None)  # the installed package, not a source tree
    env["MIGO_CACHE_DIR"] = str(cwd / "cache")
    env["MIGO_CONFIG"] = str(cwd / "no-config.toml")
    return subprocess.run(
        [str(MIGO), *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_consultar_simulado_json(tmp_path: Path) -> None:
    done = migo("consultar", RUC, "--simulado", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["ruc"] == RUC
    assert answer["estado_consulta"] == "valido"
    assert answer["simulado"] is True


def test_masivo_simulado_jsonl(tmp_path: Path) -> None:
    output, summary = tmp_path / "x.jsonl", tmp_path / "resumen.json"
    done = migo(
        "masivo", str(EXAMPLE), "-o", str(output), "--simulado",
        "--json-resumen", str(summary), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(summary.read_text(encoding="utf-8"))
    assert report["completo"] is True
    assert report["errores"] == 0
    rows = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == report["unicos"] == 11
    assert {row["estado_consulta"] for row in rows} == {"valido", "no_existe", "formato_invalido"}


def test_masivo_xlsx_round_trip(tmp_path: Path) -> None:
    """The Excel writer (xlsxwriter) and reader (calamine, pandas, numpy) at their newest."""
    workbook = tmp_path / "resultado.xlsx"
    done = migo("masivo", str(EXAMPLE), "-o", str(workbook), "--simulado", "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = tmp_path / "releido.json"
    again = migo(
        "masivo", str(workbook), "--hoja", "validos", "--columna", "ruc", "--solo-validar",
        "-q", "-o", str(tmp_path / "releido.jsonl"), "--json-resumen", str(summary),
        cwd=tmp_path,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert json.loads(summary.read_text(encoding="utf-8"))["sin_consultar"] == 9
