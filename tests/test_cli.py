"""``migo consultar``, ``migo cache`` and ``migo simulador``: exit codes, messages, no leaks."""

from __future__ import annotations

import http.server
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from typer.testing import CliRunner

from migo_cli.cli import app
from migo_cli.config import redact
from migo_cli.simulator import RUC_ACTIVO_HABIDO, RUC_NO_EXISTE, SimulatorThread
from tests.conftest import TOKEN, make_rucs

runner = CliRunner()


def migo(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def against(sim: SimulatorThread, *args: str, token: str = TOKEN) -> tuple[int, str, str]:
    return migo(*args, "--base-url", sim.base_url, "--token", token)


def test_consultar_simulado_json_prints_the_record(env: Path) -> None:
    code, out, err = migo("consultar", RUC_ACTIVO_HABIDO, "--simulado", "--json")
    assert code == 0
    record = json.loads(out)
    assert record["ruc"] == RUC_ACTIVO_HABIDO
    assert record["estado_consulta"] == "valido"
    assert record["apto_facturacion"] is True
    assert record["simulado"] is True
    assert "SIMULADOS" in err


def test_consultar_table_marks_simulated_data(env: Path) -> None:
    code, out, _ = migo("consultar", RUC_ACTIVO_HABIDO, "--simulado")
    assert code == 0
    assert RUC_ACTIVO_HABIDO in out
    assert "SIMULADOS" in out


def test_not_found_exits_1(env: Path, sim: SimulatorThread) -> None:
    code, out, _ = against(sim, "consultar", RUC_NO_EXISTE, "--json")
    assert code == 1
    assert json.loads(out)["estado_consulta"] == "no_existe"


def test_several_rucs_give_a_json_array_and_exit_1_unless_all_valid(
    env: Path, sim: SimulatorThread
) -> None:
    code, out, _ = against(sim, "consultar", RUC_ACTIVO_HABIDO, RUC_NO_EXISTE, "--json")
    assert code == 1
    assert [r["estado_consulta"] for r in json.loads(out)] == ["valido", "no_existe"]


def test_bad_check_digit_is_reported_without_any_request(env: Path, sim: SimulatorThread) -> None:
    code, out, _ = against(sim, "consultar", "20100038147", "--json")
    assert code == 1
    assert "dígito verificador" in json.loads(out)["motivo"]
    assert sim.stats.requests_total == 0


def test_bad_check_digit_needs_no_token(env: Path) -> None:
    code, out, err = migo("consultar", "20100038147")
    assert code == 1
    assert "dígito" in out
    assert "token" not in err


def test_wrong_token_exits_3_after_one_call(env: Path, sim: SimulatorThread) -> None:
    code, _, err = against(sim, "consultar", RUC_ACTIVO_HABIDO, "20131312955", token="malo")
    assert code == 3
    assert "rechazó el token" in err
    assert sim.stats.requests_total == 1


def test_missing_token_is_a_one_line_usage_error(env: Path) -> None:
    code, out, err = migo("consultar", RUC_ACTIVO_HABIDO)
    assert code == 2
    assert out == ""
    assert "MIGO_TOKEN" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) <= 2  # Rich may fold the one line


