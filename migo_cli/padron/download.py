"""Downloading SUNAT's padrón zip: resumable, its size checked, its date kept.

The body goes to ``<dest>.part``; what the server said about it (``ETag``,
``Last-Modified``, the total size) to ``<dest>.part.json``. A rerun, or the next
attempt after a dropped connection, asks only for the rest (``Range: bytes=N-``)
and only if the file has not changed since (``If-Range``): a ``206`` is appended,
a ``200`` (the server has a newer file, or ignores ranges) starts over. The
finished file must have the size the server announced; it is then renamed to
``dest`` and given the server's ``Last-Modified`` as its mtime, the padrón's date.

The standard library's ``urllib`` is enough for one GET with two headers; aiohttp
(migo's API client) would need an event loop for nothing.
"""

from __future__ import annotations

import contextlib
import email.utils
import http.client
import json
import logging
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from migo_cli._version import __version__
from migo_cli.exceptions import PadronError

if TYPE_CHECKING:
    from migo_cli.progress import StepProgress

__all__ = ["DEFAULT_URL", "Downloaded", "Unchanged", "Validators", "download", "lima_date"]

log = logging.getLogger("migo")

DEFAULT_URL: Final = "http://www2.sunat.gob.pe/padron_reducido_ruc.zip"
#: Attempts per download; each one after a failure resumes where the last stopped.
ATTEMPTS: Final = 5
_CHUNK: Final = 1 << 20
_LIMA: Final = timezone(timedelta(hours=-5))  # Peru keeps no daylight saving time
_CONTENT_RANGE: Final = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


@dataclass(frozen=True, slots=True)
class Downloaded:
    """A finished download: ``resumed_at`` is where this run took over (0: from the start)."""

    path: Path
    size: int
    url: str
    last_modified: datetime | None
    resumed_at: int = 0
    #: The server's validators as it sent them: the next run's ``If-None-Match`` and
    #: ``If-Modified-Since`` (``Validators``).
    etag: str | None = None
    last_modified_header: str | None = None


@dataclass(frozen=True, slots=True)
class Validators:
    """What the server said about the file the live index was built from, to ask "changed?"."""

    etag: str | None
    last_modified: str | None

    @property
    def headers(self) -> dict[str, str]:
        """``If-None-Match`` / ``If-Modified-Since``: a 304 answer means "the same file"."""
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


def lima_date(moment: datetime) -> date:
    """The day in Peru: a file SUNAT publishes at 20:00 in Lima is that day's padrón."""
    return moment.astimezone(_LIMA).date()


class _Transient(Exception):
    """Worth another attempt (resuming): a dropped connection, a 5xx, a short body."""


class Unchanged(Exception):
    """HTTP 304 to ``download(unless_same=...)``: the server still has that same file."""


