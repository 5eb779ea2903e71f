"""The least a Typer CLI shaped like migo does: the floor of figures 7 and 8.

A group with a ``--version`` option and two commands; ``consultar`` takes the
kinds of options migo's does (a list argument, bool, str, float, int and Path
options), imports what figure 8's yardstick imports, reads one answer from a
diskcache and prints it as JSON. Help is Typer's default (Rich), as migo's.

    python benchmarks/minimal_cli.py --help
    python benchmarks/minimal_cli.py consultar RUC --json --cache-dir DIR

Run as a script, not ``-m``: it must not import the ``benchmarks`` package.
What it shows: Typer builds a pydantic ``TypeAdapter`` for every non-flag
parameter it parses (importing pydantic), and renders ``--help`` through
``typer.rich_utils``; neither is in ``import typer``, and any Typer CLI pays both.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer()


@app.callback()
def main(version: Annotated[bool, typer.Option("--version", help="Versión.")] = False) -> None:
    """Consulta de RUC, lo mínimo."""


@app.command()
def consultar(
    rucs: Annotated[list[str], typer.Argument(help="Uno o más RUC.")],
    *,
    as_json: Annotated[bool, typer.Option("--json", help="Salida JSON.")] = False,
    token: Annotated[str | None, typer.Option("--token", help="Token.")] = None,
    base_url: Annotated[str | None, typer.Option("--base-url", help="URL.")] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Segundos.")] = 20.0,
    retries: Annotated[int, typer.Option("--reintentos", help="Reintentos.")] = 3,
    cache_dir: Annotated[Path, typer.Option("--cache-dir", help="Caché.")] = Path("cache"),
) -> None:
    """Consultar uno o algunos RUC."""
    import aiohttp  # noqa: F401  (the client a real command would build)
    import diskcache
    import rich  # noqa: F401

    with diskcache.Cache(str(cache_dir)) as cache:
        answer = cache.get(rucs[0])
        if answer is None:
            answer = {"ruc": rucs[0], "origen": "api"}
            cache.set(rucs[0], {**answer, "origen": "cache"})
    sys.stdout.write(json.dumps(answer, ensure_ascii=False, indent=2) + "\n")


@app.command()
def masivo(entrada: Annotated[str, typer.Argument(help="Archivo.")]) -> None:
    """Consultar en lote."""


if __name__ == "__main__":
    app()
