"""``python -m migo_cli``: the same as the ``migo`` command."""

from migo_cli.cli import main

main()
