"""The padrón's index: building it from SUNAT's file (zip or text) and answering from it."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import zipfile
from datetime import date
from pathlib import Path

import pytest

from migo_cli.exceptions import PadronError, PadronMissingError
from migo_cli.padron import build
from migo_cli.padron.build import build_index
from migo_cli.padron.format import FIELDS, HEADER, PadronRecord, parse_line
from migo_cli.padron.store import INDEX_FILE, LOCK_FILE, PadronIndex
from migo_cli.simulator import RUC_ACENTOS, RUC_FORMULA, RUC_NO_EXISTE, make_rucs, ruc_answer
from migo_cli.simulator.padron import (
    HEADER_LINE,
    MEMBER_NAME,
    fast_rucs,
    padron_line,
    write_padron,
)


def expected_record(ruc: str) -> PadronRecord:
    """The padrón's line for ``ruc`` as the simulator's API answers it."""
    data = ruc_answer(ruc)
    assert data is not None
    values = [ruc] + ["-" if data[name] is None else data[name].strip() for name in FIELDS[1:]]
    return PadronRecord._make(values)


def test_generated_rucs_are_the_simulators() -> None:
    assert list(fast_rucs(3000, 1_234_000)) == make_rucs(3000, 1_234_000)
    assert list(fast_rucs(500, 7, "10")) == make_rucs(500, 7, "10")


@pytest.mark.parametrize("name", ["padron.zip", "padron.txt"])
def test_import_answers_what_the_simulator_answers(tmp_path: Path, name: str) -> None:
    rucs = make_rucs(200)
    written = write_padron(tmp_path / name, rucs=rucs, malformed=0.05)
    assert written.malformed > 0

    info = build_index(tmp_path / name, tmp_path / "index", fecha=date(2025, 3, 1))

    assert info.filas == written.rows
    assert info.omitidas == written.malformed
    assert info.fecha == date(2025, 3, 1)
    assert info.ruta == (tmp_path / "index" / INDEX_FILE).absolute()
    with PadronIndex.open(tmp_path / "index") as index:
        assert index.info == info
        accented = index.get(RUC_ACENTOS)
        assert accented is not None
        assert accented.nombre_o_razon_social == "COMPAÑÍA SIMULADA DE CAFÉ PEÑA & NÚÑEZ S.A.C."
        assert accented == expected_record(RUC_ACENTOS)
        quoted = index.get(RUC_FORMULA)
        assert quoted is not None
        assert quoted.nombre_o_razon_social == '=HYPERLINK("http://x","y")'
        found = index.get_many([*rucs, RUC_NO_EXISTE, "no es un ruc"])
        assert set(found) == {ruc for ruc in rucs if ruc_answer(ruc) is not None}
        assert all(found[ruc] == expected_record(ruc) for ruc in found)
        assert index.get(RUC_NO_EXISTE) is None


def test_the_file_is_latin1_with_sunats_header(tmp_path: Path) -> None:
    path = write_padron(tmp_path / "p.zip", rucs=[RUC_ACENTOS], specials=False).path
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == [MEMBER_NAME]
        raw = archive.read(MEMBER_NAME)
    lines = raw.decode("iso-8859-1").split("\n")
    assert lines[0] == HEADER_LINE == "|".join(HEADER) + "|"
    assert "COMPAÑÍA".encode("iso-8859-1") in raw
    assert parse_line(lines[1]) == expected_record(RUC_ACENTOS)


def test_no_index_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(PadronMissingError, match="migo padron actualizar"):
        PadronIndex.open(tmp_path / "nothing")


def test_a_file_that_is_not_the_padron_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "otro.txt"
    other.write_text("RUC;Cliente\n20100038146;uno\n", encoding="utf-8")
    with pytest.raises(PadronError, match="no parece el padrón"):
        build_index(other, tmp_path / "index")
    assert not (tmp_path / "index" / INDEX_FILE).exists()


def test_index_schema_is_the_documented_one(tmp_path: Path) -> None:
    write_padron(tmp_path / "p.txt", rucs=make_rucs(5))
    info = build_index(tmp_path / "p.txt", tmp_path / "index")
    with contextlib.closing(sqlite3.connect(info.ruta)) as db:
        columns = [(row[1], row[2], row[5]) for row in db.execute("PRAGMA table_info(padron)")]
    assert columns[0] == ("ruc", "INTEGER", 1)
    assert [name for name, _, _ in columns] == list(FIELDS)


def test_partitions_cover_every_line_once(tmp_path: Path) -> None:
    """Cut anywhere, the ranges of ``_ranged`` hold each line exactly once, in order."""
    path = tmp_path / "p.txt"
    lines = [b"HEADER|\n", *(f"{n:05d}|{'x' * (n % 37)}|\n".encode() for n in range(400))]
    path.write_bytes(b"".join(lines))
    text = build._locate(path)
    assert text.size is not None
    for parts in (2, 3, 7, 50):
        cuts = [text.size * k // parts for k in range(parts)]
        seen = b""
        for start, end in zip(cuts, [*cuts[1:], None], strict=True):
            with contextlib.ExitStack() as stack:
                stream = build._open_text(text, stack)
                seen += b"".join(build._ranged(stream, text, start, end))
        assert seen == path.read_bytes(), parts


@pytest.mark.parametrize("suffix", [".txt", ".zip"])
def test_workers_build_the_same_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    monkeypatch.setattr(build, "_MIN_PART_BYTES", 0)  # split even a small file
    source = tmp_path / f"p{suffix}"
    write_padron(source, count=3000, malformed=0.02, fast=True)
    one = build_index(source, tmp_path / "one", workers=1)
    three = build_index(source, tmp_path / "three", workers=3)
    assert (one.filas, one.omitidas, one.sha256) == (three.filas, three.omitidas, three.sha256)
    query = "SELECT * FROM padron ORDER BY ruc"
    with (
        contextlib.closing(sqlite3.connect(one.ruta)) as a,
        contextlib.closing(sqlite3.connect(three.ruta)) as b,
    ):
        assert a.execute(query).fetchall() == b.execute(query).fetchall()
    assert sorted(p.name for p in (tmp_path / "three").iterdir()) == sorted([INDEX_FILE, LOCK_FILE])


def test_repeated_rucs_across_partitions_are_stored_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build, "_MIN_PART_BYTES", 0)
    rucs = make_rucs(40)
    source = tmp_path / "p.txt"
    write_padron(source, rucs=[*rucs, *reversed(rucs)], specials=False)
    info = build_index(source, tmp_path / "index", workers=2)
    found = sum(ruc_answer(ruc) is not None for ruc in rucs)
    assert (info.filas, info.omitidas) == (found, found)


def test_lines_in_every_shape_sunat_writes_them(tmp_path: Path) -> None:
    """CRLF endings, padded fields, a lost trailing ``|``, no newline at the end."""
    good = [padron_line(ruc) for ruc in make_rucs(30)]
    rows = [line for line in good if line is not None]
    padded = rows[0].replace("|", " | ", 3)
    lost_bar = rows[1].removesuffix("|")
    body = "\r\n".join([HEADER_LINE, padded, lost_bar, *rows[2:], "", "20100|cortado"])
    source = tmp_path / "p.txt"
    source.write_bytes((body + "\r\n" + rows[0].replace("|", "", 1)).encode("iso-8859-1"))
    info = build_index(source, tmp_path / "index")
    assert info.filas == len(rows)
    assert info.omitidas == 3  # the empty line, the cut one, the last (RUC run into the name)
    with PadronIndex.open(tmp_path / "index") as index:
        for line in rows:
            assert index.get(line[:11]) == parse_line(line)


def test_mostly_malformed_is_refused_and_the_old_index_stays(tmp_path: Path) -> None:
    good = write_padron(tmp_path / "good.txt", rucs=make_rucs(20))
    before = build_index(good.path, tmp_path / "index")
    bad = tmp_path / "bad.txt"
    rows = [HEADER_LINE, *(f"{ruc}|solo dos campos|" for ruc in make_rucs(30)), good_line()]
    bad.write_text("\n".join(rows) + "\n", encoding="iso-8859-1")
    with pytest.raises(PadronError, match="30 de 31 líneas no tienen el formato"):
        build_index(bad, tmp_path / "index")
    with PadronIndex.open(tmp_path / "index") as index:
        assert index.info == before
    assert sorted(p.name for p in (tmp_path / "index").iterdir()) == sorted([INDEX_FILE, LOCK_FILE])


def good_line() -> str:
    line = padron_line(RUC_ACENTOS)
    assert line is not None
    return line


def test_a_damaged_zip_is_refused_and_the_old_index_stays(tmp_path: Path) -> None:
    source = write_padron(tmp_path / "p.zip", count=2000, fast=True).path
    before = build_index(source, tmp_path / "index")
    with zipfile.ZipFile(source) as archive:
        info = archive.infolist()[0]
        offset = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data = bytearray(source.read_bytes())
    data[offset + info.compress_size // 2] ^= 0xFF  # one flipped byte in the deflated data
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(bytes(data))
    with pytest.raises(PadronError, match=r"damaged\.zip"):
        build_index(damaged, tmp_path / "index")
    with PadronIndex.open(tmp_path / "index") as index:
        assert index.info == before
    truncated = tmp_path / "cortado.zip"
    truncated.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(PadronError, match="no es un zip válido"):
        build_index(truncated, tmp_path / "index")


def test_a_reader_keeps_its_index_while_a_new_one_replaces_it(tmp_path: Path) -> None:
    first = write_padron(tmp_path / "a.txt", rucs=make_rucs(50), specials=False)
    build_index(first.path, tmp_path / "index", fecha=date(2025, 1, 1))
    second = write_padron(tmp_path / "b.txt", rucs=make_rucs(50, start=1000), specials=False)
    with PadronIndex.open(tmp_path / "index") as old:
        build_index(second.path, tmp_path / "index", fecha=date(2025, 2, 1))
        # The old view still answers from the file it opened, whole.
        assert old.info.fecha == date(2025, 1, 1)
        assert set(old.get_many(first.rucs)) == set(first.rucs)
        assert old.get_many(second.rucs) == {}
    with PadronIndex.open(tmp_path / "index") as new:
        assert new.info.fecha == date(2025, 2, 1)
        assert set(new.get_many(second.rucs)) == set(second.rucs)


def test_a_crashed_builds_leftovers_are_removed(tmp_path: Path) -> None:
    directory = tmp_path / "index"
    directory.mkdir()
    leftover = directory / ".padron-nuevo-999-0.tmp"
    leftover.write_bytes(b"half a database")
    source = write_padron(tmp_path / "p.txt", rucs=make_rucs(5)).path
    build_index(source, directory)
    assert not leftover.exists()


def test_one_build_at_a_time(tmp_path: Path) -> None:
    source = write_padron(tmp_path / "p.txt", rucs=make_rucs(5)).path
    directory = tmp_path / "index"
    with subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(directory / LOCK_FILE)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdout is not None
        assert holder.stdin is not None
        assert holder.stdout.readline() == "locked\n"  # the event: the other process holds it
        with pytest.raises(PadronError, match="otra actualización del padrón está en curso"):
            build_index(source, directory)
        holder.stdin.close()  # the holder lets go and exits
    assert build_index(source, directory).filas > 0


#: Takes the lock, says so, holds it until its stdin closes.
HOLD_LOCK = """
import sys, pathlib
from filelock import FileLock
path = pathlib.Path(sys.argv[1])
path.parent.mkdir(parents=True, exist_ok=True)
with FileLock(path):
    print("locked", flush=True)
    sys.stdin.read()
"""


def test_get_many_serves_a_large_batch(tmp_path: Path) -> None:
    source = write_padron(tmp_path / "p.txt", count=50_000, fast=True).path
    build_index(source, tmp_path / "index")
    wanted = [*fast_rucs(45_000, 10_000), *fast_rucs(1000, 90_000), "20100038147", "abc"]
    with PadronIndex.open(tmp_path / "index") as index:
        found = index.get_many(wanted)
    assert sorted(found) == sorted(fast_rucs(40_000, 10_000))
    assert all(record.ruc == ruc for ruc, record in found.items())
