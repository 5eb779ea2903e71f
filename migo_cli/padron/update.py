"""``migo padron actualizar`` as one library call: SUNAT's zip (or a file) to the live index."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import unquote, urlsplit

from migo_cli.config import default_padron_dir
from migo_cli.exceptions import InputError, MigoError
from migo_cli.padron.build import build_index, build_lock
from migo_cli.padron.download import (
    DEFAULT_URL,
    Downloaded,
    Unchanged,
    Validators,
    download,
    lima_date,
)
from migo_cli.padron.store import PadronIndex, PadronInfo

if TYPE_CHECKING:
    from migo_cli.progress import StepProgress

__all__ = ["DOWNLOAD_DIR", "Update", "is_url", "update_padron"]

#: Under the padrón's directory: the download while it runs (``.part``) and until indexed.
DOWNLOAD_DIR: Final = "descarga"
_DEFAULT_NAME: Final = "padron_reducido_ruc.zip"
#: Under ``DOWNLOAD_DIR``: the validators (ETag, Last-Modified) of the download the live
#: index was built from, with its sha256, so a rerun can ask SUNAT "changed since?".
_SOURCE_FILE: Final = "origen.json"


@dataclass(frozen=True, slots=True)
class Update:
    """The new index, and the download it came from (None: a local file).

    ``unchanged``: the server answered 304 Not Modified: ``info`` is the live
    index, kept as it was; nothing was downloaded or rebuilt.
    """

    info: PadronInfo
    downloaded: Downloaded | None
    unchanged: bool = False


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
        live, validators = _built_from(directory, source)
        try:
            got = download(
                source,
                directory / DOWNLOAD_DIR / _file_name(source),
                progress=progress,
                unless_same=validators,
            )
        except Unchanged:  # 304: the live index is the server's file
            assert live is not None  # validators are only sent with a live index
            return Update(live, None, unchanged=True)
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
        _remember_source(directory, source, got, info)
    return Update(info, got)


def _built_from(directory: Path, url: str) -> tuple[PadronInfo | None, Validators | None]:
    """The live index, and the validators of ``url``'s file when the index is that file.

    Only when the index's source is ``url`` and its sha256 is the one recorded
    with the validators: an index built since from another file or URL is
    downloaded again, never kept by mistake.
    """
    try:
        with PadronIndex.open(directory) as index:
            live = index.info
    except MigoError:
        return None, None
    try:
        recorded = json.loads((directory / DOWNLOAD_DIR / _SOURCE_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return live, None
    if (
        not isinstance(recorded, dict)
        or recorded.get("url") != url
        or live.fuente != url
        or recorded.get("sha256") != live.sha256
    ):
        return live, None
    etag, modified = recorded.get("etag"), recorded.get("last_modified")
    validators = Validators(
        etag if isinstance(etag, str) else None, modified if isinstance(modified, str) else None
    )
    return live, validators if validators.headers else None


def _remember_source(directory: Path, url: str, got: Downloaded, info: PadronInfo) -> None:
    """Record what the next run sends as ``If-None-Match`` / ``If-Modified-Since``."""
    document = {
        "url": url,
        "etag": got.etag,
        "last_modified": got.last_modified_header,
        "sha256": info.sha256,
    }
    with contextlib.suppress(OSError):  # without it the next run downloads again: no harm
        (directory / DOWNLOAD_DIR / _SOURCE_FILE).write_text(json.dumps(document), "utf-8")
