"""The installed version, read from the package metadata (pyproject.toml is the one source)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("migo-cli")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0+desconocida"
