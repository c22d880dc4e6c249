"""Video tracks between rtcflow frames and aiortc.

aiortc pulls frames from a sending track with ``recv()`` and has no pacer of its own,
so :class:`FrameTrack` paces itself. On the receiving side aiortc queues every decoded
frame in an unbounded queue, so :class:`FrameReceiver` drains it as frames arrive and
keeps only the newest (latest-frame-wins, counting what it drops).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av.video.reformatter import VideoReformatter

from rtcflow.media.convert import from_av, to_av
from rtcflow.media.frame import VideoFrame
from rtcflow.media.timing import VIDEO_CLOCK, Pacer, frame_rate, rescale
from rtcflow.protocols.webrtc.errors import TrackEnded

__all__ = ["FrameReceiver", "FrameTrack"]


class FrameTrack(MediaStreamTrack):
    """A sending video track fed with ``VideoFrame``s, paced at ``fps``.

    ``put()`` never blocks: the track holds one pending frame and a newer one replaces
    it (``dropped`` counts those). Each tick sends the pending frame, or repeats the last
    one sent when nothing new arrived, stamped ``n / fps`` on the 90 kHz RTP clock, so
    pts are monotonic whatever the producer does. ``recv()`` waits for the first frame.
    One consumer (one sender) at a time: every ``recv()`` takes a tick.
    """

    kind = "video"

    def __init__(self, fps: float = 30.0) -> None:
        super().__init__()
        self.fps = frame_rate(fps)
        self.sent = 0
        self.repeated = 0
        self.dropped = 0
        self._pending: VideoFrame | None = None
        self._current: VideoFrame | None = None
        self._arrived = asyncio.Event()
        self._pacer = Pacer()

    def put(self, frame: VideoFrame) -> None:
        """Offer the newest frame; an unsent older one is dropped. Ignored once stopped."""
        if self.readyState != "live":
            return
        if self._pending is not None:
            self.dropped += 1
        self._pending = frame
        self._arrived.set()

    async def recv(self) -> av.VideoFrame:
        """The frame for the next tick, once its time has come."""
        if self._current is None and self._pending is None:
            await self._arrived.wait()
        if self.readyState != "live":
            raise MediaStreamError
        await self._pacer.wait(float(self.sent / self.fps))
        if self.readyState != "live":
            raise MediaStreamError
        if self._pending is not None:
            self._current, self._pending = self._pending, None
        else:
            self.repeated += 1
        assert self._current is not None
        frame = to_av(self._current)
        frame.pts = rescale(self.sent, 1 / self.fps, VIDEO_CLOCK)
        frame.time_base = VIDEO_CLOCK
        self.sent += 1
        return frame

    def stop(self) -> None:
        super().stop()
        self._arrived.set()  # wake a recv() still waiting for its first frame


class FrameReceiver:
    """Drains a received video track promptly, keeping only the latest frame.

    Iterate it (``async for frame in receiver``) or call :meth:`next`; both yield frames
    newer than the last one taken and end when the track ends. ``received`` counts the
    frames aiortc decoded, ``dropped`` those replaced before anyone took them. PyAV to
    tensor conversion happens only for frames that are taken, off the event loop.
    """

    def __init__(self, track: MediaStreamTrack) -> None:
        if track.kind != "video":
            raise ValueError(f"expected a video track, got {track.kind}")
        self.track = track
        self.received = 0
        self.dropped = 0
        self._latest: av.VideoFrame | None = None
        self._ended = False
        self._changed = asyncio.Event()
        self._reformatter = VideoReformatter()
        self._convert_lock = asyncio.Lock()
        self._task = asyncio.get_running_loop().create_task(self._drain())

    @property
    def ended(self) -> bool:
        """Whether the track has ended (frames still held can be taken)."""
        return self._ended

    async def next(self) -> VideoFrame:
        """The newest frame not yet taken; waits for one. Raises ``TrackEnded`` at the end."""
        while self._latest is None:
            if self._ended:
                raise TrackEnded("the remote video track has ended")
            self._changed.clear()
            await self._changed.wait()
        frame, self._latest = self._latest, None
        async with self._convert_lock:
            return await asyncio.to_thread(from_av, frame, reformatter=self._reformatter)

    def __aiter__(self) -> AsyncIterator[VideoFrame]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[VideoFrame]:
        while True:
            try:
                frame = await self.next()
            except TrackEnded:
                return
            yield frame

    async def close(self) -> None:
        """Stop draining (the track itself belongs to its peer connection)."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _drain(self) -> None:
        try:
            while True:
                frame = await self.track.recv()
                if self._latest is not None:
                    self.dropped += 1
                self._latest = frame
                self.received += 1
                self._changed.set()
        except MediaStreamError:
            pass
        finally:
            self._ended = True
            self._changed.set()
