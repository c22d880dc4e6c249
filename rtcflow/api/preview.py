"""The preview of a flow on the control API: a WHEP endpoint and a player page.

- ``GET /flows/<name>``: the page (``static/preview.html``): a video element playing the
  flow's WHEP stream, and the flow's counters and status polled from
  ``/flows/<name>/status``.
- ``/flows/<name>/whep``: WHEP (draft-ietf-wish-whep) for the flow's ``preview`` sink:
  ``404`` when the flow has no preview sink, ``409`` + ``Retry-After`` until its first
  output frame, then ``201``. When the sink goes away (the flow stops, the sink is
  removed or restarted by a reload) its players' sessions are closed and the page
  reconnects.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources

from aiohttp import web

from rtcflow.protocols.webrtc import FrameBroadcaster, ServerSession, WhepEndpoint
from rtcflow.reconcile.reconciler import Reconciler
from rtcflow.sinks.preview import PreviewSink
from rtcflow.spec.models import Flow, PreviewSinkSpec

__all__ = ["PreviewEndpoint", "add_preview_routes", "preview_path", "preview_sink"]

#: Preview players at once, all flows together (each player costs an encoder).
MAX_PLAYERS = 16


def preview_path(flow: Flow) -> str | None:
    """The page's path when ``flow`` has a preview sink."""
    if any(isinstance(sink, PreviewSinkSpec) for sink in flow.spec.sinks):
        return f"/flows/{flow.name}"
    return None


def preview_sink(reconciler: Reconciler, name: str) -> PreviewSink | None:
    """The running preview sink of flow ``name`` (the first one, if it has several)."""
    running = reconciler.flows.get(name)
    if running is None:
        return None
    for runner in running.graph.sinks.values():
        if isinstance(runner.sink, PreviewSink):
            return runner.sink
    return None


class PreviewEndpoint(WhepEndpoint):
    """WHEP for every flow's preview sink, at ``/flows/{name}/whep``."""

    def __init__(self, reconciler: Reconciler) -> None:
        super().__init__(self._broadcaster, max_sessions=MAX_PLAYERS)
        self.reconciler = reconciler

    def _broadcaster(self, match_info: Mapping[str, str]) -> FrameBroadcaster | None:
        sink = preview_sink(self.reconciler, match_info["name"])
        return sink.broadcaster if sink is not None else None

    async def create_session(
        self, request: web.Request, offer: str | None
    ) -> tuple[ServerSession, int, str]:
        name = request.match_info["name"]
        if preview_sink(self.reconciler, name) is None:
            raise web.HTTPNotFound(text=f"flow {name!r} is not running with a preview sink")
        session, status, sdp = await super().create_session(request, offer)
        assert session.track is not None
        # The track ends when the sink closes it: the player's session goes with it.
        session.track.on("ended", lambda: self.spawn(session.close()))
        return session, status, sdp


def add_preview_routes(app: web.Application, reconciler: Reconciler) -> None:
    """Mount the preview page and WHEP endpoint; their sessions close on app shutdown."""
    endpoint = PreviewEndpoint(reconciler)
    page = resources.files(__package__).joinpath("static/preview.html").read_text("utf-8")

    async def preview_page(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in reconciler.desired and name not in reconciler.flows:
            raise web.HTTPNotFound(text=f"no flow named {name}")
        return web.Response(text=page, content_type="text/html")

    async def close_sessions(_: web.Application) -> None:
        await endpoint.close()

    app.router.add_get("/flows/{name}", preview_page)
    endpoint.add_routes(app.router, "/flows/{name}/whep")
    app.on_shutdown.append(close_sessions)