@dataclass(slots=True)
class _State:
    """What ``<dest>.part.json`` keeps between attempts and runs."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    total: int | None = None

    @property
    def validator(self) -> str | None:
        """What ``If-Range`` may carry: a strong ETag, else the date."""
        if self.etag and not self.etag.startswith("W/"):
            return self.etag
        return self.last_modified

    @classmethod
    def load(cls, path: Path, url: str) -> _State | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("url") != url:
            return None
        total = data.get("total")
        return cls(
            url,
            data.get("etag") if isinstance(data.get("etag"), str) else None,
            data.get("last_modified") if isinstance(data.get("last_modified"), str) else None,
            total if isinstance(total, int) else None,
        )

    def save(self, path: Path) -> None:
        document = {
            "url": self.url,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "total": self.total,
        }
        path.write_text(json.dumps(document), encoding="utf-8")


def _part_size(part: Path) -> int:
    try:
        return part.stat().st_size
    except FileNotFoundError:
        return 0


def download(
    url: str,
    dest: Path,
    *,
    progress: StepProgress | None = None,
    timeout: float = 60.0,
    attempts: int = ATTEMPTS,
    unless_same: Validators | None = None,
) -> Downloaded:
    """Download ``url`` to ``dest``, resuming what an earlier run or attempt left.

    With ``unless_same`` (the validators of the file the live index came from),
    a fresh download first asks whether the file changed: ``Unchanged`` when the
    server answers 304 Not Modified, nothing downloaded. A download left half-way
    is resumed instead (``If-Range``).

    Raises ``PadronError`` when the server refuses (4xx), or when every attempt
    failed; the ``.part`` file stays for the next run to resume.
    """
    import stamina

    from migo_cli.progress import NullStepProgress

    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise PadronError(f"no es una URL http(s): {url}", source=url)
    progress = progress or NullStepProgress()
    part = dest.with_name(dest.name + ".part")
    state_file = dest.with_name(dest.name + ".part.json")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PadronError(
            f"no se pudo crear la carpeta {dest.parent}: {exc.strerror or exc}", source=url
        ) from exc
    state = _State.load(state_file, url)
    if state is None or state.validator is None:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()  # nothing to tell whether it is still the same file
    started_with = _part_size(part)
    try:
        for attempt in stamina.retry_context(
            on=_Transient, attempts=attempts, wait_initial=1.0, wait_max=30.0
        ):
            with attempt:
                state = _fetch(url, part, state_file, progress, timeout, unless_same=unless_same)
    except Unchanged:
        log.info("el padrón de %s no cambió desde la última descarga (HTTP 304)", url)
        raise
    except _Transient as exc:
        raise PadronError(
            f"no se pudo descargar el padrón de {url} tras {attempts} intentos: {exc}; "
            "vuelva a ejecutar el comando para continuar donde quedó",
            source=url,
        ) from exc
    finally:
        progress.end()
    assert state is not None  # the loop either fetched or raised
    size = _part_size(part)
    os.replace(part, dest)
    with contextlib.suppress(FileNotFoundError):
        state_file.unlink()
    modified = _http_date(state.last_modified)
    if modified is not None:
        with contextlib.suppress(OSError):
            os.utime(dest, (modified.timestamp(), modified.timestamp()))
    return Downloaded(dest, size, url, modified, started_with, state.etag, state.last_modified)


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _fetch(
    url: str,
    part: Path,
    state_file: Path,
    progress: StepProgress,
    timeout: float,
    *,
    unless_same: Validators | None = None,
) -> _State:
    """One attempt: ask for what is missing, append or start over; the state it leaves."""
    state = _State.load(state_file, url)
    have = _part_size(part)
    headers = {"User-Agent": f"migo/{__version__}", "Accept-Encoding": "identity"}
    if have and state is not None and state.validator is not None:
        headers["Range"] = f"bytes={have}-"
        headers["If-Range"] = state.validator
    elif unless_same is not None:
        headers.update(unless_same.headers)
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # http(s): see download()
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 304 and unless_same is not None and not have:
            raise Unchanged(url) from exc
        if exc.code == 416 and state is not None and state.total == have:
            return state  # asked for bytes past the end: the file was already whole
        if exc.code == 416:
            part.unlink(missing_ok=True)
            raise _Transient("el servidor rechazó continuar la descarga (HTTP 416)") from exc
        if exc.code >= 500 or exc.code in (408, 429):
            raise _Transient(f"HTTP {exc.code}") from exc
        raise PadronError(
            f"no se pudo descargar el padrón de {url}: HTTP {exc.code} {exc.reason}", source=url
        ) from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise _Transient(_reason(exc)) from exc
    with response:
        return _receive(response, url, part, state_file, have=have, progress=progress)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc.reason, str):
        return _reason(exc.reason)
    return str(getattr(exc, "strerror", None) or exc) or type(exc).__name__


def _receive(
    response: Any, url: str, part: Path, state_file: Path, *, have: int, progress: StepProgress
) -> _State:
    headers = response.headers
    state = _State(url, headers.get("ETag"), headers.get("Last-Modified"))
    length = headers.get("Content-Length")
    if response.status == 206:
        match = _CONTENT_RANGE.fullmatch(headers.get("Content-Range", "").strip())
        if match is None or int(match.group(1)) != have:
            part.unlink(missing_ok=True)
            raise _Transient("respuesta parcial que no continúa lo descargado")
        state.total = None if match.group(3) == "*" else int(match.group(3))
        mode, offset = "ab", have
        log.info("se continúa la descarga del padrón desde el byte %s", have)
    elif response.status == 200:
        state.total = int(length) if length and length.isdigit() else None
        mode, offset = "wb", 0
        if have:
            log.info("el servidor envía el padrón completo: la descarga empieza de nuevo")
    else:
        raise PadronError(f"respuesta inesperada de {url}: HTTP {response.status}", source=url)
    state.save(state_file)
    progress.begin("Descargando el padrón", state.total)
    done = offset
    progress.update(done)
    try:
        out = part.open(mode)
    except OSError as exc:
        raise PadronError(f"no se pudo escribir {part}: {exc.strerror or exc}", source=url) from exc
    with out:
        while True:
            try:
                chunk = response.read(_CHUNK)
            except (OSError, http.client.HTTPException) as exc:
                raise _Transient(
                    f"la conexión se cortó a los {done:,} bytes ({_reason(exc)})"
                ) from exc
            if not chunk:
                break
            try:
                out.write(chunk)
            except OSError as exc:
                raise PadronError(
                    f"no se pudo escribir {part}: {exc.strerror or exc}", source=url
                ) from exc
            done += len(chunk)
            progress.update(done)
    if state.total is not None and done != state.total:
        raise _Transient(f"se recibieron {done:,} de {state.total:,} bytes")
    return state
