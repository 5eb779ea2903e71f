"""``migo padron actualizar`` as one library call: SUNAT's zip (or a file) to the live index."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import unquote, urlsplit

from migo_cli.config import default_padron_dir
from migo_cli.exceptions import InputError
from migo_cli.padron.download import DEFAULT_URL, Downloaded, download, lima_date
from migo_cli.padron.store import PadronInfo, build_index, build_lock

if TYPE_CHECKING:
    from migo_cli.progress import StepProgress

__all__ = ["DOWNLOAD_DIR", "Update", "is_url", "update_padron"]

#: Under the padrón's directory: the download while it runs (``.part``) and until indexed.
DOWNLOAD_DIR: Final = "descarga"
_DEFAULT_NAME: Final = "padron_reducido_ruc.zip"


@dataclass(frozen=True, slots=True)
class Update:
    """The new index, and the download it came from (None: a local file)."""

    info: PadronInfo
    downloaded: Downloaded | None


def is_url(value: str) -> bool:
    return urlsplit(value).scheme in ("http", "https")


def _file_name(url: str) -> str:
    name = Path(unquote(urlsplit(url).path)).name
    return name if name.lower().endswith((".zip", ".txt")) else _DEFAULT_NAME


def update_padron(
    desde: str | None = None,
    directory: Path | None = None,
    *,
    progress: StepProgress | None = None,
    workers: int = 1,
) -> Update:
    """Download the padrón from ``desde`` (a URL; default SUNAT's) or read it (a file), index it.

    One build lock is held from the download to the swap, so two updates never
    share a ``.part`` file. The downloaded zip is deleted once indexed (it is
    about as large as the index); a failed download keeps its ``.part`` for the
    next run to resume. ``InputError`` when a local file does not exist.
    """
    directory = directory or default_padron_dir()
    source = desde or DEFAULT_URL
    if not is_url(source):
        path = Path(source).expanduser()
        if not path.exists() or path.is_dir():
            what = "es una carpeta" if path.is_dir() else "no existe"
            raise InputError(f"{path} {what}: indique el zip o el .txt del padrón", str(path))
        info = build_index(
            path, directory, fuente=str(path.absolute()), progress=progress, workers=workers
        )
        return Update(info, None)
    with build_lock(directory, source):
        got = download(source, directory / DOWNLOAD_DIR / _file_name(source), progress=progress)
        try:
            info = build_index(
                got.path,
                directory,
                fecha=None if got.last_modified is None else lima_date(got.last_modified),
                fuente=source,
                progress=progress,
                workers=workers,
            )
        finally:
            with contextlib.suppress(OSError):
                got.path.unlink()
    return Update(info, got)
