"""``migo buscar``: RUCs found by name in a padrón built from a generated SUNAT file."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from migo_cli import render
from migo_cli.cli import app
from migo_cli.exceptions import InvalidValueError, PadronMissingError
from migo_cli.padron import search as search_module
from migo_cli.padron.build import build_index
from migo_cli.padron.format import ENCODING
from migo_cli.padron.search import MAX_LIMIT, SearchHit, search, words
from migo_cli.padron.store import INDEX_FILE, PadronIndex
from migo_cli.simulator import make_rucs
from migo_cli.simulator.padron import HEADER_LINE
from tests.test_render import text_at

runner = CliRunner()
FECHA = date(2025, 3, 1)

#: (name, estado, ubigeo), as SUNAT writes them: upper case mostly, accents, Ñ, dots.
NAMES: Sequence[tuple[str, str, str]] = (
    ("CONSTRUCTORA SAN MARTÍN S.A.C.", "ACTIVO", "150105"),
    ("CONSTRUCTORA SAN MARTIN DEL PERÚ S.A.C.", "ACTIVO", "150101"),
    ("SAN MARTÍN CONSTRUCTORA E.I.R.L.", "ACTIVO", "220101"),
    ("CONSTRUCTORA SANTA ROSA SAC", "ACTIVO", "150101"),
    ("INVERSIONES PEÑA & NÚÑEZ S.R.L.", "BAJA DE OFICIO", "150105"),
    ("Inversiones Pena & Nunez S.R.L.", "ACTIVO", "150105"),
    ("QUISPE MAMANI JUAN CARLOS", "ACTIVO", "080101"),
    ("MAMANI QUISPE ROSA", "SUSPENSION TEMPORAL", "080101"),
    ('EMPRESA DE TRANSPORTES "EL CÓNDOR" S.A.', "ACTIVO", "040101"),
    ("CAFETALERA ÑAÑA SOCIEDAD ANÓNIMA CERRADA", "ACTIVO", "-"),
)
RUCS = make_rucs(len(NAMES), start=70_000)
BY_NAME = {name: ruc for (name, _, _), ruc in zip(NAMES, RUCS, strict=True)}


def write_names(path: Path, rows: Sequence[tuple[str, str, str, str]]) -> Path:
    """A SUNAT-format padrón (Latin-1, header, trailing ``|``) of (ruc, name, estado, ubigeo)."""
    lines = [HEADER_LINE]
    for ruc, name, state, ubigeo in rows:
        lines.append(f"{ruc}|{name}|{state}|HABIDO|{ubigeo}|AV.|GRAU|-|-|100|-|-|-|-|-|")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\n".join(lines) + "\n").encode(ENCODING))
    return path


def build(directory: Path, rows: Sequence[tuple[str, str, str, str]]) -> Path:
    build_index(write_names(directory / "padron.txt", rows), directory, fecha=FECHA)
    return directory


@pytest.fixture(scope="module")
def padron(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = [(ruc, *row) for ruc, row in zip(RUCS, NAMES, strict=True)]
    return build(tmp_path_factory.mktemp("padron"), rows)


def find(directory: Path, text: str, limit: int = 20) -> list[str]:
    """The names ``text`` finds, best first."""
    with PadronIndex.open(directory) as index:
        return [hit.nombre_o_razon_social for hit in search(index, text, limit)]


# -- the library --------------------------------------------------------------------------


def test_words_fold_accents_case_dots_and_enye() -> None:
    assert words("Cafetalera ÑAÑA S.A.C. «El Cóndor» & Cía") == [
        "cafetalera",
        "nana",
        "sac",
        "el",
        "condor",
        "cia",
    ]


def test_accents_case_and_enye_do_not_matter(padron: Path) -> None:
    found = find(padron, "inversiones peña núñez")
    assert set(found) == {"INVERSIONES PEÑA & NÚÑEZ S.R.L.", "Inversiones Pena & Nunez S.R.L."}
    assert find(padron, "INVERSIONES PENA NUNEZ") == found
    assert find(padron, "cafetalera nana") == ["CAFETALERA ÑAÑA SOCIEDAD ANÓNIMA CERRADA"]


def test_words_in_any_order(padron: Path) -> None:
    # The same matches; only "starts with the query" depends on the order.
    assert set(find(padron, "martin constructora san")) == set(
        find(padron, "constructora san martin")
    )
    assert find(padron, "san martin constructora")[0] == "SAN MARTÍN CONSTRUCTORA E.I.R.L."
    assert find(padron, "juan quispe") == ["QUISPE MAMANI JUAN CARLOS"]


def test_each_word_is_also_a_prefix(padron: Path) -> None:
    assert set(find(padron, "constr san mart")) == {
        "CONSTRUCTORA SAN MARTÍN S.A.C.",
        "CONSTRUCTORA SAN MARTIN DEL PERÚ S.A.C.",
        "SAN MARTÍN CONSTRUCTORA E.I.R.L.",
    }
    assert find(padron, "transp cond") == ['EMPRESA DE TRANSPORTES "EL CÓNDOR" S.A.']


def test_the_dots_of_a_company_form_do_not_matter(padron: Path) -> None:
    assert set(find(padron, "constructora sac")) == {
        "CONSTRUCTORA SAN MARTÍN S.A.C.",
        "CONSTRUCTORA SAN MARTIN DEL PERÚ S.A.C.",
        "CONSTRUCTORA SANTA ROSA SAC",
    }
    assert find(padron, "s.a.c. santa") == ["CONSTRUCTORA SANTA ROSA SAC"]


def test_best_matches_first(padron: Path) -> None:
    # Starting with the query, fewer extra words, then the same words not at the start.
    assert find(padron, "constructora san martin") == [
        "CONSTRUCTORA SAN MARTÍN S.A.C.",
        "CONSTRUCTORA SAN MARTIN DEL PERÚ S.A.C.",
        "SAN MARTÍN CONSTRUCTORA E.I.R.L.",
    ]
    # Every word whole before a word only as a prefix (SAN before SANTA).
    assert find(padron, "constructora san")[-1] == "CONSTRUCTORA SANTA ROSA SAC"
    # The same name: ACTIVO before BAJA DE OFICIO.
    assert find(padron, "pena nunez") == [
        "Inversiones Pena & Nunez S.R.L.",
        "INVERSIONES PEÑA & NÚÑEZ S.R.L.",
    ]
    assert find(padron, "quispe mamani") == ["QUISPE MAMANI JUAN CARLOS", "MAMANI QUISPE ROSA"]


def test_limit_keeps_the_best(padron: Path) -> None:
    assert find(padron, "constructora", 2) == find(padron, "constructora")[:2]
    with pytest.raises(InvalidValueError):
        find(padron, "constructora", 0)
    with pytest.raises(InvalidValueError):
        find(padron, "constructora", MAX_LIMIT + 1)


def test_no_match_is_an_empty_list(padron: Path) -> None:
    assert find(padron, "zzyzx") == []
    assert find(padron, "constructora zzyzx") == []


@pytest.mark.parametrize("text", ["", "   ", "a", "S.", "- & -"])
def test_a_query_too_short_is_refused(padron: Path, text: str) -> None:
    with pytest.raises(InvalidValueError):
        find(padron, text)


def test_a_hit_carries_the_place_and_apimigos_names(padron: Path) -> None:
    with PadronIndex.open(padron) as index:
        (hit,) = search(index, "constructora san martin sac", 1)
    ruc = BY_NAME["CONSTRUCTORA SAN MARTÍN S.A.C."]
    assert hit == SearchHit(
        ruc=ruc,
        nombre_o_razon_social="CONSTRUCTORA SAN MARTÍN S.A.C.",
        estado_del_contribuyente="ACTIVO",
        condicion_de_domicilio="HABIDO",
        ubigeo="150105",
        departamento="LIMA",
        provincia="LIMA",
        distrito="BREÑA",
    )
    with PadronIndex.open(padron) as index:
        (unknown,) = search(index, "cafetalera", 1)
    assert (unknown.ubigeo, unknown.distrito) == ("-", "")


def test_a_connection_works_as_well_as_an_index(padron: Path) -> None:
    with sqlite3.connect(padron / INDEX_FILE) as conn:
        hits = search(conn, "quispe", 5)
    assert [hit.nombre_o_razon_social for hit in hits] == find(padron, "quispe", 5)


def test_common_words_still_give_the_shortest_names(tmp_path: Path) -> None:
    """More matches than Python ranks (CANDIDATES): SQLite hands it the shortest names."""
    many = search_module.CANDIDATES * 2
    rucs = make_rucs(many + 2, start=80_000)
    rows = [
        (ruc, f"EMPRESA DE SERVICIOS GENERALES NUMERO {i:04d} SAC", "ACTIVO", "150101")
        for i, ruc in enumerate(rucs[:many])
    ]
    rows += [(rucs[-2], "EMPRESA SAC", "BAJA DE OFICIO", "150101")]
    rows += [(rucs[-1], "EMPRESA ALFA SAC", "ACTIVO", "150101")]
    directory = build(tmp_path, rows)
    assert find(directory, "empresa sac", 3)[:2] == ["EMPRESA SAC", "EMPRESA ALFA SAC"]
    assert find(directory, "em", 2) == ["EMPRESA SAC", "EMPRESA ALFA SAC"]


def test_a_word_in_more_names_than_the_window_is_ranked_over_the_first_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bounded work: past WINDOW matches, the ranking sees the first WINDOW, in RUC order."""
    monkeypatch.setattr(search_module, "WINDOW", 10)
    rucs = make_rucs(12, start=95_000)
    rows = [
        (ruc, f"EMPRESA LARGA NUMERO {i:02d} SAC", "ACTIVO", "150101")
        for i, ruc in enumerate(rucs[:11])
    ]
    rows += [(rucs[11], "EMPRESA SAC", "ACTIVO", "150101")]
    directory = build(tmp_path, rows)
    found = find(directory, "empresa sac")
    assert len(found) == 10
    assert "EMPRESA SAC" not in found  # the twelfth by RUC: past the window
    monkeypatch.setattr(search_module, "WINDOW", 12)
    assert find(directory, "empresa sac")[0] == "EMPRESA SAC"


