"""The padrón's index: building it from SUNAT's file (zip or text) and answering from it."""

from __future__ import annotations

import sqlite3
import zipfile
from datetime import date
from pathlib import Path

import pytest

from migo_cli.exceptions import PadronError, PadronMissingError
from migo_cli.padron.format import FIELDS, HEADER, PadronRecord, parse_line
from migo_cli.padron.store import INDEX_FILE, PadronIndex, build_index
from migo_cli.simulator import RUC_ACENTOS, RUC_FORMULA, RUC_NO_EXISTE, make_rucs, ruc_answer
from migo_cli.simulator.padron import HEADER_LINE, MEMBER_NAME, fast_rucs, write_padron


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
    with sqlite3.connect(info.ruta) as db:
        columns = [(row[1], row[2], row[5]) for row in db.execute("PRAGMA table_info(padron)")]
    assert columns[0] == ("ruc", "INTEGER", 1)
    assert [name for name, _, _ in columns] == list(FIELDS)
