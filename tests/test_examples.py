"""The examples run as documented: Django (async test client), Celery (eager), scripts, cron.

Everything goes to the simulator on loopback, configured the way a deployment
would be: ``MIGO_TOKEN``, ``MIGO_BASE_URL`` and a private ``MIGO_CACHE_DIR``.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import django
import openpyxl
import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import AsyncClient

from examples import basico, celery_tasks, masivo
from migo_cli.simulator import (
    RUC_ACTIVO_HABIDO,
    RUC_DIGITO_INVALIDO,
    RUC_NO_EXISTE,
    RUC_NO_HABIDO,
    SimulatorThread,
)
from tests.conftest import TOKEN, make_rucs

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"

if not settings.configured:  # once per process, whoever imports first
    settings.configure(
        ROOT_URLCONF="examples.django_views",
        ALLOWED_HOSTS=["testserver"],
        INSTALLED_APPS=[],
        DATABASES={},
        SECRET_KEY="solo-para-pruebas",
        USE_TZ=True,
    )
    django.setup()


@pytest.fixture
def deployed(env: Path, sim: SimulatorThread, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The environment a deployment gives the examples (``env`` set a private cache dir)."""
    monkeypatch.setenv("MIGO_TOKEN", TOKEN)
    monkeypatch.setenv("MIGO_BASE_URL", sim.base_url)
    return env


# -- Django ---------------------------------------------------------------------------------


async def test_django_validar_ruc(deployed: Path, sim: SimulatorThread) -> None:
    client = AsyncClient()
    response = await client.get(f"/ruc/{RUC_ACTIVO_HABIDO}/")
    assert response.status_code == 200
    record = response.json()
    assert (record["ruc"], record["estado_consulta"]) == (RUC_ACTIVO_HABIDO, "valido")
    assert record["apto_facturacion"] is True
    assert record["origen"] == "api"

    again = (await client.get(f"/ruc/{RUC_ACTIVO_HABIDO}/")).json()
    assert again["origen"] == "cache"  # a later request, a new client: the disk cache answers
    assert sim.stats.lookup_requests == 1

    no_habido = (await client.get(f"/ruc/{RUC_NO_HABIDO}/")).json()
    assert no_habido["apto_facturacion"] is False


async def test_django_unknown_and_malformed_rucs(deployed: Path, sim: SimulatorThread) -> None:
    client = AsyncClient()
    missing = await client.get(f"/ruc/{RUC_NO_EXISTE}/")
    assert missing.status_code == 404
    assert missing.json()["estado_consulta"] == "no_existe"

    requests_before = sim.stats.requests_total
    bad = await client.get(f"/ruc/{RUC_DIGITO_INVALIDO}/")
    assert bad.status_code == 400
    assert "dígito verificador" in bad.json()["motivo"]
    assert sim.stats.requests_total == requests_before  # answered without a request


