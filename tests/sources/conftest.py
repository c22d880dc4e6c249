from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

import pytest

from rtcflow.media.codec import H264Encoder
from rtcflow.media.frame import VideoFrame
from rtcflow.media.mux import Muxer
from rtcflow.sources.testsrc import TestPattern

MakeClip = Callable[..., Path]


@pytest.fixture
def make_clip(tmp_path: Path) -> MakeClip:
    """Write an H.264 clip of ``TestPattern`` frames, stamped with their index.

    ``ticks`` are the frames' pts in 1/30 s (default: 0, 1, 2, ...).
    """

    def make(
        name: str = "clip.mp4",
        *,
        width: int = 256,
        height: int = 256,
        count: int = 15,
        ticks: Sequence[int] | None = None,
    ) -> Path:
        path = tmp_path / name
        format = {".mp4": "mp4", ".mkv": "matroska"}[path.suffix]
        encoder = H264Encoder(width, height, 30, gop=10)
        muxer = Muxer(path, format=format, encoder=encoder)
        pattern = TestPattern(width, height)
        for n, tick in enumerate(ticks if ticks is not None else range(count)):
            muxer.mux(encoder.encode(VideoFrame(pattern.render(n), tick, Fraction(1, 30))))
        muxer.mux(encoder.flush())
        muxer.close()
        return path

    return make
