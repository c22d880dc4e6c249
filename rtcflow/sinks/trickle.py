"""The ``trickle`` sink: H.264 in MPEG-TS to a trickle channel, one segment per GOP.

Frames are encoded on the sink's own thread by :class:`~rtcflow.media.codec.H264Encoder`
(libx264 ``zerolatency``, no B-frames, an IDR exactly every ``gop`` frames). Every IDR
starts a new segment with a fresh MPEG-TS muxer, so each segment opens with PAT/PMT and
the parameter sets and decodes on its own, as trickle subscribers expect (go-livepeer,
ai-runner and pytrickle cut segments at keyframes too). Each frame's bytes are written
into the open segment as soon as they are muxed (``flush_packets``), and the muxer writes
PES packet lengths (``omit_video_pes_length=0``, ISO/IEC 13818-1 §2.4.3.7), so a
subscriber can hand a frame to its decoder without waiting for the next one.

Failures: the publisher re-posts a failed segment itself (see ``TricklePublisher``). A
segment the server refuses (4xx such as 413, too large) is counted and the sink goes on
at the next keyframe; a server that stays unreachable or a channel that is gone raises
:class:`SinkError`, and the sink runner closes the sink and opens it again after a
backoff. Closing deletes the channel, so subscribers see the end of the stream: after a
failure the server is unreachable or the channel is already gone, so nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import av

from rtcflow.media.codec import H264Encoder
from rtcflow.media.errors import MediaError
from rtcflow.media.frame import VideoFrame
from rtcflow.media.mux import Muxer
from rtcflow.protocols.trickle import (
    SegmentWriter,
    TrickleError,
    TricklePublisher,
    TrickleStatusError,
)
from rtcflow.sinks.base import Sink, SinkError
from rtcflow.spec.models import TrickleSinkSpec, VideoSpec

__all__ = ["MPEGTS_MIME_TYPE", "MUX_OPTIONS", "TrickleSink"]

log = logging.getLogger(__name__)

T = TypeVar("T")

MPEGTS_MIME_TYPE = "video/MP2T"
#: libavformat ``mpegts`` options: PES lengths on video packets (when they fit in 16 bits).
MUX_OPTIONS = {"omit_video_pes_length": "0"}
#: How long ``close`` waits for the server to confirm the last segment.
CLOSE_TIMEOUT = 2.0


class _NewSegment:
    """Marks where a new segment starts in the segmenter's output."""


NEW_SEGMENT = _NewSegment()


class _Buffer:
    """The muxer's output file: collects bytes until the sink takes them."""

    def __init__(self) -> None:
        self._data = bytearray()

    def write(self, data: bytes) -> int:
        self._data += data
        return len(data)

    def take(self) -> bytes:
        data = bytes(self._data)
        self._data.clear()
        return data


class _Segmenter:
    """Frames into MPEG-TS, a new muxer at every IDR. Runs on the sink's thread."""

    def __init__(self, spec: TrickleSinkSpec, video: VideoSpec) -> None:
        self.encoder = H264Encoder(
            video.width, video.height, video.fps, bitrate=spec.bitrate, gop=spec.gop
        )
        self._output = _Buffer()
        self._muxer: Muxer | None = None

    def encode(self, frame: VideoFrame) -> list[bytes | _NewSegment]:
        """The bytes of ``frame``, preceded by ``NEW_SEGMENT`` when it is an IDR."""
        return self._mux(self.encoder.encode(frame))

    def finish(self) -> list[bytes | _NewSegment]:
        """Drain the encoder and end the last segment's muxer."""
        pieces = self._mux(self.encoder.flush())
        if self._muxer is not None:
            self._muxer.close()
            self._muxer = None
        return [piece for piece in (*pieces, self._output.take()) if piece]

    def _mux(self, packets: list[av.Packet]) -> list[bytes | _NewSegment]:
        pieces: list[bytes | _NewSegment] = []
        for packet in packets:
            if packet.is_keyframe or self._muxer is None:
                if self._muxer is not None:
                    self._muxer.close()
                    pieces.append(self._output.take())
                pieces.append(NEW_SEGMENT)
                self._muxer = Muxer(
                    self._output, format="mpegts", encoder=self.encoder, options=MUX_OPTIONS
                )
            self._muxer.mux([packet])
        pieces.append(self._output.take())
        return [piece for piece in pieces if piece]


