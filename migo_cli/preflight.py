"""``/account`` by the standard library from a thread: a batch's head start on the token.

A client's first paid request goes alone, so that a wrong token or an empty account
costs one call; the other workers wait for its answer: one round trip at the start
of every batch. The credit check's ``/account`` is free and says as much about the
token. A batch asks it once the input is read, when the client has not imported
aiohttp yet (a command imports it with its first request, 0.1-0.2 s); sent from a
thread with ``http.client``, its round trip overlaps that import, and by the time
the lookups go its verdict is usually in: an accepted token lets every worker start
at once, a rejected one stops the client before any lookup
(``MigoClient.remaining_credits``).

Only the transport is here; what the answer means is decided by the client, as for
every other answer. The future fails with the exception when nothing came back (no
network, a timeout, a TLS error): the client then falls back to the lone first
request. No proxy is used, as the client's aiohttp session uses none.
"""

from __future__ import annotations

import http.client
import json
import threading
from concurrent.futures import Future
from urllib.parse import urlencode, urlsplit

from migo_cli.dialects import Dialect, Operation, Reply

__all__ = ["ask_account"]


def ask_account(token: str, base_url: str, dialect: Dialect, *, timeout: float) -> Future[Reply]:
    """Send ``/account`` now, from a daemon thread; the future holds what came back.

    ``timeout`` bounds each socket operation. The thread never outlives a process
    that exits, and nothing it does needs cleaning up.
    """
    answer: Future[Reply] = Future()
    answer.set_running_or_notify_cancel()  # running from now on: it can no longer be cancelled

    def run() -> None:
        try:
            answer.set_result(_exchange(token, base_url, dialect, timeout))
        except BaseException as exc:  # handed to the client, which logs it
            answer.set_exception(exc)

    threading.Thread(target=run, name="migo-cuenta", daemon=True).start()
    return answer


def _exchange(token: str, base_url: str, dialect: Dialect, timeout: float) -> Reply:
    from migo_cli._version import __version__

    route = dialect.route(Operation.ACCOUNT)
    if route is None:  # pragma: no cover - both dialects have it (v2 through v1)
        raise LookupError("ningún dialecto ofrece /account")
    call = route.request(token, {})
    url = base_url + call.path
    parts = urlsplit(url)
    target = parts.path + (f"?{urlencode(call.params)}" if call.params else "")
    headers = {**call.headers, "User-Agent": f"migo/{__version__}"}
    body = None
    if call.json is not None:
        body = json.dumps(call.json).encode()
        headers["Content-Type"] = "application/json"
    host = parts.hostname or ""
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        import ssl

        context = ssl.create_default_context()
        connection = http.client.HTTPSConnection(host, parts.port, timeout=timeout, context=context)
    else:
        connection = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    try:
        connection.request(call.method, target, body=body, headers=headers)
        response = connection.getresponse()  # a redirect is answered, never followed
        return Reply(
            response.status,
            response.read(),
            response.getheader("Retry-After"),
            response.getheader("Location"),
            url,
        )
    finally:
        connection.close()
