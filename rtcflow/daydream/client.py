"""An async client for the Daydream REST API (streams of the ``streamdiffusion`` pipeline).

Requests and answers follow the vendored OpenAPI document (``openapi.yaml``): create
``POST /v1/streams``, list ``GET /v1/streams``, get ``GET /v1/streams/{id}``, update
``PATCH /v1/streams/{id}``, delete ``DELETE /v1/streams?id=`` (as the official TypeScript
SDK sends it), plus the documented ``GET /v1/streams/{id}/status``.

The API key comes from the argument or ``DAYDREAM_API_KEY`` and stays a
:class:`~pydantic.SecretStr` until the ``Authorization`` header is written for a request;
it is in no log line, repr or exception. Answers 429 and 5xx are retried per
:class:`RetryPolicy`, waiting as ``Retry-After`` says when it is given. A create is
retried on 5xx only when the server says it did not act (502, 503, 504): a second create
after a 500 could leave a billed stream running.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Generator, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from rtcflow.daydream.errors import (
    DaydreamAPIError,
    DaydreamConfigError,
    DaydreamConnectionError,
    DaydreamProtocolError,
    api_error,
)
from rtcflow.daydream.params import BaseStreamDiffusionParams
from rtcflow.daydream.streams import Stream, StreamStatus
from rtcflow.protocols.retry import RetryPolicy, parse_retry_after

logger = logging.getLogger(__name__)
ModelT = TypeVar("ModelT", bound=BaseModel)

API_KEY_ENV = "DAYDREAM_API_KEY"
API_URL_ENV = "DAYDREAM_API_URL"
DEFAULT_API_URL = "https://api.daydream.live"
PIPELINE = "streamdiffusion"

#: Four tries, 0.5 s doubling to 8 s, jittered down to half; a ``Retry-After`` over a
#: minute is not waited for.
DEFAULT_RETRY = RetryPolicy(
    max_attempts=4, initial_delay=0.5, max_delay=8.0, jitter=0.5, max_retry_after=60.0
)

_IDEMPOTENT = frozenset({"GET", "PATCH", "DELETE"})
# Errors after which the server did not act on the request, so even a create is retried.
_NOT_ACTED_STATUSES = frozenset({429, 502, 503, 504})
_NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class _BearerAuth(httpx.Auth):
    """Writes ``Authorization: Bearer <key>`` into each request as it is sent."""

    def __init__(self, key: SecretStr) -> None:
        self._key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._key.get_secret_value()}"
        yield request


class DaydreamClient:
    """Create, read, update and delete Daydream streams.

    Use as ``async with DaydreamClient() as client: ...`` or call :meth:`aclose`.
    """

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
        *,
        api_url: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        if not key or (isinstance(key, SecretStr) and not key.get_secret_value()):
            raise DaydreamConfigError(f"no Daydream API key: set {API_KEY_ENV}")
        url = (api_url or os.environ.get(API_URL_ENV) or DEFAULT_API_URL).rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise DaydreamConfigError(f"Daydream API URL must be http(s)://, not {url!r}")
        self.api_url = url
        self.retry = retry or DEFAULT_RETRY
        self._http = httpx.AsyncClient(
            base_url=url,
            auth=_BearerAuth(key if isinstance(key, SecretStr) else SecretStr(key)),
            timeout=timeout,
            headers={"Accept": "application/json"},
        )

    def __repr__(self) -> str:
        return f"DaydreamClient(api_url={self.api_url!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    # -- operations --------------------------------------------------------------------

    async def create_stream(
        self, params: BaseStreamDiffusionParams, *, name: str | None = None
    ) -> Stream:
        """Create a stream (``POST /v1/streams``); publish to its ``whip_url``."""
        body: dict[str, Any] = {"pipeline": PIPELINE, "params": params.to_api()}
        if name is not None:
            body["name"] = name
        answer = await self._request("POST", "/v1/streams", json=body, expect=(200, 201))
        return _parse(Stream, answer)

    async def get_stream(self, stream_id: str) -> Stream:
        """The stream object (``GET /v1/streams/{id}``)."""
        return _parse(Stream, await self._request("GET", _stream_path(stream_id)))

    async def update_stream(
        self, stream_id: str, params: BaseStreamDiffusionParams | Mapping[str, Any]
    ) -> Stream:
        """Change params (``PATCH /v1/streams/{id}``); the keys given replace the stored ones.

        Pass ``changed_params(old, new)`` to send only what changed; it must name
        ``model_id``, which the API requires in every PATCH.
        """
        values = params.to_api() if isinstance(params, BaseStreamDiffusionParams) else params
        if "model_id" not in values:
            raise ValueError("a Daydream PATCH must include model_id")
        body = {"pipeline": PIPELINE, "params": dict(values)}
        return _parse(Stream, await self._request("PATCH", _stream_path(stream_id), json=body))

    async def delete_stream(self, stream_id: str) -> None:
        """Delete the stream (``DELETE /v1/streams?id=``): streams are billed until then."""
        _check_id(stream_id)
        await self._request("DELETE", "/v1/streams", params={"id": stream_id}, expect=(200, 204))

    async def list_streams(self) -> list[Stream]:
        """Every stream of the key's owner (``GET /v1/streams``, OpenAPI ``getAllStreams``)."""
        answer = await self._request("GET", "/v1/streams")
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, list):
            raise DaydreamProtocolError("stream list answer has no 'data' array")
        return [_parse(Stream, item) for item in data]

    async def get_stream_status(self, stream_id: str) -> StreamStatus:
        """Inference and gateway status (``GET /v1/streams/{id}/status``), with the WHEP URL."""
        answer = await self._request("GET", f"{_stream_path(stream_id)}/status")
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, dict):
            raise DaydreamProtocolError("stream status answer has no 'data' object")
        return _parse(StreamStatus, data)

    # -- transport ---------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        expect: tuple[int, ...] = (200,),
    ) -> Any:
        """Send with retries; the decoded JSON answer (``None`` for an empty body)."""
        policy = self.retry
        attempt = 0
        while True:
            last = attempt + 1 >= policy.max_attempts
            try:
                response = await self._http.request(method, path, json=json, params=params)
            except httpx.TransportError as exc:
                may_retry = method in _IDEMPOTENT or isinstance(exc, _NOT_SENT_ERRORS)
                if last or not may_retry:
                    raise DaydreamConnectionError(
                        f"{method} {path}: {type(exc).__name__}: {exc}"
                    ) from None
                await self._wait(method, path, type(exc).__name__, policy.delay(attempt))
                attempt += 1
                continue
            request_id = response.headers.get("x-request-id")
            logger.debug(
                "%s %s -> %d (request id %s)", method, path, response.status_code, request_id
            )
            if response.status_code in expect:
                return _decode(response, method, path)
            error = _error(response, method, path)
            if last or not _retryable(method, response.status_code):
                raise error
            delay = policy.delay(attempt)
            if error.retry_after is not None:
                if (
                    policy.max_retry_after is not None
                    and error.retry_after > policy.max_retry_after
                ):
                    raise error
                delay = error.retry_after
            await self._wait(method, path, f"{error.status} {error.code}", delay)
            attempt += 1

    @staticmethod
    async def _wait(method: str, path: str, reason: str, delay: float) -> None:
        logger.warning("%s %s: %s; retrying in %.2f s", method, path, reason, delay)
        await asyncio.sleep(delay)


def _retryable(method: str, status: int) -> bool:
    if status in _NOT_ACTED_STATUSES:
        return True
    return status >= 500 and method in _IDEMPOTENT


def _check_id(stream_id: str) -> None:
    if not stream_id:
        raise ValueError("stream id must not be empty")


def _stream_path(stream_id: str) -> str:
    _check_id(stream_id)
    return f"/v1/streams/{quote(stream_id, safe='')}"


def _decode(response: httpx.Response, method: str, path: str) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise DaydreamProtocolError(
            f"{method} {path}: {response.status_code} answer is not JSON"
        ) from None


def _error(response: httpx.Response, method: str, path: str) -> DaydreamAPIError:
    try:
        envelope = response.json()
    except ValueError:
        envelope = None
    return api_error(
        response.status_code,
        envelope,
        method=method,
        path=path,
        retry_after=parse_retry_after(response.headers.get("retry-after")),
    )


def _parse(model: type[ModelT], answer: Any) -> ModelT:
    """Validate an answer; errors name fields only, never values (a stream key is one)."""
    try:
        return model.model_validate(answer)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(answer)'}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        raise DaydreamProtocolError(f"unexpected {model.__name__} answer: {problems}") from None
