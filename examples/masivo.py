"""Batch lookups from Python: results as they arrive (streaming), or one summary at the end.

::

    MIGO_TOKEN=... python -m examples.masivo examples/rucs.csv
    MIGO_TOKEN=... python -m examples.masivo clientes.xlsx --resumen resumen.json

``read_input`` reads the same files as ``migo masivo`` (CSV, Excel, TXT, JSON...).
For files to files, with progress, resume and output locking, use ``migo masivo``
itself; this is for programs that want the results as Python objects.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from migo_cli import Limits, LookupMode, MigoClient, ResultCache, read_input
from migo_cli.config import default_cache_dir
from migo_cli.exceptions import FatalAPIError, MigoError


async def en_vivo(rucs: list[object], client: MigoClient) -> Counter[str]:
    """Streaming: each result as soon as it is known (not in input order); memory stays flat."""
    estados: Counter[str] = Counter()
    try:
        async for result in client.lookup_many(rucs):
            estados[result.status.value] += 1
            marca = "apto" if result.billable else result.reason or "no apto"
            print(f"{result.ruc:>13}  {result.status.value:<16} {marca}")
    except FatalAPIError as exc:  # token rejected or no credits: what was answered is cached
        print(f"detenido: {exc}", file=sys.stderr)
    return estados


async def resumen(rucs: list[object], client: MigoClient) -> dict[str, Any]:
    """One call, one summary: ``{"validos", "invalidos", "errores", "duration_ms"}``."""
    summary = await client.lookup_batch(rucs, mode=LookupMode.INDIVIDUAL)
    if summary.fatal is not None:
        print(f"detenido: {summary.fatal}", file=sys.stderr)
    return summary.to_dict()


async def procesar(path: str, concurrencia: int) -> dict[str, Any]:
    rucs = read_input(path).values
    with ResultCache(default_cache_dir()) as cache:
        async with MigoClient(cache=cache, limits=Limits(concurrency=concurrencia)) as client:
            estados = await en_vivo(rucs, client)
            print(f"por estado: {dict(estados)}", file=sys.stderr)
            # The second pass is answered by the cache: nothing is paid twice.
            return await resumen(rucs, client)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("entrada", help="archivo con RUCs (.csv .xlsx .txt .json ...)")
    parser.add_argument("--resumen", type=Path, help="escribir el resumen JSON aquí")
    parser.add_argument("--concurrencia", type=int, default=Limits().concurrency)
    args = parser.parse_args(argv)
    try:
        document = asyncio.run(procesar(args.entrada, args.concurrencia))
    except MigoError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    text = json.dumps(document, ensure_ascii=False, indent=2)
    if args.resumen is not None:
        args.resumen.write_text(text + "\n", encoding="utf-8")
    counts = {key: len(document[key]) for key in ("validos", "invalidos", "errores")}
    print(f"resumen: {counts}, {document['duration_ms']} ms", file=sys.stderr)
    return 0 if not document["errores"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
