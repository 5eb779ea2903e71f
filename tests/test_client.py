"""The client against a faked network (aioresponses): classification, retries, pace, stream."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from email.utils import formatdate
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aioresponses import CallbackResult, aioresponses

from migo_cli.cache import CacheScope, ResultCache
from migo_cli.client import LookupMode, MigoClient, parse_retry_after
from migo_cli.config import FIRST_BATCH, CacheTTL, Limits, Retry
from migo_cli.exceptions import (
    AccessDeniedError,
    AuthenticationError,
    EndpointNotFoundError,
    InsecureBaseURLError,
    MissingTokenError,
    QuotaExceededError,
    ServiceUnavailableError,
    UsageError,
)
from migo_cli.models import Origin, RucResult, Status
from tests.conftest import TOKEN, FakeClock, make_rucs

BASE = "https://api.migo.pe"
RUC_URL = f"{BASE}/api/v1/ruc"
COLLECTION_URL = f"{BASE}/api/v1/ruc/collection"
RUC = "20100038146"


def record(ruc: str, **extra: Any) -> dict[str, Any]:
    return {
        "success": True,
        "ruc": ruc,
        "nombre_o_razon_social": f"EMPRESA {ruc}",
        "estado_del_contribuyente": "ACTIVO",
        "condicion_de_domicilio": "HABIDO",
        **extra,
    }


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


@pytest.fixture
async def client(no_sleep: None) -> AsyncIterator[MigoClient]:
    async with MigoClient(TOKEN, limits=Limits(concurrency=4), retry=Retry(retries=3)) as c:
        yield c


def calls(m: aioresponses, url: str = RUC_URL) -> int:
    return sum(len(v) for (method, u), v in m.requests.items() if str(u) == url)


# -- SPEC §1: every row of the classification table, in both dialects -----------------

OK = {"payload": record(RUC)}
CASES: list[tuple[str, list[dict[str, Any]], Status]] = [
    ("200 success", [OK], Status.VALID),
    (
        "404 NotFound de APIMIGO",
        [{"status": 404, "payload": {"success": False, "message": "No existe"}}],
        Status.NOT_FOUND,
    ),
    (
        "200 success false",
        [{"payload": {"success": False, "message": "RUC no encontrado"}}],
        Status.NOT_FOUND,
    ),
    (
        "422",
        [
            {
                "status": 422,
                "payload": {
                    "success": False,
                    "message": "El ruc debe tener 11 dígitos.",
                    "errors": {"ruc": ["El ruc debe tener 11 dígitos."]},
                },
            }
        ],
        Status.INVALID,
    ),
    ("5xx luego 200", [{"status": 500}, {"status": 502}, {"status": 503}, OK], Status.VALID),
    ("5xx agotado", [{"status": 503}] * 4, Status.ERROR),
    ("timeout luego 200", [{"exception": TimeoutError()}, OK], Status.VALID),
    ("timeout agotado", [{"exception": TimeoutError()}] * 4, Status.ERROR),
    ("reset", [{"exception": aiohttp.ServerDisconnectedError()}] * 4, Status.ERROR),
    ("rechazada", [{"exception": aiohttp.ClientConnectionError("refused")}, OK], Status.VALID),
    (
        "HTML 502",
        [{"status": 502, "body": "<html>Bad gateway</html>", "content_type": "text/html"}, OK],
        Status.VALID,
    ),
    ("200 sin JSON", [{"body": "<html>ok</html>", "content_type": "text/html"}] * 4, Status.ERROR),
    ("200 sin success", [{"payload": {"ruc": RUC}}] * 4, Status.ERROR),
    (
        "400 sin reintento",
        [{"status": 400, "payload": {"success": False, "message": "mal"}}],
        Status.ERROR,
    ),
]


@pytest.fixture(params=["v1", "v2"])
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def ruc_url(dialect: str, ruc: str = RUC) -> str:
    return RUC_URL if dialect == "v1" else f"{BASE}/api/v2/ruc/{ruc}"


def answer_ruc(m: aioresponses, dialect: str, ruc: str = RUC, **answer: Any) -> None:
    """Register one answer for ``ruc`` on the dialect's route (POST in v1, GET in v2)."""
    register = m.post if dialect == "v1" else m.get
    register(ruc_url(dialect, ruc), **answer)


