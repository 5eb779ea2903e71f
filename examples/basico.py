"""Single lookups with migo as a library: first async (``MigoClient``), then sync (``Migo``).

Run it against APIMIGO (``MIGO_TOKEN=... python -m examples.basico 20100038146``) or
against the simulator::

    migo simulador --puerto 8787 &
    MIGO_BASE_URL=http://127.0.0.1:8787 MIGO_TOKEN=prueba python -m examples.basico

Both clients read ``MIGO_TOKEN`` / ``MIGO_BASE_URL`` when no ``token`` / ``base_url``
is given. With a ``ResultCache`` (here the one ``migo`` uses, or ``MIGO_CACHE_DIR``)
an answer is not paid for twice.
"""

from __future__ import annotations

import asyncio
import sys

from migo_cli import Migo, MigoClient, ResultCache
from migo_cli.config import default_cache_dir
from migo_cli.exceptions import MigoError

RUC = "20100038146"
DNI = "12345678"


async def consultar_async(ruc: str) -> None:
    """The async client: for asyncio code, Django async views, FastAPI..."""
    with ResultCache(default_cache_dir()) as cache:
        async with MigoClient(cache=cache) as client:
            result = await client.lookup_ruc(ruc)
            print(f"[async] {result.ruc}: {result.status.value}", end="")
            if result.billable:
                print(f" - {result.data.get('nombre_o_razon_social')} (apto para facturar)")
            else:
                print(f" - {result.reason or result.data.get('estado_del_contribuyente')}")

            persona = await client.lookup_dni(DNI)
            print(f"[async] DNI {persona.dni}: {persona.name or persona.reason}")

            tipo = await client.exchange_rate()  # the latest published
            print(f"[async] tipo de cambio {tipo.day}: compra {tipo.buy}, venta {tipo.sell}")


def consultar_sync(ruc: str) -> None:
    """The same without async/await: scripts, Django sync views, Celery tasks."""
    with Migo(cache=default_cache_dir()) as migo:
        result = migo.lookup_ruc(ruc)  # the second time, from the cache
        print(f"[sync] {result.ruc}: {result.status.value} (origen: {result.origin.value})")
        representantes = migo.legal_representatives(ruc)
        for persona in representantes.people:
            print(f"[sync] representante: {persona.get('nombre')} ({persona.get('cargo')})")
        cuenta = migo.account()
        print(f"[sync] consultas disponibles: {cuenta.credits}")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    ruc = args[0] if args else RUC
    try:
        asyncio.run(consultar_async(ruc))
        consultar_sync(ruc)
    except MigoError as exc:  # token missing or rejected, no credits, a bad value...
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
