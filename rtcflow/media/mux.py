"""Write H.264 packets from ``codec.H264Encoder`` into a container.

The stream is added with ``add_mux_stream`` (no codec context of its own): packets pass
through unchanged. For formats that need global headers (MP4's ``avcC``, Matroska's
``CodecPrivate``) PyAV's ``extract_extradata`` bitstream filter takes the SPS/PPS from
the first packet before the header is written, as ``ffmpeg -c copy`` does.

``flush_packets=1`` pushes the I/O buffer to the OS after every packet, so whatever the
muxer has completed (a Matroska cluster, a fragmented-MP4 ``moof``/``mdat``) is on disk
even if the process is killed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import BinaryIO

import av
import av.error

from rtcflow.media.codec import H264Encoder
from rtcflow.media.errors import OutputError

#: Fragmented MP4 (ISO/IEC 14496-12 §8.8): an empty ``moov``, then one self-contained
#: ``moof``+``mdat`` per GOP.
FRAGMENTED_MP4 = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}


class Muxer:
    """One H.264 stream in a container written to ``target`` (a path or a binary file)."""

    def __init__(
        self,
        target: str | Path | BinaryIO,
        *,
        format: str,
        encoder: H264Encoder,
        options: Mapping[str, str] | None = None,
    ) -> None:
        self.name = str(target) if isinstance(target, str | Path) else format
        try:
            if isinstance(target, str | Path):
                # FFmpeg opens the file only at the first packet; fail here instead.
                Path(target).open("wb").close()
            self._container = av.open(
                target,
                mode="w",
                format=format,
                options={"flush_packets": "1", **(options or {})},
            )
            self._stream = self._container.add_mux_stream(
                "h264", rate=encoder.rate, width=encoder.width, height=encoder.height
            )
        except (av.error.FFmpegError, OSError, ValueError) as error:
            raise OutputError(f"cannot create {self.name} ({format}): {error}") from error
        self._stream.time_base = encoder.time_base
        self.packets = 0
        self.bytes = 0

    def mux(self, packets: Iterable[av.Packet]) -> None:
        """Write packets in decoding order (they are rebased to the stream's time base)."""
        try:
            for packet in packets:
                packet.stream = self._stream
                self._container.mux_one(packet)
                self.packets += 1
                self.bytes += packet.size
        except av.error.FFmpegError as error:
            raise OutputError(f"cannot write {self.name}: {error}") from error

    def close(self) -> None:
        """Write the trailer (index, durations) and close the output."""
        try:
            self._container.close()
        except av.error.FFmpegError as error:
            raise OutputError(f"cannot finalize {self.name}: {error}") from error