@pytest.mark.parametrize(("answers", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_classification(
    no_sleep: None,
    mocked: aioresponses,
    dialect: str,
    answers: list[dict[str, Any]],
    expected: Status,
) -> None:
    for answer in answers:
        answer_ruc(mocked, dialect, **answer)
    async with MigoClient(TOKEN, api=dialect, limits=Limits(concurrency=4)) as client:
        result = await client.lookup_ruc(RUC)
    assert result.status is expected
    assert calls(mocked, ruc_url(dialect)) == len(answers)  # retried only while transient
    assert result.origin is Origin.API
    if expected is Status.VALID:
        assert result.data["nombre_o_razon_social"] == f"EMPRESA {RUC}"
    else:
        assert result.reason
    if expected is Status.INVALID:
        assert result.reason == "APIMIGO: El ruc debe tener 11 dígitos."


_LARAVEL_ROUTE_404 = {"message": "The route api/v1/ruc could not be found."}
_HTML = {"body": "<html><title>Login</title></html>", "content_type": "text/html"}
FATAL: list[tuple[str, dict[str, Any], type[Exception]]] = [
    ("401", {"status": 401, "payload": {"message": "Unauthenticated."}}, AuthenticationError),
    (
        "302 al login",
        {"status": 302, "headers": {"Location": "/login"}, **_HTML},
        AuthenticationError,
    ),
    ("301", {"status": 301, "headers": {"Location": "https://otro/"}}, AuthenticationError),
    (
        "200 success false de token",
        {"payload": {"success": False, "message": "Token inválido"}},
        AuthenticationError,
    ),
    (
        "403",
        {"status": 403, "payload": {"success": False, "message": "Plan sin acceso"}},
        AccessDeniedError,
    ),
    ("402", {"status": 402, "payload": {"success": False}}, QuotaExceededError),
    (
        "200 sin créditos",
        {"payload": {"success": False, "message": "No tiene créditos disponibles"}},
        QuotaExceededError,
    ),
    ("404 HTML", {"status": 404, **_HTML}, EndpointNotFoundError),
    ("404 de Laravel", {"status": 404, "payload": _LARAVEL_ROUTE_404}, EndpointNotFoundError),
    ("405", {"status": 405, "payload": {"message": "Method not allowed"}}, EndpointNotFoundError),
]


@pytest.mark.parametrize(("answer", "error"), [c[1:] for c in FATAL], ids=[c[0] for c in FATAL])
async def test_fatal_answers_raise_without_retry(
    mocked: aioresponses,
    tmp_path: Path,
    dialect: str,
    answer: dict[str, Any],
    error: type[Exception],
) -> None:
    answer_ruc(mocked, dialect, repeat=True, **answer)
    other = "20131312955"
    if dialect == "v2":  # its own URL; in v1 every RUC shares one
        answer_ruc(mocked, dialect, other, payload=record(other), repeat=True)
    with ResultCache(tmp_path / "cache") as cache:
        async with MigoClient(TOKEN, api=dialect, cache=cache) as client:
            with pytest.raises(error) as info:
                await client.lookup_ruc(RUC)
            with pytest.raises(error):  # later calls are refused locally
                await client.lookup_ruc(other)
        assert sum(len(sent) for sent in mocked.requests.values()) == 1
        assert cache.info().entries == 0  # nothing but answers reaches the cache
    assert TOKEN not in str(info.value)
    if error is EndpointNotFoundError:
        assert "--base-url" in str(info.value)
        assert "--api" in str(info.value)
        assert isinstance(info.value, UsageError)  # exit 2: the user must fix the URL


async def test_422_is_cached_like_not_found(
    no_sleep: None, mocked: aioresponses, tmp_path: Path, dialect: str
) -> None:
    body = {"success": False, "message": "RUC no válido", "errors": {"ruc": ["RUC no válido"]}}
    answer_ruc(mocked, dialect, status=422, payload=body, repeat=True)
    with ResultCache(tmp_path / "cache") as cache:
        async with MigoClient(TOKEN, api=dialect, cache=cache) as client:
            first = await client.lookup_ruc(RUC)
            second = await client.lookup_ruc(RUC)
    assert (first.status, first.origin) == (Status.INVALID, Origin.API)
    assert (second.status, second.origin, second.reason) == (
        Status.INVALID,
        Origin.CACHE,
        "APIMIGO: RUC no válido",
    )
    assert calls(mocked, ruc_url(dialect)) == 1


async def test_estado_is_compared_after_trimming_and_upper_casing(
    no_sleep: None, mocked: aioresponses, dialect: str
) -> None:
    data = record(RUC, estado_del_contribuyente=" activo ", condicion_de_domicilio="Habido\t")
    answer_ruc(mocked, dialect, payload=data)
    async with MigoClient(TOKEN, api=dialect) as client:
        result = await client.lookup_ruc(RUC)
    assert result.billable
    assert result.data["estado_del_contribuyente"] == " activo "  # passed through as it came


async def test_every_request_asks_for_json_and_never_follows_redirects(
    mocked: aioresponses, dialect: str
) -> None:
    seen: list[dict[str, Any]] = []

    def login(url: Any, **kwargs: Any) -> CallbackResult:
        seen.append(kwargs)
        return CallbackResult(status=302, headers={"Location": "http://evil.example/login"})

    register = mocked.post if dialect == "v1" else mocked.get
    register(ruc_url(dialect), callback=login)
    async with MigoClient(TOKEN, api=dialect) as client:
        with pytest.raises(AuthenticationError, match="redirección"):
            await client.lookup_ruc(RUC)
    assert len(seen) == 1
    assert seen[0]["headers"]["Accept"] == "application/json"
    assert seen[0]["allow_redirects"] is False
    assert not any("evil.example" in str(url) for _, url in mocked.requests)


async def test_token_travels_in_the_body_in_v1(mocked: aioresponses) -> None:
    seen: list[dict[str, Any]] = []

    def answer(url: Any, **kwargs: Any) -> CallbackResult:
        seen.append(kwargs)
        return CallbackResult(status=401, payload={"message": f"token {TOKEN} no vale"})

    mocked.post(RUC_URL, callback=answer)
    async with MigoClient(TOKEN, api="v1") as client:
        with pytest.raises(AuthenticationError) as info:
            await client.lookup_ruc(RUC)
    assert seen[0]["json"] == {"ruc": RUC, "token": TOKEN}
    assert "Authorization" not in seen[0]["headers"]
    assert TOKEN not in str(info.value)
    assert TOKEN not in repr(client)


async def test_token_travels_as_bearer_in_v2_never_in_the_url(mocked: aioresponses) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    def answer(url: Any, **kwargs: Any) -> CallbackResult:
        seen.append((str(url), kwargs))
        return CallbackResult(payload=record(RUC))

    mocked.get(ruc_url("v2"), callback=answer)
    async with MigoClient(TOKEN, api="v2") as client:
        assert (await client.lookup_ruc(RUC)).status is Status.VALID
    url, kwargs = seen[0]
    assert TOKEN not in url
    assert kwargs["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert kwargs.get("json") is None
    assert TOKEN not in str(kwargs.get("params"))


async def test_malformed_ruc_is_never_sent(client: MigoClient, mocked: aioresponses) -> None:
    result = await client.lookup_ruc("20100038147")
    assert result.status is Status.INVALID
    assert result.origin is Origin.LOCAL
    assert "dígito verificador" in result.reason
    assert calls(mocked) == 0


# -- 429 ----------------------------------------------------------------------


@pytest.mark.parametrize("header", ["1", "http-date"])
async def test_429_waits_as_long_as_retry_after_says(mocked: aioresponses, header: str) -> None:
    stamps: list[float] = []

    def answer(url: Any, **kwargs: Any) -> CallbackResult:
        stamps.append(time.monotonic())
        if len(stamps) == 1:
            value = "1" if header == "1" else formatdate(time.time() + 2, usegmt=True)
            return CallbackResult(status=429, headers={"Retry-After": value})
        return CallbackResult(payload=record(RUC))

    mocked.post(RUC_URL, callback=answer, repeat=True)
    async with MigoClient(TOKEN) as client:
        result = await client.lookup_ruc(RUC)
    assert result.status is Status.VALID
    # An HTTP date has one-second resolution: at least 1 s of the 2 asked is certain.
    assert stamps[1] - stamps[0] >= 1.0


async def test_429_does_not_spend_the_retry_budget(
    client: MigoClient, mocked: aioresponses
) -> None:
    for _ in range(5):  # more 429s than retries (3), then an answer
        mocked.post(RUC_URL, status=429, headers={"Retry-After": "0"})
    mocked.post(RUC_URL, payload=record(RUC))
    assert (await client.lookup_ruc(RUC)).status is Status.VALID
    assert client.stats.rate_limited == 5


async def test_429_has_a_bound_of_its_own(no_sleep: None, mocked: aioresponses) -> None:
    mocked.post(RUC_URL, status=429, repeat=True)
    async with MigoClient(TOKEN, retry=Retry(retries=1, rate_limit_waits=3)) as client:
        result = await client.lookup_ruc(RUC)
    assert result.status is Status.ERROR
    assert "429" in result.reason
    assert calls(mocked) == 4


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, 5.0),
        ("", 5.0),
        ("7", 7.0),
        ("2.5", 2.5),
        ("-3", 0.0),
        ("99999", 300.0),
        ("nope", 5.0),
    ],
)
def test_parse_retry_after(value: str | None, expected: float) -> None:
    assert parse_retry_after(value, Retry()) == expected


