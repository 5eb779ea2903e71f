"""migo as a library: the async client, streaming, the batch summary, the synchronous ``Migo``.

Against the real simulator on loopback. The sync facade is driven from the
main thread, from plain threads (as Celery's and Django's workers call it),
from inside an event loop (refused), and across a fork.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import select
import threading
import warnings
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import migo_cli
from migo_cli import (
    V1,
    LookupMode,
    LookupSummary,
    Migo,
    MigoClient,
    MigoSync,
    Operation,
    ResultCache,
    Retry,
    RucResult,
    Status,
)
from migo_cli.exceptions import AuthenticationError, MissingTokenError
from migo_cli.models import Origin
from migo_cli.simulator import (
    DNI_EXISTE,
    RUC_ACTIVO_HABIDO,
    RUC_DIGITO_INVALIDO,
    RUC_NO_EXISTE,
    SimulatorThread,
)
from tests.conftest import TOKEN, make_rucs

SUMMARY_KEYS = ["validos", "invalidos", "errores", "duration_ms"]


def sync_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "migo-sync"]


@pytest.fixture(autouse=True)
def _no_leftover_threads() -> Iterator[None]:
    yield
    gc.collect()
    for thread in sync_threads():
        thread.join(5)
    assert sync_threads() == []


@pytest.fixture
async def client(sim: SimulatorThread, tmp_path: Path) -> AsyncIterator[MigoClient]:
    with ResultCache(tmp_path / "cache") as cache:
        async with MigoClient(TOKEN, base_url=sim.base_url, cache=cache) as c:
            yield c


# -- the async client -------------------------------------------------------------------------


def test_everything_is_exported_from_the_package() -> None:
    for name in (
        "MigoClient",
        "Migo",
        "MigoSync",
        "LookupSummary",
        "DniResult",
        "ExchangeRate",
        "LegalRepresentatives",
        "AccountInfo",
        "CreditCheck",
    ):
        assert name in migo_cli.__all__
        assert hasattr(migo_cli, name)
    assert MigoSync is Migo


async def test_async_single_lookups(client: MigoClient) -> None:
    result = await client.lookup_ruc(RUC_ACTIVO_HABIDO)
    assert result.status is Status.VALID
    assert result.billable
    assert (await client.lookup_ruc(RUC_ACTIVO_HABIDO)).origin is Origin.CACHE
    assert (await client.lookup_dni(DNI_EXISTE)).found
    assert (await client.legal_representatives(RUC_ACTIVO_HABIDO)).people
    assert (await client.exchange_rate("2024-05-31")).buy is not None
    assert (await client.account()).name == "Cuenta simulada"


async def test_streaming_yields_every_result_as_it_completes(
    client: MigoClient, sim: SimulatorThread
) -> None:
    rucs = make_rucs(40)
    seen: list[RucResult] = []
    async for result in client.lookup_many([*rucs, "", RUC_DIGITO_INVALIDO]):
        seen.append(result)
    assert sorted(r.ruc for r in seen) == sorted([*rucs, RUC_DIGITO_INVALIDO])
    assert sim.stats.lookup_requests == 40  # blank skipped, bad digit answered locally


async def test_streaming_can_stop_early(client: MigoClient, sim: SimulatorThread) -> None:
    sim.config.latency_ms = 5
    stream = client.lookup_many(make_rucs(500))
    async for _ in stream:
        break
    await stream.aclose()  # type: ignore[attr-defined]
    assert sim.stats.lookup_requests < 500


async def test_lookup_batch_has_the_service_shape(client: MigoClient, sim: SimulatorThread) -> None:
    fresh = make_rucs(5, start=300)
    values: list[object] = [
        RUC_ACTIVO_HABIDO,
        RUC_NO_EXISTE,
        " 20-100.038.146 ",  # a duplicate in disguise
        RUC_DIGITO_INVALIDO,
        None,
        "",
        *fresh,
        int(fresh[0]),
    ]
    summary = await client.lookup_batch(values)
    document = summary.to_dict()
    assert list(document) == SUMMARY_KEYS
    assert json.loads(json.dumps(document)) == document  # JSON-ready
    assert [r["ruc"] for r in document["validos"]] == [RUC_ACTIVO_HABIDO, *fresh]
    assert [(r["ruc"], r["estado_consulta"]) for r in document["invalidos"]] == [
        (RUC_NO_EXISTE, "no_existe"),
        (RUC_DIGITO_INVALIDO, "formato_invalido"),
    ]
    assert all(r["motivo"] for r in document["invalidos"])
    assert document["errores"] == []
    assert isinstance(document["duration_ms"], int)
    assert document["duration_ms"] >= 0
    assert document["validos"][0]["apto_facturacion"] is True
    assert document["validos"][0]["nombre_o_razon_social"]
    assert summary.complete
    assert sim.stats.lookup_requests == 7  # each distinct well-formed RUC once


async def test_lookup_batch_errors_and_collection_mode(
    sim: SimulatorThread, no_sleep: None
) -> None:
    rucs = make_rucs(150, start=900)
    sim.config.always_500 = {rucs[3]}
    async with MigoClient(TOKEN, base_url=sim.base_url, retry=Retry(retries=1)) as client:
        summary = await client.lookup_batch(rucs, mode=LookupMode.COLLECTION)
    assert [r.ruc for r in summary.errors] == [rucs[3]]
    assert "HTTP 500" in summary.errors[0].reason
    assert len(summary.valid) + len(summary.invalid) == 149
    assert not summary.complete
    assert sim.stats.by_endpoint.get(V1.path(Operation.COLLECTION), 0) >= 2


async def test_lookup_batch_takes_an_async_iterable(client: MigoClient) -> None:
    async def values() -> AsyncIterator[str]:
        for ruc in make_rucs(3):
            yield ruc

    summary = await client.lookup_batch(values())
    assert len(summary.valid) + len(summary.invalid) == 3


async def test_lookup_batch_rejected_token_returns_what_it_has(sim: SimulatorThread) -> None:
    async with MigoClient("otro-token", base_url=sim.base_url) as client:
        summary = await client.lookup_batch([*make_rucs(4), RUC_DIGITO_INVALIDO])
    assert isinstance(summary.fatal, AuthenticationError)
    document = summary.to_dict()
    assert "rechazó el token" in document["detenido_por"]
    assert len(document["errores"]) == 4
    assert all(r["motivo"].startswith("no consultado") for r in document["errores"])
    assert [r["ruc"] for r in document["invalidos"]] == [RUC_DIGITO_INVALIDO]
    assert sim.stats.requests_total == 1


async def test_empty_batch() -> None:
    async with MigoClient(TOKEN, base_url="http://127.0.0.1:9") as client:  # nothing to ask
        summary = await client.lookup_batch(["", None, "  "])
    assert summary.to_dict() == {
        "validos": [],
        "invalidos": [],
        "errores": [],
        "duration_ms": summary.duration_ms,
    }


def test_summary_from_results() -> None:
    summary = LookupSummary(
        [
            RucResult(RUC_ACTIVO_HABIDO, Status.VALID),
            RucResult(RUC_NO_EXISTE, Status.NOT_FOUND, "no"),
            RucResult("x", Status.ERROR, "fallo"),
        ],
        12,
    )
    assert [len(summary.valid), len(summary.invalid), len(summary.errors)] == [1, 1, 1]
    assert summary.to_dict()["duration_ms"] == 12


# -- the synchronous facade ----------------------------------------------------------------------


@pytest.fixture
def facade(sim: SimulatorThread, tmp_path: Path) -> Iterator[Migo]:
    with Migo(TOKEN, base_url=sim.base_url, cache=tmp_path / "cache") as migo:
        yield migo


def test_sync_single_lookups(facade: Migo, sim: SimulatorThread) -> None:
    assert sync_threads() == []  # nothing starts before the first call
    assert facade.lookup_ruc(RUC_ACTIVO_HABIDO).status is Status.VALID
    assert facade.lookup_ruc(RUC_ACTIVO_HABIDO).origin is Origin.CACHE
    assert facade.lookup_dni(DNI_EXISTE).name
    assert facade.legal_representatives(RUC_ACTIVO_HABIDO).found
    assert facade.exchange_rate().currency == "USD"
    assert len(facade.exchange_rates("2024-05-01", "2024-05-03")) == 3
    assert facade.account().credits is None
    assert facade.stats.lookup_requests == 1
    assert len(sync_threads()) == 1


def test_sync_batch_and_streaming(facade: Migo, sim: SimulatorThread) -> None:
    rucs = make_rucs(30)
    document = facade.lookup_batch(iter([*rucs, RUC_DIGITO_INVALIDO])).to_dict()
    assert list(document) == SUMMARY_KEYS
    assert len(document["validos"]) + len(document["invalidos"]) == 31

    streamed = list(facade.lookup_many(rucs, ordered=True))
    assert [r.ruc for r in streamed] == rucs
    assert {r.origin for r in streamed} == {Origin.CACHE}
    assert sim.stats.lookup_requests == 30


def test_sync_stream_stopped_early_leaves_the_facade_usable(
    facade: Migo, sim: SimulatorThread
) -> None:
    sim.config.latency_ms = 5
    stream = facade.lookup_many(make_rucs(300))
    first = next(stream)
    stream.close()
    assert isinstance(first, RucResult)
    assert facade.lookup_ruc(RUC_ACTIVO_HABIDO).status is Status.VALID
    assert sim.stats.lookup_requests < 300


def test_sync_from_many_plain_threads(facade: Migo, sim: SimulatorThread) -> None:
    chunks = [make_rucs(25, start=1000 + 25 * n) for n in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        summaries = list(pool.map(facade.lookup_batch, chunks))
    assert sum(len(s.valid) + len(s.invalid) for s in summaries) == 200
    assert sim.stats.lookup_requests == 200
    assert len(sync_threads()) == 1  # one loop serves every thread


def test_sync_inside_a_running_loop_is_refused(facade: Migo, sim: SimulatorThread) -> None:
    async def view() -> RucResult:
        with pytest.raises(RuntimeError, match="MigoClient"):
            facade.lookup_ruc(RUC_ACTIVO_HABIDO)
        with pytest.raises(RuntimeError, match=r"asyncio\.to_thread"):
            next(facade.lookup_many([RUC_ACTIVO_HABIDO]))
        return await asyncio.to_thread(facade.lookup_ruc, RUC_ACTIVO_HABIDO)

    assert asyncio.run(view()).status is Status.VALID
    assert sim.stats.lookup_requests == 1


def test_sync_close_is_final_and_idempotent(sim: SimulatorThread) -> None:
    migo = Migo(TOKEN, base_url=sim.base_url)
    migo.lookup_ruc(RUC_ACTIVO_HABIDO)
    assert len(sync_threads()) == 1
    migo.close()
    migo.close()
    assert migo.closed
    assert sync_threads() == []
    with pytest.raises(RuntimeError, match="cerrado"):
        migo.lookup_ruc(RUC_ACTIVO_HABIDO)


def test_sync_forgotten_facade_is_closed_when_collected(sim: SimulatorThread) -> None:
    migo = Migo(TOKEN, base_url=sim.base_url)
    migo.lookup_ruc(RUC_ACTIVO_HABIDO)
    del migo
    gc.collect()
    assert sync_threads() == []


def test_sync_checks_the_token_at_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MIGO_TOKEN", raising=False)
    monkeypatch.setenv("MIGO_CONFIG", str(tmp_path / "none.toml"))
    with pytest.raises(MissingTokenError):
        Migo()
    monkeypatch.setenv("MIGO_TOKEN", TOKEN)
    migo = Migo(base_url="http://127.0.0.1:9")
    assert TOKEN not in repr(migo)
    migo.close()


def test_sync_wrong_token_raises_like_the_async_client(sim: SimulatorThread) -> None:
    with Migo("otro-token", base_url=sim.base_url) as migo:
        with pytest.raises(AuthenticationError):
            migo.lookup_ruc(RUC_ACTIVO_HABIDO)
        with pytest.raises(AuthenticationError):  # stopped: nothing more is sent
            migo.lookup_dni(DNI_EXISTE)
    assert sim.stats.requests_total == 1


def test_sync_with_a_cache_the_caller_owns(sim: SimulatorThread, tmp_path: Path) -> None:
    with ResultCache(tmp_path / "mine") as cache:
        with Migo(TOKEN, base_url=sim.base_url, cache=cache) as migo:
            migo.lookup_ruc(RUC_ACTIVO_HABIDO)
        assert cache.scope("local").get_ruc(RUC_ACTIVO_HABIDO) is not None  # still open
        with Migo(TOKEN, base_url=sim.base_url, cache=tmp_path / "mine") as migo:
            assert migo.lookup_ruc(RUC_ACTIVO_HABIDO).origin is Origin.CACHE
    assert sim.stats.lookup_requests == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_sync_facade_inherited_by_a_forked_worker(sim: SimulatorThread) -> None:
    with Migo(TOKEN, base_url=sim.base_url) as migo:
        migo.lookup_ruc(RUC_ACTIVO_HABIDO)  # the parent's thread and loop are running
        read_end, write_end = os.pipe()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads
            pid = os.fork()
        if pid == 0:  # the child, like a Celery prefork worker
            code = 1
            try:
                state = migo.lookup_ruc(make_rucs(1, start=5)[0]).status.value
                os.write(write_end, state.encode())
                migo.close()
                code = 0
            finally:
                os._exit(code)
        os.close(write_end)
        try:
            ready, _, _ = select.select([read_end], [], [], 20)
            answer = os.read(read_end, 100).decode() if ready else "sin respuesta"
        finally:
            os.close(read_end)
            _, status = os.waitpid(pid, 0)
        assert answer in ("valido", "no_existe")
        assert os.waitstatus_to_exitcode(status) == 0
        assert migo.lookup_ruc(RUC_ACTIVO_HABIDO).status is Status.VALID  # the parent's still works
    assert sim.stats.lookup_requests == 3  # no cache here: the parent asked twice


def test_sync_from_the_padron_needs_no_token_and_calls_nothing(
    env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Celery task that must cost nothing: ``Migo(fuente="padron")``."""
    from migo_cli.exceptions import PadronMissingError, UsageError
    from migo_cli.padron.build import build_index
    from migo_cli.simulator.padron import write_padron

    held, absent = make_rucs(5, start=61_000), make_rucs(1, start=900_000)[0]
    with (
        Migo(fuente="padron", padron_dir=tmp_path / "none") as migo,
        pytest.raises(PadronMissingError),
    ):
        migo.lookup_ruc(held[0])
    build_index(
        write_padron(tmp_path / "p.txt", rucs=held, not_found_share=0.0).path, tmp_path / "padron"
    )
    monkeypatch.setenv("MIGO_FUENTE", "padron")  # as the CLI: the environment chooses
    monkeypatch.setenv("MIGO_PADRON_DIR", str(tmp_path / "padron"))
    with Migo() as migo:
        assert migo.fuente.value == "padron"
        one = migo.lookup_ruc(held[0])
        assert (one.status.value, one.origin) == ("valido", Origin.PADRON)
        results = migo.lookup_batch([*held, absent, "123"]).results
        assert [r.origin for r in results] == [Origin.PADRON] * 6 + [Origin.LOCAL]
        assert results[5].reason.startswith("no figura en el padrón")
        assert [r.ruc for r in migo.lookup_many([absent, held[1]])] == [absent, held[1]]
        with pytest.raises(UsageError, match="fuente='padron'"):
            migo.account()
        assert migo.stats.lookup_requests == 0


def test_sync_auto_pays_only_for_what_the_padron_lacks(
    env: Path, sim: SimulatorThread, tmp_path: Path
) -> None:
    from migo_cli.padron.build import build_index
    from migo_cli.simulator.padron import write_padron

    held, late = make_rucs(5, start=61_000), make_rucs(2, start=900_000)
    build_index(
        write_padron(tmp_path / "p.txt", rucs=held, not_found_share=0.0).path, tmp_path / "padron"
    )
    with Migo(TOKEN, base_url=sim.base_url, fuente="auto", padron_dir=tmp_path / "padron") as migo:
        results = migo.lookup_batch([*held, *late]).results
        assert [r.origin for r in results] == [Origin.PADRON] * 5 + [Origin.API] * 2
        assert migo.stats.lookup_requests == len(late)
        assert migo.account().data["consultas_realizadas"] == len(late)  # APIMIGO counted 2
