"""WHIP ingest on the control API: publishers send video into flows with a ``whip`` source.

``/flows/<name>/whip`` is a WHIP endpoint (RFC 9725) for flow ``name``: OBS (Settings →
Stream → Service "WHIP"), a browser or any WHIP client publishes there, and the flow's
:class:`~rtcflow.sources.whip_ingest.WhipIngestSource` plays the publisher's video.
``404`` when the flow is not running with a ``whip`` source; ``401`` without the
source's token (when its spec sets one). Only video is taken (audio m-lines are
answered ``inactive``).
"""

from __future__ import annotations

from aiohttp import web

from rtcflow.protocols.webrtc import ServerSession, WhipEndpoint
from rtcflow.reconcile.reconciler import Reconciler
from rtcflow.sources.whip_ingest import WhipIngestSource
from rtcflow.spec.models import Flow, WhipIngestSourceSpec

__all__ = ["IngestEndpoint", "add_ingest_routes", "ingest_path", "ingest_source"]


def ingest_path(flow: Flow) -> str | None:
    """The WHIP endpoint's path when ``flow`` takes its video from WHIP ingest."""
    if isinstance(flow.spec.source, WhipIngestSourceSpec):
        return f"/flows/{flow.name}/whip"
    return None


def ingest_source(reconciler: Reconciler, name: str) -> WhipIngestSource | None:
    """The running WHIP ingest source of flow ``name``."""
    running = reconciler.flows.get(name)
    if running is None or not isinstance(running.graph.source, WhipIngestSource):
        return None
    return running.graph.source


class IngestEndpoint(WhipEndpoint):
    """WHIP for every flow's ``whip`` source, at ``/flows/{name}/whip``.

    Each flow has its own token (its source spec's), so the Bearer check looks the flow
    up for every request, the session URLs below the endpoint included.
    """

    def __init__(self, reconciler: Reconciler) -> None:
        super().__init__(self._hand_over)
        self.reconciler = reconciler

    def _check_auth(self, request: web.Request) -> None:
        source = ingest_source(self.reconciler, request.match_info["name"])
        # The check is synchronous, so setting the flow's token first cannot race.
        self.token = source.token if source is not None else None
        super()._check_auth(request)

    async def create_session(
        self, request: web.Request, offer: str | None
    ) -> tuple[ServerSession, int, str]:
        name = request.match_info["name"]
        if ingest_source(self.reconciler, name) is None:
            raise web.HTTPNotFound(text=f"flow {name!r} is not running with a whip source")
        return await super().create_session(request, offer)

    async def _hand_over(self, session: ServerSession) -> None:
        source = ingest_source(self.reconciler, session.match_info["name"])
        if source is None:  # the flow stopped while the session was negotiated
            await session.close()
            return
        await source.publish(session)


def add_ingest_routes(app: web.Application, reconciler: Reconciler) -> None:
    """Mount the WHIP ingest endpoint; its sessions close on app shutdown."""
    endpoint = IngestEndpoint(reconciler)

    async def close_sessions(_: web.Application) -> None:
        await endpoint.close()

    endpoint.add_routes(app.router, "/flows/{name}/whip")
    app.on_shutdown.append(close_sessions)
