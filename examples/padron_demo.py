"""``make demo``'s padrón: a small generated SUNAT padrón for ``examples/rucs.csv``, offline.

Writes ``DEST`` (a ``.zip`` as SUNAT publishes it) holding every RUC of the example
that the simulator knows, except ``20601234565`` ("Empresa nueva": registered after
the padrón's date), plus ``--filas`` generated rows, so that ``migo masivo
examples/rucs.csv --fuente auto --simulado`` shows what the padrón answers for free
and what is still asked (and paid) to APIMIGO::

    python -m examples.padron_demo padron_reducido_ruc.zip
    migo padron actualizar --desde padron_reducido_ruc.zip
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from migo_cli.ruc import check_ruc
from migo_cli.simulator import make_rucs
from migo_cli.simulator.padron import write_padron

EXAMPLE = Path(__file__).with_name("rucs.csv")
#: Registered after the padrón: ``--fuente auto`` asks APIMIGO for it.
NEW = "20601234565"


def example_rucs(path: Path = EXAMPLE) -> list[str]:
    """The well-formed RUCs of the example's first column, once each, in order."""
    with path.open(encoding="utf-8", newline="") as fh:
        values = [row[0] for row in csv.reader(fh, delimiter=";") if row][1:]
    checks = (check_ruc(value) for value in values)
    return list(dict.fromkeys(c.ruc for c in checks if c is not None and c.valid))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path, help="the .zip to write")
    parser.add_argument("--filas", type=int, default=2_000, help="generated rows besides")
    args = parser.parse_args()
    args.dest.parent.mkdir(parents=True, exist_ok=True)
    rucs = [*example_rucs(), *make_rucs(args.filas, start=5_000_000)]
    written = write_padron(args.dest, rucs=rucs, missing=[NEW])
    print(f"padrón de prueba: {written.path}, {written.rows:,} RUC (sin {NEW}: es nuevo)")


if __name__ == "__main__":
    main()