def test_a_short_prefix_stands_for_the_most_frequent_words_and_itself(tmp_path: Path) -> None:
    """``cas`` matches the EXPANSIONS most frequent words it begins, and ``cas`` itself."""
    frequent = [f"CAS{chr(65 + i)}" for i in range(search_module.EXPANSIONS + 1)]
    names = [f"{word} HERMANOS" for word in frequent for _ in range(3)]
    names += ["CASZZ HERMANOS", "CAS HERMANOS"]
    rows = [
        (ruc, name, "ACTIVO", "150101")
        for ruc, name in zip(make_rucs(len(names), start=90_000), names, strict=True)
    ]
    directory = build(tmp_path, rows)
    found = find(directory, "cas", MAX_LIMIT)
    assert found[0] == "CAS HERMANOS"
    assert "CASZZ HERMANOS" not in found  # rarer than EXPANSIONS others: left out
    assert find(directory, "caszz") == ["CASZZ HERMANOS"]  # a longer prefix finds it


def test_an_index_without_the_search_tables_says_how_to_rebuild(
    padron: Path, tmp_path: Path
) -> None:
    old = tmp_path / "viejo"
    old.mkdir()
    (old / INDEX_FILE).write_bytes((padron / INDEX_FILE).read_bytes())
    with sqlite3.connect(old / INDEX_FILE) as conn:
        conn.execute("DROP TABLE padron_termino")
    with pytest.raises(PadronMissingError, match="migo padron actualizar"):
        find(old, "constructora")


