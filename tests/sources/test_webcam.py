from __future__ import annotations

import itertools
from contextlib import aclosing
from fractions import Fraction

import av
import pytest

from rtcflow.media.frame import VideoFrame
from rtcflow.sources.base import SourceError
from rtcflow.sources.webcam import WebcamSource, platform_format
from rtcflow.spec.models import VideoSpec, WebcamSourceSpec

pytestmark = pytest.mark.skipif(
    "lavfi" not in av.formats_available, reason="this FFmpeg build has no lavfi input"
)

VIDEO = VideoSpec(width=128, height=96, fps=30)


async def _take(source: WebcamSource, count: int) -> list[VideoFrame]:
    frames = []
    async with aclosing(source.frames()) as stream:
        async for frame in stream:
            frames.append(frame)
            if len(frames) == count:
                break
    return frames


def _webcam(device: str, **fields) -> WebcamSource:
    return WebcamSource(WebcamSourceSpec(type="webcam", device=device, **fields), VIDEO)


async def test_reads_a_device_through_the_capture_path():
    # lavfi is a libavdevice input like v4l2: the same av.open(device, format, options)
    source = _webcam("testsrc=size=320x240:rate=30", input_format="lavfi")
    assert source.live is True
    frames = await _take(source, 12)
    assert all(f.data.shape == (96, 128, 3) for f in frames)
    assert [f.pts for f in frames] == list(range(12))
    assert frames[0].time_base == Fraction(1, 30)
    assert source.status() == {
        "device": "testsrc=size=320x240:rate=30",
        "input_format": "lavfi",
        "frames": 12,
    }
    # successive frames of testsrc differ (its counter and gradient move)
    assert any(not a.data.equal(b.data) for a, b in itertools.pairwise(frames))


async def test_options_are_passed_to_the_input():
    # lavfi's "graph" option replaces the device name, so frames at 10 fps prove it arrived
    source = _webcam("unused", input_format="lavfi", options={"graph": "testsrc=rate=10"})
    frames = await _take(source, 3)
    assert frames[0].time_base == Fraction(1, 10)
    assert [f.pts for f in frames] == [0, 1, 2]


@pytest.mark.skipif("video4linux2,v4l2" not in av.formats_available, reason="no v4l2 input")
async def test_missing_device_names_the_device_and_the_format():
    source = _webcam("/dev/video-rtcflow-missing", input_format="v4l2")
    with pytest.raises(SourceError, match=r"'/dev/video-rtcflow-missing' \(v4l2\)"):
        await _take(source, 1)


def test_format_follows_the_platform():
    assert platform_format("linux") == "v4l2"
    assert platform_format("darwin") == "avfoundation"
    assert platform_format("win32") == "dshow"
    assert platform_format("sunos5") is None


def test_default_format_on_this_platform():
    source = _webcam("/dev/video0")
    assert source.input_format == platform_format()
