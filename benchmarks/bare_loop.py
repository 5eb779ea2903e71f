"""The bare aiohttp loop migo's throughput is compared with, importable and runnable alone.

``concurrency`` workers pull RUCs from one shared iterator, POST, read, parse
the JSON: nothing else. Imports only asyncio and aiohttp, so that run as its
own process (figure 10) its start-up is the least any aiohttp client pays:

    python -m benchmarks.bare_loop BASE_URL TOKEN RUCS.txt CONCURRENCY TOTAL CONNECT USER_AGENT

exits 0 once every RUC (one a line in ``RUCS.txt``) got an answer.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence

import aiohttp

# Written out: this yardstick runs without importing migo (its start-up is what it measures).
RUC_URL = "/api/v1/ruc"


def session(
    concurrency: int, *, total: float, connect: float, user_agent: str
) -> aiohttp.ClientSession:
    """The session ``MigoClient`` builds, given its timeouts and User-Agent."""
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=total, connect=connect),
        connector=aiohttp.TCPConnector(limit=concurrency, ttl_dns_cache=300),
        headers={"User-Agent": user_agent},
    )


async def answer_all(
    client: aiohttp.ClientSession, base_url: str, token: str, rucs: Sequence[str], workers: int
) -> int:
    """Ask for every RUC with ``workers`` workers; returns how many got an answer."""
    url = base_url + RUC_URL
    pending = iter(rucs)
    answered = 0

    async def worker() -> None:
        nonlocal answered
        for ruc in pending:  # one shared iterator: each RUC goes to exactly one worker
            async with client.post(url, json={"ruc": ruc, "token": token}) as response:
                body = await response.read()
                if response.status in (200, 404):
                    json.loads(body)
                    answered += 1

    await asyncio.gather(*(worker() for _ in range(workers)))
    return answered


async def _run(argv: Sequence[str], rucs: Sequence[str]) -> int:
    base_url, token, _, concurrency, total, connect, user_agent = argv
    workers = int(concurrency)
    async with session(
        workers, total=float(total), connect=float(connect), user_agent=user_agent
    ) as client:
        return await answer_all(client, base_url, token, rucs, workers)


def main(argv: Sequence[str]) -> int:
    with open(argv[2], encoding="utf-8") as fh:
        rucs = [line.strip() for line in fh if line.strip()]
    answered = asyncio.run(_run(argv, rucs))
    if answered != len(rucs):
        print(f"bare loop: {answered} answers for {len(rucs)} RUCs", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