class TrickleSink(Sink):
    """Publishes the flow's frames to the trickle channel ``spec.url``."""

    def __init__(self, spec: TrickleSinkSpec, video: VideoSpec) -> None:
        super().__init__(spec, video)
        self.spec: TrickleSinkSpec = spec
        self.frames = 0
        self.segments_rejected = 0  # refused by the server (4xx): skipped
        self.last_rejection: str | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._segmenter: _Segmenter | None = None
        self._publisher: TricklePublisher | None = None
        self._segment: SegmentWriter | None = None
        self._segment_exit: contextlib.AsyncExitStack | None = None
        self._totals = {"segments": 0, "bytes": 0, "retries": 0}  # of closed publishers

    async def open(self) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"trickle-sink-{self.spec.name}")
        try:
            self._segmenter = await self._run(_Segmenter, self.spec, self.video)
            publisher = TricklePublisher(self.spec.url, MPEGTS_MIME_TYPE)
            await publisher.start()
        except BaseException:  # the runner retries open() without close(): leave nothing
            await self.close()
            raise
        self._publisher = publisher

    async def write(self, frame: VideoFrame) -> None:
        if self._segmenter is None or self._publisher is None:
            raise SinkError(f"trickle sink {self.spec.name!r}: not open")
        await self._send(await self._run(self._segmenter.encode, frame))
        self.frames += 1

    async def close(self) -> None:
        """End the last segment, delete the channel and stop the thread."""
        segmenter, self._segmenter = self._segmenter, None
        publisher, self._publisher = self._publisher, None
        try:
            if segmenter is not None and publisher is not None:
                with contextlib.suppress(SinkError):
                    await self._send(await self._run(segmenter.finish))
            with contextlib.suppress(SinkError, TimeoutError):
                await asyncio.wait_for(self._end_segment(), CLOSE_TIMEOUT)
        finally:
            self._segment, self._segment_exit = None, None
            if publisher is not None:
                for name in self._totals:
                    self._totals[name] += getattr(publisher.stats, name)
                await publisher.aclose()
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None

    async def _send(self, pieces: list[bytes | _NewSegment]) -> None:
        for piece in pieces:
            if isinstance(piece, _NewSegment):
                await self._start_segment()
            elif self._segment is not None:
                try:
                    await self._segment.write(piece)
                except TrickleStatusError as exc:
                    self._rejected(exc)
                    self._segment = None  # the rest of this GOP is dropped
                except TrickleError as exc:
                    raise SinkError(f"trickle sink {self.spec.name!r}: {exc}") from exc

    async def _start_segment(self) -> None:
        await self._end_segment()
        assert self._publisher is not None
        stack = contextlib.AsyncExitStack()
        self._segment = await stack.enter_async_context(self._publisher.segment())
        self._segment_exit = stack

    async def _end_segment(self) -> None:
        """End the open segment once the server confirmed it."""
        stack, self._segment_exit, self._segment = self._segment_exit, None, None
        if stack is None:
            return
        try:
            await stack.aclose()
        except TrickleStatusError as exc:
            self._rejected(exc)
        except TrickleError as exc:
            raise SinkError(f"trickle sink {self.spec.name!r}: {exc}") from exc

    def _rejected(self, error: TrickleStatusError) -> None:
        self.segments_rejected += 1
        self.last_rejection = str(error)
        log.warning("trickle sink %s: segment refused: %s", self.spec.name, error)

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        assert self._executor is not None
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, function, *args)
        except MediaError as error:
            raise SinkError(f"trickle sink {self.spec.name!r}: {error}") from error

    def status(self) -> dict[str, Any]:
        publisher = self._publisher
        live = publisher.stats if publisher is not None else None
        return {
            "url": self.spec.url,
            "state": "open" if publisher is not None else "closed",
            "seq": publisher.seq if publisher is not None else None,
            "frames": self.frames,
            **{
                name: total + (getattr(live, name) if live else 0)
                for name, total in self._totals.items()
            },
            "segments_rejected": self.segments_rejected,
            "last_rejection": self.last_rejection,
        }