# -- the command --------------------------------------------------------------------------


@pytest.fixture
def padron_env(padron: Path, env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MIGO_PADRON_DIR", str(padron))
    monkeypatch.setenv("COLUMNS", "80")
    return padron


def test_buscar_shows_a_table_best_first(padron_env: Path) -> None:
    result = runner.invoke(app, ["buscar", "Constructora San Martín"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["RUC", "Razón", "social", "Estado", "Condición", "Distrito"]
    assert all(len(line) <= 80 for line in lines)
    first = BY_NAME["CONSTRUCTORA SAN MARTÍN S.A.C."]
    row = [first, "CONSTRUCTORA", "SAN", "MARTÍN", "S.A.C.", "ACTIVO", "HABIDO", "BREÑA"]
    assert lines[2].split() == row
    assert "Padrón de SUNAT del 2025-03-01" in result.stdout


def test_buscar_words_as_separate_arguments(padron_env: Path) -> None:
    quoted = runner.invoke(app, ["buscar", "quispe mamani", "--json"])
    separate = runner.invoke(app, ["buscar", "quispe", "mamani", "--json"])
    assert quoted.exit_code == separate.exit_code == 0
    assert json.loads(quoted.stdout) == json.loads(separate.stdout)


def test_buscar_json_has_apimigos_field_names(padron_env: Path) -> None:
    result = runner.invoke(app, ["buscar", "pena nunez", "--json", "--limite", "1"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {
            "ruc": BY_NAME["Inversiones Pena & Nunez S.R.L."],
            "nombre_o_razon_social": "Inversiones Pena & Nunez S.R.L.",
            "estado_del_contribuyente": "ACTIVO",
            "condicion_de_domicilio": "HABIDO",
            "ubigeo": "150105",
            "distrito": "BREÑA",
            "provincia": "LIMA",
            "departamento": "LIMA",
        }
    ]


def test_buscar_without_a_match_exits_1(padron_env: Path) -> None:
    result = runner.invoke(app, ["buscar", "zzyzx"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "Ningún contribuyente del padrón del 2025-03-01 coincide con «zzyzx»" in result.stderr
    as_json = runner.invoke(app, ["buscar", "zzyzx", "--json"])
    assert (as_json.exit_code, json.loads(as_json.stdout)) == (1, [])


def test_buscar_without_a_padron_exits_2_saying_how_to_build_it(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIGO_PADRON_DIR", str(env / "sin-padron"))
    result = runner.invoke(app, ["buscar", "constructora"])
    assert result.exit_code == 2
    assert "migo padron actualizar" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args", [["a"], ["."], ["constructora", "--limite", "0"]])
def test_buscar_refuses_a_query_too_short_or_a_bad_limit(padron_env: Path, args: list[str]) -> None:
    result = runner.invoke(app, ["buscar", *args])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_buscar_help_is_spanish(env: Path) -> None:
    result = runner.invoke(app, ["buscar", "--help"])
    assert result.exit_code == 0
    assert "Buscar el RUC de un contribuyente por su nombre" in result.stdout
    assert "--limite" in result.stdout


SJL = "SAN JUAN DE LURIGANCHO"


def hits_for(names: Sequence[str], state: str = "SUSPENSION TEMPORAL") -> list[SearchHit]:
    return [
        SearchHit(
            ruc, name, state, "NO HALLADO", "150132", "LIMA", "LIMA", "SAN JUAN DE LURIGANCHO"
        )
        for ruc, name in zip(make_rucs(len(names)), names, strict=True)
    ]


def test_the_table_wraps_names_by_words_and_cuts_nothing_else() -> None:
    name = "EMPRESA DE TRANSPORTES Y SERVICIOS GENERALES DEL SUR ORIENTE PERUANO S.A.C."
    lines = text_at(render.search_table(hits_for([name]), 80), 80)
    assert all(len(line) <= 80 for line in lines)
    body = lines[2:]
    shown = " ".join(line[14:].split("  ")[0].strip() for line in body)
    assert shown.split() == name.split()  # every word of the name, none cut
    assert body[0].startswith(make_rucs(1)[0])
    assert "SUSPENSION TE…" in body[0]
    assert "SAN JUAN DE LUR…" in body[0]


def test_a_narrow_terminal_drops_condicion_then_distrito() -> None:
    hits = hits_for(["CONSTRUCTORA SAN MARTÍN S.A.C."])
    assert text_at(render.search_table(hits, 70), 70)[0].split() == [
        "RUC",
        "Razón",
        "social",
        "Estado",
        "Distrito",
    ]
    assert text_at(render.search_table(hits, 50), 50)[0].split() == [
        "RUC",
        "Razón",
        "social",
        "Estado",
    ]


def test_buscar_loads_no_network_code(padron: Path, tmp_path: Path) -> None:
    from tests.test_imports import HEAVY, NETWORK, loaded

    child_env = {k: v for k, v in os.environ.items() if not k.startswith("MIGO_")}
    child_env |= {"MIGO_PADRON_DIR": str(padron), "MIGO_CACHE_DIR": str(tmp_path / "cache")}
    modules = loaded(child_env, "buscar", "constructora", "--json")
    assert "migo_cli.padron.search" in modules
    assert not modules & (HEAVY | NETWORK)
