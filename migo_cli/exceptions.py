"""Every error migo raises, under one base class.

    MigoError
    ├── UsageError                  nothing was spent; the caller must change something (exit 2)
    │   ├── ConfigError             the config file cannot be read, or names an unknown --api
    │   ├── MissingTokenError       no token in --token, MIGO_TOKEN or the config file
    │   ├── InsecureBaseURLError    the token would travel in clear to another machine
    │   ├── InvalidValueError       a DNI, date or option value that cannot be right
    │   ├── InputError              unreadable, empty or RUC-less input file
    │   ├── PadronMissingError      --fuente padron|auto or buscar without a built padrón
    │   └── OutputError             the output cannot be written
    │       └── OutputLockedError   another run holds the output's lock
    ├── PadronError                 SUNAT's padrón could not be downloaded, read or
    │                               indexed (.source); the previous index stays in use
    └── APIError                    APIMIGO did not answer with data (.status, .endpoint, .ruc)
        ├── NotFoundError           404 with success: false, or 200 with it: an answer
        ├── RejectedValueError      422: APIMIGO refused the value itself (an answer, cached)
        ├── FatalAPIError           stops a whole batch at once, never retried (exit 3)
        │   ├── AuthenticationError 401, a redirect (to a login page), a token message
        │   ├── AccessDeniedError   403: plan, credits or permission
        │   ├── QuotaExceededError  402, or credits exhausted
        │   └── EndpointNotFoundError  404/405 that is not APIMIGO's answer: a wrong
        │                           --base-url or --api; also a UsageError (exit 2)
        └── TransientAPIError       worth retrying; after the last attempt a row is ``error``
            ├── ServerError         5xx
            ├── RateLimitedError    429 (.retry_after, seconds)
            ├── InvalidResponseError a body that is not JSON or lacks ``success``
            ├── NetworkError        connection refused, reset or dropped
            │   └── RequestTimeoutError  no answer within the timeout
            └── ServiceUnavailableError  RUC after RUC ends in error: a batch stops asking

``EndpointNotFoundError`` is the one class with two parents: it stops a batch like
every ``FatalAPIError`` (nothing more is sent, nothing is cached) and, like every
``UsageError``, it means the user must change something and nothing was spent.

Messages are Spanish because the CLI shows them as they are; none of them ever
contains the token.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "APIError",
    "AccessDeniedError",
    "AuthenticationError",
    "ConfigError",
    "EndpointNotFoundError",
    "FatalAPIError",
    "InputError",
    "InsecureBaseURLError",
    "InvalidResponseError",
    "InvalidValueError",
    "MigoError",
    "MissingTokenError",
    "NetworkError",
    "NotFoundError",
    "OutputError",
    "OutputLockedError",
    "PadronError",
    "PadronMissingError",
    "QuotaExceededError",
    "RateLimitedError",
    "RejectedValueError",
    "RequestTimeoutError",
    "ServerError",
    "ServiceUnavailableError",
    "TransientAPIError",
    "UsageError",
]


class MigoError(Exception):
    """Base of every error migo raises on purpose."""


class UsageError(MigoError):
    """The request cannot be carried out as asked; nothing was spent."""


class ConfigError(UsageError):
    pass


class MissingTokenError(UsageError):
    def __init__(self, config_path: Path) -> None:
        self.config_path = config_path
        super().__init__(
            "falta el token de APIMIGO: use --token, la variable de entorno MIGO_TOKEN "
            f'o escriba token = "..." en {config_path} (o pruebe sin token con --simulado)'
        )


class InsecureBaseURLError(UsageError):
    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(
            f"URL base no segura: {url!r}; el token solo se envía por https:// "
            "o por http:// a una dirección local (127.0.0.1, localhost)"
        )


class InvalidValueError(UsageError):
    pass


class InputError(UsageError):
    """The input file cannot give a list of RUCs."""

    def __init__(self, message: str, path: str | None = None) -> None:
        self.path = path
        super().__init__(message)


class OutputError(UsageError):
    def __init__(self, message: str, path: str | None = None) -> None:
        self.path = path
        super().__init__(message)


class OutputLockedError(OutputError):
    pass


class PadronMissingError(UsageError):
    """No padrón index in the data directory; the message says how to build one."""


class PadronError(MigoError):
    """The padrón could not be downloaded, read or indexed; ``source`` is the URL or file."""

    def __init__(self, message: str, *, source: str | None = None) -> None:
        super().__init__(message)
        self.source = source


class APIError(MigoError):
    """APIMIGO did not give data for a request."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        endpoint: str | None = None,
        ruc: str | None = None,
    ) -> None:
        self.status = status
        self.endpoint = endpoint
        self.ruc = ruc
        super().__init__(message)


class NotFoundError(APIError):
    """The value is well-formed but SUNAT / RENIEC do not know it."""


class RejectedValueError(APIError):
    """APIMIGO's validation refused the value (422); the message is APIMIGO's own."""


class FatalAPIError(APIError):
    """Further requests would fail the same way (or cost money for nothing)."""


class AuthenticationError(FatalAPIError):
    pass


class AccessDeniedError(FatalAPIError):
    pass


class QuotaExceededError(FatalAPIError):
    pass


class EndpointNotFoundError(FatalAPIError, UsageError):
    """The URL asked does not exist upstream: every other request would fail the same way."""


class TransientAPIError(APIError):
    """A failure that another attempt may not meet."""


class ServerError(TransientAPIError):
    pass


class RateLimitedError(TransientAPIError):
    def __init__(
        self,
        message: str,
        *,
        retry_after: float,
        status: int | None = 429,
        endpoint: str | None = None,
        ruc: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, status=status, endpoint=endpoint, ruc=ruc)


class InvalidResponseError(TransientAPIError):
    pass


class NetworkError(TransientAPIError):
    pass


class RequestTimeoutError(NetworkError):
    pass


class ServiceUnavailableError(TransientAPIError):
    """APIMIGO is down, not one RUC: asking the rest would only burn hours on retries."""
