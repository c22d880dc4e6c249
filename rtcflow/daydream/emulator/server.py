"""An offline Daydream API on aiohttp: same paths, statuses, envelope and stream fields.

Requests are checked as the service checks them: a Bearer key on every ``/v1`` request
(401), the body against the OpenAPI request schema and then the params against the
worker's rules (400 with ``details``), unknown ids (404). Answers follow the OpenAPI
response schemas. ``whip_url`` and ``gateway_status.whep_url`` point back at the emulator,
where its :class:`~rtcflow.daydream.emulator.media.MediaBackend` serves them.

Tests reach in through :attr:`DaydreamEmulator.streams` (the state),
:attr:`DaydreamEmulator.requests` (every ``/v1`` request as received) and
:meth:`DaydreamEmulator.inject` (faults on demand).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from aiohttp import web
from pydantic import SecretStr, ValidationError

from rtcflow.daydream.changes import cold_changes
from rtcflow.daydream.emulator.faults import Fault, FaultQueue
from rtcflow.daydream.emulator.media import WHEP_ROUTE, WHIP_ROUTE, EffectOnlyMedia, MediaBackend
from rtcflow.daydream.emulator.webrtc_media import WebRTCMedia
from rtcflow.daydream.openapi import json_path, request_violations
from rtcflow.daydream.params import (
    MODEL_IDS,
    BaseStreamDiffusionParams,
    merge_params,
    parse_params,
)

logger = logging.getLogger(__name__)

PIPELINE = "streamdiffusion"
ADMIN_PREFIX = "/_emulator/"
_API_PREFIX = "/v1/"

_CODES = {
    400: "VALIDATION/INVALID_REQUEST",
    401: "AUTH/UNAUTHORIZED",
    403: "AUTH/FORBIDDEN",
    404: "STREAMS/NOT_FOUND",
    405: "REQUEST/METHOD_NOT_ALLOWED",
    409: "STREAMS/CONFLICT",
    429: "RATE_LIMIT/TOO_MANY_REQUESTS",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _ErrorAnswer(Exception):
    """Answer the request with the API's error envelope."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _CODES.get(status, "INTERNAL/ERROR")
        self.details = details
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A ``/v1`` request as the emulator received it (the Authorization header left out).

    ``received`` is :func:`time.monotonic` on arrival.
    """

    method: str
    path: str
    query: dict[str, str]
    body: Any
    received: float


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


@dataclass(slots=True)
class EmulatedStream:
    """One stream's state."""

    id: str
    params: BaseStreamDiffusionParams
    name: str
    stream_key: str = field(default_factory=lambda: "stk_" + secrets.token_urlsafe(18))
    playback_id: str = field(default_factory=lambda: secrets.token_hex(8))
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    start_ms: int = field(default_factory=_now_ms)
    last_params_update_ms: int = field(default_factory=_now_ms)
    restart_count: int = 0
    last_restart_ms: int | None = None

    def to_api(self, origin: str, host: str) -> dict[str, Any]:
        """The stream object (OpenAPI ``createStream`` 201 and friends)."""
        return {
            "pipeline": PIPELINE,
            "params": self.params.to_api(),
            "id": self.id,
            "stream_key": self.stream_key,
            "output_stream_url": "",
            "created_at": self.created_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "output_playback_id": self.playback_id,
            "name": self.name,
            "author": "emulator",
            "from_playground": False,
            "gateway_host": host,
            "is_smoke_test": False,
            "whip_url": origin + WHIP_ROUTE.format(stream_id=self.id),
        }

    def status(self, origin: str) -> dict[str, Any]:
        """``GET /v1/streams/{id}/status`` ``data``, with the documented field names."""
        params = self.params.to_api()
        params_hash = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
        return {
            "stream_id": self.id,
            "pipeline": PIPELINE,
            "inference_status": {
                "pipeline": PIPELINE,
                "stream_id": self.id,
                "start_time": self.start_ms,
                "last_params_update_time": self.last_params_update_ms,
                "last_params": params,
                "last_params_hash": params_hash,
                "restart_count": self.restart_count,
                "last_restart_time": self.last_restart_ms,
                "last_error": None,
            },
            "gateway_status": {"whep_url": origin + WHEP_ROUTE.format(stream_id=self.id)},
        }


