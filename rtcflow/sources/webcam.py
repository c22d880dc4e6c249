"""The ``webcam`` source: a capture device read through PyAV (libavdevice)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from typing import Any

from rtcflow.media.errors import InputError
from rtcflow.media.frame import VideoFrame
from rtcflow.media.reader import read_video
from rtcflow.media.threaded import ThreadedIterator
from rtcflow.sources.base import Source, SourceError
from rtcflow.spec.models import VideoSpec, WebcamSourceSpec

#: libavdevice's capture input for each platform (``sys.platform`` prefix).
PLATFORM_FORMATS = {"linux": "v4l2", "darwin": "avfoundation", "win32": "dshow"}


def platform_format(platform: str = sys.platform) -> str | None:
    """The default capture input format of ``platform``, if it has one."""
    for prefix, name in PLATFORM_FORMATS.items():
        if platform.startswith(prefix):
            return name
    return None


class WebcamSource(Source):
    """Frames from ``spec.device``, cover-fitted to the flow's size; always live.

    The device paces delivery; ``spec.options`` go to the input as they are (e.g.
    ``video_size``, ``framerate``, ``input_format``). Decoding uses slice threading
    only, so no frames of delay are added.
    """

    live = True

    def __init__(self, spec: WebcamSourceSpec, video: VideoSpec) -> None:
        super().__init__(spec, video)
        self.spec: WebcamSourceSpec = spec
        input_format = spec.input_format or platform_format()
        if input_format is None:
            raise SourceError(
                f"webcam {spec.device!r}: no default capture format on {sys.platform}; "
                "set input_format"
            )
        self.input_format = input_format
        self.frames_read = 0

    async def frames(self) -> AsyncIterator[VideoFrame]:
        reader = ThreadedIterator(
            lambda: read_video(
                self.spec.device,
                self.video.width,
                self.video.height,
                format=self.input_format,
                options=self.spec.options,
                thread_type="SLICE",
            ),
            name=f"webcam {self.spec.device}",
        )
        try:
            async for frame in reader:
                self.frames_read += 1
                yield frame
        except InputError as error:
            raise SourceError(f"webcam: {error}") from error
        finally:
            await reader.aclose()

    def status(self) -> dict[str, Any]:
        return {
            "device": self.spec.device,
            "input_format": self.input_format,
            "frames": self.frames_read,
        }
