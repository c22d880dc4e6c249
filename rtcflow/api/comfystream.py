"""The ComfyStream-compatible stream API: a Livepeer gateway starts and stops streams.

The routes, request fields and response bodies are those of ComfyStream's trickle server
(``server/trickle_api.py``, with pytrickle's ``StreamStartRequest``)::

    POST /stream/start              start a stream (also POST /live-video-to-video)
    POST /stream/{id}/stop          stop it
    GET  /stream/{id}/status        its status
    GET  /streams                   every stream: {"streams": {id: status}, "count": n}
    POST /stream/{id}/params        update its parameters, as a control message would

``/stream/start`` takes ``subscribe_url``, ``publish_url``, ``gateway_request_id`` (the
stream's id), optionally ``control_url``, ``events_url`` and ``params`` (``width``,
``height``, ``prompt``: a ComfyUI API workflow, as an object or JSON text; no workflow
means inversion). Other fields a gateway sends (``manifest_id``, ``stream_id``, ...) are
ignored, as ComfyStream ignores them.

Each stream is a flow declared to the reconciler, with the same status, counters and
events as a flow from a spec file: a ``trickle`` source (the subscribe URL and the side
channels) → one workflow step, ``comfystream`` → a ``trickle`` sink, ``out``. Its
workflow is compiled before anything starts. When the input channel ends the flow
completes and the stream is removed, as ComfyStream drops a finished stream. Errors:
a body that does not validate is answered 400 with the fields named, a duplicate id 409,
an unknown id 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from rtcflow.api.trickle_control import (
    ParamsRejected,
    StreamParams,
    TrickleChannels,
    field_errors,
)
from rtcflow.reconcile.reconciler import Reconciler
from rtcflow.runtime.flow import FlowPhase
from rtcflow.spec.base import NAME_PATTERN
from rtcflow.spec.models import Flow, HttpURL

__all__ = [
    "SINK_NAME",
    "STEP_NAME",
    "StreamAPI",
    "StreamStartRequest",
    "add_stream_routes",
    "stream_flow",
]

log = logging.getLogger(__name__)

STEP_NAME = "comfystream"
SINK_NAME = "out"


def _blank_is_none(value: Any) -> Any:
    """Gateways send ``""`` for a channel they do not use."""
    return None if value == "" else value


OptionalURL = Annotated[HttpURL | None, BeforeValidator(_blank_is_none)]


class StreamStartRequest(BaseModel):
    """The body of ``POST /stream/start`` (ComfyStream's and pytrickle's fields)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    subscribe_url: HttpURL
    publish_url: HttpURL
    control_url: OptionalURL = None
    events_url: OptionalURL = None
    data_url: str | None = Field(None, description="Accepted; rtcflow publishes no data channel.")
    gateway_request_id: str = Field(..., pattern=NAME_PATTERN, description="The stream's id.")
    params: StreamParams = Field(default_factory=StreamParams)


def stream_flow(start: StreamStartRequest) -> Flow:
    """The flow that runs a stream: trickle in → the workflow → trickle out."""
    params = start.params
    video = {name: getattr(params, name) for name in ("width", "height")}
    workflow = params.workflow
    return Flow.model_validate(
        {
            "apiVersion": "rtcflow/v1",
            "kind": "Flow",
            "metadata": {"name": start.gateway_request_id},
            "spec": {
                "video": {name: value for name, value in video.items() if value is not None},
                "source": {
                    "type": "trickle",
                    "url": start.subscribe_url,
                    "reconnect": False,
                    "control_url": start.control_url,
                    "events_url": start.events_url,
                },
                "steps": [
                    {"name": STEP_NAME, "workflow": {"inline": workflow} if workflow else {}}
                ],
                "sinks": [{"type": "trickle", "name": SINK_NAME, "url": start.publish_url}],
            },
        }
    )


def _error(status: int, message: str, **fields: Any) -> web.Response:
    return web.json_response({"status": "error", "message": message, **fields}, status=status)


def _invalid(errors: dict[str, str]) -> web.Response:
    """400 naming each field: ``{"error": "params.width: ...", "errors": {field: message}}``."""
    text = "; ".join(f"{field}: {message}" for field, message in errors.items())
    return web.json_response({"error": text, "errors": errors}, status=400)


async def _json_object(request: web.Request) -> dict[str, Any]:
    """The request's JSON body; raises a 400 answer when it is not a JSON object."""
    try:
        body = await request.json()
    except json.JSONDecodeError as exc:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"Invalid JSON: {exc}"}), content_type="application/json"
        ) from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"expected a JSON object, got {type(body).__name__}"}),
            content_type="application/json",
        )
    return body


