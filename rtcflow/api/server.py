"""The local HTTP control API: flow status and events (aiohttp, like every server here).

Other parts mount their routes on the same application (the ComfyStream-compatible
``/stream`` endpoints, the preview pages), so one port serves everything.
"""

from __future__ import annotations

from aiohttp import web

from rtcflow.api.comfystream import add_stream_routes
from rtcflow.api.ingest import add_ingest_routes
from rtcflow.api.preview import add_preview_routes
from rtcflow.api.trickle_control import TrickleChannels
from rtcflow.reconcile.reconciler import Reconciler

RECONCILER = web.AppKey("reconciler", Reconciler)


async def list_flows(request: web.Request) -> web.Response:
    """``GET /flows``: every flow's status."""
    statuses = request.app[RECONCILER].status()
    return web.json_response([s.model_dump(mode="json") for s in statuses])


async def get_flow(request: web.Request) -> web.Response:
    """``GET /flows/{name}/status``: one flow's status, 404 when unknown."""
    name = request.match_info["name"]
    for status in request.app[RECONCILER].status():
        if status.name == name:
            return web.json_response(status.model_dump(mode="json"))
    raise web.HTTPNotFound(
        text=f'{{"error": "no flow named {name}"}}', content_type="application/json"
    )


async def list_events(request: web.Request) -> web.Response:
    """``GET /events``: the most recent events, oldest first."""
    events = request.app[RECONCILER].events.all()
    return web.json_response([e.model_dump(mode="json") for e in events])


def create_app(reconciler: Reconciler, channels: TrickleChannels | None = None) -> web.Application:
    """The control API over ``reconciler``. ``channels``: the process's trickle control
    and events channels, when its owner runs them (else the app runs its own)."""
    app = web.Application()
    app[RECONCILER] = reconciler
    app.router.add_get("/flows", list_flows)
    app.router.add_get("/flows/{name}/status", get_flow)
    app.router.add_get("/events", list_events)
    add_preview_routes(app, reconciler)
    add_ingest_routes(app, reconciler)
    add_stream_routes(app, reconciler, channels)
    return app


class ControlServer:
    """Runs the control API on ``host:port`` inside the current event loop."""

    def __init__(self, app: web.Application, host: str = "127.0.0.1", port: int = 8889):
        self.app = app
        self.host = host
        self.port = port
        self._runner = web.AppRunner(app, access_log=None)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:
            self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        await self._runner.cleanup()
