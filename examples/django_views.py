"""Django: async views that check a RUC before invoicing, with the async ``MigoClient``.

Settings (all optional but the token, which may also come from ``MIGO_TOKEN``)::

    MIGO_TOKEN = os.environ["MIGO_TOKEN"]
    MIGO_BASE_URL = "https://api.migo.pe"
    MIGO_CACHE_DIR = BASE_DIR / "cache" / "migo"   # else MIGO_CACHE_DIR, else the user's

URLs: ``path("migo/", include("examples.django_views"))`` (this module has
``urlpatterns``), or copy the views into your app::

    GET /migo/ruc/20100038146/          -> 200 valido, 404 no_existe, 400 formato_invalido,
                                           502 error, 503 token rejected / no credits
    GET /migo/tipo-cambio/?fecha=2024-05-31

Async views run on the server's event loop, so they use ``MigoClient`` directly
(the synchronous ``Migo`` refuses to run inside a running loop, since it would
block it). Each request opens its own client: aiohttp sessions belong to one
event loop, and Django may run views on more than one. The disk cache is what
makes the second request for a RUC free, across requests, workers and
processes. Sync views (WSGI) would use one module-level ``migo_cli.Migo`` instead.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, JsonResponse
from django.urls import path

from migo_cli import MigoClient, ResultCache, Retry, Status, Timeout, check_ruc
from migo_cli.config import default_cache_dir
from migo_cli.exceptions import (
    APIError,
    FatalAPIError,
    InvalidValueError,
    NotFoundError,
    UsageError,
)

logger = logging.getLogger(__name__)

#: A web request cannot wait as long as a batch: a short timeout, one retry.
TIMEOUT = Timeout(total=8.0, connect=4.0)
RETRY = Retry(retries=1)

_HTTP_STATUS = {Status.VALID: 200, Status.NOT_FOUND: 404, Status.INVALID: 400, Status.ERROR: 502}


def _json(document: Mapping[str, object], status: int = 200) -> JsonResponse:
    return JsonResponse(dict(document), status=status, json_dumps_params={"ensure_ascii": False})


@contextlib.asynccontextmanager
async def migo_client() -> AsyncIterator[MigoClient]:
    """A client configured from Django's settings (then the environment), closed after use."""
    cache = ResultCache(getattr(settings, "MIGO_CACHE_DIR", None) or default_cache_dir())
    try:
        try:
            client = MigoClient(
                getattr(settings, "MIGO_TOKEN", None),
                base_url=getattr(settings, "MIGO_BASE_URL", None),
                timeout=TIMEOUT,
                retry=RETRY,
                cache=cache,
            )
        except UsageError as exc:  # no token, or an insecure base URL
            raise ImproperlyConfigured(str(exc)) from exc
        async with client:
            yield client
    finally:
        cache.close()


async def validar_ruc(request: HttpRequest, ruc: str) -> JsonResponse:
    """Can this RUC go on an invoice? ``apto_facturacion`` says (ACTIVO and HABIDO)."""
    check = check_ruc(ruc)
    if check is None or not check.valid:  # answered here: nothing is sent, nothing is paid
        reason = check.reason if check is not None else "RUC vacío"
        document = {"ruc": ruc, "estado_consulta": Status.INVALID.value, "motivo": reason}
        return _json(document, status=400)
    try:
        async with migo_client() as client:
            result = await client.lookup_ruc(check.ruc)
    except FatalAPIError as exc:  # our problem, not the user's: log it loudly
        logger.error("APIMIGO no disponible: %s", exc)
        return _json({"ruc": check.ruc, "error": "servicio de consulta no disponible"}, 503)
    return _json(result.to_row(), status=_HTTP_STATUS.get(result.status, 200))


async def tipo_cambio(request: HttpRequest) -> JsonResponse:
    """SUNAT's dollar rate: ``?fecha=YYYY-MM-DD``, or the latest published."""
    fecha = request.GET.get("fecha") or None
    try:
        async with migo_client() as client:
            rate = await client.exchange_rate(fecha)
    except InvalidValueError as exc:
        return _json({"error": str(exc)}, status=400)
    except NotFoundError:
        return _json({"error": f"no hay tipo de cambio para {fecha or 'hoy'}"}, status=404)
    except FatalAPIError as exc:
        logger.error("APIMIGO no disponible: %s", exc)
        return _json({"error": "servicio de consulta no disponible"}, status=503)
    except APIError as exc:
        return _json({"error": str(exc)}, status=502)
    return _json(rate.to_dict())


app_name = "migo"
urlpatterns = [
    path("ruc/<str:ruc>/", validar_ruc, name="validar_ruc"),
    path("tipo-cambio/", tipo_cambio, name="tipo_cambio"),
]
