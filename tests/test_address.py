"""APIMIGO's composed address, written once for the simulator and the padrón."""

from __future__ import annotations

from migo_cli.padron.address import location_fields
from migo_cli.simulator.data import RUC_ACENTOS, make_rucs, ruc_answer

STREET = {
    "tipo_de_via": "AV.",
    "nombre_de_via": "JAVIER PRADO ESTE",
    "codigo_de_zona": "URB.",
    "tipo_de_zona": "CORPAC",
    "numero": "2050",
    "interior": "301",
    "lote": "-",
    "dpto": "-",
    "manzana": "-",
    "kilometro": "-",
}


def test_street_number_interior_and_zone_then_the_place() -> None:
    assert location_fields(STREET, "150131") == {
        "distrito": "SAN ISIDRO",
        "provincia": "LIMA",
        "departamento": "LIMA",
        "direccion_simple": "AV. JAVIER PRADO ESTE NRO. 2050 INT. 301 URB. CORPAC",
        "direccion": "AV. JAVIER PRADO ESTE NRO. 2050 INT. 301 URB. CORPAC"
        " LIMA - LIMA - SAN ISIDRO",
    }


def test_block_lot_flat_and_kilometre_in_sunats_order() -> None:
    fields = {
        "tipo_de_via": "CAR.",
        "nombre_de_via": "PANAMERICANA SUR",
        "kilometro": "25.5",
        "dpto": "403",
        "manzana": "B",
        "lote": "7",
        "codigo_de_zona": "-",
        "tipo_de_zona": "-",
    }
    simple = location_fields(fields, "150101")["direccion_simple"]
    assert simple == "CAR. PANAMERICANA SUR KM. 25.5 DPTO. 403 MZA. B LOTE. 7"


def test_an_unknown_ubigeo_leaves_the_names_as_placeholders() -> None:
    fields = location_fields(STREET, "-")
    assert (fields["distrito"], fields["provincia"], fields["departamento"]) == ("-", "-", "-")
    assert fields["direccion"] == fields["direccion_simple"]


def test_an_empty_address_is_a_placeholder_or_the_place_alone() -> None:
    empty = dict.fromkeys(STREET, "-")
    assert location_fields(empty, None)["direccion"] == "-"
    located = location_fields(empty, "150105")
    assert located["direccion_simple"] == "-"
    assert located["direccion"] == "LIMA - LIMA - BREÑA"


def test_stray_blanks_and_nulls_are_folded_away() -> None:
    fields = {"tipo_de_via": " JR. ", "nombre_de_via": "LOS  PINOS", "numero": None}
    assert location_fields(fields, None)["direccion_simple"] == "JR. LOS PINOS"


def test_the_simulator_answers_with_the_same_composition() -> None:
    for ruc in [*make_rucs(200, start=5000), RUC_ACENTOS]:
        answer = ruc_answer(ruc, not_found_share=0.0)
        assert answer is not None
        composed = location_fields(answer, answer["ubigeo"])
        assert {key: answer[key] for key in composed} == composed
