"""The interface every source implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import Any

from rtcflow.media.frame import VideoFrame
from rtcflow.spec.models import VideoSpec


class SourceError(Exception):
    """A source cannot start or cannot continue (missing file or device, bad stream)."""


class Source(ABC):
    """Produces RGB frames already scaled and cropped to the flow's ``video`` geometry.

    ``frames()`` is an async iterator that ends at end of stream and may be cancelled at
    any time; blocking work (decoding) runs off the event loop. A *live* source delivers
    at real-time rate, so the graph drops stale frames rather than blocking it; a
    non-live source (a file decoded as fast as possible) is consumed without loss.
    """

    live: bool = True

    def __init__(self, spec: Any, video: VideoSpec) -> None:
        self.spec = spec
        self.video = video

    @abstractmethod
    def frames(self) -> AsyncIterator[VideoFrame]:
        """Yield frames until end of stream."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release devices, files and connections."""

    def status(self) -> dict[str, Any]:
        """Source-specific status fields (shown under the flow's status)."""
        return {}
