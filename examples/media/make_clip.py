"""Regenerate ``clip.mp4``: 4 s of colourful moving video, the default example input.

    python examples/media/make_clip.py [--output PATH]

Every frame is computed from its index alone (a turning colour wheel, a scrolling grid,
two moving discs, and rtcflow's frame stamp along the top edge), and libx264 runs on one
thread with bit-exact muxing, so the same versions of PyAV and FFmpeg write the same
bytes every time.
"""

from __future__ import annotations

import argparse
import math
from fractions import Fraction
from pathlib import Path

import torch

from rtcflow.media import stamp
from rtcflow.media.codec import H264Encoder
from rtcflow.media.frame import VideoFrame
from rtcflow.media.mux import Muxer

WIDTH = HEIGHT = 512
FPS = 30
SECONDS = 4
BITRATE = 800_000


def hsv_to_rgb(hue: torch.Tensor, saturation: float, value: float) -> torch.Tensor:
    """HSV (hue in 0..1) to RGB float ``[..., 3]`` in 0..1."""
    k = (torch.tensor([5.0, 3.0, 1.0]) + hue[..., None] * 6) % 6
    return value - value * saturation * (torch.minimum(k, 4 - k).clamp(0, 1))


Y, X = torch.meshgrid(
    torch.arange(HEIGHT, dtype=torch.float32),
    torch.arange(WIDTH, dtype=torch.float32),
    indexing="ij",
)


def render(n: int) -> torch.Tensor:
    """Frame ``n`` as RGB uint8 ``[HEIGHT, WIDTH, 3]``."""
    t = n / FPS
    y, x = Y, X
    u, v = x / WIDTH - 0.5, y / HEIGHT - 0.5
    radius = torch.sqrt(u * u + v * v)
    hue = torch.atan2(v, u) / (2 * math.pi) + 0.15 * torch.sin(18 * radius - 3 * t) + 0.1 * t
    rgb = hsv_to_rgb(hue % 1.0, 0.85, 0.95)
    # a dark grid scrolling diagonally
    shift = 40 * t
    grid = (((x + shift) % 64) < 4) | (((y + shift) % 64) < 4)
    rgb[grid] *= 0.25
    # a white disc bouncing left and right, a black disc circling the centre
    for cx, cy, r, level in (
        (WIDTH * (0.5 + 0.35 * math.sin(2 * math.pi * t / 2)), HEIGHT * 0.7, 48, 1.0),
        (
            WIDTH * (0.5 + 0.25 * math.cos(2 * math.pi * t / 4)),
            HEIGHT * (0.45 + 0.25 * math.sin(2 * math.pi * t / 4)),
            32,
            0.0,
        ),
    ):
        rgb[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = level
    frame = (rgb * 255).round().to(torch.uint8)
    stamp.draw(frame, n)
    return frame


def write_clip(path: Path) -> None:
    encoder = H264Encoder(WIDTH, HEIGHT, FPS, bitrate=BITRATE, gop=FPS, threads=1)
    muxer = Muxer(path, format="mp4", encoder=encoder, options={"fflags": "+bitexact"})
    for n in range(SECONDS * FPS):
        muxer.mux(encoder.encode(VideoFrame(render(n), n, Fraction(1, FPS))))
    muxer.mux(encoder.flush())
    muxer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("clip.mp4"))
    arguments = parser.parse_args()
    torch.set_num_threads(1)  # element-wise work this small only loses to thread hand-offs
    write_clip(arguments.output)


if __name__ == "__main__":
    main()