def test_token_from_environment(
    env: Path, sim: SimulatorThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIGO_TOKEN", TOKEN)
    code, _, _ = migo("consultar", RUC_ACTIVO_HABIDO, "--base-url", sim.base_url)
    assert code == 0


def test_plain_http_to_another_host_is_refused(env: Path) -> None:
    code, _, err = migo(
        "consultar", RUC_ACTIVO_HABIDO, "--token", TOKEN, "--base-url", "http://api.migo.pe"
    )
    assert code == 2
    assert "https" in err


def test_token_never_printed(env: Path, sim: SimulatorThread) -> None:
    for token in (TOKEN, "otro-token-secreto"):
        result = runner.invoke(
            app,
            ["consultar", RUC_ACTIVO_HABIDO, "-v", "--base-url", sim.base_url, "--token", token],
        )
        assert token not in result.stdout
        assert token not in result.stderr


def test_hang_past_the_timeout_is_an_error_in_bounded_time(env: Path, sim: SimulatorThread) -> None:
    # The hang ends in a valid answer: only --timeout cutting both attempts makes this an error.
    sim.config.hang = {RUC_ACTIVO_HABIDO}
    sim.config.hang_seconds = 30
    code, out, _ = against(
        sim, "consultar", RUC_ACTIVO_HABIDO, "--json", "--timeout", "0.3", "--reintentos", "1"
    )
    assert code == 1
    record = json.loads(out)
    assert record["estado_consulta"] == "error"
    assert "no respondió en 0.3 s" in record["motivo"]
    assert sim.stats.by_ruc[RUC_ACTIVO_HABIDO] == 2


def test_cache_answers_the_second_lookup_and_can_be_cleared(
    env: Path, sim: SimulatorThread
) -> None:
    assert against(sim, "consultar", RUC_ACTIVO_HABIDO)[0] == 0
    code, out, _ = against(sim, "consultar", RUC_ACTIVO_HABIDO, "--json")
    assert (code, json.loads(out)["origen"]) == (0, "cache")
    assert sim.stats.lookup_requests == 1

    code, out, _ = migo("cache", "info")
    assert code == 0
    assert "Entradas:  1" in out
    assert str(env / "cache") in out

    assert against(sim, "consultar", RUC_ACTIVO_HABIDO, "--sin-cache")[0] == 0
    assert against(sim, "consultar", RUC_ACTIVO_HABIDO, "--refrescar")[0] == 0
    assert sim.stats.lookup_requests == 3

    code, out, _ = migo("cache", "limpiar", "--ruc", RUC_ACTIVO_HABIDO)
    assert (code, out.strip()) == (0, "Entradas borradas: 1")
    assert against(sim, "consultar", RUC_ACTIVO_HABIDO)[0] == 0
    assert sim.stats.lookup_requests == 4
    assert migo("cache", "limpiar")[1].strip() == "Entradas borradas: 1"


def test_cache_dir_option(env: Path) -> None:
    code, out, _ = migo("cache", "info", "--cache-dir", str(env / "otra"))
    assert code == 0
    assert str(env / "otra") in out


def test_bad_option_value_is_a_usage_error(env: Path) -> None:
    code, _, err = migo("consultar", RUC_ACTIVO_HABIDO, "--simulado", "--timeout", "0")
    assert code == 2
    assert "--timeout" in err


def test_version() -> None:
    code, out, _ = migo("--version")
    assert code == 0
    assert out.startswith("migo ")


def test_the_process_ends_with_everything_written_and_its_exit_code(env: Path) -> None:
    """``main`` skips the interpreter's teardown (os._exit) only once all is flushed."""
    source = env / "muchos.txt"
    source.write_text("\n".join(make_rucs(3000)) + "\nNO-ES-RUC\n", encoding="utf-8")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "migo_cli", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    rows = run("masivo", str(source), "--solo-validar", "-o", "-", "-v")
    assert rows.returncode == 0
    assert [json.loads(line)["ruc"] for line in rows.stdout.splitlines()][-1] == "NO-ES-RUC"
    assert len(rows.stdout.splitlines()) == 3001
    assert "3,001 valores" in rows.stderr  # the log, then the summary: flushed too
    assert rows.stderr.rstrip().splitlines()[-2].split() == ["│", "Completo", "│", "sí", "│"]

    usage = run("masivo")
    assert (usage.returncode, usage.stdout) == (2, "")
    assert usage.stderr.startswith("Error: falta el argumento ENTRADA")

    assert run("--version").stdout.startswith("migo ")


def test_simulador_serves_until_interrupted(env: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "migo_cli", "simulador", "--puerto", "0"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    ) as process:
        try:
            assert process.stderr is not None
            base_url = process.stderr.readline().split(" en ")[1].split()[0]
            request = urllib.request.Request(
                f"{base_url}/api/v1/ruc",
                data=json.dumps({"ruc": RUC_ACTIVO_HABIDO, "token": "x"}).encode(),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=5) as response:
                assert json.load(response)["success"] is True
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=10) == 130
        finally:
            process.kill()


# -- what a user reads when the network fails (issue 12) -----------------------------

_CLASS_NAME = re.compile(r"[A-Z]\w+(Error|Exception)")


def _motivo(*args: str) -> str:
    code, out, err = migo("consultar", RUC_ACTIVO_HABIDO, "--json", "--reintentos", "0", *args)
    assert code == 1
    assert not _CLASS_NAME.search(out + err), out + err
    return str(json.loads(out)["motivo"])


def test_refused_connection_names_the_host_and_the_cause(env: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    motivo = _motivo("--base-url", f"http://127.0.0.1:{port}", "--token", TOKEN)
    assert motivo == "no se pudo conectar con 127.0.0.1: conexión rechazada"


def test_tls_handshake_failure_is_said_in_spanish(env: Path, sim: SimulatorThread) -> None:
    plain = sim.base_url.replace("http://", "https://")  # TLS spoken to a plain HTTP server
    motivo = _motivo("--base-url", plain, "--token", TOKEN)
    assert motivo == "falló la conexión segura (TLS) con 127.0.0.1"


@pytest.fixture
def untrusted_tls_server() -> Iterator[str]:
    """An HTTPS server on 127.0.0.1 whose certificate no system trusts (trustme's own CA)."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_invalid_certificate_is_said_in_spanish(env: Path, untrusted_tls_server: str) -> None:
    motivo = _motivo("--base-url", untrusted_tls_server, "--token", TOKEN)
    assert motivo == "certificado TLS inválido para 127.0.0.1"


def test_one_rule_masks_the_token_in_messages_logs_and_upstream_text() -> None:
    assert redact(f"rechazado: {TOKEN} ({TOKEN})", TOKEN) == "rechazado: *** (***)"
    # A "token" of a letter or two would mangle every word it appears in.
    assert redact("tiempo agotado", "t") == "tiempo agotado"
    assert redact("sin token", None) == "sin token"


def test_the_version_is_the_one_importlib_metadata_reads() -> None:
    from importlib.metadata import version

    from migo_cli import _version

    assert _version.__version__ == version("migo-cli")
    assert _version._from_dist_info() == _version._from_metadata() == version("migo-cli")


def test_a_batch_tunes_the_collector_and_gives_it_back() -> None:
    """``masivo``'s process-wide GC tuning (the CLI's edge, never the library's) is undone."""
    import gc

    from migo_cli import cli as cli_module

    before = gc.get_threshold()
    with cli_module._long_lived_objects_frozen():
        assert gc.get_threshold() == (cli_module.BATCH_GC_THRESHOLD, *before[1:])
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
