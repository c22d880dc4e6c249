"""Exceptions raised by the trickle client (the server answers with HTTP statuses)."""

from __future__ import annotations


class TrickleError(Exception):
    """Base class of every trickle client error."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(f"{message} ({url})")
        self.url = url


class ChannelNotFoundError(TrickleError):
    """The server answered 404: the channel does not exist or was deleted."""


class TrickleStatusError(TrickleError):
    """The server answered a request with an unexpected HTTP status."""

    def __init__(self, method: str, url: str, status: int, body: str) -> None:
        super().__init__(f"{method} answered {status}: {body.strip()[:200]!r}", url=url)
        self.status = status
        self.body = body


class TrickleConnectionError(TrickleError):
    """The server stayed unreachable (or kept failing) for the whole retry budget.

    The last transport error or status error is chained as ``__cause__``.
    """
