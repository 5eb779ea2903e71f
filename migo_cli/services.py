"""``LookupSummary``: what ``MigoClient.lookup_batch`` returns.

The shape of the original validation service, ``{"validos", "invalidos",
"errores", "duration_ms"}``, each record being ``RucResult.to_row()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from migo_cli.exceptions import FatalAPIError
from migo_cli.models import RucResult, Status

__all__ = ["LookupSummary"]

_INVALID = (Status.NOT_FOUND, Status.INVALID)


@dataclass(slots=True)
class LookupSummary:
    """The outcome of ``MigoClient.lookup_batch``: one result per distinct value, in input order.

    ``fatal`` is set when a rejected token or exhausted credits stopped the
    batch: the values it left unanswered are in ``errors`` with a ``motivo``
    saying so (``to_dict()`` adds ``detenido_por``). Check it, or ``complete``.
    """

    results: list[RucResult]
    duration_ms: int
    fatal: FatalAPIError | None = None

    @property
    def valid(self) -> list[RucResult]:
        return [r for r in self.results if r.status is Status.VALID]

    @property
    def invalid(self) -> list[RucResult]:
        """``no_existe`` and ``formato_invalido``: answers, with their ``reason``."""
        return [r for r in self.results if r.status in _INVALID]

    @property
    def errors(self) -> list[RucResult]:
        return [r for r in self.results if r.status is Status.ERROR]

    @property
    def complete(self) -> bool:
        """Every value got an answer: no errors, not stopped."""
        return self.fatal is None and not self.errors

    def to_dict(self) -> dict[str, Any]:
        """``{"validos": [...], "invalidos": [...], "errores": [...], "duration_ms": int}``.

        Records are ``RucResult.to_row()``: ``ruc``, ``estado_consulta``,
        ``motivo``, ``apto_facturacion``, ``origen``, ``consultado_en`` and, for
        valid ones, APIMIGO's fields. JSON-ready.
        """
        document: dict[str, Any] = {
            "validos": [r.to_row() for r in self.valid],
            "invalidos": [r.to_row() for r in self.invalid],
            "errores": [r.to_row() for r in self.errors],
            "duration_ms": self.duration_ms,
        }
        if self.fatal is not None:
            document["detenido_por"] = str(self.fatal)
        return document