class StreamAPI:
    """The ``/stream`` routes over one reconciler; ``streams`` are those started here."""

    def __init__(
        self, reconciler: Reconciler, channels: TrickleChannels, *, reap_interval: float = 0.5
    ) -> None:
        self.reconciler = reconciler
        self.channels = channels
        self.reap_interval = reap_interval
        self.streams: dict[str, StreamStartRequest] = {}
        self._declared: set[str] = set()  # started (not still being started)

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/stream/start", self.start)
        router.add_post("/live-video-to-video", self.start)
        router.add_post("/stream/{id}/stop", self.stop)
        router.add_get("/stream/{id}/status", self.status)
        router.add_post("/stream/{id}/params", self.update_params)
        router.add_get("/streams", self.list)

    async def start(self, request: web.Request) -> web.Response:
        """``POST /stream/start``: validate, compile the workflow, declare the flow."""
        body = await _json_object(request)
        try:
            start = StreamStartRequest.model_validate(body)
        except ValidationError as exc:
            return _invalid(field_errors(exc))
        name = start.gateway_request_id
        if name in self.streams or name in self.reconciler.desired:
            return _error(409, f"Stream {name} already exists")
        self.streams[name] = start  # reserved while it starts
        try:
            flow = stream_flow(start)
            try:
                await self.channels.live_params.check_workflow(flow)
            except ParamsRejected as exc:
                return _invalid({f"params.{field}": text for field, text in exc.errors.items()})
            try:
                await self.reconciler.declare(flow, f"POST /stream/start ({name})")
            except ValueError as exc:
                return _error(409, str(exc))
            if name not in self.reconciler.flows:
                error = self.reconciler.apply_errors.get(name, "the flow did not start")
                await self.reconciler.withdraw(name)
                return _error(500, f"Failed to start stream {name}: {error}")
        finally:
            if name in self.reconciler.declared:
                self._declared.add(name)
            else:
                self.streams.pop(name, None)
        await self.channels.sync()
        video = flow.spec.video
        return web.json_response(
            {
                "status": "success",
                "message": f"Stream {name} started successfully",
                "request_id": name,
                "config": {
                    "subscribe_url": start.subscribe_url,
                    "publish_url": start.publish_url,
                    "control_url": start.control_url,
                    "events_url": start.events_url,
                    "data_url": start.data_url,
                    "width": video.width,
                    "height": video.height,
                },
            }
        )

    async def stop(self, request: web.Request) -> web.Response:
        """``POST /stream/{id}/stop``: withdraw the stream's flow (it stops)."""
        name = request.match_info["id"]
        if name not in self._declared:
            return _error(404, f"Stream {name} not found")
        await self._remove(name)
        return web.json_response(
            {"status": "success", "message": f"Stream {name} stopped successfully"}
        )

    async def status(self, request: web.Request) -> web.Response:
        """``GET /stream/{id}/status``."""
        name = request.match_info["id"]
        if name not in self._declared:
            return web.json_response({"error": f"Stream {name} not found"}, status=404)
        return web.json_response(self._status(name))

    async def list(self, request: web.Request) -> web.Response:
        """``GET /streams``."""
        streams = {name: self._status(name) for name in sorted(self._declared)}
        return web.json_response({"streams": streams, "count": len(streams)})

    async def update_params(self, request: web.Request) -> web.Response:
        """``POST /stream/{id}/params``: the body is a params object, as on the control
        channel."""
        name = request.match_info["id"]
        if name not in self._declared:
            return _error(404, f"Stream {name} not found")
        body = await _json_object(request)
        try:
            await self.channels.live_params.update(name, body)
        except ParamsRejected as exc:
            return _invalid(exc.errors)
        return web.json_response(
            {
                "status": "success",
                "message": f"Parameters updated for stream {name}",
                "request_id": name,
            }
        )

    def _status(self, name: str) -> dict[str, Any]:
        start = self.streams[name]
        desired = self.reconciler.desired.get(name)
        video = (desired.flow if desired is not None else stream_flow(start)).spec.video
        running = self.reconciler.flows.get(name)
        flow = next((s for s in self.reconciler.status() if s.name == name), None)
        channels = self.channels.flows.get(name)
        return {
            "request_id": name,
            "running": running is not None and running.graph.phase is FlowPhase.RUNNING,
            "width": video.width,
            "height": video.height,
            "subscribe_url": start.subscribe_url,
            "publish_url": start.publish_url,
            "control_url": start.control_url,
            "events_url": start.events_url,
            "data_url": start.data_url,
            "channels": channels.status() if channels is not None else None,
            "flow": flow.model_dump(mode="json") if flow is not None else None,
        }

    async def _remove(self, name: str) -> None:
        self._declared.discard(name)
        self.streams.pop(name, None)
        await self.reconciler.withdraw(name)
        await self.channels.sync()

    async def reap(self) -> None:
        """Remove the streams whose flow ended (input channel closed, or failed)."""
        for name in list(self._declared):
            running = self.reconciler.flows.get(name)
            if running is not None and running.graph.phase in (
                FlowPhase.COMPLETED,
                FlowPhase.FAILED,
            ):
                reason = running.graph.error or "the input channel ended"
                log.info("stream %s ended: %s", name, reason)
                self.reconciler.events.record(name, "StreamEnded", reason)
                await self._remove(name)

    async def _reap_ended(self) -> None:
        while True:
            await asyncio.sleep(self.reap_interval)
            await self.reap()

    async def run(self, app: web.Application) -> AsyncIterator[None]:
        """aiohttp ``cleanup_ctx``: reap ended streams while the app runs."""
        task = asyncio.create_task(self._reap_ended(), name="stream reaper")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def add_stream_routes(
    app: web.Application, reconciler: Reconciler, channels: TrickleChannels | None = None
) -> StreamAPI:
    """Mount the ``/stream`` routes. Without ``channels`` the app runs its own
    ``TrickleChannels`` (started and stopped with it)."""
    if channels is None:
        channels = TrickleChannels(reconciler)

        async def run_channels(_: web.Application) -> AsyncIterator[None]:
            await channels.start()
            yield
            await channels.stop()

        app.cleanup_ctx.append(run_channels)
    api = StreamAPI(reconciler, channels)
    api.add_routes(app.router)
    app.cleanup_ctx.append(api.run)
    return api
