"""The ``file`` source: anything PyAV can read, optionally looped and paced in real time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from rtcflow.media.errors import InputError
from rtcflow.media.frame import VideoFrame
from rtcflow.media.reader import read_video
from rtcflow.media.threaded import ThreadedIterator
from rtcflow.media.timing import Pacer
from rtcflow.sources.base import Source, SourceError
from rtcflow.spec.models import FileSourceSpec, VideoSpec


class FileSource(Source):
    """Decodes ``spec.path`` on a worker thread, cover-fitted to the flow's size.

    Frames keep the file's own timestamps (its stream time base), counted from the
    first frame. With ``loop`` the file restarts at its end and pts continue one frame
    step after the last. With ``realtime`` each frame is released at its presentation
    time (a live source); without it frames come as fast as they decode.
    """

    def __init__(self, spec: FileSourceSpec, video: VideoSpec) -> None:
        super().__init__(spec, video)
        self.spec: FileSourceSpec = spec
        self.live = spec.realtime
        self.frames_read = 0
        self.loops = 0

    async def frames(self) -> AsyncIterator[VideoFrame]:
        reader = ThreadedIterator(self._decode, name=f"file-source {self.spec.path.name}")
        pacer = Pacer() if self.spec.realtime else None
        try:
            async for frame in reader:
                if pacer is not None:
                    await pacer.wait(frame.time)
                self.frames_read += 1
                yield frame
        except InputError as error:
            raise SourceError(f"file source: {error}") from error
        finally:
            await reader.aclose()

    def status(self) -> dict[str, Any]:
        return {"path": str(self.spec.path), "frames": self.frames_read, "loops": self.loops}

    def _decode(self) -> Iterator[VideoFrame]:
        """All passes over the file, with pts continuing across loops (worker thread)."""
        offset = 0
        while True:
            last: VideoFrame | None = None
            step = 0
            for frame in read_video(self.spec.path, self.video.width, self.video.height):
                if last is not None:
                    step = frame.pts + offset - last.pts
                last = frame.with_pts(frame.pts + offset, frame.time_base)
                yield last
            if last is None:
                raise InputError(f"{str(self.spec.path)!r} has no video frames")
            if not self.spec.loop:
                return
            if step <= 0:  # a single-frame file (a still image): one flow frame per pass
                step = max(1, round(1 / (self.video.fps * last.time_base)))
            offset = last.pts + step
            self.loops += 1