async def test_django_rejected_token_is_503(
    deployed: Path, sim: SimulatorThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIGO_TOKEN", "token-que-no-vale")
    response = await AsyncClient().get(f"/ruc/{RUC_ACTIVO_HABIDO}/")
    assert response.status_code == 503
    assert "token-que-no-vale" not in response.content.decode()


async def test_django_missing_token_is_a_configuration_error(
    env: Path, sim: SimulatorThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIGO_BASE_URL", sim.base_url)
    with pytest.raises(ImproperlyConfigured, match="MIGO_TOKEN"):
        await AsyncClient().get(f"/ruc/{RUC_ACTIVO_HABIDO}/")


async def test_django_settings_win_over_the_environment(
    env: Path, sim: SimulatorThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIGO_TOKEN", "token-del-entorno-que-no-vale")
    monkeypatch.setattr(settings, "MIGO_TOKEN", TOKEN, raising=False)
    monkeypatch.setattr(settings, "MIGO_BASE_URL", sim.base_url, raising=False)
    monkeypatch.setattr(settings, "MIGO_CACHE_DIR", str(env / "django-cache"), raising=False)
    response = await AsyncClient().get(f"/ruc/{RUC_ACTIVO_HABIDO}/")
    assert response.status_code == 200
    assert (env / "django-cache").is_dir()


async def test_django_tipo_cambio(deployed: Path, sim: SimulatorThread) -> None:
    client = AsyncClient()
    dated = await client.get("/tipo-cambio/", {"fecha": "2024-05-31"})
    assert dated.status_code == 200
    assert dated.json()["fecha"] == "2024-05-31"
    latest = await client.get("/tipo-cambio/")
    assert latest.status_code == 200
    assert latest.json()["precio_venta"] > 0

    before = sim.stats.requests_total
    bad = await client.get("/tipo-cambio/", {"fecha": "31/05/2024"})
    assert bad.status_code == 400
    assert sim.stats.requests_total == before
    future = (datetime.date.today() + datetime.timedelta(days=40)).isoformat()
    assert (await client.get("/tipo-cambio/", {"fecha": future})).status_code == 404


# -- Celery -----------------------------------------------------------------------------------


@pytest.fixture
def eager(deployed: Path) -> Iterator[None]:
    conf = celery_tasks.app.conf
    saved = (conf.task_always_eager, conf.task_eager_propagates)
    conf.task_always_eager = True
    conf.task_eager_propagates = True
    try:
        yield
    finally:
        celery_tasks.cerrar_migo()
        conf.task_always_eager, conf.task_eager_propagates = saved


def test_celery_fans_chunks_out_and_merges_the_summaries(eager: None, sim: SimulatorThread) -> None:
    fresh = make_rucs(10, start=4000)
    values: list[object] = [
        *fresh,
        RUC_ACTIVO_HABIDO,
        RUC_NO_EXISTE,
        RUC_DIGITO_INVALIDO,
        "",
        fresh[0],
        int(fresh[1]),
    ]
    chunks = celery_tasks.lotes(values, 4)
    assert [len(c) for c in chunks] == [4, 4, 4, 1]  # 13 distinct values

    merged: dict[str, Any] = celery_tasks.verificar_lista(values, tamano_lote=4).get()

    assert list(merged) == ["validos", "invalidos", "errores", "duration_ms"]
    answered = [r["ruc"] for r in merged["validos"] + merged["invalidos"]]
    assert sorted(answered) == sorted(
        [*fresh, RUC_ACTIVO_HABIDO, RUC_NO_EXISTE, RUC_DIGITO_INVALIDO]
    )
    assert merged["errores"] == []
    states = {r["ruc"]: r["estado_consulta"] for r in merged["invalidos"]}
    assert states[RUC_NO_EXISTE] == "no_existe"
    assert states[RUC_DIGITO_INVALIDO] == "formato_invalido"
    assert sim.stats.lookup_requests == 12  # each well-formed RUC once, across all chunks
    assert json.loads(json.dumps(merged)) == merged


def test_celery_rejected_token_is_reported_in_the_summary(
    eager: None, sim: SimulatorThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIGO_TOKEN", "token-que-no-vale")
    merged = celery_tasks.verificar_lista(make_rucs(6), tamano_lote=3).get()
    assert "rechazó el token" in merged["detenido_por"]
    assert len(merged["errores"]) == 6
    assert sim.stats.requests_total == 1  # one worker process: one client, stopped at once


def test_celery_empty_list(eager: None) -> None:
    assert celery_tasks.verificar_lista(["", None]).get() == {
        "validos": [],
        "invalidos": [],
        "errores": [],
        "duration_ms": 0,
    }


def test_celery_merge_and_chunks() -> None:
    first = {"validos": [{"ruc": "a"}], "invalidos": [], "errores": [], "duration_ms": 30}
    second = {
        "validos": [],
        "invalidos": [{"ruc": "b"}],
        "errores": [{"ruc": "c"}],
        "duration_ms": 50,
        "detenido_por": "sin consultas",
    }
    merged = celery_tasks.unir_resumenes([first, second])
    assert merged == {
        "validos": [{"ruc": "a"}],
        "invalidos": [{"ruc": "b"}],
        "errores": [{"ruc": "c"}],
        "duration_ms": 50,
        "detenido_por": "sin consultas",
    }
    with pytest.raises(ValueError, match="tamano"):
        celery_tasks.lotes(["x"], 0)


# -- the scripts --------------------------------------------------------------------------------


def test_basico_runs_async_then_sync(
    deployed: Path, sim: SimulatorThread, capsys: pytest.CaptureFixture[str]
) -> None:
    assert basico.main([]) == 0
    out = capsys.readouterr().out
    assert f"[async] {RUC_ACTIVO_HABIDO}: valido" in out
    assert "[sync]" in out
    assert "origen: cache" in out  # the sync part reused the async part's answer
    assert sim.stats.lookup_requests == 1


def test_basico_reports_errors_in_one_line(
    env: Path, sim: SimulatorThread, capsys: pytest.CaptureFixture[str]
) -> None:
    assert basico.main([]) == 1  # no token
    assert "MIGO_TOKEN" in capsys.readouterr().err


def test_masivo_streams_then_summarises(
    deployed: Path, sim: SimulatorThread, capsys: pytest.CaptureFixture[str]
) -> None:
    resumen = deployed / "resumen.json"
    assert masivo.main([str(EXAMPLES / "rucs.csv"), "--resumen", str(resumen)]) == 0
    document = json.loads(resumen.read_text(encoding="utf-8"))
    assert list(document) == ["validos", "invalidos", "errores", "duration_ms"]
    assert {r["origen"] for r in document["validos"]} == {"cache"}  # the stream paid for them
    assert RUC_ACTIVO_HABIDO in capsys.readouterr().out


# -- cron.sh ----------------------------------------------------------------------------------

CRON = EXAMPLES / "cron.sh"
FAKE_MIGO = """#!/usr/bin/env bash
printf '%s\\n' "$*" >>"$FAKE_CALLS"
n=$(wc -l <"$FAKE_CALLS")
read -r -a codes <<<"$FAKE_CODES"
exit "${codes[$((n - 1))]:-0}"
"""
ALERT = """#!/usr/bin/env bash
printf '%s\\n' "$*" >>"$ALERTS"
"""


def script(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o755)
    return path


def run_cron(tmp: Path, codes: str, **extra: str) -> tuple[int, str, list[str], list[str]]:
    """cron.sh with a fake migo exiting with ``codes`` in turn: (exit, log, calls, alerts)."""
    source = tmp / "clientes.csv"
    source.write_text("RUC\n20100038146\n", encoding="utf-8")
    destino = tmp / "verificados"
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp),
        "MIGO": str(script(tmp / "migo-falso", FAKE_MIGO)),
        "MIGO_TOKEN": "secreto",
        "MIGO_ALERTA": str(script(tmp / "alerta", ALERT)),
        "REINTENTO_SEGUNDOS": "0",
        "FAKE_CALLS": str(tmp / "calls.txt"),
        "FAKE_CODES": codes,
        "ALERTS": str(tmp / "alerts.txt"),
        **extra,
    }
    done = subprocess.run(
        ["bash", str(CRON), str(source), str(destino)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    logs = list((destino / "logs").glob("migo-*.log"))
    log_text = logs[0].read_text(encoding="utf-8") if logs else ""

    def lines(name: str) -> list[str]:
        path = tmp / name
        return path.read_text(encoding="utf-8").splitlines() if path.exists() else []

    return done.returncode, log_text, lines("calls.txt"), lines("alerts.txt")


def test_cron_script_is_valid_bash() -> None:
    subprocess.run(["bash", "-n", str(CRON)], check=True, timeout=30)
    assert os.access(CRON, os.X_OK)


@pytest.mark.parametrize(
    ("codes", "expected", "runs", "message"),
    [
        ("0", 0, 1, "completo"),
        ("1 0", 0, 2, "completo"),
        ("1 1", 1, 2, "parcial"),
        ("2", 2, 1, "error de uso"),
        ("3", 3, 1, "token rechazado o consultas agotadas"),
        ("130", 130, 1, "interrumpido (código 130)"),
        ("143", 143, 1, "interrumpido (código 143)"),
        ("9", 9, 1, "código inesperado 9"),
    ],
)
def test_cron_exit_codes(
    tmp_path: Path, codes: str, expected: int, runs: int, message: str
) -> None:
    code, log, calls, alerts = run_cron(tmp_path, codes, MIGO_OPCIONES="--rpm 600 --estricto")
    assert code == expected
    assert message in log
    assert len(calls) == runs
    today = datetime.date.today().isoformat()
    assert calls[0].startswith("masivo ")
    for piece in (f"verificados-{today}.xlsx", f"resumen-{today}.json", "--rpm 600"):
        assert piece in calls[0]
    assert " -q" not in calls[0]  # the log is for people: progress and summary stay
    assert " --refrescar " in calls[0]  # the night's check asks every RUC again
    assert all("--refrescar" not in call for call in calls[1:])  # a retry: only the failed
    assert calls[0].endswith("--estricto")
    if expected == 0:
        assert alerts == []
    else:
        assert len(alerts) == 1
        assert message in alerts[0]


def test_cron_with_the_real_migo(env: Path, sim: SimulatorThread) -> None:
    wrapper = script(env / "migo", f'#!/bin/sh\nexec "{sys.executable}" -m migo_cli "$@"\n')
    source = env / "clientes.csv"
    source.write_text(f"RUC\n{RUC_ACTIVO_HABIDO}\n{RUC_NO_EXISTE}\n", encoding="utf-8")
    destino = env / "salida"
    done = subprocess.run(
        ["bash", str(CRON), str(source), str(destino)],
        env={
            **os.environ,
            "MIGO": str(wrapper),
            "MIGO_TOKEN": TOKEN,
            "MIGO_BASE_URL": sim.base_url,
            "MIGO_CACHE_DIR": str(env / "cache"),
            "PYTHONPATH": str(REPO),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    today = datetime.date.today().isoformat()
    assert (destino / f"verificados-{today}.xlsx").is_file()
    summary = json.loads((destino / f"resumen-{today}.json").read_text(encoding="utf-8"))
    assert (summary["validos"], summary["no_existe"], summary["completo"]) == (1, 1, True)
    log = (destino / "logs" / f"migo-{today}.log").read_text(encoding="utf-8")
    assert "completo" in log
    assert TOKEN not in log
    assert not (destino / f"cambios-{today}.xlsx").exists()  # nothing known before

    # The next night SUNAT has news: the operator gets the count and the sheet.
    sim.config.overrides = {RUC_ACTIVO_HABIDO: {"condicion_de_domicilio": "NO HABIDO"}}
    notify = script(env / "avisar", f'#!/bin/sh\nprintf "%s|%s\\n" "$1" "$2" >>"{env}/avisos"\n')
    again = subprocess.run(
        ["bash", str(CRON), str(source), str(destino)],
        env={
            **os.environ,
            "MIGO": str(wrapper),
            "MIGO_TOKEN": TOKEN,
            "MIGO_BASE_URL": sim.base_url,
            "MIGO_CACHE_DIR": str(env / "cache"),
            "MIGO_CAMBIOS": str(notify),
            "PYTHONPATH": str(REPO),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    changes = destino / f"cambios-{today}.xlsx"
    assert changes.is_file()
    book = openpyxl.load_workbook(changes)
    try:
        rows = list(book["cambios"].iter_rows(values_only=True))
    finally:
        book.close()
    assert [row[0] for row in rows[1:]] == [RUC_ACTIVO_HABIDO]
    (message, attached), *more = [
        line.split("|") for line in (env / "avisos").read_text(encoding="utf-8").splitlines()
    ]
    assert more == []
    assert "1 RUC cambiaron" in message
    assert attached == str(changes)


@pytest.mark.parametrize(
    ("update", "logged"), [("0", "padrón: actualizado"), ("1", "se usa el anterior")]
)
def test_cron_updates_the_padron_first_with_fuente_auto(
    tmp_path: Path, update: str, logged: str
) -> None:
    code, log, calls, _ = run_cron(tmp_path, f"{update} 0", MIGO_FUENTE="auto")
    assert code == 0
    assert calls[0] == "padron actualizar"
    assert calls[1].startswith("masivo ")
    assert "--refrescar" in calls[1]
    assert logged in log


def test_the_demo_padron_answers_all_but_the_new_ruc_and_the_unregistered_one(
    tmp_path: Path,
) -> None:
    """``make demo``'s second half, as it runs it: padrón_demo, actualizar, masivo --fuente auto."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIGO_")}
    env |= {
        "MIGO_PADRON_DIR": str(tmp_path / "padron"),
        "MIGO_CACHE_DIR": str(tmp_path / "cache"),
        "MIGO_CONFIG": str(tmp_path / "no-config.toml"),
    }
    zipped = tmp_path / "padron_reducido_ruc.zip"
    auto = ["--fuente", "auto", "--simulado", "-q", "--json-resumen", str(tmp_path / "r.json")]
    commands = [
        ["-m", "examples.padron_demo", str(zipped), "--filas", "50"],
        ["-m", "migo_cli", "padron", "actualizar", "--desde", str(zipped), "-q"],
        ["-m", "migo_cli", "masivo", "examples/rucs.csv", "-o", str(tmp_path / "r.jsonl"), *auto],
    ]
    for command in commands:
        done = subprocess.run(
            [sys.executable, *command], env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    # 20601234565 is "new", 20000000001 is in no padrón: only these two are paid
    assert (summary["desde_padron"], summary["llamadas_api"]) == (8, 2)
