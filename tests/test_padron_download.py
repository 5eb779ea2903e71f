"""Downloading the padrón from a local HTTP server that honours Range and can cut a download."""

from __future__ import annotations

import hashlib
import http.server
import re
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest

from migo_cli.exceptions import PadronError, PadronMissingError
from migo_cli.padron.download import ATTEMPTS, download
from migo_cli.padron.store import INDEX_FILE, PadronIndex
from migo_cli.padron.update import DOWNLOAD_DIR, update_padron
from migo_cli.simulator import make_rucs
from migo_cli.simulator.padron import write_padron

#: 20:30 in Lima on 14 March is 01:30 UTC on the 15th: the padrón is the 14th's.
PUBLISHED = datetime(2025, 3, 15, 1, 30, tzinfo=UTC)
ETAG = '"padron-v1"'


class PadronServer(http.server.ThreadingHTTPServer):
    """Serves one file with ETag and Last-Modified, honours Range + If-Range like Apache.

    The next ``cuts`` responses stop after ``cut_after`` bytes and the connection is
    closed, as a dropped line would. ``requests`` keeps each request's headers.
    """

    def __init__(self, payload: bytes) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.payload = payload
        self.cut_after = 0
        self.cuts = 0
        self.etag = ETAG
        self.honours_conditionals = True
        self.requests: list[dict[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/padron_reducido_ruc.zip"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: PadronServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        server = self.server
        server.requests.append(dict(self.headers))
        payload = server.payload
        start = 0
        if server.honours_conditionals and (
            self.headers.get("If-None-Match") == server.etag
            or (
                "If-None-Match" not in self.headers
                and self.headers.get("If-Modified-Since") == format_datetime(PUBLISHED, usegmt=True)
            )
        ):
            self.send_response(304)
            self.send_header("ETag", server.etag)
            self.end_headers()
            return
        wanted = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if_range = self.headers.get("If-Range")
        if wanted and if_range in (server.etag, format_datetime(PUBLISHED, usegmt=True)):
            start = int(wanted.group(1))
        if start:
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(payload) - 1}/{len(payload)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(payload) - start))
        self.send_header("ETag", server.etag)
        self.send_header("Last-Modified", format_datetime(PUBLISHED, usegmt=True))
        self.send_header("Content-Type", "application/zip")
        self.end_headers()
        end = len(payload)
        if server.cuts:
            server.cuts -= 1
            end = min(end, start + server.cut_after)
        self.wfile.write(payload[start:end])
        self.wfile.flush()
        if end < len(payload):
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def padron_zip(tmp_path: Path) -> bytes:
    source = write_padron(tmp_path / "fuente" / "p.zip", rucs=make_rucs(3000), malformed=0.01)
    return source.path.read_bytes()


