from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
from fractions import Fraction
from pathlib import Path

import av
import pytest
import torch

from rtcflow.media import stamp
from rtcflow.media.frame import VideoFrame
from rtcflow.media.reader import read_video
from rtcflow.sinks.base import SinkError
from rtcflow.sinks.file import FileSink
from rtcflow.sources.testsrc import TestPattern
from rtcflow.spec.models import FileSinkSpec, VideoSpec

REPO = Path(__file__).resolve().parents[2]
VIDEO = VideoSpec(width=256, height=256, fps=30)


def _sink(path: Path, video: VideoSpec = VIDEO, **fields) -> FileSink:
    return FileSink(FileSinkSpec(type="file", name="record", path=path, **fields), video)


def _pattern(count: int, video: VideoSpec = VIDEO) -> list[VideoFrame]:
    pattern = TestPattern(video.width, video.height)
    return [VideoFrame(pattern.render(n), n, Fraction(1, 30)) for n in range(count)]


async def _record(sink: FileSink, frames: list[VideoFrame]) -> None:
    await sink.open()
    for frame in frames:
        await sink.write(frame)
    await sink.close()


@pytest.mark.parametrize("suffix", [".mkv", ".mp4", ".mov"])
async def test_frames_decode_back_in_order_with_their_times(tmp_path: Path, suffix: str):
    path = tmp_path / f"out{suffix}"
    sink = _sink(path, gop=10)
    frames = _pattern(25)
    await _record(sink, frames)
    decoded = list(read_video(path, 256, 256))
    assert [stamp.read(f.data) for f in decoded] == list(range(25))
    for original, frame in zip(frames, decoded, strict=True):
        error = (frame.data.to(torch.int16) - original.data.to(torch.int16)).abs().float().mean()
        assert error < 4.0
        assert abs(frame.time - original.time) < 1e-3
    with av.open(str(path)) as container:  # finalized: the duration is known
        assert container.duration is not None
        assert abs(container.duration / av.time_base - 25 / 30) < 0.05
    status = sink.status()
    assert (status["path"], status["frames"]) == (str(path), 25)
    assert 0 < status["bytes"] < path.stat().st_size  # payload, without container overhead


@pytest.mark.parametrize("colour", [(220, 30, 30), (20, 200, 60), (90, 90, 240)])
async def test_solid_colour_round_trip(tmp_path: Path, colour):
    video = VideoSpec(width=64, height=48, fps=30)
    data = torch.tensor(colour, dtype=torch.uint8).expand(48, 64, 3).contiguous()
    path = tmp_path / "solid.mkv"
    await _record(_sink(path, video), [VideoFrame(data, n, Fraction(1, 30)) for n in range(5)])
    decoded = list(read_video(path, 64, 48))
    assert len(decoded) == 5
    for frame in decoded:
        assert (frame.data.to(torch.int16) - torch.tensor(colour)).abs().max() <= 4


async def test_keyframes_every_gop(tmp_path: Path):
    path = tmp_path / "gop.mp4"
    await _record(_sink(path, gop=6), _pattern(20))
    with av.open(str(path)) as container:
        flags = [p.is_keyframe for p in container.demux(video=0) if p.size]
    assert [i for i, key in enumerate(flags) if key] == [0, 6, 12, 18]


async def test_frame_time_bases_are_converted(tmp_path: Path):
    path = tmp_path / "ms.mkv"
    frames = [f.with_pts(round(f.time * 1000), Fraction(1, 1000)) for f in _pattern(6)]
    frames[3:] = [f.with_pts(f.pts + 500, f.time_base) for f in frames[3:]]  # a half-second gap
    await _record(_sink(path), frames)
    times = [round(f.time, 3) for f in read_video(path, 256, 256)]
    assert times == [0.0, 0.033, 0.067, 0.6, 0.633, 0.667]


async def test_bitrate_setting_reaches_the_encoder(tmp_path: Path):
    generator = torch.Generator().manual_seed(5)
    frames = [
        VideoFrame(
            torch.randint(0, 256, (256, 256, 3), dtype=torch.uint8, generator=generator),
            n,
            Fraction(1, 30),
        )
        for n in range(10)
    ]
    await _record(_sink(tmp_path / "low.mkv", bitrate=100_000), frames)
    await _record(_sink(tmp_path / "high.mkv", bitrate=3_000_000), frames)
    assert (tmp_path / "high.mkv").stat().st_size > 3 * (tmp_path / "low.mkv").stat().st_size


async def test_parent_folders_are_created(tmp_path: Path):
    path = tmp_path / "a" / "b" / "out.mkv"
    await _record(_sink(path), _pattern(2))
    assert len(list(read_video(path, 256, 256))) == 2


async def test_unwritable_path_is_a_sink_error_naming_the_sink_and_path(tmp_path: Path):
    (tmp_path / "file").write_text("not a folder")
    sink = _sink(tmp_path / "file" / "out.mkv")
    message = r"file sink 'record' \(.*file/out\.mkv\): .*File exists"
    with pytest.raises(SinkError, match=message):
        await sink.open()
    await sink.close()


async def test_write_after_close_is_an_error(tmp_path: Path):
    sink = _sink(tmp_path / "x.mkv")
    await _record(sink, _pattern(1))
    with pytest.raises(SinkError, match="closed"):
        await sink.write(_pattern(1)[0])


async def test_encoding_runs_off_the_event_loop(tmp_path: Path):
    sink = _sink(tmp_path / "threads.mkv")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0)
            ticks += 1

    ticker = asyncio.create_task(tick())
    await _record(sink, _pattern(10))
    ticker.cancel()
    assert ticks >= 10  # the loop kept running while frames were encoded


# A child process records testsrc frames into both containers at once and reports each
# written pts on stdout.
CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from rtcflow.sinks.file import FileSink
    from rtcflow.sources.testsrc import TestSource
    from rtcflow.spec.models import FileSinkSpec, TestSourceSpec, VideoSpec

    async def main(paths):
        video = VideoSpec(width=256, height=256, fps=30)
        sinks = [
            FileSink(FileSinkSpec(type="file", name="crash", path=Path(p), gop=10), video)
            for p in paths
        ]
        source = TestSource(TestSourceSpec(type="testsrc", realtime=False), video)
        async for frame in source.frames():
            for sink in sinks:
                await sink.write(frame)
            print(frame.pts, flush=True)
            if frame.pts == 34:
                await asyncio.sleep(3600)  # mid-GOP: wait for the kill

    asyncio.run(main(sys.argv[1:]))
    """
)


def test_a_killed_recording_plays_up_to_the_last_completed_gop(tmp_path: Path):
    paths = [tmp_path / "crash.mkv", tmp_path / "crash.mp4"]
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, *map(str, paths)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if line.strip() == "34":
                break
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(10)
    assert child.returncode == -signal.SIGKILL
    for path in paths:
        # GOPs 0-9, 10-19 and 20-29 are complete; 30-34 were still being written
        stamps = [stamp.read(f.data) for f in read_video(path, 256, 256)]
        assert len(stamps) >= 30, path.name
        assert stamps == list(range(len(stamps))), path.name
