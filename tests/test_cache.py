"""The disk cache: what is kept, for how long, by whom, and what happens when it is damaged."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from migo_cli.cache import ResultCache
from migo_cli.client import cache_scope_for
from migo_cli.config import DEFAULT_BASE_URL, CacheTTL
from migo_cli.models import Origin, RucResult, Status
from tests.conftest import FakeClock, make_rucs

RUC = "20100038146"
#: The scope answers from the real APIMIGO live in (no request is made here).
REAL_API = cache_scope_for(DEFAULT_BASE_URL)


def valid(ruc: str = RUC) -> RucResult:
    return RucResult(ruc, Status.VALID, "", {"nombre_o_razon_social": "X", "success": True})


def test_answers_round_trip_and_errors_are_never_kept(tmp_path: Path) -> None:
    with ResultCache(tmp_path / "c") as cache:
        scope = cache.scope(REAL_API)
        scope.put_ruc(valid())
        scope.put_ruc(RucResult("20131312955", Status.NOT_FOUND, "SUNAT no registra este RUC"))
        scope.put_ruc(RucResult("20601234567", Status.ERROR, "HTTP 503"))
        hit = scope.get_ruc(RUC)
        assert hit is not None
        assert (hit.status, hit.origin, hit.data["nombre_o_razon_social"]) == (
            Status.VALID,
            Origin.CACHE,
            "X",
        )
        missing = scope.get_ruc("20131312955")
        assert missing is not None
        assert (missing.status, missing.reason) == (Status.NOT_FOUND, "SUNAT no registra este RUC")
        assert scope.get_ruc("20601234567") is None
        assert cache.info().entries == 2


def test_scopes_keep_upstreams_apart(tmp_path: Path) -> None:
    with ResultCache(tmp_path / "c") as cache:
        cache.scope("local").put_ruc(valid())
        assert cache.scope(REAL_API).get_ruc(RUC) is None
        assert cache.scope("local").get_ruc(RUC) is not None


def test_clear_one_ruc_in_every_scope_or_everything(tmp_path: Path) -> None:
    with ResultCache(tmp_path / "c") as cache:
        for scope in ("local", REAL_API):
            cache.scope(scope).put_ruc(valid())
            cache.scope(scope).put_ruc(valid("20131312955"))
        assert cache.clear(RUC) == 2
        assert cache.scope("local").get_ruc(RUC) is None
        assert cache.scope("local").get_ruc("20131312955") is not None
        assert cache.clear() == 2
        assert cache.info().entries == 0


def test_entries_expire_on_the_cache_clock(tmp_path: Path) -> None:
    clock = FakeClock()
    unknown = RucResult("20131312955", Status.NOT_FOUND, "SUNAT no registra este RUC")
    with ResultCache(tmp_path / "c", CacheTTL(valid=3600, not_found=60), clock=clock) as cache:
        scope = cache.scope("s")
        scope.put_ruc(valid())
        scope.put_ruc(unknown)
        clock.advance(59)
        assert (scope.has_ruc(RUC), scope.has_ruc(unknown.ruc)) == (True, True)
        clock.advance(2)
        assert (scope.has_ruc(RUC), scope.has_ruc(unknown.ruc)) == (True, False)
        clock.advance(3600)
        assert scope.get_ruc(RUC) is None
        scope.put_ruc(valid())  # its TTL counts from the clock's now, not from the real one
        assert scope.has_ruc(RUC)


def test_refresh_mode_writes_but_does_not_read(tmp_path: Path) -> None:
    with ResultCache(tmp_path / "c", read=False) as cache:
        cache.scope("s").put_ruc(valid())
        assert cache.scope("s").get_ruc(RUC) is None
    with ResultCache(tmp_path / "c") as cache:
        assert cache.scope("s").get_ruc(RUC) is not None


def test_garbage_database_is_set_aside_and_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "c"
    with ResultCache(directory) as cache:
        cache.scope("s").put_ruc(valid())
    (directory / "cache.db").write_bytes(b"\x00garbage" * 500)
    for leftover in directory.glob("cache.db-*"):
        leftover.unlink()
    with caplog.at_level(logging.WARNING, logger="migo"), ResultCache(directory) as cache:
        assert cache.available
        assert cache.scope("s").get_ruc(RUC) is None
        cache.scope("s").put_ruc(valid())
        assert cache.scope("s").get_ruc(RUC) is not None
    assert "dañada" in caplog.text
    assert list(tmp_path.glob("c.danada-*"))


def test_truncated_database_is_rebuilt(tmp_path: Path) -> None:
    directory = tmp_path / "c"
    with ResultCache(directory) as cache:
        for ruc in make_rucs(50):
            cache.scope("s").put_ruc(valid(ruc))
    db = directory / "cache.db"
    db.write_bytes(db.read_bytes()[:1000])
    with ResultCache(directory) as cache:
        cache.scope("s").put_ruc(valid())
        assert cache.scope("s").get_ruc(RUC) is not None


def test_unusable_directory_means_no_cache_not_a_crash(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with caplog.at_level(logging.WARNING, logger="migo"), ResultCache(blocker / "c") as cache:
        assert not cache.available
        cache.scope("s").put_ruc(valid())
        assert cache.scope("s").get_ruc(RUC) is None
        assert cache.info().entries == 0
    assert "sin caché" in caplog.text


def test_two_processes_share_one_directory(tmp_path: Path) -> None:
    directory = tmp_path / "c"
    theirs, ours = make_rucs(300, start=0), make_rucs(300, start=1000)
    script = textwrap.dedent(
        f"""
        from migo_cli.cache import ResultCache
        from migo_cli.models import RucResult, Status
        with ResultCache({str(directory)!r}) as cache:
            for ruc in {theirs!r}:
                cache.scope("s").put_ruc(RucResult(ruc, Status.VALID, "", {{"n": ruc}}))
        """
    )
    other = subprocess.Popen([sys.executable, "-c", script])
    with ResultCache(directory) as cache:
        for ruc in ours:
            cache.scope("s").put_ruc(valid(ruc))
    assert other.wait(timeout=60) == 0
    with ResultCache(directory) as cache:
        scope = cache.scope("s")
        assert all(scope.get_ruc(ruc) is not None for ruc in theirs + ours)


async def test_two_processes_write_bursts_of_the_same_rucs(tmp_path: Path) -> None:
    """Bursts from two processes (a nightly run and a person's): every answer kept once,
    diskcache's own count right, whichever process wrote a shared RUC last."""
    directory = tmp_path / "c"
    theirs, ours = make_rucs(400, start=0), make_rucs(400, start=200)  # 200 in common
    script = textwrap.dedent(
        f"""
        import asyncio
        from migo_cli.cache import ResultCache
        from migo_cli.models import RucResult, Status

        async def main():
            with ResultCache({str(directory)!r}) as cache:
                scope = cache.scope("s")
                for start in range(0, 400, 40):
                    burst = {theirs!r}[start : start + 40]
                    await asyncio.gather(*(
                        scope.keep_ruc(RucResult(r, Status.VALID, "", {{"n": r}})) for r in burst
                    ))

        asyncio.run(main())
        """
    )
    other = await asyncio.create_subprocess_exec(sys.executable, "-c", script)
    with ResultCache(directory) as cache:
        scope = cache.scope("s")
        for start in range(0, 400, 40):
            await asyncio.gather(*(scope.keep_ruc(valid(ruc)) for ruc in ours[start : start + 40]))
    assert await asyncio.wait_for(other.wait(), 60) == 0
    with ResultCache(directory) as cache:
        found = cache.scope("s").get_rucs(theirs + ours)
        assert sorted(found) == sorted(set(theirs + ours))
        assert cache.info().entries == 600
        assert cache._store is not None
        assert len(cache._store) == 600


async def test_keep_ruc_returns_once_committed_and_groups_a_burst(tmp_path: Path) -> None:
    directory = tmp_path / "c"
    rucs = make_rucs(40)
    with ResultCache(directory) as writer, ResultCache(directory) as reader:
        scope, other = writer.scope("s"), reader.scope("s")
        await scope.keep_ruc(valid(rucs[0]))
        assert other.get_ruc(rucs[0]) is not None  # visible to another connection at once
        await asyncio.gather(*(scope.keep_ruc(valid(ruc)) for ruc in rucs[1:]))
        assert all(other.get_ruc(ruc) is not None for ruc in rucs)
        await scope.keep_ruc(RucResult(rucs[0], Status.ERROR, "HTTP 503"))  # never kept
        assert other.get_ruc(rucs[0]) is not None


async def test_a_cancelled_keep_ruc_does_not_cancel_the_others_of_its_burst(
    tmp_path: Path,
) -> None:
    """A burst shares one commit: a caller given up on (a timeout) must not end the rest."""
    rucs = make_rucs(3)
    with ResultCache(tmp_path / "c") as cache:
        scope = cache.scope("s")
        tasks = [asyncio.create_task(scope.keep_ruc(valid(ruc))) for ruc in rucs]
        await asyncio.sleep(0)  # every task is now waiting for the burst's commit
        tasks[0].cancel()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        assert isinstance(outcomes[0], asyncio.CancelledError)
        assert outcomes[1:] == [None, None]
        assert all(scope.get_ruc(ruc) is not None for ruc in rucs)  # the commit still ran


# -- bursts: one statement writes a burst, one reads a run (diskcache's own layout) --------


def _bursts(cache: ResultCache, by_key: bool) -> ResultCache:
    """``cache`` reading and writing in bursts, or key by key as for a foreign layout."""
    if by_key:
        cache._bulk = False
    return cache


@pytest.mark.parametrize("by_key", [False, True], ids=["in-bulk", "key-by-key"])
async def test_a_burst_written_is_what_diskcache_reads_and_counts(
    tmp_path: Path, by_key: bool
) -> None:
    rucs = make_rucs(30)
    with _bursts(ResultCache(tmp_path / "c"), by_key) as cache:
        assert cache._bulk is not by_key
        scope = cache.scope("s")
        await asyncio.gather(*(scope.keep_ruc(valid(ruc)) for ruc in rucs))
        # Again, changed: the same entries are replaced, not added.
        again = [RucResult(ruc, Status.NOT_FOUND, "no existe") for ruc in rucs[:10]]
        await asyncio.gather(*(scope.keep_ruc(result) for result in again))
        assert cache.info().entries == 30
        store = cache._store
        assert store is not None
        assert len(store) == 30  # diskcache's own count (kept by its triggers)
        entry = store.get(f"v1|s|ruc|{rucs[20]}")
        assert entry[:3] == ("valido", "", {"nombre_o_razon_social": "X", "success": True})
        assert store.get(f"v1|s|ruc|{rucs[0]}")[:2] == ("no_existe", "no existe")
    with ResultCache(tmp_path / "c") as reopened:
        assert reopened.clear(rucs[1]) == 1  # the tag ``limpiar --ruc`` uses was written
        assert reopened.info().entries == 29


@pytest.mark.parametrize("by_key", [False, True], ids=["in-bulk", "key-by-key"])
def test_a_run_read_at_once_is_what_get_ruc_reads_one_by_one(tmp_path: Path, by_key: bool) -> None:
    clock = FakeClock()
    rucs = make_rucs(12)
    ttl = CacheTTL(valid=100, not_found=10)
    with _bursts(ResultCache(tmp_path / "c", ttl, clock=clock), by_key) as cache:
        scope = cache.scope("s")
        for ruc in rucs[:4]:
            scope.put_ruc(valid(ruc))
        for ruc in rucs[4:8]:
            scope.put_ruc(RucResult(ruc, Status.NOT_FOUND, "no existe"))
        cache.scope("other").put_ruc(valid(rucs[8]))  # another upstream's: not ours
        assert cache._store is not None
        cache._store.set(f"v1|s|ruc|{rucs[9]}", "no es una respuesta")  # unreadable entry
        found = scope.get_rucs(rucs)
        assert sorted(found) == sorted(rucs[:8])
        assert {ruc: (r.status, r.origin) for ruc, r in found.items()} == {
            ruc: (one.status, one.origin)
            for ruc in rucs[:8]
            if (one := scope.get_ruc(ruc)) is not None
        }
        clock.advance(50)  # past the not-found TTL, within the valid one
        assert sorted(scope.get_rucs(rucs)) == sorted(rucs[:4])
        assert scope.get_rucs([]) == {}
    with ResultCache(tmp_path / "c", read=False) as refreshing:
        assert refreshing.scope("s").get_rucs(rucs) == {}


async def test_a_burst_replaces_a_value_diskcache_kept_in_a_file(tmp_path: Path) -> None:
    """A large answer lives in a file of its own; a burst's write over it goes through
    ``set``, which removes the file, rather than leaving the file behind."""
    big = RucResult(RUC, Status.VALID, "", {"direccion": "x" * 40_000})
    with ResultCache(tmp_path / "c") as cache:
        scope = cache.scope("s")
        await scope.keep_ruc(big)
        files = list((tmp_path / "c").rglob("*.val"))
        assert len(files) == 1
        await asyncio.gather(scope.keep_ruc(valid()), scope.keep_ruc(valid("20131312955")))
        assert not files[0].exists()
        kept = scope.get_ruc(RUC)
        assert kept is not None
        assert kept.data == valid().data
        assert cache.info().entries == 2
        await scope.keep_ruc(big)  # and back into a file
        assert scope.get_rucs([RUC])[RUC].data == big.data
