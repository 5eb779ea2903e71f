"""``migo_cli.config``'s value objects: ``Timeout``, ``Limits``, ``Retry``, ``CacheTTL``.

Read them from ``migo_cli.config`` (or ``migo_cli``): this module is imported the
first time one of them is used, so that commands that send no request (``migo
consultar --fuente padron``) do not pay for creating them.
"""

from __future__ import annotations

from dataclasses import dataclass

from migo_cli.config import DEFAULT_CONCURRENCY, DEFAULT_RETRIES, DEFAULT_TIMEOUT_S

__all__ = ["CacheTTL", "Limits", "Retry", "Timeout"]


@dataclass(frozen=True, slots=True)
class Timeout:
    """Seconds allowed for one HTTP request (connect is a part of total)."""

    total: float = DEFAULT_TIMEOUT_S
    connect: float = 10.0


@dataclass(frozen=True, slots=True)
class Limits:
    """How hard migo pushes the API.

    ``rpm`` caps requests per minute (``None``: no cap beyond ``concurrency``);
    requests are spaced evenly so the cap holds over any one-minute window.
    """

    concurrency: int = DEFAULT_CONCURRENCY
    rpm: float | None = None

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.rpm is not None and self.rpm <= 0:
            raise ValueError("rpm must be positive")


@dataclass(frozen=True, slots=True)
class Retry:
    """Retries for transient failures (5xx, timeouts, resets, unreadable bodies).

    ``retries`` counts attempts after the first. 429 answers draw from their own
    budget (``rate_limit_waits``) so a rate-limit storm cannot fail a RUC by itself
    before that bound, and their wait comes from ``Retry-After``, not the backoff.
    """

    retries: int = DEFAULT_RETRIES
    #: A batch stops asking after this many RUCs in a row end in ``error`` with no
    #: answer between them: the API is down, and each further RUC would only spend
    #: its retries. Rows left are ``error``; a rerun asks for them.
    give_up_after: int = 50
    wait_initial: float = 0.5
    wait_max: float = 20.0
    wait_jitter: float = 1.0
    rate_limit_waits: int = 8
    default_retry_after: float = 5.0
    max_retry_after: float = 300.0

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError("retries cannot be negative")


@dataclass(frozen=True, slots=True)
class CacheTTL:
    """How long answers stay valid in the disk cache, in seconds."""

    valid: float = 24 * 3600.0
    not_found: float = 24 * 3600.0
    exchange_today: float = 3 * 3600.0
    # Past exchange rates never change; a year keeps the cache from growing forever.
    exchange_past: float = 365 * 24 * 3600.0
    dni: float = 30 * 24 * 3600.0
    representatives: float = 24 * 3600.0