class DaydreamEmulator:
    """The emulator as an aiohttp application; :meth:`start` serves it on a port.

    ``api_key`` unset accepts any non-empty Bearer key; set, only that one.
    """

    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        media: MediaBackend | None = None,
    ) -> None:
        self._api_key = SecretStr(api_key) if isinstance(api_key, str) else api_key
        self.media: MediaBackend = media if media is not None else EffectOnlyMedia()
        self.streams: dict[str, EmulatedStream] = {}
        self.requests: list[RecordedRequest] = []
        self.faults = FaultQueue()
        self.url: str | None = None
        self._runner: web.AppRunner | None = None
        self.app = self._build_app()

    def inject(self, fault: Fault) -> None:
        """Fail upcoming requests as ``fault`` says."""
        self.faults.add(fault)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0: a free port); returns the base URL."""
        runner = web.AppRunner(self.app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        if ":" in bound_host:  # IPv6 literal (RFC 3986 section 3.2.2)
            bound_host = f"[{bound_host}]"
        self.url = f"http://{bound_host}:{bound_port}"
        return self.url

    async def close(self) -> None:
        """Stop serving and end every stream's media session."""
        for stream_id in list(self.streams):
            await self.media.close_session(stream_id)
        self.streams.clear()
        await self.media.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- application -------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(
            middlewares=[self._envelope_errors, self._record, self._inject_faults, self._auth]
        )
        app.router.add_post("/v1/streams", self._create)
        app.router.add_get("/v1/streams", self._list)
        app.router.add_delete("/v1/streams", self._delete)
        app.router.add_get("/v1/streams/{id}", self._get)
        app.router.add_patch("/v1/streams/{id}", self._update)
        app.router.add_delete("/v1/streams/{id}", self._delete)
        app.router.add_get("/v1/streams/{id}/status", self._status)
        app.router.add_post(ADMIN_PREFIX + "faults", self._add_fault)
        app.router.add_delete(ADMIN_PREFIX + "faults", self._clear_faults)
        self.media.mount(app)
        return app

    @web.middleware
    async def _envelope_errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith((_API_PREFIX, ADMIN_PREFIX)):
            return await handler(request)
        request_id = uuid.uuid4().hex
        try:
            response = await handler(request)
        except _ErrorAnswer as answer:
            return _error_response(answer, request_id)
        except web.HTTPException as exc:  # unknown route or method
            if exc.status < 400:
                raise
            return _error_response(_ErrorAnswer(exc.status, exc.reason), request_id)
        except Exception:
            logger.exception("%s %s failed", request.method, request.path)
            answer = _ErrorAnswer(500, "internal error in the emulator")
            return _error_response(answer, request_id)
        response.headers["X-Request-Id"] = request_id
        return response

    @web.middleware
    async def _record(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(_API_PREFIX):
            raw = await request.read()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            self.requests.append(
                RecordedRequest(
                    request.method, request.path, dict(request.query), body, time.monotonic()
                )
            )
        return await handler(request)

    @web.middleware
    async def _inject_faults(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(_API_PREFIX):
            fault = self.faults.take(request.method, request.path)
            if fault is not None:
                raise _ErrorAnswer(fault.status, fault.message, retry_after=fault.retry_after)
        return await handler(request)

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(_API_PREFIX):
            scheme, _, key = request.headers.get("Authorization", "").partition(" ")
            key = key.strip()
            if scheme.lower() != "bearer" or not key:
                raise _ErrorAnswer(401, "missing 'Authorization: Bearer <API key>' header")
            expected = self._api_key
            if expected is not None and not secrets.compare_digest(
                key.encode(), expected.get_secret_value().encode()
            ):
                raise _ErrorAnswer(401, "invalid API key")
        return await handler(request)

    # -- streams -----------------------------------------------------------------------

    async def _create(self, request: web.Request) -> web.Response:
        body = await _json_body(request, "/v1/streams", "post")
        params = _validated(lambda: parse_params(body["params"]))
        stream = EmulatedStream(
            id="str_" + secrets.token_urlsafe(12), params=params, name=body.get("name", "")
        )
        await self.media.open_session(stream.id, params)
        self.streams[stream.id] = stream
        logger.info("created stream %s (%s)", stream.id, params.model_id)
        return web.json_response(stream.to_api(_origin(request), request.host), status=201)

    async def _list(self, request: web.Request) -> web.Response:
        origin, host = _origin(request), request.host
        data = [stream.to_api(origin, host) for stream in self.streams.values()]
        return web.json_response({"success": True, "data": data})

    async def _get(self, request: web.Request) -> web.Response:
        stream = self._stream(request.match_info["id"])
        return web.json_response(stream.to_api(_origin(request), request.host))

    async def _update(self, request: web.Request) -> web.Response:
        stream = self._stream(request.match_info["id"])
        body = await _json_body(request, "/v1/streams/{id}", "patch")
        params = _validated(lambda: merge_params(stream.params, body["params"]))
        reloads = cold_changes(stream.params, params)
        stream.params = params
        stream.last_params_update_ms = _now_ms()
        if reloads:
            stream.restart_count += 1
            stream.last_restart_ms = stream.last_params_update_ms
            logger.info("stream %s reloads for %s", stream.id, ", ".join(reloads))
        await self.media.update_params(stream.id, params)
        return web.json_response(stream.to_api(_origin(request), request.host))

    async def _delete(self, request: web.Request) -> web.Response:
        stream_id = request.match_info.get("id") or request.query.get("id")
        if not stream_id:
            raise _ErrorAnswer(400, "query parameter 'id' is required")
        stream = self._stream(stream_id)
        del self.streams[stream.id]
        await self.media.close_session(stream.id)
        logger.info("deleted stream %s", stream.id)
        return web.json_response({"success": True, "data": {}})

    async def _status(self, request: web.Request) -> web.Response:
        stream = self._stream(request.match_info["id"])
        data = stream.status(_origin(request))
        return web.json_response({"success": True, "error": None, "data": data})

    def _stream(self, stream_id: str) -> EmulatedStream:
        try:
            return self.streams[stream_id]
        except KeyError:
            raise _ErrorAnswer(404, f"stream {stream_id!r} not found") from None

    # -- faults ------------------------------------------------------------------------

    async def _add_fault(self, request: web.Request) -> web.Response:
        try:
            fault = Fault.model_validate_json(await request.read())
        except ValidationError as exc:
            raise _ErrorAnswer(400, "invalid fault", details=_pydantic_details(exc)) from None
        self.inject(fault)
        return web.json_response({"success": True, "data": fault.model_dump()}, status=201)

    async def _clear_faults(self, request: web.Request) -> web.Response:
        self.faults.clear()
        return web.json_response({"success": True, "data": {}})


async def run_emulator(
    host: str = "127.0.0.1",
    port: int = 8787,
    *,
    api_key: str | None = None,
    warmup: float = 0.0,
) -> None:
    """Serve the emulator with WebRTC media until cancelled (``rtcflow daydream-emulator``).

    ``warmup``: seconds from a stream's first input to its first output.
    """
    emulator = DaydreamEmulator(api_key=api_key, media=WebRTCMedia(warmup=warmup))
    url = await emulator.start(host, port)
    logger.info("Daydream emulator at %s (DAYDREAM_API_URL=%s)", url, url)
    try:
        await asyncio.Event().wait()
    finally:
        await emulator.close()


def _origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _error_response(answer: _ErrorAnswer, request_id: str) -> web.Response:
    body: dict[str, Any] = {
        "success": False,
        "error": answer.message,
        "code": answer.code,
        "status": answer.status,
        "requestId": request_id,
        "traceId": secrets.token_hex(16),
    }
    if answer.details is not None:
        body["details"] = answer.details
    headers = {"X-Request-Id": request_id}
    if answer.retry_after is not None:
        headers["Retry-After"] = str(answer.retry_after)
    return web.json_response(body, status=answer.status, headers=headers)


async def _json_body(request: web.Request, path: str, method: str) -> dict[str, Any]:
    """The JSON body, checked against the OpenAPI request schema of the operation."""
    try:
        body = json.loads(await request.read())
    except ValueError:
        raise _ErrorAnswer(400, "request body is not JSON") from None
    violations = request_violations(path, method, body)
    if violations:
        details = [{"path": v.path, "message": v.message} for v in violations]
        raise _ErrorAnswer(400, f"invalid request body: {violations[0]}", details=details)
    return body


def _validated(
    build: Callable[[], BaseStreamDiffusionParams],
) -> BaseStreamDiffusionParams:
    """Params from ``build``, or 400 with the worker's objections."""
    try:
        return build()
    except ValidationError as exc:
        details = _pydantic_details(exc, prefix="params")
        first = details[0]
        raise _ErrorAnswer(
            400, f"invalid params: {first['path']}: {first['message']}", details=details
        ) from None


def _pydantic_details(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    details = []
    for error in exc.errors(include_input=False, include_url=False):
        loc: list[Any] = list(error["loc"])
        if loc and loc[0] in MODEL_IDS:  # the union's tag, not a field
            loc = loc[1:]
        details.append(
            {"path": json_path([prefix, *loc] if prefix else loc), "message": error["msg"]}
        )
    return details
