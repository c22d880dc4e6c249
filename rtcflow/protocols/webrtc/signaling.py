"""The HTTP side of a WHIP/WHEP session, over httpx.

- ``Authorization: Bearer <token>`` on every request (RFC 9725 section 4.5), kept
  across redirects: the server that redirects is the one the token was issued for.
- ``307``/``308`` are followed with method and body (RFC 9725 section 4.1 allows only
  those); other redirects are protocol violations. Relative ``Location`` values
  resolve against the URL that answered.
- ``Retry-After`` (RFC 9110 section 10.2.3) in seconds or as an HTTP date.
- Answers that are not accepted become :mod:`~rtcflow.protocols.webrtc.errors`
  exceptions carrying the request, the status and the body text.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection

import httpx

from rtcflow.protocols.retry import Backoff, parse_retry_after
from rtcflow.protocols.webrtc.errors import (
    ProtocolViolation,
    ServerUnavailable,
    SessionRejected,
    Unauthorized,
)

__all__ = ["Signaling", "parse_retry_after", "raise_for_status"]

MAX_REDIRECTS = 5


class Signaling:
    """Sends a session's HTTP requests and turns failures into clear exceptions.

    Pass ``http`` to share a client (its redirect setting is ignored: redirects are
    followed here); otherwise one is created and closed by :meth:`aclose`.
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        timeout: float = 10.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.token = token
        self.timeout = timeout
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def request(
        self,
        method: str,
        url: str,
        *,
        body: str | None = None,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request, following 307/308; any status comes back as a response."""
        sent = dict(headers or {})
        if self.token is not None:
            sent["Authorization"] = f"Bearer {self.token}"
        if content_type is not None:
            sent["Content-Type"] = content_type
        target = httpx.URL(url)
        for _ in range(MAX_REDIRECTS + 1):
            try:
                response = await self._http.request(
                    method,
                    target,
                    content=body,
                    headers=sent,
                    follow_redirects=False,
                    timeout=self.timeout,
                )
            except httpx.HTTPError as exc:
                raise ServerUnavailable(
                    f"no answer from the server: {exc!r}", method=method, url=str(target)
                ) from exc
            if response.status_code in (307, 308) and "location" in response.headers:
                target = response.url.join(response.headers["location"])
                continue
            if 300 <= response.status_code < 400:
                raise ProtocolViolation(
                    f"unexpected redirect {response.status_code}; WHIP/WHEP servers redirect"
                    " with 307 only",
                    method=method,
                    url=str(target),
                    status=response.status_code,
                )
            return response
        raise ProtocolViolation(f"more than {MAX_REDIRECTS} redirects", method=method, url=str(url))

    async def request_until_available(
        self,
        method: str,
        url: str,
        *,
        retry_statuses: Collection[int],
        deadline: float,
        body: str | None = None,
        content_type: str | None = None,
    ) -> httpx.Response:
        """Like :meth:`request`, retrying ``retry_statuses`` until ``deadline`` seconds.

        Waits grow exponentially and are never shorter than the server's
        ``Retry-After``; when the next wait would pass the deadline this raises
        :class:`ServerUnavailable` with the last answer.
        """
        backoff = Backoff(initial=0.25, maximum=5.0)
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + deadline
        while True:
            response = await self.request(method, url, body=body, content_type=content_type)
            if response.status_code not in retry_statuses:
                return response
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            delay = backoff.delay(retry_after)
            if loop.time() + delay > give_up_at:
                raise ServerUnavailable(
                    f"server still answered {response.status_code} after {deadline:g} s of retries",
                    method=method,
                    url=str(response.url),
                    status=response.status_code,
                    body=response.text,
                    retry_after=retry_after,
                )
            await asyncio.sleep(delay)


def raise_for_status(response: httpx.Response, expected: Collection[int]) -> None:
    """Raise the exception matching an answer whose status is not in ``expected``."""
    status = response.status_code
    if status in expected:
        return
    request = response.request
    details = {
        "method": request.method,
        "url": str(request.url),
        "status": status,
        "body": response.text,
    }
    if status in (401, 403):
        raise Unauthorized("the server refused the credentials", **details)
    if 400 <= status < 500:
        raise SessionRejected("the server rejected the request", **details)
    if status >= 500:
        raise ServerUnavailable(
            "the server failed",
            retry_after=parse_retry_after(response.headers.get("retry-after")),
            **details,
        )
    raise ProtocolViolation(
        f"unexpected status; expected {' or '.join(map(str, sorted(expected)))}", **details
    )
