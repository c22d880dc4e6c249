"""The interface every sink implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rtcflow.media.frame import VideoFrame
from rtcflow.spec.models import VideoSpec


class SinkError(Exception):
    """A sink cannot open or cannot write."""


class Sink(ABC):
    """Consumes the flow's output frames at the flow's fps with monotonic pts.

    The runtime gives every sink its own bounded queue and task, so a slow or failing
    sink never blocks the graph or the other sinks. ``write`` may await I/O; blocking
    work (encoding) runs off the event loop.
    """

    def __init__(self, spec: Any, video: VideoSpec) -> None:
        self.spec = spec
        self.video = video

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Connect or create the output."""

    @abstractmethod
    async def write(self, frame: VideoFrame) -> None:
        """Deliver one frame."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Flush and finalize (files stay playable)."""

    def status(self) -> dict[str, Any]:
        """Sink-specific status fields (for example a playback URL)."""
        return {}
