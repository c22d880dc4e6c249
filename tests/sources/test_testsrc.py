from __future__ import annotations

import asyncio
import itertools
from contextlib import aclosing
from fractions import Fraction

import pytest
import torch

from rtcflow.media import stamp
from rtcflow.media.frame import VideoFrame
from rtcflow.sources.testsrc import TestPattern, TestSource, digits_mask
from rtcflow.spec.models import TestSourceSpec, VideoSpec


async def _all(source: TestSource, count: int | None = None) -> list[VideoFrame]:
    frames = []
    async with aclosing(source.frames()) as stream:
        async for frame in stream:
            frames.append(frame)
            if len(frames) == count:
                break
    return frames


def _read_counter(data: torch.Tensor, scale: int, digits: int) -> str:
    """Read the bottom-left counter back by matching each glyph (a tiny OCR)."""
    margin = 2 * scale
    height, width = 5 * scale, (4 * digits - 1) * scale
    bottom = data.shape[0] - margin
    area = data[bottom - height : bottom, margin : margin + width, 0] > 128
    cells = area[::scale, ::scale]  # one sample per glyph pixel
    text = ""
    for index in range(digits):
        glyph = cells[:, 4 * index : 4 * index + 3]
        matches = [d for d in "0123456789" if torch.equal(digits_mask(d, 1), glyph)]
        text += matches[0] if len(matches) == 1 else "?"
    return text


async def test_duration_sets_the_frame_count_and_pts_count_frames():
    video = VideoSpec(width=256, height=192, fps=25)
    source = TestSource(TestSourceSpec(type="testsrc", realtime=False, duration=1.2), video)
    assert source.live is False
    frames = await _all(source)
    assert len(frames) == 30
    assert [f.pts for f in frames] == list(range(30))
    assert {f.time_base for f in frames} == {Fraction(1, 25)}
    assert all(f.data.shape == (192, 256, 3) and f.data.dtype == torch.uint8 for f in frames)
    assert [stamp.read(f.data) for f in frames] == list(range(30))
    assert source.status() == {"frames": 30, "total": 30}


def test_the_counter_is_readable_and_the_block_moves():
    pattern = TestPattern(512, 512)
    for n in (0, 7, 42, 1234, 98765):
        assert _read_counter(pattern.render(n), pattern.scale, len(str(n))) == str(n)

    def block_left(frame: torch.Tensor) -> int:
        black = frame[pattern.block_top + 1].sum(dim=1) == 0  # the block's black border
        return int(black.nonzero().min())

    positions = [block_left(pattern.render(n)) for n in (10, 11, 12)]
    assert [abs(b - a) for a, b in itertools.pairwise(positions)] == [4, 4]  # 4 px per frame
    assert torch.equal(pattern.render(10), pattern.render(10))  # deterministic


def test_colourful_and_structured():
    frame = TestPattern(512, 512).render(0)
    colours = {tuple(c) for c in frame[100, :, :].tolist()}
    assert len(colours) >= 7  # seven bars plus the block
    ramp = frame[400, 200:500, 0].to(torch.int32)
    assert (ramp[1:] >= ramp[:-1]).all() and ramp[-1] - ramp[0] > 100


@pytest.mark.parametrize(("width", "height"), [(16, 16), (64, 48), (1280, 720)])
def test_any_flow_size_renders(width, height):
    pattern = TestPattern(width, height)
    frame = pattern.render(12345)
    assert frame.shape == (height, width, 3)
    assert (stamp.read(frame) == 12345) == stamp.fits(width, height)


async def test_realtime_paces_at_the_flow_fps():
    video = VideoSpec(width=64, height=64, fps=50)
    source = TestSource(TestSourceSpec(type="testsrc", duration=0.2), video)
    assert source.live is True
    loop = asyncio.get_running_loop()
    arrivals = []
    frames = []
    async with aclosing(source.frames()) as stream:
        async for frame in stream:
            arrivals.append(loop.time())
            frames.append(frame)
    assert [f.pts for f in frames] == list(range(10))
    for frame, arrival in zip(frames, arrivals, strict=True):
        assert arrival - arrivals[0] >= frame.time - 0.002


async def test_endless_without_duration():
    video = VideoSpec(width=64, height=64, fps=30)
    source = TestSource(TestSourceSpec(type="testsrc", realtime=False), video)
    frames = await _all(source, 100)
    assert [f.pts for f in frames] == list(range(100))
    assert all(b.time > a.time for a, b in itertools.pairwise(frames))
