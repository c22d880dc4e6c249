"""Failures the emulator answers on demand, so clients' error paths run for real.

A :class:`Fault` makes the next ``times`` matching API requests fail with ``status``
(in the API's error envelope, with ``Retry-After`` when given) instead of being served.
Add them in-process with ``DaydreamEmulator.inject`` or over HTTP with
``POST /_emulator/faults`` (the same JSON fields); ``DELETE /_emulator/faults`` clears.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class Fault(BaseModel):
    """Answer ``status`` to the next ``times`` requests that match ``method`` and ``path``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: Annotated[int, Field(ge=400, le=599)]
    times: Annotated[int, Field(ge=1)] = 1
    retry_after: Annotated[int, Field(ge=0)] | None = Field(
        None, description="Seconds for the Retry-After header."
    )
    method: Literal["GET", "POST", "PATCH", "DELETE"] | None = Field(
        None, description="Only requests with this method; any when unset."
    )
    path: str | None = Field(
        None, description="Only requests to this exact path (/v1/streams); any when unset."
    )
    message: str = "fault injected by the emulator"


@dataclass(slots=True)
class _Pending:
    fault: Fault
    left: int


class FaultQueue:
    """Pending faults, used first-in first-out among those that match a request."""

    def __init__(self) -> None:
        self._pending: list[_Pending] = []

    def add(self, fault: Fault) -> None:
        self._pending.append(_Pending(fault, fault.times))

    def clear(self) -> None:
        self._pending.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The fault to answer this request with, counting it used; ``None`` to serve it."""
        for entry in self._pending:
            fault = entry.fault
            if fault.method not in (None, method) or fault.path not in (None, path):
                continue
            entry.left -= 1
            if entry.left == 0:
                self._pending.remove(entry)
            return fault
        return None
