"""The ``preview`` sink: the flow's output for WHEP players and the preview page.

The sink only holds a :class:`~rtcflow.protocols.webrtc.FrameBroadcaster`; the control
API serves it (``rtcflow.api.preview``): a WHEP endpoint at ``/flows/<name>/whep`` and a
page with a video element at ``/flows/<name>``. Each player gets its own track paced at
the flow's fps (latest frame wins), so a slow player never holds up the flow.
"""

from __future__ import annotations

from typing import Any

from rtcflow.media.frame import VideoFrame
from rtcflow.protocols.webrtc import FrameBroadcaster
from rtcflow.sinks.base import Sink
from rtcflow.spec.models import PreviewSinkSpec, VideoSpec

__all__ = ["PreviewSink"]


class PreviewSink(Sink):
    """Publishes every output frame to the players of the flow's preview."""

    def __init__(self, spec: PreviewSinkSpec, video: VideoSpec) -> None:
        super().__init__(spec, video)
        self.spec: PreviewSinkSpec = spec
        self.broadcaster = FrameBroadcaster(video.fps)

    async def write(self, frame: VideoFrame) -> None:
        self.broadcaster.publish(frame)

    async def close(self) -> None:
        """End every player's track (the control API then closes their sessions)."""
        self.broadcaster.close()

    def status(self) -> dict[str, Any]:
        return {
            "players": self.broadcaster.players,
            "frames_published": self.broadcaster.published,
        }
