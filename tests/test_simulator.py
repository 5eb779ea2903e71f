"""The simulator is what every integration and fault test trusts, so it is tested as a server.

Each test talks HTTP to a real simulator on 127.0.0.1 with aiohttp; nothing here
reaches the internet.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import math
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import aiohttp
import pytest
from stdnum.pe import ruc as stdnum_ruc

from migo_cli.client import MigoClient
from migo_cli.config import COLLECTION_MAX
from migo_cli.dialects import JSON_ACCEPT, V1, V2, Operation
from migo_cli.models import UPSTREAM_FIELDS
from migo_cli.simulator import (
    DNI_EXISTE,
    DNI_NO_EXISTE,
    ENDPOINTS,
    LOOKUP_ENDPOINTS,
    RUC_ACENTOS,
    RUC_ACTIVO_HABIDO,
    RUC_BAJA_DE_OFICIO,
    RUC_DATOS_INCOMPLETOS,
    RUC_DIGITO_INVALIDO,
    RUC_ESTADO_SIN_NORMALIZAR,
    RUC_FORMULA,
    RUC_NO_EXISTE,
    RUC_NO_HABIDO,
    RUC_PERSONA_NATURAL,
    RUC_SUSPENSION_TEMPORAL,
    SPECIAL_RUCS,
    Simulator,
    SimulatorConfig,
    SimulatorThread,
    exchange_rate,
    ruc_answer,
)

JSON = {"Accept": JSON_ACCEPT}
RUC = V1.path(Operation.RUC)
COLLECTION = V1.path(Operation.COLLECTION)
DNI = V1.path(Operation.DNI)
REPRESENTATIVES = V1.path(Operation.REPRESENTATIVES)
EXCHANGE_LATEST = V1.path(Operation.EXCHANGE_LATEST)
EXCHANGE_DATE = V1.path(Operation.EXCHANGE_DATE)
EXCHANGE_RANGE = V1.path(Operation.EXCHANGE_RANGE)
ACCOUNT = V1.path(Operation.ACCOUNT)
V2_RUC = V2.path(Operation.RUC)
V2_SUNAT = V2.path(Operation.EXCHANGE_DATE)
V2_SBS = V2.path(Operation.EXCHANGE_SBS)


def valid_rucs(count: int, prefix: str = "20") -> list[str]:
    """Well-formed RUCs that are not special: a spread of hash-derived data."""
    bases = (f"{prefix}{n * 7919 % 10**8:08d}" for n in range(1, count + 1))
    return [base + stdnum_ruc.calc_check_digit(base) for base in bases]


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(SimulatorConfig()) as simulator:
        yield simulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession,
    sim: Simulator,
    path: str,
    token: str | None = "token-de-prueba",
    **body: Any,
) -> tuple[int, Any]:
    """POST as migo does with API 1.0 (token in the body, asking for JSON): status and JSON."""
    payload = body if token is None else {"token": token, **body}
    async with http.post(sim.base_url + path, json=payload, headers=JSON) as resp:
        return resp.status, await resp.json(content_type=None)


async def get(
    http: aiohttp.ClientSession,
    sim: Simulator,
    path: str,
    token: str | None = "token-de-prueba",
    **query: str,
) -> tuple[int, Any]:
    """GET as migo does with API 2.0 (bearer token, asking for JSON): status and JSON."""
    headers = dict(JSON)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with http.get(sim.base_url + path, params=query, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None)


async def v2_ruc(
    http: aiohttp.ClientSession, sim: Simulator, ruc: str, **kw: Any
) -> tuple[int, Any]:
    return await get(http, sim, V2_RUC.format(ruc=ruc), **kw)


async def raw(
    http: aiohttp.ClientSession, method: str, url: str, **kw: Any
) -> tuple[int, str, str, dict[str, str]]:
    """Status, content type, text and headers, following no redirect (as migo does)."""
    async with http.request(method, url, allow_redirects=False, **kw) as resp:
        return resp.status, resp.content_type, await resp.text(), dict(resp.headers)


# -- answers -------------------------------------------------------------------


async def test_ruc_success_has_every_documented_field(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    status, body = await call(http, sim, RUC, ruc=RUC_ACTIVO_HABIDO)
    assert status == 200
    assert list(body) == ["success", "ruc", *UPSTREAM_FIELDS]
    assert body["success"] is True
    assert body["ruc"] == RUC_ACTIVO_HABIDO
    assert body["estado_del_contribuyente"] == "ACTIVO"
    assert body["condicion_de_domicilio"] == "HABIDO"
    assert body == ruc_answer(RUC_ACTIVO_HABIDO)


async def test_generated_data_looks_like_sunat_and_is_clearly_fake(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    sim.config.not_found_share = 0.0
    states, conditions, placeholders = set(), set(), 0
    for ruc in valid_rucs(60):
        status, body = await call(http, sim, RUC, ruc=ruc)
        assert status == 200
        assert body["nombre_o_razon_social"].startswith("EMPRESA SIMULADA ")
        assert len(body["ubigeo"]) == 6
        assert body["direccion"].endswith(f"{body['provincia']} - {body['distrito']}")
        states.add(body["estado_del_contribuyente"])
        conditions.add(body["condicion_de_domicilio"])
        placeholders += sum(value == "-" for value in body.values())
    assert "ACTIVO" in states
    assert len(states) > 1
    assert conditions == {"HABIDO", "NO HABIDO"}
    assert placeholders > 0
    person = (await call(http, sim, RUC, ruc=valid_rucs(1, prefix="10")[0]))[1]
    assert person["nombre_o_razon_social"].startswith("PERSONA SIMULADA ")


async def test_same_ruc_same_data_in_two_simulators(http: aiohttp.ClientSession) -> None:
    rucs = valid_rucs(20)
    answers: list[list[tuple[int, Any]]] = []
    for _ in range(2):
        async with Simulator(SimulatorConfig(seed=len(answers))) as simulator:
            answers.append([await call(http, simulator, RUC, ruc=ruc) for ruc in rucs])
    assert answers[0] == answers[1]
    assert [body for _, body in answers[0]] == [
        ruc_answer(ruc) or {"success": False, "ruc": ruc, "message": "No se encontró el RUC"}
        for ruc in rucs
    ]


def test_not_found_share_is_about_what_was_asked() -> None:
    rucs = valid_rucs(1000)
    missing = sum(ruc_answer(ruc) is None for ruc in rucs)
    assert 60 <= missing <= 140  # default 10%
    assert all(ruc_answer(ruc, not_found_share=0.0) for ruc in rucs)
    assert not any(ruc_answer(ruc, not_found_share=1.0) for ruc in rucs)


def test_special_rucs_have_valid_check_digits_except_the_one_that_must_not() -> None:
    for ruc in SPECIAL_RUCS:
        assert stdnum_ruc.is_valid(ruc) is (ruc != RUC_DIGITO_INVALIDO)


@pytest.mark.parametrize(
    ("ruc", "state", "condition"),
    [
        (RUC_ACTIVO_HABIDO, "ACTIVO", "HABIDO"),
        (RUC_BAJA_DE_OFICIO, "BAJA DE OFICIO", "HABIDO"),
        (RUC_NO_HABIDO, "ACTIVO", "NO HABIDO"),
        (RUC_SUSPENSION_TEMPORAL, "SUSPENSION TEMPORAL", "HABIDO"),
        (RUC_FORMULA, "ACTIVO", "HABIDO"),
        (RUC_ACENTOS, "ACTIVO", "HABIDO"),
        (RUC_DATOS_INCOMPLETOS, "ACTIVO", "HABIDO"),
        (RUC_PERSONA_NATURAL, "ACTIVO", "HABIDO"),
        (RUC_ESTADO_SIN_NORMALIZAR, " Activo ", "habido "),
    ],
)
async def test_special_rucs_are_found_whatever_the_not_found_share(
    sim: Simulator, http: aiohttp.ClientSession, ruc: str, state: str, condition: str
) -> None:
    sim.config.not_found_share = 1.0
    status, body = await call(http, sim, RUC, ruc=ruc)
    assert status == 200
    assert body["estado_del_contribuyente"] == state
    assert body["condicion_de_domicilio"] == condition


async def test_unknown_well_formed_ruc_is_not_found(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    sim.config.not_found_share = 0.0
    assert await call(http, sim, RUC, ruc=RUC_NO_EXISTE) == (
        404,
        {"success": False, "ruc": RUC_NO_EXISTE, "message": "No se encontró el RUC"},
    )
    status, body = await v2_ruc(http, sim, RUC_NO_EXISTE)
    assert (status, body["success"]) == (404, False)
    assert body["message"]


@pytest.mark.parametrize(
    ("ruc", "complaint"),
    [
        (RUC_DIGITO_INVALIDO, "dígito verificador"),
        ("123", "11 dígitos"),
        ("20100038146X", "11 dígitos"),
        ("201000381460", "11 dígitos"),
        ("30100038146", "10, 15, 16, 17 o 20"),
    ],
)
async def test_malformed_ruc_is_a_validation_error_in_both_dialects(
    sim: Simulator, http: aiohttp.ClientSession, ruc: str, complaint: str
) -> None:
    """APIMIGO's validation answers 422, never "not found", and costs nothing."""
    sim.config.credits = 5
    status, body = await call(http, sim, RUC, ruc=ruc)
    assert status == 422
    assert body["success"] is False
    assert complaint in body["message"]
    assert body["errors"] == {"ruc": [body["message"]]}
    assert await v2_ruc(http, sim, ruc) == (422, body)
    assert sim.config.credits == 5


