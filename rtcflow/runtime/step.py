"""The interface every processing step implements."""

from __future__ import annotations

from typing import Any, Protocol

from rtcflow.media.frame import VideoFrame


class Step(Protocol):
    """One stage of a flow's processing chain (a ComfyUI workflow, Daydream, ...).

    The runtime calls ``process`` for every frame, in order, from one task. It returns the
    processed frame, or ``None`` when no output is ready yet for this input (a remote
    service still warming up); the graph then keeps its output timing by repeating the
    last frame. A step that raises has its input passed through and the error counted in
    status. Blocking work belongs on the step's own thread, never on the event loop.
    """

    name: str

    async def start(self) -> None:
        """Compile, connect and warm up before the first frame."""

    async def process(self, frame: VideoFrame) -> VideoFrame | None:
        """Process one frame."""

    async def close(self) -> None:
        """Release threads, models and remote resources."""

    def status(self) -> dict[str, Any]:
        """Step-specific status fields."""
