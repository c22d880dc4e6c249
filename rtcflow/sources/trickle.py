"""The ``trickle`` source: H.264 in MPEG-TS from a trickle channel.

Segments come from a :class:`~rtcflow.protocols.trickle.TrickleSubscriber` and are decoded
on the source's own thread while their bytes arrive (the server streams a segment as its
publisher writes it), so a frame is decoded as soon as its last byte is in:

- Every segment is demuxed on its own (each starts with PAT/PMT and an IDR, ISO/IEC
  13818-1 §2.4.4), but all share one H.264 decoder, so the picture runs on across segment
  boundaries without a glitch.
- The demuxer probes the minimum and runs with FFmpeg's ``fflags=+noparse+nofillin``: a
  PES packet goes to the decoder as soon as it is complete (at once when the publisher
  writes PES lengths, as rtcflow's trickle sink does; otherwise when the next one starts)
  instead of after libavformat's parser has seen the start of the next frame.
- The thread pulls the segment's bytes chunk by chunk from the event loop, so nothing is
  buffered beyond one chunk whatever the segment's size; a decoder that falls behind
  falls behind the server's window and jumps to the live edge (HTTP 470).
- Only the newest decoded frame is kept (live): frames the flow did not take in time are
  dropped and counted.
- A segment that is not MPEG-TS with an H.264 stream is skipped and counted; a packet that
  does not decode is counted; the stream goes on.
- The subscriber retries transient failures itself. When it gives up, when the channel
  does not exist yet, or when it ends and ``reconnect`` is set, a new subscription starts
  at the current segment after a backoff; without ``reconnect`` the end of the channel
  ends the flow.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

import av
import av.error
from av.video.reformatter import VideoReformatter

from rtcflow.media.codec import Decoder
from rtcflow.media.convert import av_to_tensor
from rtcflow.media.errors import InputError
from rtcflow.media.frame import VideoFrame
from rtcflow.media.timing import VIDEO_CLOCK
from rtcflow.protocols.retry import Backoff
from rtcflow.protocols.trickle import (
    SEQ_CURRENT,
    ChannelNotFoundError,
    TrickleError,
    TrickleSegment,
    TrickleSubscriber,
)
from rtcflow.sources.base import Source
from rtcflow.spec.models import TrickleSourceSpec, VideoSpec

__all__ = ["DEMUX_OPTIONS", "TrickleSource", "TrickleSourceStats"]

log = logging.getLogger(__name__)

#: libavformat options for one segment: no format probing beyond the first packet, and
#: packets straight from the demuxer (no parser, no filled-in fields).
DEMUX_OPTIONS = {
    "probesize": "32",
    "analyzeduration": "0",
    "fpsprobesize": "0",
    "fflags": "+noparse+nofillin",
}


@dataclass
class TrickleSourceStats:
    """Counters of one trickle source (over all its subscriptions)."""

    subscriptions: int = 0
    segments: int = 0
    segments_malformed: int = 0  # not MPEG-TS with H.264: skipped
    frames_decoded: int = 0
    frames_dropped: int = 0  # decoded but replaced by a newer one before the flow took it
    decode_errors: int = 0


class _SegmentReader:
    """One segment's bytes as a blocking file object for the decoding thread.

    Each ``read`` asks the event loop for the segment's next chunk, so at most one chunk
    is held here. ``read`` returns ``b""`` at the end of the segment or once ``aclose``
    was called; a failure of the subscription is raised by ``read``.
    """

    def __init__(self, segment: TrickleSegment, loop: asyncio.AbstractEventLoop) -> None:
        self._chunks = segment.aiter_bytes()
        self._loop = loop
        self._rest = b""
        self._fetching: asyncio.Future[bytes] | None = None
        self._closed = False

    def read(self, size: int) -> bytes:
        """On the thread: up to ``size`` bytes, waiting for the publisher if needed."""
        if not self._rest:
            result: concurrent.futures.Future[bytes] = concurrent.futures.Future()
            try:
                self._loop.call_soon_threadsafe(self._fetch, result)
                self._rest = result.result()
            except (RuntimeError, concurrent.futures.CancelledError):
                return b""  # closed (or the loop is gone)
        data, self._rest = self._rest[:size], self._rest[size:]
        return data

    def _fetch(self, result: concurrent.futures.Future[bytes]) -> None:
        """On the loop: start reading the next chunk into ``result``."""
        if self._closed:
            result.cancel()
            return
        fetching = self._fetching = asyncio.ensure_future(anext(self._chunks, b""))

        def deliver(done: asyncio.Future[bytes]) -> None:
            if done.cancelled():
                result.cancel()
            elif (error := done.exception()) is not None:
                result.set_exception(error)
            else:
                result.set_result(done.result())

        fetching.add_done_callback(deliver)

    async def aclose(self) -> None:
        """On the loop: end the reading (a waiting ``read`` returns ``b""``)."""
        self._closed = True
        fetching = self._fetching
        if fetching is not None and not fetching.done():
            fetching.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await fetching
        await self._chunks.aclose()


class TrickleSource(Source):
    """Decoded frames of the trickle channel ``spec.url``, cover-fitted to ``video``."""

    live = True

    def __init__(self, spec: TrickleSourceSpec, video: VideoSpec) -> None:
        super().__init__(spec, video)
        self.spec: TrickleSourceSpec = spec
        self.stats = TrickleSourceStats()
        self.state = "connecting"
        self.last_error: str | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="trickle-source")
        self._decoder = Decoder()
        self._reformatter = VideoReformatter()
        self._subscriber: TrickleSubscriber | None = None
        self._receiving: asyncio.Task[None] | None = None
        self._latest: VideoFrame | None = None
        self._ready = asyncio.Event()
        # Totals of finished subscriptions, for status.
        self._past = {"bytes": 0, "jumps": 0, "retries": 0}

    async def frames(self) -> AsyncIterator[VideoFrame]:
        receiving = self._receiving = asyncio.create_task(
            self._receive(), name=f"trickle source {self.spec.url}"
        )
        try:
            while True:
                if self._latest is not None:
                    frame, self._latest = self._latest, None
                    self._ready.clear()
                    yield frame
                    continue
                if receiving.done():
                    receiving.result()  # raises what ended the reception
                    return
                ready = asyncio.ensure_future(self._ready.wait())
                try:
                    await asyncio.wait({ready, receiving}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    ready.cancel()
        finally:
            await self._stop_receiving()

    async def close(self) -> None:
        await self._stop_receiving()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _stop_receiving(self) -> None:
        task, self._receiving = self._receiving, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- reception (event loop) ---------------------------------------------------------

    async def _receive(self) -> None:
        """Subscribe, decode every segment, and subscribe again after a backoff."""
        backoff = Backoff(initial=0.25, maximum=5.0)
        start_seq = self.spec.start_seq
        while True:
            self.state = "connecting"
            subscriber = TrickleSubscriber(self.spec.url, start_seq)
            self._subscriber = subscriber
            self.stats.subscriptions += 1
            try:
                async with contextlib.aclosing(subscriber.segments()) as segments:
                    async for segment in segments:
                        self.state = "receiving"
                        self.last_error = None
                        backoff.reset()
                        self.stats.segments += 1
                        await self._decode_segment(segment)
                if subscriber.stats.segments and not self.spec.reconnect:
                    log.info("trickle source %s: the channel ended", self.spec.url)
                    self.state = "ended"
                    return
                self.last_error = "the channel ended; waiting for a publisher"
            except ChannelNotFoundError:
                self.last_error = "no such channel yet; waiting for a publisher"
            except TrickleError as exc:
                self.last_error = str(exc)
                log.warning("trickle source %s: %s", self.spec.url, exc)
            finally:
                self._subscriber = None
                for name in self._past:
                    self._past[name] += getattr(subscriber.stats, name)
                await subscriber.aclose()
            self.state = "waiting"
            if subscriber.stats.segments:
                start_seq = SEQ_CURRENT  # after a gap: the live segment, from its start
            await asyncio.sleep(backoff.delay())

    async def _decode_segment(self, segment: TrickleSegment) -> None:
        loop = asyncio.get_running_loop()
        reader = _SegmentReader(segment, loop)
        try:
            await loop.run_in_executor(self._executor, self._decode, reader, segment.seq, loop)
        finally:
            await reader.aclose()

    def _offer(self, frame: VideoFrame) -> None:
        """On the loop: keep ``frame`` as the newest one."""
        if self._latest is not None:
            self.stats.frames_dropped += 1
        self._latest = frame
        self._ready.set()

    # -- decoding (the source's thread) ---------------------------------------------------

    def _decode(self, reader: _SegmentReader, seq: int, loop: asyncio.AbstractEventLoop) -> None:
        where = f"trickle source {self.spec.url}, segment {seq}"
        try:
            container = av.open(reader, mode="r", format="mpegts", options=DEMUX_OPTIONS)
        except (av.error.FFmpegError, OSError) as error:
            self._skip_segment(where, f"not MPEG-TS: {error}")
            return
        try:
            video = container.streams.video
            if not video or video[0].codec_context is None:
                self._skip_segment(where, "no video stream")
                return
            stream = video[0]
            if stream.codec_context.name != "h264":
                self._skip_segment(where, f"video is {stream.codec_context.name}, not h264")
                return
            for packet in container.demux(stream):
                if packet.size:
                    for frame in self._decode_packet(packet, where):
                        loop.call_soon_threadsafe(self._offer, frame)
        except av.error.FFmpegError as error:
            self._skip_segment(where, f"cannot demux the rest: {error}")
        finally:
            container.close()

    def _decode_packet(self, packet: av.Packet, where: str) -> list[VideoFrame]:
        try:
            decoded = self._decoder.decode(packet)
        except InputError as error:
            self.stats.decode_errors += 1
            if self.stats.decode_errors == 1 or self.stats.decode_errors % 100 == 0:
                log.warning("%s: %s (%d so far)", where, error, self.stats.decode_errors)
            return []
        time_base = packet.time_base or VIDEO_CLOCK
        frames = []
        for frame in decoded:
            pts = frame.pts if frame.pts is not None else packet.pts or 0
            data = av_to_tensor(
                frame, self.video.width, self.video.height, reformatter=self._reformatter
            )
            frames.append(VideoFrame(data, pts=pts, time_base=Fraction(time_base)))
        self.stats.frames_decoded += len(frames)
        return frames

    def _skip_segment(self, where: str, reason: str) -> None:
        self.stats.segments_malformed += 1
        log.warning("%s skipped: %s", where, reason)

    # -- status ---------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        live = self._subscriber.stats if self._subscriber is not None else None
        return {
            "url": self.spec.url,
            "state": self.state,
            **asdict(self.stats),
            **{
                name: total + (getattr(live, name) if live else 0)
                for name, total in self._past.items()
            },
            "last_error": self.last_error,
        }
