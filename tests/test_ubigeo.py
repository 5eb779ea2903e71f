"""The UBIGEO table: INEI's codes, SUNAT's spelling, read only when asked."""

from __future__ import annotations

import subprocess
import sys

import pytest

from migo_cli.padron.ubigeo import TABLE, Place, place_of


@pytest.mark.parametrize(
    ("code", "place"),
    [
        ("150101", Place("LIMA", "LIMA", "LIMA")),
        ("150105", Place("LIMA", "LIMA", "BREÑA")),  # Ñ kept, as SUNAT writes it
        ("070101", Place("CALLAO", "CALLAO", "CALLAO")),  # INEI's 07; RENIEC's Callao is 24
        ("010102", Place("AMAZONAS", "CHACHAPOYAS", "ASUNCION")),  # INEI: Asunción, no accent
        ("160801", Place("LORETO", "PUTUMAYO", "PUTUMAYO")),
        ("160109", Place("LORETO", "MAYNAS", "PUTUMAYO")),  # SUNAT's code from before 2014
        ("10101", Place("AMAZONAS", "CHACHAPOYAS", "CHACHAPOYAS")),  # a lost leading zero
        (" 150131 ", Place("LIMA", "LIMA", "SAN ISIDRO")),
    ],
)
def test_known_codes_name_their_place(code: str, place: Place) -> None:
    assert place_of(code) == place


@pytest.mark.parametrize("code", ["-", "", "999999", "15010", "1501011", "ABCDEF"])
def test_no_place_for_what_inei_does_not_list(code: str) -> None:
    assert place_of(code) is None


def test_the_table_names_its_source_and_covers_every_district() -> None:
    text = TABLE.read_text(encoding="utf-8")
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert any("INEI" in line for line in header)
    assert any("2026-12-02" in line for line in header)
    rows = [line.split("\t") for line in text.splitlines() if not line.startswith("#")]
    assert len(rows) == 1_895  # INEI 2025: 1,893 districts, plus SUNAT's 2 older codes
    assert all(len(row) == 4 and len(row[0]) == 6 and row[0].isdigit() for row in rows)
    names = "".join("".join(row[1:]) for row in rows)
    assert names == names.upper()
    assert not set(names) & set("ÁÉÍÓÚÜ")


def test_importing_reads_nothing_and_one_lookup_builds_no_table() -> None:
    code = (
        "import sys, migo_cli.padron.ubigeo as u; "
        "print(u._text.cache_info().currsize, u._rows.cache_info().currsize); "
        "u.place_of('150101'); "
        "print(u._text.cache_info().currsize, u._rows.cache_info().currsize)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["0", "0", "1", "0"]


def test_searching_the_text_and_the_table_agree_on_every_code() -> None:
    from migo_cli.padron import ubigeo

    rows = ubigeo._rows()
    assert len(rows) == 1_895
    assert all(ubigeo._find(code) == row for code, row in rows.items())
    assert ubigeo._find("999999") is None
    assert ubigeo._find("AMAZONAS") is None  # a name is not a code


def test_many_lookups_go_through_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    import itertools

    from migo_cli.padron import ubigeo

    monkeypatch.setattr(ubigeo, "_asked", itertools.count(ubigeo._SEARCHES))
    assert place_of("150131") == Place("LIMA", "LIMA", "SAN ISIDRO")
    assert place_of("999999") is None
    assert ubigeo._rows.cache_info().currsize == 1