async def test_special_names_for_spreadsheet_and_encoding_tests(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    formula = (await call(http, sim, RUC, ruc=RUC_FORMULA))[1]
    assert formula["nombre_o_razon_social"] == '=HYPERLINK("http://x","y")'
    accents = (await call(http, sim, RUC, ruc=RUC_ACENTOS))[1]
    assert "Ñ" in accents["nombre_o_razon_social"]
    assert "Í" in accents["nombre_o_razon_social"]
    assert accents["distrito"] == "BREÑA"
    incomplete = (await call(http, sim, RUC, ruc=RUC_DATOS_INCOMPLETOS))[1]
    assert incomplete["direccion"] is None
    assert "actualizado_en" not in incomplete
    assert "actividad_economica" in incomplete


async def test_not_found_can_be_200_with_success_false(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    sim.config.not_found_status = 200
    status, body = await call(http, sim, RUC, ruc=RUC_NO_EXISTE)
    assert (status, body["success"]) == (200, False)


async def test_collection_answers_a_list_with_success_per_ruc(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    rucs = [RUC_ACTIVO_HABIDO, RUC_NO_EXISTE, RUC_ACENTOS]
    status, body = await call(http, sim, COLLECTION, ruc=rucs)
    assert status == 200
    assert [item["ruc"] for item in body] == rucs
    assert [item["success"] for item in body] == [True, False, True]
    assert body[0] == ruc_answer(RUC_ACTIVO_HABIDO)

    sim.config.collection_envelope = True
    status, body = await call(http, sim, COLLECTION, ruc=rucs)
    assert (status, body["success"], len(body["data"])) == (200, True, 3)


async def test_collection_over_the_limit_is_refused(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    status, body = await call(http, sim, COLLECTION, ruc=valid_rucs(COLLECTION_MAX + 1))
    assert status == 422
    assert body["success"] is False
    status, _ = await call(http, sim, COLLECTION, ruc=valid_rucs(COLLECTION_MAX))
    assert status == 200


async def test_dni(sim: Simulator, http: aiohttp.ClientSession) -> None:
    status, body = await call(http, sim, DNI, dni=DNI_EXISTE)
    assert status == 200
    assert body["dni"] == DNI_EXISTE
    assert body["nombre"].endswith("SIMULADO")
    assert body == (await call(http, sim, DNI, dni=DNI_EXISTE))[1]
    assert (await call(http, sim, DNI, dni=DNI_NO_EXISTE))[0] == 404
    assert (await call(http, sim, DNI, dni="1234"))[0] == 422


async def test_legal_representatives(sim: Simulator, http: aiohttp.ClientSession) -> None:
    status, body = await call(http, sim, REPRESENTATIVES, ruc=RUC_ACTIVO_HABIDO)
    assert status == 200
    assert body["success"] is True
    assert 1 <= len(body["data"]) <= 3
    for person in body["data"]:
        assert set(person) == {
            "tipo_de_documento",
            "numero_de_documento",
            "nombre",
            "cargo",
            "fecha_desde",
        }
        assert len(person["numero_de_documento"]) == 8
    assert (await call(http, sim, REPRESENTATIVES, ruc=RUC_NO_EXISTE))[0] == 404


async def test_exchange_rates(sim: Simulator, http: aiohttp.ClientSession) -> None:
    status, latest = await call(http, sim, EXCHANGE_LATEST)
    assert status == 200
    assert set(latest) == {"success", "fecha", "moneda", "precio_compra", "precio_venta"}
    assert latest["moneda"] == "USD"

    status, day = await call(http, sim, EXCHANGE_DATE, fecha="2024-02-29")
    assert status == 200
    assert day == {"success": True, **exchange_rate(date(2024, 2, 29))}
    assert 3.70 <= day["precio_compra"] < day["precio_venta"] <= 3.80

    status, span = await call(
        http, sim, EXCHANGE_RANGE, fecha_inicio="2024-02-27", fecha_fin="2024-03-01"
    )
    assert status == 200
    assert [item["fecha"] for item in span["data"]] == [
        "2024-02-27",
        "2024-02-28",
        "2024-02-29",
        "2024-03-01",
    ]
    assert span["data"][2] == exchange_rate(date(2024, 2, 29))

    future = (date.today() + timedelta(days=10)).isoformat()
    assert (await call(http, sim, EXCHANGE_DATE, fecha=future))[0] == 404
    assert (await call(http, sim, EXCHANGE_DATE, fecha="29/02/2024"))[0] == 422
    assert (
        await call(http, sim, EXCHANGE_RANGE, fecha_inicio="2024-03-01", fecha_fin="2024-02-01")
    )[0] == 422


async def test_account_shows_remaining_credits(sim: Simulator, http: aiohttp.ClientSession) -> None:
    status, body = await call(http, sim, ACCOUNT)
    assert status == 200
    assert body["consultas_disponibles"] is None  # unlimited
    sim.config.credits = 5
    await call(http, sim, RUC, ruc=RUC_ACTIVO_HABIDO)
    body = (await call(http, sim, ACCOUNT))[1]
    assert body["consultas_disponibles"] == 4
    assert body["consultas_realizadas"] == 1
    assert {"nombre", "email"} <= set(body)


async def test_bad_json_body_is_400(sim: Simulator, http: aiohttp.ClientSession) -> None:
    async with http.post(sim.base_url + RUC, data=b"{not json", headers=JSON) as resp:
        assert resp.status == 400
        assert (await resp.json())["success"] is False


# -- API 2.0 ------------------------------------------------------------------------


def test_every_route_of_the_shared_table_is_served() -> None:
    assert set(ENDPOINTS) == {route.path for route in (*V1.own_routes(), *V2.own_routes())}
    assert set(LOOKUP_ENDPOINTS) == {RUC, COLLECTION, V2_RUC}


async def test_both_dialects_answer_the_same_ruc_data_v2_as_strings(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    rucs = [*SPECIAL_RUCS.keys() - {RUC_NO_EXISTE, RUC_DIGITO_INVALIDO}, *valid_rucs(20)]
    for ruc in rucs:
        v1 = await call(http, sim, RUC, ruc=ruc)
        v2 = await v2_ruc(http, sim, ruc)
        assert v2 == v1, ruc
        body = v2[1]
        assert all(isinstance(v, str) or v is None for k, v in body.items() if k != "success")
    incomplete = (await v2_ruc(http, sim, RUC_DATOS_INCOMPLETOS))[1]
    assert incomplete["direccion"] is None  # nulls stay null


async def test_v2_exchange_rates_come_as_strings(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    day = date(2024, 2, 29)
    expected = exchange_rate(day)
    status, sunat = await get(http, sim, V2_SUNAT, fecha=day.isoformat())
    assert status == 200
    assert sunat == {
        "success": True,
        "fecha": "2024-02-29",
        "moneda": "USD",
        "precio_compra": f"{expected['precio_compra']:.3f}",
        "precio_venta": f"{expected['precio_venta']:.3f}",
    }
    v1 = (await call(http, sim, EXCHANGE_DATE, fecha=day.isoformat()))[1]
    assert float(sunat["precio_compra"]) == v1["precio_compra"]

    status, euro = await get(http, sim, V2_SBS, fecha=day.isoformat(), moneda="EUR")
    assert (status, euro["moneda"]) == (200, "EUR")
    assert float(euro["precio_compra"]) > float(sunat["precio_venta"])
    status, dollar = await get(http, sim, V2_SBS, fecha=day.isoformat(), moneda="USD")
    assert (status, dollar["moneda"]) == (200, "USD")

    status, refused = await get(http, sim, V2_SBS, fecha=day.isoformat())
    assert (status, list(refused["errors"])) == (422, ["moneda"])
    status, refused = await get(http, sim, V2_SUNAT, fecha="29/02/2024")
    assert (status, list(refused["errors"])) == (422, ["fecha"])
    future = (date.today() + timedelta(days=10)).isoformat()
    status, missing = await get(http, sim, V2_SUNAT, fecha=future)
    assert (status, missing["success"]) == (404, False)


async def test_v2_counts_like_v1(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.config.fail_first = 1
    assert (await v2_ruc(http, sim, RUC_ACENTOS))[0] == 503
    # Both dialects share fail_first's count for a RUC: its first failure is spent.
    assert (await call(http, sim, RUC, ruc=RUC_ACENTOS))[0] == 200
    await get(http, sim, V2_SUNAT, fecha="2024-02-29")
    stats = sim.stats
    assert stats.by_endpoint == {V2_RUC: 1, RUC: 1, V2_SUNAT: 1}
    assert stats.by_ruc == {RUC_ACENTOS: 2}
    assert stats.lookup_requests == 2


# -- Laravel: what the answer looks like depends on Accept --------------------------


async def test_without_accept_json_a_refused_token_redirects_to_a_login_page(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    sim.config.token = "secreto"
    login = sim.base_url + "/login"
    v1 = await raw(http, "POST", sim.base_url + RUC, json={"token": "otro", "ruc": RUC_ACENTOS})
    v2 = await raw(
        http,
        "GET",
        sim.base_url + V2_RUC.format(ruc=RUC_ACENTOS),
        headers={"Authorization": "Bearer otro", "Accept": "*/*"},
    )
    for status, content_type, text, headers in (v1, v2):
        assert (status, headers["Location"], content_type) == (302, login, "text/html")
        assert login in text
    assert sim.stats.by_status == {302: 2}
    assert "/login" not in sim.stats.by_endpoint  # nobody followed it

    # A client that follows the redirect gets a page, never data.
    async with http.post(sim.base_url + RUC, json={"token": "otro", "ruc": RUC_ACENTOS}) as resp:
        assert (resp.status, resp.content_type) == (200, "text/html")
        assert str(resp.url) == login
        assert "<form" in await resp.text()
    assert sim.stats.by_endpoint["/login"] == 1


async def test_without_accept_json_a_validation_error_redirects_back(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    body = {"token": "t", "ruc": RUC_DIGITO_INVALIDO}
    status, _, _, headers = await raw(http, "POST", sim.base_url + RUC, json=body)
    assert (status, headers["Location"]) == (302, sim.base_url + "/")
    back = "https://app.example/formulario"
    status, _, _, headers = await raw(
        http, "POST", sim.base_url + RUC, json=body, headers={"Referer": back}
    )
    assert (status, headers["Location"]) == (302, back)
    status, _, _, headers = await raw(
        http,
        "GET",
        sim.base_url + V2_RUC.format(ruc="123"),
        headers={"Authorization": "Bearer t"},
    )
    assert (status, headers["Location"]) == (302, sim.base_url + "/")


async def test_unknown_routes_and_wrong_methods_are_laravels_not_apimigos(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    base = sim.base_url
    # Without Accept JSON: HTML pages.
    status, content_type, text, _ = await raw(http, "POST", base + "/api/v1/xyz", json={})
    assert (status, content_type) == (404, "text/html")
    assert "Not Found" in text
    status, content_type, _, headers = await raw(http, "GET", base + RUC)
    assert (status, content_type, headers["Allow"]) == (405, "text/html", "POST")

    # Asking for JSON: Laravel's messages, without APIMIGO's "success".
    assert await call(http, sim, "/api/v1/xyz") == (
        404,
        {"message": "The route api/v1/xyz could not be found."},
    )
    status, body = await get(http, sim, "/otra/api/v2/ruc/" + RUC_ACENTOS)
    assert (status, "success" in body) == (404, False)
    assert body["message"] == f"The route otra/api/v2/ruc/{RUC_ACENTOS} could not be found."
    assert await get(http, sim, RUC) == (
        405,
        {
            "message": (
                "The GET method is not supported for route api/v1/ruc. Supported methods: POST."
            )
        },
    )
    status, body = await call(http, sim, V2_RUC.format(ruc=RUC_ACENTOS))
    assert status == 405
    assert body["message"].startswith("The POST method is not supported for route api/v2/ruc/")
    # Every one of them was received and counted, the wrong methods under their route.
    stats = sim.stats
    assert stats.requests_total == 6
    assert stats.by_status == {404: 3, 405: 3}
    assert stats.by_endpoint[RUC] == 2
    assert stats.by_endpoint["/api/v1/xyz"] == 2
    assert stats.by_ruc == {}


async def test_laravel_off_answers_json_whatever_accept_says(
    http: aiohttp.ClientSession,
) -> None:
    async with Simulator(SimulatorConfig(laravel=False, token="secreto")) as sim:
        base = sim.base_url
        refused = await raw(http, "POST", base + RUC, json={"token": "x", "ruc": RUC_ACENTOS})
        assert refused[:2] == (401, "application/json")
        assert json.loads(refused[2]) == {"message": "Unauthenticated."}
        invalid = await raw(http, "POST", base + RUC, json={"token": "secreto", "ruc": "1"})
        assert invalid[:2] == (422, "application/json")
        assert json.loads(invalid[2])["errors"] == {"ruc": ["El campo ruc debe tener 11 dígitos."]}
        unknown = await raw(http, "GET", base + "/api/v1/xyz")
        assert unknown[:2] == (404, "application/json")
        assert "success" not in json.loads(unknown[2])


# -- APIMIGO's documented refusals, as knobs ----------------------------------------


async def test_reject_422_refuses_well_formed_rucs(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    sim.config.reject_422 = {RUC_ACENTOS}
    status, body = await call(http, sim, RUC, ruc=RUC_ACENTOS)
    assert (status, body["success"], list(body["errors"])) == (422, False, ["ruc"])
    assert (await v2_ruc(http, sim, RUC_ACENTOS)) == (status, body)
    assert (await call(http, sim, RUC, ruc=RUC_ACTIVO_HABIDO))[0] == 200
    # Laravel validates each element of a collection: the whole request is refused.
    status, body = await call(http, sim, COLLECTION, ruc=[RUC_ACTIVO_HABIDO, RUC_ACENTOS])
    assert (status, list(body["errors"])) == (422, ["ruc.1"])
    assert sim.stats.credits_used == 1


async def test_forbidden_and_token_message_come_after_the_token_is_accepted(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    sim.config.token = "secreto"
    sim.config.forbidden = True
    forbidden = (403, {"success": False, "message": "No tiene acceso a este recurso"})
    assert await call(http, sim, RUC, token="secreto", ruc=RUC_ACENTOS) == forbidden
    assert await v2_ruc(http, sim, RUC_ACENTOS, token="secreto") == forbidden
    assert await call(http, sim, ACCOUNT, token="secreto") == forbidden
    assert await call(http, sim, RUC, token="otro", ruc=RUC_ACENTOS) == UNAUTHENTICATED

    sim.config.forbidden = False
    sim.config.token_message = True
    token_message = (200, {"success": False, "message": "Token inválido"})
    assert await call(http, sim, RUC, token="secreto", ruc=RUC_ACENTOS) == token_message
    assert await v2_ruc(http, sim, RUC_ACENTOS, token="secreto") == token_message
    assert sim.stats.credits_used == 0


async def test_redirect_to_answers_307_whatever_the_token(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    elsewhere = "http://127.0.0.2:9/api/v1/ruc"
    sim.config.redirect_to = elsewhere
    for token in ("t", None):
        status, content_type, _, headers = await raw(
            http, "POST", sim.base_url + RUC, json={"token": token, "ruc": RUC_ACENTOS}
        )
        assert (status, headers["Location"], content_type) == (307, elsewhere, "text/html")
    status, _, _, headers = await raw(
        http, "GET", sim.base_url + V2_RUC.format(ruc=RUC_ACENTOS), headers=JSON
    )
    assert (status, headers["Location"]) == (307, elsewhere)
    assert sim.stats.by_ruc == {RUC_ACENTOS: 3}
    sim.config.clear_faults()
    assert (await call(http, sim, RUC, ruc=RUC_ACENTOS))[0] == 200


async def test_new_knobs_over_http(sim: Simulator, http: aiohttp.ClientSession) -> None:
    control = sim.base_url + "/__sim__/config"
    knobs = {
        "reject_422": [RUC_ACENTOS],
        "forbidden": True,
        "token_message": False,
        "redirect_to": "http://127.0.0.2:9/api/v1/ruc",
        "quota_status": 403,
        "laravel": False,
        "overrides": {RUC_ACENTOS: {"ubigeo": "150101"}},
    }
    async with http.post(control, json=knobs) as resp:
        assert resp.status == 200
        shown = await resp.json()
    assert {name: shown[name] for name in knobs} == knobs
    assert sim.config.reject_422 == {RUC_ACENTOS}
    assert (sim.config.forbidden, sim.config.quota_status, sim.config.laravel) == (True, 403, False)
    for bad in ({"quota_status": 429}, {"overrides": [RUC_ACENTOS]}, {"forbidden": "si"}):
        async with http.post(control, json=bad) as resp:
            assert resp.status == 400
    assert sim.config.quota_status == 403


async def test_a_rucs_data_can_change_between_two_runs(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    before = (await call(http, sim, RUC, ruc=RUC_ACTIVO_HABIDO))[1]
    async with http.post(
        f"{sim.base_url}/__sim__/ruc/{RUC_ACTIVO_HABIDO}",
        json={"condicion_de_domicilio": "NO HABIDO"},
    ) as resp:
        assert resp.status == 200
        assert (await resp.json())["condicion_de_domicilio"] == "NO HABIDO"
    after = {**before, "condicion_de_domicilio": "NO HABIDO"}
    assert await call(http, sim, RUC, ruc=RUC_ACTIVO_HABIDO) == (200, after)
    assert await v2_ruc(http, sim, RUC_ACTIVO_HABIDO) == (200, after)
    items = (await call(http, sim, COLLECTION, ruc=[RUC_ACTIVO_HABIDO]))[1]
    assert items == [after]
    assert list(after) == list(before)  # same fields, same order
    assert ruc_answer(RUC_ACTIVO_HABIDO) == before  # the healthy prediction is untouched

    sim.config.overrides = {RUC_NO_EXISTE: {"nombre_o_razon_social": "X"}}
    assert (await call(http, sim, RUC, ruc=RUC_NO_EXISTE))[0] == 404  # not found stays so
    assert await call(http, sim, RUC, ruc=RUC_ACTIVO_HABIDO) == (200, before)


@pytest.mark.parametrize("api", ["v1", "v2"])
async def test_the_client_marks_the_odd_case_ruc_apto(sim: Simulator, api: str) -> None:
    """SUNAT's text may come with odd case and spaces: migo normalises before comparing."""
    async with MigoClient("t", base_url=sim.base_url, api=api) as client:
        result = await client.lookup_ruc(RUC_ESTADO_SIN_NORMALIZAR)
    assert result.data["estado_del_contribuyente"] == " Activo "
    assert result.billable
    assert sim.stats.by_endpoint == {(RUC if api == "v1" else V2_RUC): 1}


# -- authentication and credits -------------------------------------------------


UNAUTHENTICATED = (401, {"message": "Unauthenticated."})


async def test_missing_or_empty_token_is_401(sim: Simulator, http: aiohttp.ClientSession) -> None:
    assert await call(http, sim, RUC, token=None, ruc=RUC_ACTIVO_HABIDO) == UNAUTHENTICATED
    assert await call(http, sim, RUC, token="  ", ruc=RUC_ACTIVO_HABIDO) == UNAUTHENTICATED
    assert await call(http, sim, ACCOUNT, token="") == UNAUTHENTICATED
    assert await v2_ruc(http, sim, RUC_ACTIVO_HABIDO, token=None) == UNAUTHENTICATED


async def test_wrong_token_is_401_when_one_is_configured(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    sim.config.token = "secreto"
    assert await call(http, sim, RUC, token="otro", ruc=RUC_ACTIVO_HABIDO) == UNAUTHENTICATED
    assert await v2_ruc(http, sim, RUC_ACTIVO_HABIDO, token="otro") == UNAUTHENTICATED
    assert (await call(http, sim, RUC, token="secreto", ruc=RUC_ACTIVO_HABIDO))[0] == 200
    assert (await v2_ruc(http, sim, RUC_ACTIVO_HABIDO, token="secreto"))[0] == 200


async def test_v2_takes_the_token_only_as_a_bearer(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    url = sim.base_url + V2_RUC.format(ruc=RUC_ACTIVO_HABIDO)
    elsewhere: list[dict[str, Any]] = [
        {"params": {"token": "t"}, "headers": JSON},
        {"json": {"token": "t"}, "headers": JSON},
        {"headers": {**JSON, "Authorization": "Token t"}},
    ]
    for where in elsewhere:
        async with http.get(url, **where) as resp:
            assert (resp.status, await resp.json()) == UNAUTHENTICATED
    async with http.get(url, headers={**JSON, "Authorization": "bearer t"}) as resp:
        assert resp.status == 200
    # And API 1.0 only from the body: a bearer header alone is no token there.
    async with http.post(
        sim.base_url + RUC,
        json={"ruc": RUC_ACTIVO_HABIDO},
        headers={**JSON, "Authorization": "Bearer t"},
    ) as resp:
        assert (resp.status, await resp.json()) == UNAUTHENTICATED


async def test_credits_run_out_with_402(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.config.credits = 3
    for _ in range(2):
        assert (await call(http, sim, RUC, ruc=RUC_ACTIVO_HABIDO))[0] == 200
    # A collection needing more than what is left spends nothing.
    status, body = await call(http, sim, COLLECTION, ruc=[RUC_ACTIVO_HABIDO, RUC_ACENTOS])
    assert (status, body["success"]) == (402, False)
    assert (await call(http, sim, RUC, ruc=RUC_NO_EXISTE))[0] == 404  # not found costs too
    assert await call(http, sim, RUC, ruc=RUC_ACTIVO_HABIDO) == (402, body)
    assert (await v2_ruc(http, sim, RUC_ACTIVO_HABIDO))[0] == 402
    assert sim.config.credits == 0
    assert sim.stats.credits_used == 3
    assert (await call(http, sim, EXCHANGE_LATEST))[0] == 200  # free endpoints still answer
    # APIMIGO's own words, not the ones migo's client happens to look for.
    assert body["message"] == "Ha superado el número de consultas de su plan"

    sim.config.quota_status = 403  # APIMIGO documents 403 for plan and credit problems too
    assert await call(http, sim, RUC, ruc=RUC_ACTIVO_HABIDO) == (403, body)


# -- faults ---------------------------------------------------------------------


async def test_fail_first_answers_503_to_each_rucs_first_requests(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    sim.config.fail_first = 2
    a, b = RUC_ACTIVO_HABIDO, RUC_ACENTOS
    assert [(await call(http, sim, RUC, ruc=a))[0] for _ in range(3)] == [503, 503, 200]
    assert (await call(http, sim, RUC, ruc=b))[0] == 503
    # /ruc and /ruc/collection share the count: b has one left, a none.
    assert (await call(http, sim, COLLECTION, ruc=[a, b]))[0] == 503
    assert (await call(http, sim, COLLECTION, ruc=[a, b]))[0] == 200
    sim.reset()
    assert (await call(http, sim, RUC, ruc=a))[0] == 503


async def test_always_500_by_set_and_by_share(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.config.always_500 = {RUC_NO_HABIDO}
    assert [(await call(http, sim, RUC, ruc=RUC_NO_HABIDO))[0] for _ in range(3)] == [500] * 3
    assert (await call(http, sim, RUC, ruc=RUC_ACTIVO_HABIDO))[0] == 200
    assert (await call(http, sim, COLLECTION, ruc=[RUC_ACTIVO_HABIDO, RUC_NO_HABIDO]))[0] == 500

    sim.config.always_500 = set()
    sim.config.always_500_share = 0.5
    sim.config.not_found_share = 0.0
    first = [(await call(http, sim, RUC, ruc=ruc))[0] for ruc in valid_rucs(40)]
    again = [(await call(http, sim, RUC, ruc=ruc))[0] for ruc in valid_rucs(40)]
    assert first == again  # the same RUCs fail every time
    assert set(first) == {200, 500}


async def test_hang_outlasts_the_client_timeout(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    sim.config.hang = {RUC_NO_HABIDO}
    sim.config.hang_seconds = 30.0  # then it answers 200: only the client's timeout raises
    with pytest.raises(TimeoutError):
        async with http.post(
            sim.base_url + RUC,
            json={"token": "t", "ruc": RUC_NO_HABIDO},
            timeout=aiohttp.ClientTimeout(total=0.2),
        ) as resp:
            await resp.read()
    assert (await call(http, sim, RUC, ruc=RUC_ACTIVO_HABIDO))[0] == 200
    assert sim.stats.by_ruc[RUC_NO_HABIDO] == 1


async def test_hang_share_and_slow_share_delay(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.config.update({"hang_share": 1.0, "hang_seconds": 0.1})
    started = time.monotonic()
    assert (await call(http, sim, EXCHANGE_LATEST))[0] == 200
    assert time.monotonic() - started >= 0.09
    sim.config.update({"hang_share": 0.0, "slow_share": 1.0, "slow_min": 0.05, "slow_max": 0.06})
    started = time.monotonic()
    assert (await call(http, sim, EXCHANGE_LATEST))[0] == 200
    assert time.monotonic() - started >= 0.045


@pytest.mark.parametrize("sigma", [0.0, 0.3])
async def test_latency(sim: Simulator, http: aiohttp.ClientSession, sigma: float) -> None:
    sim.config.latency_ms = 40
    sim.config.latency_sigma = sigma
    started = time.monotonic()
    for _ in range(5):
        assert (await call(http, sim, RUC, ruc=RUC_ACTIVO_HABIDO))[0] == 200
    assert time.monotonic() - started >= 0.1


async def test_dropped_connection_is_a_connection_error(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    sim.config.drop_share = 1.0
    with pytest.raises(aiohttp.ClientConnectionError):
        await call(http, sim, RUC, ruc=RUC_ACTIVO_HABIDO)
    assert sim.stats.dropped == 1
    sim.config.drop_share = 0.0
    assert (await call(http, sim, RUC, ruc=RUC_ACTIVO_HABIDO))[0] == 200


async def test_html_502(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.config.html_502_share = 1.0
    async with http.post(sim.base_url + RUC, json={"token": "t", "ruc": RUC_NO_HABIDO}) as resp:
        assert resp.status == 502
        assert resp.content_type == "text/html"
        text = await resp.text()
    assert "502 Bad Gateway" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


async def test_200_without_success(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.config.missing_success_share = 1.0
    status, body = await call(http, sim, RUC, ruc=RUC_ACTIVO_HABIDO)
    assert status == 200
    assert "success" not in body
    assert body["ruc"] == RUC_ACTIVO_HABIDO
    status, items = await call(http, sim, COLLECTION, ruc=[RUC_ACTIVO_HABIDO])
    assert status == 200
    assert "success" not in items[0]
    assert ruc_answer(RUC_ACTIVO_HABIDO) == {**body, "success": True}  # cache untouched


async def test_429_with_retry_after_in_seconds_or_as_a_date(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    sim.config.update({"rate_limit_share": 1.0, "retry_after": 3})

    async def retry_after() -> str | None:
        async with http.post(
            sim.base_url + RUC, json={"token": "t", "ruc": RUC_ACENTOS}, headers=JSON
        ) as resp:
            assert resp.status == 429
            assert (await resp.json())["success"] is False
            return resp.headers.get("Retry-After")

    assert await retry_after() == "3"
    # RFC 9110: whole seconds. A fraction is rounded up, never sent as "0.5".
    for asked, sent in ((0.5, "1"), (2.2, "3"), (0, "0")):
        sim.config.retry_after = asked
        assert await retry_after() == sent
    sim.config.retry_after = None
    assert await retry_after() is None
    sim.config.update({"retry_after": 3, "retry_after_http_date": True})
    asked = time.time()
    value = await retry_after()
    answered = time.time()
    assert value is not None
    # "now + 3 s" when the simulator answered, rounded up to the HTTP date's whole seconds.
    deadline = email.utils.parsedate_to_datetime(value).timestamp()
    assert math.ceil(asked + 3) <= deadline <= math.ceil(answered + 3)


async def test_random_errors_are_5xx_and_reproducible_by_seed(
    http: aiohttp.ClientSession,
) -> None:
    runs = []
    for _ in range(2):
        config = SimulatorConfig(error_share=0.5, rate_limit_share=0.2, seed=42)
        async with Simulator(config) as simulator:
            runs.append([(await call(http, simulator, RUC, ruc=RUC_ACENTOS))[0] for _ in range(40)])
    assert runs[0] == runs[1]
    assert set(runs[0]) <= {200, 429, 500, 502, 503}
    assert {200, 429} < set(runs[0])
    assert set(runs[0]) & {500, 502, 503}


# -- control ---------------------------------------------------------------------


async def test_runtime_config_over_http(sim: Simulator, http: aiohttp.ClientSession) -> None:
    control = sim.base_url + "/__sim__/config"
    async with http.post(control, json={"error_share": 1.0, "always_500": [RUC_ACENTOS]}) as resp:
        assert resp.status == 200
        assert (await resp.json())["always_500"] == [RUC_ACENTOS]
    assert sim.config.always_500 == {RUC_ACENTOS}
    assert (await call(http, sim, RUC, ruc=RUC_ACTIVO_HABIDO))[0] in {500, 502, 503}

    async with http.post(control, json={"error_share": 0, "always_500": []}) as resp:
        assert resp.status == 200
    assert (await call(http, sim, RUC, ruc=RUC_ACTIVO_HABIDO))[0] == 200

    for bad in ({"no_such_knob": 1}, {"error_share": "mucho"}, {"error_share": 2}, [1]):
        async with http.post(control, json=bad) as resp:
            assert resp.status == 400
            assert (await resp.json())["success"] is False
    assert sim.config.error_share == 0.0  # a refused update changes nothing

    sim.config.token = "secreto"
    async with http.get(control) as resp:
        shown = await resp.json()
    assert shown["token"] == "***"
    assert "secreto" not in json.dumps(shown)


def test_config_validation_and_clear_faults() -> None:
    with pytest.raises(ValueError, match="drop_share"):
        SimulatorConfig(drop_share=1.5)
    with pytest.raises(ValueError, match="not_found_status"):
        SimulatorConfig(not_found_status=500)
    with pytest.raises(ValueError, match="quota_status"):
        SimulatorConfig(quota_status=401)
    with pytest.raises(ValueError, match="success"):
        SimulatorConfig(overrides={RUC_ACENTOS: {"success": False}})
    config = SimulatorConfig(
        error_share=1,
        hang={RUC_ACENTOS},
        fail_first=2,
        credits=7,
        token="x",
        reject_422={RUC_ACENTOS},
        forbidden=True,
        token_message=True,
        redirect_to="http://127.0.0.2:9/",
        quota_status=403,
        laravel=False,
        overrides={RUC_ACENTOS: {"ubigeo": "150101"}},
    )
    config.clear_faults()
    assert (config.error_share, config.hang, config.fail_first) == (0.0, set(), 0)
    assert (config.reject_422, config.forbidden, config.token_message) == (set(), False, False)
    assert config.redirect_to is None
    assert (config.credits, config.token, config.quota_status) == (7, "x", 403)
    assert (config.laravel, config.overrides) == (False, {RUC_ACENTOS: {"ubigeo": "150101"}})
    with pytest.raises(ValueError, match="locales"):
        Simulator(host="0.0.0.0")


async def test_stats_count_requests_by_endpoint_and_ruc(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    sim.config.fail_first = 1
    await call(http, sim, RUC, ruc=RUC_ACTIVO_HABIDO)
    await call(http, sim, RUC, ruc=RUC_ACTIVO_HABIDO)
    await call(http, sim, COLLECTION, ruc=[RUC_ACTIVO_HABIDO, RUC_ACENTOS])
    await call(http, sim, RUC, token=None, ruc=RUC_NO_EXISTE)  # refused, still received
    await call(http, sim, DNI, dni=DNI_EXISTE)
    stats = sim.stats
    assert stats.requests_total == 5
    assert stats.lookup_requests == 4
    assert stats.by_endpoint == {RUC: 3, COLLECTION: 1, DNI: 1}
    assert stats.by_ruc == {RUC_ACTIVO_HABIDO: 3, RUC_ACENTOS: 1, RUC_NO_EXISTE: 1}
    # fail_first: the first /ruc, the collection (its 2nd RUC is new) and the DNI fail.
    assert stats.by_status == {503: 3, 200: 1, 401: 1}

    async with http.get(sim.base_url + "/__sim__/stats") as resp:
        over_http = await resp.json()
    assert over_http == stats.snapshot()
    assert over_http["lookup_requests"] == 4

    async with http.post(sim.base_url + "/__sim__/reset") as resp:
        assert (await resp.json())["requests_total"] == 0
    assert (stats.requests_total, stats.lookup_requests, stats.by_ruc) == (0, 0, {})
    async with http.get(sim.base_url + "/") as resp:
        assert resp.status == 200
    assert stats.requests_total == 0  # control endpoints are not counted


# -- ways to run it --------------------------------------------------------------


async def _lookup(base_url: str, ruc: str) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(base_url + RUC, json={"token": "t", "ruc": ruc}, headers=JSON) as resp,
    ):
        return resp.status


def test_simulator_thread_starts_serves_and_stops() -> None:
    with SimulatorThread(SimulatorConfig(not_found_share=0.0)) as sim:
        base_url = sim.base_url
        assert asyncio.run(_lookup(base_url, RUC_ACTIVO_HABIDO)) == 200
        sim.config.always_500 = {RUC_ACTIVO_HABIDO}  # knobs change between runs
        assert asyncio.run(_lookup(base_url, RUC_ACTIVO_HABIDO)) == 500
        assert sim.stats.lookup_requests == 2
        assert sim.snapshot()["by_ruc"] == {RUC_ACTIVO_HABIDO: 2}
        sim.reset()
        assert sim.stats.requests_total == 0
    with pytest.raises(aiohttp.ClientConnectionError):
        asyncio.run(_lookup(base_url, RUC_ACTIVO_HABIDO))


def test_simulator_thread_reports_a_taken_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=r"(?i)in use"), SimulatorThread(port=port):
            pass


_SERVE_SCRIPT = """
import signal, sys
from migo_cli.simulator import SimulatorConfig, serve
signal.signal(signal.SIGINT, signal.default_int_handler)
try:
    serve(SimulatorConfig(), port=0, on_ready=lambda sim: print(sim.base_url, flush=True))
except KeyboardInterrupt:
    print("detenido", flush=True)
"""


def test_serve_blocks_until_ctrl_c() -> None:
    with subprocess.Popen(
        [sys.executable, "-c", _SERVE_SCRIPT], stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        assert asyncio.run(_lookup(base_url, RUC_ACTIVO_HABIDO)) == 200
        proc.send_signal(signal.SIGINT)
        assert proc.stdout.read().strip() == "detenido"
        assert proc.wait(timeout=5) == 0


async def test_journal_notes_every_exchange_in_order(http: aiohttp.ClientSession) -> None:
    config = SimulatorConfig(always_500={RUC_NO_HABIDO})
    async with Simulator(config, journal=True) as sim:
        await call(http, sim, RUC, ruc=RUC_ACTIVO_HABIDO)
        await call(http, sim, RUC, ruc=RUC_NO_HABIDO)
        await call(http, sim, RUC, token=None, ruc=RUC_ACTIVO_HABIDO)
        await v2_ruc(http, sim, RUC_ACENTOS)
        await call(http, sim, "/api/v1/xyz")
        await get(http, sim, RUC)
        assert sim.journal is not None
        assert [(e.path, e.keys, e.status) for e in sim.journal] == [
            (RUC, (RUC_ACTIVO_HABIDO,), 200),
            (RUC, (RUC_NO_HABIDO,), 500),
            (RUC, (RUC_ACTIVO_HABIDO,), 401),
            (V2_RUC, (RUC_ACENTOS,), 200),
            ("/api/v1/xyz", (), 404),
            (RUC, (), 405),
        ]
        assert all(e.arrived <= e.answered for e in sim.journal)
    async with Simulator() as plain:
        assert plain.journal is None
