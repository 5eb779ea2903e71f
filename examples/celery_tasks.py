"""Celery: verify a list too long for one machine by fanning chunks out to workers.

::

    export CELERY_BROKER_URL=redis://localhost:6379/0 CELERY_RESULT_BACKEND=redis://localhost:6379/1
    export MIGO_TOKEN=...  MIGO_CACHE_DIR=/srv/cache/migo   # shared by the workers of a host
    celery -A examples.celery_tasks worker --concurrency 4

    >>> from examples.celery_tasks import verificar_lista
    >>> resumen = verificar_lista(rucs, tamano_lote=500).get()
    >>> len(resumen["validos"]), len(resumen["invalidos"]), len(resumen["errores"])

``verificar_lista`` removes duplicates, cuts the list into chunks and runs a
``chord``: a ``group`` of ``consultar_lote`` tasks (one per chunk, on any
worker), then ``unir_resumenes`` with their summaries. Every summary has the
shape ``{"validos", "invalidos", "errores", "duration_ms"}``.

Each worker process keeps one synchronous ``migo_cli.Migo`` (created on first
use, closed when the process ends): its connections, pace and cache are shared
by the tasks it runs. Each process paces itself, so with N processes keep
``MIGO_CONCURRENCIA`` × N (and ``MIGO_RPM`` × N) within what your APIMIGO plan
allows. Rows in ``errores`` were not answered: send them again later; the
cache makes everything else free.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from typing import Any

from celery import Celery, chord, group
from celery.signals import worker_process_shutdown

from migo_cli import Limits, Migo, check_ruc
from migo_cli.config import default_cache_dir

app = Celery(
    "migo_ejemplo",
    broker=os.environ.get("CELERY_BROKER_URL", "memory://"),
    backend=os.environ.get("CELERY_RESULT_BACKEND") or None,
)
app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"])

TAMANO_LOTE = 500

_migo: Migo | None = None
_migo_lock = threading.Lock()


def migo() -> Migo:
    """This process's client, configured from the environment on first use."""
    global _migo  # noqa: PLW0603 - one client per worker process, on purpose
    with _migo_lock:
        if _migo is None:
            concurrencia = int(os.environ.get("MIGO_CONCURRENCIA", Limits().concurrency))
            rpm = float(os.environ["MIGO_RPM"]) if os.environ.get("MIGO_RPM") else None
            _migo = Migo(
                limits=Limits(concurrency=concurrencia, rpm=rpm),
                cache=default_cache_dir(),
            )
        return _migo


def cerrar_migo(*args: object, **kwargs: object) -> None:
    """Close this process's client (connected to ``worker_process_shutdown``)."""
    global _migo
    with _migo_lock:
        client, _migo = _migo, None
    if client is not None:
        client.close()


worker_process_shutdown.connect(cerrar_migo, weak=False)


# Celery ships no type hints: its decorators make the tasks untyped for mypy.
@app.task(name="migo.consultar_lote")  # type: ignore[untyped-decorator]
def consultar_lote(rucs: list[str]) -> dict[str, Any]:
    """One chunk: ``{"validos", "invalidos", "errores", "duration_ms"}`` (JSON-ready)."""
    return migo().lookup_batch(rucs).to_dict()


@app.task(name="migo.unir_resumenes")  # type: ignore[untyped-decorator]
def unir_resumenes(resumenes: list[dict[str, Any]]) -> dict[str, Any]:
    """The chunks' summaries as one; ``duration_ms`` is the slowest chunk's."""
    total: dict[str, Any] = {"validos": [], "invalidos": [], "errores": [], "duration_ms": 0}
    for resumen in resumenes:
        for key in ("validos", "invalidos", "errores"):
            total[key].extend(resumen.get(key, []))
        total["duration_ms"] = max(total["duration_ms"], int(resumen.get("duration_ms", 0)))
        if "detenido_por" in resumen:  # a rejected token or no credits stopped a chunk
            total.setdefault("detenido_por", resumen["detenido_por"])
    return total


def lotes(rucs: Iterable[object], tamano: int = TAMANO_LOTE) -> list[list[str]]:
    """Distinct values (as ``migo`` counts them) in chunks of ``tamano``; blanks dropped."""
    if tamano < 1:
        raise ValueError("tamano debe ser al menos 1")
    distintos: dict[str, str] = {}
    for value in rucs:
        check = check_ruc(value)
        if check is not None:
            distintos.setdefault(check.key, check.ruc if check.valid else check.raw)
    valores = list(distintos.values())
    return [valores[i : i + tamano] for i in range(0, len(valores), tamano)]


def verificar_lista(rucs: Iterable[object], *, tamano_lote: int = TAMANO_LOTE) -> Any:
    """Fan the list out: one ``consultar_lote`` per chunk, then ``unir_resumenes``.

    Returns Celery's ``AsyncResult``: ``.get()`` gives the merged summary.
    """
    chunks = lotes(rucs, tamano_lote)
    if not chunks:
        return unir_resumenes.delay([])
    return chord(group(consultar_lote.s(chunk) for chunk in chunks))(unir_resumenes.s())
