"""Media ground-floor benchmark: decode → convert → encode throughput.

Every variant decodes the example clip (512x512, 30 fps, H.264), converts each frame to
an RGB tensor and back, and encodes it with the same libx264 settings. The baseline is
a minimal hand-written PyAV loop measured in the same run; results are ratios of fps to
it (1.0 = as fast as plain PyAV).

- ``helpers``: ``read_video`` + ``H264Encoder`` on one thread (the helpers' overhead).
- ``prefetch_thread``: ``FileSource`` (decode thread, 2-frame prefetch) feeding an
  encoder thread, as a flow does: decoding overlaps encoding.
- ``executor_per_frame``: the alternative design, one ``run_in_executor`` per decoded
  frame, feeding the same encoder thread.

Run: ``python -m tests.benchmarks.bench_media [--passes 3] [--loops 2]``; the JSON goes
to ``bench-results/media.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import av
import torch

from rtcflow.media.codec import H264Encoder
from rtcflow.media.frame import VideoFrame
from rtcflow.media.reader import read_video
from rtcflow.sources.file import FileSource
from rtcflow.spec.models import FileSourceSpec, VideoSpec

CLIP = Path(__file__).resolve().parents[2] / "examples" / "media" / "clip.mp4"
RESULTS = Path("bench-results")
SIZE = 512
X264 = {
    "preset": "veryfast",
    "tune": "zerolatency",
    "x264-params": "keyint=30:min-keyint=30:scenecut=0:bframes=0:repeat-headers=1",
}


def plain(clip: Path, loops: int) -> int:
    """The baseline: PyAV decode, ndarray → torch → ndarray, PyAV encode."""
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width = encoder.height = SIZE
    encoder.pix_fmt = "yuv420p"
    encoder.time_base = Fraction(1, 90_000)
    encoder.framerate = Fraction(30)
    encoder.bit_rate = 2_000_000
    encoder.options = X264
    count = 0
    for _ in range(loops):
        with av.open(str(clip)) as container:
            for frame in container.decode(video=0):
                pixels = torch.from_numpy(frame.to_ndarray(format="rgb24"))
                out = av.VideoFrame.from_ndarray(pixels.numpy(), format="rgb24")
                out.pts = count * 3000
                encoder.encode(out)
                count += 1
    encoder.encode(None)
    return count


def _encoder() -> H264Encoder:
    return H264Encoder(SIZE, SIZE, 30, bitrate=2_000_000, gop=30)


def _frames(clip: Path, loops: int) -> Iterator[VideoFrame]:
    """Every frame of ``loops`` passes with pts continuing (as the file source does)."""
    count = 0
    for _ in range(loops):
        for frame in read_video(clip, SIZE, SIZE):
            yield frame.with_pts(count, Fraction(1, 30))
            count += 1


def helpers(clip: Path, loops: int) -> int:
    encoder = _encoder()
    count = 0
    for frame in _frames(clip, loops):
        encoder.encode(frame)
        count += 1
    encoder.flush()
    return count


async def prefetch_thread(clip: Path, total: int) -> int:
    spec = FileSourceSpec(type="file", path=clip, loop=True, realtime=False)
    source = FileSource(spec, VideoSpec(width=SIZE, height=SIZE, fps=30))
    encoder = _encoder()
    loop = asyncio.get_running_loop()
    count = 0
    with ThreadPoolExecutor(1) as encoding:
        async for frame in source.frames():
            await loop.run_in_executor(encoding, encoder.encode, frame)
            count += 1
            if count == total:
                break
    return count


async def executor_per_frame(clip: Path, loops: int) -> int:
    frames = _frames(clip, loops)
    encoder = _encoder()
    loop = asyncio.get_running_loop()
    count = 0
    with ThreadPoolExecutor(1) as decoding, ThreadPoolExecutor(1) as encoding:
        while (frame := await loop.run_in_executor(decoding, next, frames, None)) is not None:
            await loop.run_in_executor(encoding, encoder.encode, frame)
            count += 1
    return count


def _fps(run: Callable[[], int]) -> float:
    start = time.perf_counter()
    frames = run()
    return frames / (time.perf_counter() - start)


def run(passes: int = 3, loops: int = 2, clip: Path = CLIP) -> dict[str, object]:
    """Measure every variant, best of ``passes`` interleaved runs, and save the JSON."""
    total = loops * sum(1 for _ in read_video(clip, 16, 16))
    variants: dict[str, Callable[[], int]] = {
        "plain": lambda: plain(clip, loops),
        "helpers": lambda: helpers(clip, loops),
        "prefetch_thread": lambda: asyncio.run(prefetch_thread(clip, total)),
        "executor_per_frame": lambda: asyncio.run(executor_per_frame(clip, loops)),
    }
    fps = dict.fromkeys(variants, 0.0)
    for _ in range(passes):  # interleaved, so a burst of load elsewhere hits all variants
        for name, variant in variants.items():
            fps[name] = max(fps[name], _fps(variant))
    result: dict[str, object] = {
        "benchmark": "media decode-convert-encode",
        "clip": clip.name,
        "size": f"{SIZE}x{SIZE}",
        "frames_per_pass": total,
        "torch_threads": torch.get_num_threads(),
        "fps": {name: round(value, 1) for name, value in fps.items()},
        "ratio_to_plain": {name: round(value / fps["plain"], 3) for name, value in fps.items()},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "media.json").write_text(json.dumps(result, indent=2))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--loops", type=int, default=2, help="passes over the clip per run")
    arguments = parser.parse_args()
    print(json.dumps(run(arguments.passes, arguments.loops), indent=2))


if __name__ == "__main__":
    main()
