"""The seam between the emulator's REST side and its media side (WHIP in, WHEP out).

The REST side owns streams; a :class:`MediaBackend` owns their WebRTC sessions. The
emulator tells the backend when a stream is created, re-parametrised and deleted, and
lets it mount its routes at :data:`WHIP_ROUTE` and :data:`WHEP_ROUTE`, the URLs the
emulator hands out as ``whip_url`` and ``gateway_status.whep_url``. A WebRTC backend
takes the published video, runs each frame through
:func:`~rtcflow.daydream.emulator.effect.apply_effect` with the stream's current params
and plays the result: :class:`~rtcflow.daydream.emulator.webrtc_media.WebRTCMedia`.
:class:`EffectOnlyMedia` has no transport: it keeps the params, renders frames on
request, and answers WHIP/WHEP with 501.
"""

from __future__ import annotations

from typing import Protocol

import torch
from aiohttp import web

from rtcflow.daydream.emulator.effect import apply_effect
from rtcflow.daydream.params import BaseStreamDiffusionParams

WHIP_ROUTE = "/whip/{stream_id}"
WHEP_ROUTE = "/whep/{stream_id}"


class MediaBackend(Protocol):
    """What the emulator calls to run the media of its streams."""

    def mount(self, app: web.Application) -> None:
        """Add the routes serving :data:`WHIP_ROUTE` and :data:`WHEP_ROUTE` (and below)."""

    async def open_session(self, stream_id: str, params: BaseStreamDiffusionParams) -> None:
        """A stream was created: be ready to take WHIP and serve WHEP for it."""

    async def update_params(self, stream_id: str, params: BaseStreamDiffusionParams) -> None:
        """The stream's params changed: frames from now on use ``params``."""

    async def close_session(self, stream_id: str) -> None:
        """The stream was deleted: end its sessions and forget it."""

    async def close(self) -> None:
        """The emulator stops: end every session and task."""


class EffectOnlyMedia:
    """A backend without transport: it tracks params and renders frames on request."""

    def __init__(self) -> None:
        self.params: dict[str, BaseStreamDiffusionParams] = {}

    def mount(self, app: web.Application) -> None:
        for route in (WHIP_ROUTE, WHEP_ROUTE):
            app.router.add_route("*", route, self._not_wired)
            app.router.add_route("*", route + "/{session:.*}", self._not_wired)

    async def open_session(self, stream_id: str, params: BaseStreamDiffusionParams) -> None:
        self.params[stream_id] = params

    async def update_params(self, stream_id: str, params: BaseStreamDiffusionParams) -> None:
        self.params[stream_id] = params

    async def close_session(self, stream_id: str) -> None:
        self.params.pop(stream_id, None)

    async def close(self) -> None:
        self.params.clear()

    def render(self, stream_id: str, image: torch.Tensor) -> torch.Tensor:
        """What the stream would output for ``image`` now (``KeyError`` if unknown)."""
        return apply_effect(image, self.params[stream_id])

    async def _not_wired(self, request: web.Request) -> web.Response:
        if request.match_info["stream_id"] not in self.params:
            raise web.HTTPNotFound(text="no such stream\n")
        raise web.HTTPNotImplemented(
            text="this emulator has no WebRTC media backend: WHIP/WHEP are not served\n"
        )
