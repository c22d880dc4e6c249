"""H.264 encoding and decoding, independent of any container.

The encoder emits Annex B packets (ITU-T H.264 Annex B start codes) with the SPS/PPS
repeated before every IDR, so each GOP decodes on its own: a trickle segment, a WebRTC
receiver joining late, or a file cut short by a crash. Muxers that want the parameter
sets out of band (MP4, Matroska) get them from the first packet (see ``mux.Muxer``).

Real-time settings follow libx264's ``tune=zerolatency`` (no lookahead, no B-frames,
sliced threads) with a fixed GOP: ``keyint = min-keyint = gop`` and ``scenecut=0``, so
an IDR starts every GOP and nowhere else. The rate is capped by a one-second VBV buffer
(``maxrate = bitrate``, ``bufsize = bitrate``), so keyframes do not burst past what a
live link carries.
"""

from __future__ import annotations

from fractions import Fraction

import av
import av.error

from rtcflow.media.convert import to_av
from rtcflow.media.errors import InputError, OutputError
from rtcflow.media.frame import VideoFrame
from rtcflow.media.timing import VIDEO_CLOCK, frame_rate, rescale


class H264Encoder:
    """Encodes ``VideoFrame``s of one fixed size into H.264 packets (yuv420p).

    Packet pts/dts are in ``time_base`` (90 kHz unless given); frames must have
    strictly increasing presentation times. ``profile`` is a libx264 profile name
    (``baseline`` gives Constrained Baseline, as WebRTC wants), ``level`` e.g. ``"3.1"``.
    ``threads=0`` lets libx264 choose; a fixed count makes the bitstream reproducible.
    """

    def __init__(
        self,
        width: int,
        height: int,
        fps: float,
        *,
        bitrate: int = 2_000_000,
        gop: int = 30,
        profile: str | None = None,
        level: str | None = None,
        preset: str = "veryfast",
        threads: int = 0,
        time_base: Fraction = VIDEO_CLOCK,
    ) -> None:
        if gop < 1:
            raise ValueError("gop must be at least 1")
        self.width = width
        self.height = height
        self.rate = frame_rate(fps)
        self.time_base = time_base
        self.gop = gop
        self.frame_duration = max(1, round(1 / (self.rate * time_base)))
        x264_params = f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0:repeat-headers=1"
        options = {
            "preset": preset,
            "tune": "zerolatency",
            "x264-params": x264_params,
            "maxrate": str(bitrate),
            "bufsize": str(bitrate),
        }
        if profile is not None:
            options["profile"] = profile
        if level is not None:
            options["level"] = level
        context = av.CodecContext.create("libx264", "w")
        context.width = width
        context.height = height
        context.pix_fmt = "yuv420p"
        context.time_base = time_base
        context.framerate = self.rate
        context.bit_rate = bitrate
        context.gop_size = gop
        context.max_b_frames = 0
        context.thread_count = threads
        context.options = options
        try:
            context.open()
        except av.error.FFmpegError as error:
            raise OutputError(f"cannot open libx264 with {options}: {error}") from error
        self._context = context
        self._last_pts: int | None = None

    def encode(self, frame: VideoFrame) -> list[av.Packet]:
        """Encode one frame; returns the packets that are ready (usually exactly one)."""
        if (frame.width, frame.height) != (self.width, self.height):
            raise OutputError(
                f"frame is {frame.width}x{frame.height}, encoder is {self.width}x{self.height}"
            )
        pts = rescale(frame.pts, frame.time_base, self.time_base)
        if self._last_pts is not None and pts <= self._last_pts:
            raise OutputError(
                f"pts must increase: {frame.time:.6f} s after {self._last_pts * self.time_base} s"
            )
        self._last_pts = pts
        source = to_av(frame)
        source.pts = pts
        source.time_base = self.time_base
        return self._encode(source)

    def flush(self) -> list[av.Packet]:
        """Drain the encoder at end of stream; it cannot encode afterwards."""
        return self._encode(None)

    def _encode(self, frame: av.VideoFrame | None) -> list[av.Packet]:
        try:
            packets = self._context.encode(frame)
        except av.error.FFmpegError as error:
            raise OutputError(f"libx264 failed: {error}") from error
        for packet in packets:
            packet.time_base = self.time_base
            packet.duration = self.frame_duration
        return packets


class Decoder:
    """Decodes a compressed elementary stream (H.264 Annex B by default) into frames."""

    def __init__(self, codec: str = "h264") -> None:
        self._context = av.CodecContext.create(codec, "r")
        self._parsing = False

    def decode(self, packet: av.Packet) -> list[av.VideoFrame]:
        """Decode one packet (from a demuxer or an encoder)."""
        try:
            return self._context.decode(packet)
        except av.error.FFmpegError as error:
            raise InputError(f"cannot decode {self._context.name}: {error}") from error

    def decode_bytes(self, data: bytes) -> list[av.VideoFrame]:
        """Split raw stream bytes into packets (any chunking) and decode them."""
        if not data:
            return []
        self._parsing = True
        return self._decode_parsed(data)

    def flush(self) -> list[av.VideoFrame]:
        """Decode any bytes still buffered by the parser, then drain the decoder."""
        frames = self._decode_parsed(None) if self._parsing else []
        try:
            return frames + self._context.decode(None)
        except av.error.FFmpegError as error:
            raise InputError(f"cannot decode {self._context.name}: {error}") from error

    def _decode_parsed(self, data: bytes | None) -> list[av.VideoFrame]:
        try:
            packets = self._context.parse(data)
        except av.error.FFmpegError as error:
            raise InputError(f"cannot parse {self._context.name}: {error}") from error
        return [frame for packet in packets for frame in self.decode(packet)]
