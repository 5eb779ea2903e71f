"""The installed version, read from the package metadata (pyproject.toml is the one source).

An installer writes the metadata to a ``migo_cli-VERSION.dist-info`` directory (the
wheel spec names it so); the version is read from that name, in the first
``sys.path`` entry holding one, as ``importlib.metadata`` would find it. Only when
there is none (an egg, a zip) is ``importlib.metadata`` asked: importing it (email,
zipfile, csv...) costs about 25 ms, more than the rest of ``migo --version``.
"""

import os
import sys

_PREFIX = "migo_cli-"
_SUFFIX = ".dist-info"


def _from_dist_info() -> str | None:
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:  # a zip, a missing directory
            continue
        for name in names:
            if name.startswith(_PREFIX) and name.endswith(_SUFFIX):
                return name[len(_PREFIX) : -len(_SUFFIX)]
    return None


def _from_metadata() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("migo-cli")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+desconocida"


__version__ = _from_dist_info() or _from_metadata()