def test_parse_retry_after_http_date() -> None:
    sent = time.time()
    wait = parse_retry_after(formatdate(sent + 10, usegmt=True), Retry())
    parsed = time.time()
    deadline = math.floor(sent + 10)  # an HTTP date has whole seconds
    assert deadline - parsed <= wait <= deadline - sent


# -- configuration -------------------------------------------------------------


def test_insecure_base_url_is_refused() -> None:
    with pytest.raises(InsecureBaseURLError):
        MigoClient(TOKEN, base_url="http://api.example.com")
    MigoClient(TOKEN, base_url="http://127.0.0.1:9")  # loopback: the simulator
    MigoClient(TOKEN, base_url="http://localhost:9")


def test_missing_token(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MIGO_TOKEN", raising=False)
    monkeypatch.setenv("MIGO_CONFIG", str(tmp_path / "none.toml"))
    with pytest.raises(MissingTokenError, match="MIGO_TOKEN"):
        MigoClient()


def test_token_from_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MIGO_TOKEN", raising=False)
    config = tmp_path / "config.toml"
    config.write_text('token = "desde-archivo"\n', encoding="utf-8")
    monkeypatch.setenv("MIGO_CONFIG", str(config))
    assert MigoClient()._token == "desde-archivo"


# -- cache ---------------------------------------------------------------------


async def test_second_lookup_is_answered_by_the_cache(
    no_sleep: None, mocked: aioresponses, tmp_path: Path
) -> None:
    mocked.post(RUC_URL, payload=record(RUC), repeat=True)
    mocked.post(f"{RUC_URL}", status=404, repeat=True)
    with ResultCache(tmp_path / "cache") as cache:
        async with MigoClient(TOKEN, cache=cache) as client:
            first = await client.lookup_ruc(RUC)
            second = await client.lookup_ruc(RUC)
    assert calls(mocked) == 1
    assert (first.origin, second.origin) == (Origin.API, Origin.CACHE)
    assert second.data == first.data
    assert second.queried_at == first.queried_at


async def test_expired_entries_are_fetched_again(
    no_sleep: None, mocked: aioresponses, tmp_path: Path
) -> None:
    mocked.post(RUC_URL, payload=record(RUC), repeat=True)
    clock = FakeClock()
    ttl = CacheTTL(valid=600, not_found=600)
    with ResultCache(tmp_path / "cache", ttl, clock=clock) as cache:
        async with MigoClient(TOKEN, cache=cache) as client:
            await client.lookup_ruc(RUC)
            clock.advance(599)
            assert (await client.lookup_ruc(RUC)).origin is Origin.CACHE
            clock.advance(2)
            assert (await client.lookup_ruc(RUC)).origin is Origin.API
    assert calls(mocked) == 2


async def test_errors_are_not_cached(no_sleep: None, mocked: aioresponses, tmp_path: Path) -> None:
    mocked.post(RUC_URL, status=500, repeat=True)
    with ResultCache(tmp_path / "cache") as cache:
        async with MigoClient(TOKEN, cache=cache, retry=Retry(retries=0)) as client:
            assert (await client.lookup_ruc(RUC)).status is Status.ERROR
            assert (await client.lookup_ruc(RUC)).status is Status.ERROR
    assert calls(mocked) == 2


async def test_refresh_skips_cached_answers_but_stores_new_ones(
    no_sleep: None, mocked: aioresponses, tmp_path: Path
) -> None:
    mocked.post(RUC_URL, payload=record(RUC), repeat=True)
    with ResultCache(tmp_path / "c") as cache:
        async with MigoClient(TOKEN, cache=cache) as client:
            await client.lookup_ruc(RUC)
    with ResultCache(tmp_path / "c", read=False) as cache:
        async with MigoClient(TOKEN, cache=cache) as client:
            assert (await client.lookup_ruc(RUC)).origin is Origin.API
    assert calls(mocked) == 2


# -- streams -------------------------------------------------------------------


async def collect(results: AsyncIterator[RucResult], into: list[RucResult]) -> None:
    async for result in results:
        into.append(result)


def by_ruc(answer: Callable[[str], CallbackResult]) -> Callable[..., CallbackResult]:
    def callback(url: Any, **kwargs: Any) -> CallbackResult:
        return answer(kwargs["json"]["ruc"])

    return callback


async def test_a_hanging_first_request_holds_the_others_back_only_briefly(
    no_sleep: None, mocked: aioresponses
) -> None:
    rucs = make_rucs(10)
    first: list[str] = []
    others_answered = asyncio.Event()

    async def answer(url: Any, **kwargs: Any) -> CallbackResult:
        ruc = kwargs["json"]["ruc"]
        if not first:  # the first request (the one the others wait for) hangs ...
            first.append(ruc)
            await others_answered.wait()  # ... until the nine others have been answered
        return CallbackResult(payload=record(ruc))

    mocked.post(RUC_URL, callback=answer, repeat=True)
    order: list[str] = []
    async with asyncio.timeout(60), MigoClient(TOKEN, limits=Limits(concurrency=5)) as client:
        async for _, result in client.stream(rucs):
            order.append(result.ruc)
            if len(order) == len(rucs) - 1:
                others_answered.set()
    assert order[-1] == first[0]
    assert sorted(order) == sorted(rucs)


async def test_wrong_token_stops_a_batch_after_one_call(
    no_sleep: None, mocked: aioresponses
) -> None:
    mocked.post(RUC_URL, status=401, repeat=True)
    async with MigoClient(TOKEN, limits=Limits(concurrency=20)) as client:
        with pytest.raises(AuthenticationError):
            async for _ in client.stream(make_rucs(200)):
                pass
    assert calls(mocked) == 1


async def test_quota_mid_run_keeps_what_was_answered(no_sleep: None, mocked: aioresponses) -> None:
    budget = {"left": 30}

    def answer(ruc: str) -> CallbackResult:
        if budget["left"] == 0:
            return CallbackResult(status=402, payload={"success": False})
        budget["left"] -= 1
        return CallbackResult(payload=record(ruc))

    mocked.post(RUC_URL, callback=by_ruc(answer), repeat=True)
    got: list[RucResult] = []
    async with MigoClient(TOKEN, limits=Limits(concurrency=5, rpm=None)) as client:
        with pytest.raises(QuotaExceededError):
            await collect(client.lookup_many(make_rucs(100)), got)
    assert len(got) == 30
    assert calls(mocked) <= 30 + 5


async def test_one_slow_answer_does_not_hold_back_the_others(
    no_sleep: None, mocked: aioresponses
) -> None:
    rucs = make_rucs(30)
    others_answered = asyncio.Event()

    async def answer(url: Any, **kwargs: Any) -> CallbackResult:
        ruc = kwargs["json"]["ruc"]
        if ruc == rucs[3]:
            await others_answered.wait()  # answers only once every other RUC has its answer
        return CallbackResult(payload=record(ruc))

    mocked.post(RUC_URL, callback=answer, repeat=True)
    order = []
    async with asyncio.timeout(60), MigoClient(TOKEN, limits=Limits(concurrency=5)) as client:
        async for _, result in client.stream(rucs):
            order.append(result.ruc)
            if len(order) == len(rucs) - 1:
                others_answered.set()
    assert order[-1] == rucs[3]  # everything else finished while the slow one waited
    assert sorted(order) == sorted(rucs)


async def test_ordered_stream_yields_in_input_order_with_positions(
    no_sleep: None, mocked: aioresponses
) -> None:
    rucs = make_rucs(20)

    async def answer(url: Any, **kwargs: Any) -> CallbackResult:
        ruc = kwargs["json"]["ruc"]
        await asyncio.sleep(0.05 if rucs.index(ruc) % 3 == 0 else 0.0)
        return CallbackResult(payload=record(ruc))

    mocked.post(RUC_URL, callback=answer, repeat=True)
    values: list[object] = [rucs[0], "", "20100038147", *rucs[1:]]
    arrived: list[RucResult] = []
    async with MigoClient(TOKEN, limits=Limits(concurrency=6)) as client:
        got = [
            (p, r.ruc)
            async for p, r in client.stream(values, ordered=True, on_result=arrived.append)
        ]
    assert got == [(0, rucs[0]), (2, "20100038147"), *((i + 2, r) for i, r in enumerate(rucs) if i)]
    assert len(arrived) == 21


async def test_stop_sends_nothing_new(no_sleep: None, mocked: aioresponses) -> None:
    mocked.post(RUC_URL, callback=by_ruc(lambda r: CallbackResult(payload=record(r))), repeat=True)
    stop = asyncio.Event()
    got = 0
    async with MigoClient(TOKEN, limits=Limits(concurrency=3)) as client:
        async for _ in client.stream(make_rucs(500), stop=stop, ordered=True):
            got += 1
            if got == 10:
                stop.set()
    assert got < 20
    assert calls(mocked) < 20


async def test_collection_mode_batches_and_accepts_both_shapes(
    no_sleep: None, mocked: aioresponses
) -> None:
    rucs = make_rucs(150)
    shapes = iter([list, dict])

    def answer(url: Any, **kwargs: Any) -> CallbackResult:
        asked = kwargs["json"]["ruc"]
        assert len(asked) <= 100
        entries = [record(r) if r != rucs[5] else {"ruc": r, "success": False} for r in asked]
        if next(shapes) is dict:
            return CallbackResult(payload={"success": True, "data": entries})
        return CallbackResult(body=json.dumps(entries))

    mocked.post(COLLECTION_URL, callback=answer, repeat=True)
    async with MigoClient(TOKEN, limits=Limits(concurrency=2)) as client:
        results = {r.ruc: r async for r in client.lookup_many(rucs, mode=LookupMode.COLLECTION)}
        assert client.stats.lookup_requests == 2
    assert len(results) == 150
    assert results[rucs[5]].status is Status.NOT_FOUND
    assert results[rucs[6]].status is Status.VALID


async def test_unusable_collection_answer_falls_back_to_single_lookups(
    no_sleep: None, mocked: aioresponses
) -> None:
    rucs = make_rucs(10)
    mocked.post(COLLECTION_URL, body="<html>oops</html>", content_type="text/html", repeat=True)
    mocked.post(RUC_URL, callback=by_ruc(lambda r: CallbackResult(payload=record(r))), repeat=True)
    async with MigoClient(TOKEN, retry=Retry(retries=1)) as client:
        results = [r async for r in client.lookup_many(rucs, mode=LookupMode.COLLECTION)]
    assert {r.status for r in results} == {Status.VALID}
    assert calls(mocked, RUC_URL) == 10
    assert calls(mocked, COLLECTION_URL) == 2


async def test_window_keeps_collection_mode_moving_past_cached_runs(
    no_sleep: None, mocked: aioresponses, tmp_path: Path
) -> None:
    """A partial chunk followed by many cached RUCs must not wait for its own window."""
    rucs = make_rucs(400)
    mocked.post(RUC_URL, callback=by_ruc(lambda r: CallbackResult(payload=record(r))), repeat=True)
    mocked.post(
        COLLECTION_URL,
        callback=lambda url, **kw: CallbackResult(
            body=json.dumps([record(r) for r in kw["json"]["ruc"]])
        ),
        repeat=True,
    )
    with ResultCache(tmp_path / "c") as cache:
        async with MigoClient(TOKEN, cache=cache, limits=Limits(concurrency=1)) as client:
            async for _ in client.lookup_many(rucs[1:]):
                pass
            got = [
                r
                async for _, r in client.stream(
                    rucs, mode=LookupMode.COLLECTION, ordered=True, window=10
                )
            ]
    assert [r.ruc for r in got] == rucs
    assert got[0].origin is Origin.API
    assert {r.origin for r in got[1:]} == {Origin.CACHE}


async def test_answers_from_the_cache_flow_out_while_the_input_is_still_read(
    no_sleep: None, mocked: aioresponses, tmp_path: Path
) -> None:
    """Cached answers reach the consumer run by run, not a whole window (20,000) at a time."""
    rucs = make_rucs(3 * FIRST_BATCH)
    mocked.post(RUC_URL, callback=by_ruc(lambda r: CallbackResult(payload=record(r))), repeat=True)
    read = 0

    def values() -> Iterator[str]:
        nonlocal read
        for ruc in rucs:
            read += 1
            yield ruc

    with ResultCache(tmp_path / "c") as cache:
        async with MigoClient(TOKEN, cache=cache) as client:
            async for _ in client.lookup_many(rucs):
                pass
            calls_before = calls(mocked)
            read_when_first_came: int | None = None
            got = []
            async for _, result in client.stream(values()):
                if read_when_first_came is None:
                    read_when_first_came = read
                got.append(result)
    assert calls(mocked) == calls_before  # every answer came from the cache
    assert len(got) == len(rucs)
    assert read_when_first_came is not None
    assert read_when_first_came <= FIRST_BATCH


async def test_a_stream_reads_the_cache_a_run_at_a_time(
    no_sleep: None, mocked: aioresponses, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One query per run of ``FIRST_BATCH`` values, never one per RUC (a per-key read cost
    as much as the rest of an answer's bookkeeping: bench figures 3, 4 and 10)."""
    rucs = make_rucs(2 * FIRST_BATCH + 10)
    mocked.post(RUC_URL, callback=by_ruc(lambda r: CallbackResult(payload=record(r))), repeat=True)
    runs: list[int] = []
    read_runs = CacheScope.get_rucs

    def counted(scope: CacheScope, run: Sequence[str]) -> dict[str, RucResult]:
        runs.append(len(run))
        return read_runs(scope, run)

    def one_by_one(scope: CacheScope, ruc: str) -> RucResult | None:
        raise AssertionError(f"read alone: {ruc}")

    with ResultCache(tmp_path / "c") as cache:
        async with MigoClient(TOKEN, cache=cache) as client:
            async for _ in client.lookup_many(rucs[1::2]):  # every other RUC, kept
                pass
            monkeypatch.setattr(CacheScope, "get_rucs", counted)
            monkeypatch.setattr(CacheScope, "get_ruc", one_by_one)
            origins = Counter([r.origin async for _, r in client.stream(rucs)])
    assert runs == [FIRST_BATCH, FIRST_BATCH, 10]
    assert origins == {Origin.CACHE: FIRST_BATCH + 5, Origin.API: FIRST_BATCH + 5}


async def test_a_stream_gives_up_when_ruc_after_ruc_fails(
    no_sleep: None, mocked: aioresponses
) -> None:
    mocked.post(RUC_URL, status=503, repeat=True)
    got: list[RucResult] = []
    retry = Retry(retries=1, give_up_after=5)
    async with MigoClient(TOKEN, limits=Limits(concurrency=1), retry=retry) as client:
        with pytest.raises(ServiceUnavailableError, match="no responde"):
            await collect(client.lookup_many(make_rucs(40)), got)
    assert [r.status for r in got] == [Status.ERROR] * 5
    assert calls(mocked) == 5 * 2


async def test_one_answer_resets_the_count_of_failures(
    no_sleep: None, mocked: aioresponses
) -> None:
    rucs = make_rucs(12)
    healthy = set(rucs[3::4])
    mocked.post(
        RUC_URL,
        callback=by_ruc(
            lambda r: (
                CallbackResult(payload=record(r)) if r in healthy else CallbackResult(status=500)
            )
        ),
        repeat=True,
    )
    retry = Retry(retries=0, give_up_after=4)
    async with MigoClient(TOKEN, limits=Limits(concurrency=1), retry=retry) as client:
        results = [r async for r in client.lookup_many(rucs)]
    assert len(results) == 12  # never four failures in a row
