"""``migo padron actualizar`` and ``migo padron info``: messages, JSON, exit codes, kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from migo_cli.cli import app
from migo_cli.models import today_in_lima
from migo_cli.padron.build import build_index
from migo_cli.padron.store import INDEX_FILE, PadronIndex
from migo_cli.simulator import RUC_ACENTOS, make_rucs
from migo_cli.simulator.padron import HEADER_LINE, padron_line, write_padron

runner = CliRunner()


pytestmark = pytest.mark.usefixtures("restore_migo_logger")


@pytest.fixture
def padron_dir(env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = env / "padron"
    monkeypatch.setenv("MIGO_PADRON_DIR", str(directory))
    return directory


def test_info_without_a_padron_exits_1(padron_dir: Path) -> None:
    for args in (["padron", "info"], ["padron", "info", "--json"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 1
        assert result.stdout == ""
        assert "no hay un padrón local; créelo con: migo padron actualizar" in result.stderr


def test_actualizar_from_a_zip_then_info(padron_dir: Path, tmp_path: Path) -> None:
    source = write_padron(tmp_path / "padron.zip", rucs=make_rucs(300), malformed=0.02)
    noon = datetime(2025, 3, 1, 12).timestamp()  # the padrón's date: the file's mtime
    os.utime(source.path, (noon, noon))

    result = runner.invoke(app, ["padron", "actualizar", "--desde", str(source.path)])

    assert result.exit_code == 0, result.output
    assert f"Padrón actualizado: {source.rows} RUC, fecha 2025-03-01" in result.stderr
    assert f"{source.malformed} líneas omitidas" in result.stderr

    shown = runner.invoke(app, ["padron", "info"])
    assert shown.exit_code == 0
    days = (today_in_lima() - date(2025, 3, 1)).days
    assert f"Fecha:     2025-03-01 (hace {days:,} días)" in shown.stdout
    assert "tiene más de 7 días: migo padron actualizar" in shown.stdout
    assert f"Filas:     {source.rows}" in shown.stdout
    assert f"Omitidas:  {source.malformed} líneas" in shown.stdout
    assert str(padron_dir / INDEX_FILE) in shown.stdout

    as_json = runner.invoke(app, ["padron", "info", "--json"])
    document = json.loads(as_json.stdout)
    assert {"fecha", "filas", "omitidas", "bytes", "ruta", "sha256"} <= set(document)
    assert document["fecha"] == "2025-03-01"
    assert (document["filas"], document["omitidas"]) == (source.rows, source.malformed)
    assert document["bytes"] == (padron_dir / INDEX_FILE).stat().st_size
    assert document["ruta"] == str(padron_dir / INDEX_FILE)


def test_actualizar_from_a_missing_file_is_a_usage_error(padron_dir: Path) -> None:
    result = runner.invoke(app, ["padron", "actualizar", "--desde", "no-existe.zip"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Error: no-existe.zip no existe: indique el zip o el .txt del padrón"
    )


def test_actualizar_from_a_bad_file_exits_1_in_one_line(padron_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "padron.zip"
    bad.write_bytes(b"PK\x03\x04 no es un zip")
    result = runner.invoke(app, ["padron", "actualizar", "--desde", str(bad)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {bad} no es un zip válido")
    assert "Traceback" not in result.output
    assert not (padron_dir / INDEX_FILE).exists()


def test_kill_9_mid_build_leaves_the_previous_index(padron_dir: Path, tmp_path: Path) -> None:
    """The build reads a pipe; killed while it waits for more, nothing of it is seen."""
    first = write_padron(tmp_path / "first.txt", rucs=make_rucs(100))
    before = build_index(first.path, padron_dir)
    fifo = tmp_path / "padron.txt"
    os.mkfifo(fifo)
    env = {**os.environ, "MIGO_PADRON_DIR": str(padron_dir)}
    command = [sys.executable, "-m", "migo_cli", "padron", "actualizar", "--desde", str(fifo)]
    lines = [line for line in map(padron_line, make_rucs(20_000, start=5000)) if line]
    # Opening the pipe waits for the child to open it: it has created its new
    # database by then. Writing more than a pipe holds returns once it has read.
    with (
        subprocess.Popen(command, env=env, stderr=subprocess.PIPE) as child,
        fifo.open("w", encoding="iso-8859-1") as pipe,
    ):
        pipe.write(HEADER_LINE + "\n" + "\n".join(lines) + "\n")
        pipe.flush()
        temporaries = list(padron_dir.glob(".padron-nuevo-*"))
        assert temporaries, "the child has no build under way"
        child.send_signal(signal.SIGKILL)
        assert child.wait() == -signal.SIGKILL
    assert all(path.exists() for path in temporaries)  # what kill -9 left behind

    with PadronIndex.open(padron_dir) as index:
        assert index.info == before
        assert index.get(RUC_ACENTOS) is not None
        assert index.get(lines[0][:11]) is None
    info = runner.invoke(app, ["padron", "info", "--json"])
    assert json.loads(info.stdout) == before.to_dict()

    rerun = runner.invoke(app, ["padron", "actualizar", "--desde", str(first.path), "-q"])
    assert rerun.exit_code == 0, rerun.output
    assert not any(path.exists() for path in temporaries)
