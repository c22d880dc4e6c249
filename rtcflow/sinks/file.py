"""The ``file`` sink: H.264 into a container that survives a crash.

``.mkv`` is Matroska, written cluster by cluster (a new cluster at every keyframe).
``.mp4``/``.mov`` are fragmented MP4: an empty ``moov`` up front, then one ``moof`` +
``mdat`` fragment per GOP. Either way each completed GOP is on disk as soon as the next
one starts, so a killed process leaves a file that plays up to the last flushed GOP;
``close()`` writes the trailer (cues, ``mfra``) and the file is complete.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from rtcflow.media.codec import H264Encoder
from rtcflow.media.errors import MediaError
from rtcflow.media.frame import VideoFrame
from rtcflow.media.mux import FRAGMENTED_MP4, Muxer
from rtcflow.sinks.base import Sink, SinkError
from rtcflow.spec.models import FileSinkSpec, VideoSpec

T = TypeVar("T")

#: Container format and muxer options for each file suffix.
CONTAINERS: dict[str, tuple[str, dict[str, str]]] = {
    ".mkv": ("matroska", {}),
    ".mp4": ("mp4", FRAGMENTED_MP4),
    ".mov": ("mov", FRAGMENTED_MP4),
}


class FileSink(Sink):
    """Encodes frames to ``spec.path`` on the sink's own worker thread.

    The file is created by ``open()`` (or the first ``write()``), with missing parent
    folders. Frame pts are kept, converted to the encoder's 90 kHz clock.
    """

    def __init__(self, spec: FileSinkSpec, video: VideoSpec) -> None:
        super().__init__(spec, video)
        self.spec: FileSinkSpec = spec
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"file-sink-{spec.name}")
        self._encoder: H264Encoder | None = None
        self._muxer: Muxer | None = None
        self._closed = False
        self.frames_written = 0

    async def open(self) -> None:
        if self._muxer is None:
            await self._run(self._open)

    async def write(self, frame: VideoFrame) -> None:
        if self._closed:
            raise SinkError(f"file sink {self.spec.name!r}: closed")
        await self.open()
        await self._run(self._encode, frame)
        self.frames_written += 1

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._muxer is not None:
                await self._run(self._finish)
        finally:
            self._executor.shutdown(wait=False)

    def status(self) -> dict[str, Any]:
        return {
            "path": str(self.spec.path),
            "frames": self.frames_written,
            "bytes": self._muxer.bytes if self._muxer is not None else 0,
        }

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, function, *args)
        except (MediaError, OSError) as error:
            raise SinkError(f"file sink {self.spec.name!r} ({self.spec.path}): {error}") from error

    def _open(self) -> None:
        format, options = CONTAINERS[self.spec.path.suffix.lower()]
        self.spec.path.parent.mkdir(parents=True, exist_ok=True)
        encoder = H264Encoder(
            self.video.width,
            self.video.height,
            self.video.fps,
            bitrate=self.spec.bitrate,
            gop=self.spec.gop,
        )
        self._muxer = Muxer(self.spec.path, format=format, encoder=encoder, options=options)
        self._encoder = encoder

    def _encode(self, frame: VideoFrame) -> None:
        assert self._encoder is not None and self._muxer is not None
        self._muxer.mux(self._encoder.encode(frame))

    def _finish(self) -> None:
        assert self._encoder is not None and self._muxer is not None
        try:
            self._muxer.mux(self._encoder.flush())
        finally:
            self._muxer.close()