@pytest.fixture
def server(padron_zip: bytes) -> Iterator[PadronServer]:
    httpd = PadronServer(padron_zip)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_a_cut_download_is_resumed_by_the_rerun(
    server: PadronServer, padron_zip: bytes, tmp_path: Path, no_sleep: None
) -> None:
    directory = tmp_path / "padron"
    server.cuts, server.cut_after = ATTEMPTS, len(padron_zip) // 10  # every attempt cut short
    with pytest.raises(PadronError, match="vuelva a ejecutar el comando"):
        update_padron(server.url, directory)
    left = ATTEMPTS * (len(padron_zip) // 10)
    assert [p.stat().st_size for p in (directory / DOWNLOAD_DIR).glob("*.part")] == [left]
    with pytest.raises(PadronMissingError):
        PadronIndex.open(directory)

    update = update_padron(server.url, directory)

    resumed = server.requests[-1]
    assert resumed["Range"] == f"bytes={left}-"
    assert resumed["If-Range"] == ETAG
    assert update.downloaded is not None
    assert update.downloaded.resumed_at == left
    assert update.info.sha256 == hashlib.sha256(padron_zip).hexdigest()
    assert update.info.fuente == server.url
    assert update.info.fecha == date(2025, 3, 14)  # Last-Modified, in Lima
    with PadronIndex.open(directory) as index:
        assert index.info.filas == update.info.filas > 2000
    # the zip goes once indexed; what the server said about it stays, for the next run
    assert [p.name for p in (directory / DOWNLOAD_DIR).iterdir()] == ["origen.json"]


def test_a_dropped_connection_is_resumed_within_the_run(
    server: PadronServer, padron_zip: bytes, tmp_path: Path, no_sleep: None
) -> None:
    server.cuts, server.cut_after = 1, 1000
    got = download(server.url, tmp_path / "p.zip")
    assert got.path.read_bytes() == padron_zip
    assert [r.get("Range") for r in server.requests] == [None, "bytes=1000-"]
    assert got.last_modified == PUBLISHED
    assert got.path.stat().st_mtime == PUBLISHED.timestamp()


def test_a_changed_file_starts_over(
    server: PadronServer, padron_zip: bytes, tmp_path: Path, no_sleep: None
) -> None:
    server.cuts, server.cut_after = 1, 5000
    with pytest.raises(PadronError):
        download(server.url, tmp_path / "p.zip", attempts=1)
    server.etag = '"padron-v2"'  # a new padrón: If-Range no longer matches, the server sends 200
    got = download(server.url, tmp_path / "p.zip")
    assert server.requests[-1]["If-Range"] == ETAG
    assert got.path.read_bytes() == padron_zip
    assert got.resumed_at == 5000  # what was there; the 200 replaced it


def test_a_refused_download_is_not_retried(tmp_path: Path, no_sleep: None) -> None:
    httpd = PadronServer(b"")
    httpd.RequestHandlerClass = _NotFound
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.raises(PadronError, match="HTTP 404"):
            download(httpd.url, tmp_path / "p.zip")
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
    assert len(httpd.requests) == 1


class _NotFound(_Handler):
    def do_GET(self) -> None:
        self.server.requests.append(dict(self.headers))
        self.send_error(404)


def test_only_http_urls_are_downloaded(tmp_path: Path) -> None:
    with pytest.raises(PadronError, match="no es una URL http"):
        download("file:///etc/passwd", tmp_path / "p.zip")


def test_a_rerun_asks_whether_the_file_changed_and_skips_when_it_did_not(
    server: PadronServer, padron_zip: bytes, tmp_path: Path
) -> None:
    directory = tmp_path / "padron"
    first = update_padron(server.url, directory)
    assert "If-None-Match" not in server.requests[0]  # no index yet: nothing to compare
    index = directory / INDEX_FILE
    inode = index.stat().st_ino

    again = update_padron(server.url, directory)

    asked = server.requests[-1]
    assert asked["If-None-Match"] == ETAG
    assert asked["If-Modified-Since"] == format_datetime(PUBLISHED, usegmt=True)
    assert again.unchanged
    assert again.downloaded is None
    assert again.info == first.info
    assert index.stat().st_ino == inode  # the same file: not rebuilt
    assert not list((directory / DOWNLOAD_DIR).glob("*.zip*"))

    server.etag = '"padron-v2"'  # SUNAT publishes a new file: downloaded and indexed again
    changed = update_padron(server.url, directory)
    assert not changed.unchanged
    assert changed.downloaded is not None
    assert changed.downloaded.size == len(padron_zip)
    assert index.stat().st_ino != inode  # replaced by a new build


def test_no_conditional_request_for_an_index_built_from_something_else(
    server: PadronServer, padron_zip: bytes, tmp_path: Path
) -> None:
    directory = tmp_path / "padron"
    update_padron(server.url, directory)
    local = tmp_path / "local.zip"
    local.write_bytes(padron_zip)
    update_padron(str(local), directory)  # the live index now comes from a local file

    update = update_padron(server.url, directory)

    assert "If-None-Match" not in server.requests[-1]
    assert not update.unchanged
    assert update.info.fuente == server.url


def test_actualizar_says_when_sunat_answers_not_modified(
    server: PadronServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from migo_cli.cli import app

    monkeypatch.setenv("MIGO_PADRON_DIR", str(tmp_path / "padron"))
    runner = CliRunner()
    assert runner.invoke(app, ["padron", "actualizar", "--desde", server.url]).exit_code == 0
    result = runner.invoke(app, ["padron", "actualizar", "--desde", server.url])
    assert result.exit_code == 0, result.output
    assert "Padrón sin cambios" in result.stderr
    assert "HTTP 304" in result.stderr
    assert "no se descargó ni se reindexó nada" in " ".join(result.stderr.split())
