from __future__ import annotations

import asyncio
import itertools
import threading
from contextlib import aclosing

import pytest

from rtcflow.media import stamp
from rtcflow.media.frame import VideoFrame
from rtcflow.sources.base import SourceError
from rtcflow.sources.file import FileSource
from rtcflow.spec.models import FileSourceSpec, VideoSpec

VIDEO = VideoSpec(width=256, height=256, fps=30)


async def _take(source: FileSource, count: int | None = None) -> list[VideoFrame]:
    frames = []
    async with aclosing(source.frames()) as stream:
        async for frame in stream:
            frames.append(frame)
            if len(frames) == count:
                break
    return frames


def _source(path, video: VideoSpec = VIDEO, **fields) -> FileSource:
    spec = FileSourceSpec(type="file", path=path, **{"realtime": False, **fields})
    return FileSource(spec, video)


async def test_decodes_every_frame_with_its_timestamps(make_clip):
    source = _source(make_clip(count=15))
    assert source.live is False
    frames = await _take(source)
    assert [stamp.read(f.data) for f in frames] == list(range(15))
    assert all(f.data.shape == (256, 256, 3) for f in frames)
    times = [f.time for f in frames]
    assert times[0] == 0.0
    assert all(abs((b - a) - 1 / 30) < 1e-3 for a, b in itertools.pairwise(times))
    assert source.status() == {"path": str(source.spec.path), "frames": 15, "loops": 0}


async def test_scales_and_crops_to_the_flow_size(make_clip):
    frames = await _take(_source(make_clip(width=320, height=240), VideoSpec(width=96, height=128)))
    assert len(frames) == 15 and all(f.data.shape == (128, 96, 3) for f in frames)


async def test_variable_frame_rate_keeps_the_file_timestamps(make_clip):
    ticks = [0, 1, 3, 4, 8, 9]
    frames = await _take(_source(make_clip("vfr.mkv", ticks=ticks)))
    assert [stamp.read(f.data) for f in frames] == list(range(6))
    assert [round(f.time * 30) for f in frames] == ticks


async def test_loop_restarts_with_continuous_pts(make_clip):
    source = _source(make_clip(count=10), loop=True)
    frames = await _take(source, 35)
    assert [stamp.read(f.data) for f in frames] == [n % 10 for n in range(35)]
    pts = [f.pts for f in frames]
    steps = {b - a for a, b in itertools.pairwise(pts)}
    assert len(steps) == 1 and steps.pop() * frames[0].time_base == pytest.approx(1 / 30, abs=1e-3)
    assert abs(frames[-1].time - 34 / 30) < 2e-3
    assert source.status()["loops"] >= 3


async def test_realtime_paces_frames_by_their_timestamps(make_clip):
    source = _source(make_clip(count=9), realtime=True)
    assert source.live is True
    loop = asyncio.get_running_loop()
    arrivals, frames = [], []
    async for frame in source.frames():
        arrivals.append(loop.time())
        frames.append(frame)
    assert [stamp.read(f.data) for f in frames] == list(range(9))
    pts = [f.pts for f in frames]
    assert all(b > a for a, b in itertools.pairwise(pts))
    for frame, arrival in zip(frames, arrivals, strict=True):  # never before its time
        assert arrival - arrivals[0] >= frame.time - 0.002


async def test_missing_file_is_a_source_error_naming_it(make_clip):
    path = make_clip("gone.mp4")
    source = _source(path)
    path.unlink()
    with pytest.raises(SourceError, match=r"cannot open '.*gone\.mp4'"):
        await _take(source)


async def test_undecodable_file_is_a_source_error_naming_it(tmp_path):
    path = tmp_path / "broken.mkv"
    path.write_bytes(b"\x1a\x45\xdf\xa3" + bytes(range(256)) * 8)
    with pytest.raises(SourceError, match=r"broken\.mkv"):
        await _take(_source(path))


async def test_stopping_early_closes_the_decoder_thread(make_clip):
    source = _source(make_clip(count=15), loop=True)
    frames = await _take(source, 3)
    assert len(frames) == 3
    names = {t.name for t in threading.enumerate()}
    assert not any(name.startswith("file-source") for name in names)
