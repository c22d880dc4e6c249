"""The exceptions of the Daydream client.

Daydream answers every failure with one JSON envelope (the OpenAPI document's 4xx/5xx
responses)::

    {"success": false, "error": "<message>", "code": "STREAMS/NOT_FOUND", "status": 404,
     "details"?: ..., "requestId": "...", "traceId": "..."}

which becomes a :class:`DaydreamAPIError` subclass chosen by the HTTP status. No exception
text ever carries the API key: messages are built from the method, the URL path and the
envelope only.
"""

from __future__ import annotations

from typing import Any


class DaydreamError(Exception):
    """Base of every error raised by :mod:`rtcflow.daydream`."""


class DaydreamConfigError(DaydreamError):
    """The client cannot be set up (no API key, unusable API URL)."""


class DaydreamConnectionError(DaydreamError):
    """The request did not get an HTTP answer (refused, reset, timed out), retries spent."""


class DaydreamProtocolError(DaydreamError):
    """An answer that does not follow the API contract (not JSON, missing fields)."""


class DaydreamStepError(DaydreamError):
    """The ``daydream`` step cannot run or cannot take an edit; the message says why."""


class ColdChangeRejected(DaydreamStepError):
    """An edit changes params a running stream cannot take live (``on_cold_change: reject``).

    ``params`` names the changes (as :func:`~rtcflow.daydream.changes.cold_changes` does).
    """

    def __init__(self, message: str, params: list[str]) -> None:
        super().__init__(message)
        self.params = params


class DaydreamAPIError(DaydreamError):
    """The API answered with an error status.

    ``code`` is the stable machine-readable code (``STREAMS/NOT_FOUND``), ``message`` the
    user-facing text, ``request_id``/``trace_id`` the identifiers to quote to Daydream,
    ``retry_after`` the seconds the answer's ``Retry-After`` asked for (429, 503), if any.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str,
        method: str,
        path: str,
        request_id: str | None = None,
        trace_id: str | None = None,
        details: Any = None,
        retry_after: float | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.code = code
        self.method = method
        self.path = path
        self.request_id = request_id
        self.trace_id = trace_id
        self.details = details
        self.retry_after = retry_after
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.method} {self.path}: {self.status} {self.code}: {self.message}"
        if self.request_id:
            text += f" (request id {self.request_id})"
        return text


class DaydreamBadRequest(DaydreamAPIError):
    """400/422: the request (usually its params) was rejected; ``details`` says why."""


class DaydreamAuthError(DaydreamAPIError):
    """401/403: the API key is missing, wrong or not allowed. Never retried."""


class DaydreamNotFound(DaydreamAPIError):
    """404: no such stream (deleted, or owned by another key)."""


class DaydreamConflict(DaydreamAPIError):
    """409: the stream is in a state that does not allow the request."""


class DaydreamRateLimited(DaydreamAPIError):
    """429: too many requests; ``retry_after`` is the server's wait in seconds, if given."""


class DaydreamServerError(DaydreamAPIError):
    """5xx: a failure on Daydream's side."""


_BY_STATUS: dict[int, type[DaydreamAPIError]] = {
    400: DaydreamBadRequest,
    401: DaydreamAuthError,
    403: DaydreamAuthError,
    404: DaydreamNotFound,
    409: DaydreamConflict,
    422: DaydreamBadRequest,
    429: DaydreamRateLimited,
}


def api_error(
    status: int,
    envelope: Any,
    *,
    method: str,
    path: str,
    retry_after: float | None = None,
) -> DaydreamAPIError:
    """The exception for an error answer; ``envelope`` is its decoded body (any shape)."""
    body = envelope if isinstance(envelope, dict) else {}
    message = body.get("error")
    code = body.get("code")
    fields: dict[str, Any] = {
        "status": status,
        "code": code if isinstance(code, str) else f"HTTP/{status}",
        "method": method,
        "path": path,
        "request_id": body.get("requestId"),
        "trace_id": body.get("traceId"),
        "details": body.get("details"),
        "retry_after": retry_after,
    }
    text = message if isinstance(message, str) and message else f"HTTP {status}"
    cls = _BY_STATUS.get(status, DaydreamServerError if status >= 500 else DaydreamAPIError)
    return cls(text, **fields)
