"""The ``testsrc`` source: colour bars, a moving block, a frame counter and a stamp.

Everything is drawn with torch tensor operations on a worker thread. The counter is
for people (bitmap digits scaled up, bottom left); the stamp along the top edge is for
programs (``rtcflow.media.stamp.read`` gives the frame number back, even after
compression and inversion).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from typing import Any

import torch

from rtcflow.media import stamp
from rtcflow.media.frame import VideoFrame
from rtcflow.media.threaded import ThreadedIterator
from rtcflow.media.timing import Pacer, frame_rate
from rtcflow.sources.base import Source
from rtcflow.spec.models import TestSourceSpec, VideoSpec

# 75% colour bars (ITU-R BT.801 order): white, yellow, cyan, green, magenta, red, blue.
_BARS = torch.tensor(
    [
        [191, 191, 191],
        [191, 191, 0],
        [0, 191, 191],
        [0, 191, 0],
        [191, 0, 191],
        [191, 0, 0],
        [0, 0, 191],
    ],
    dtype=torch.uint8,
)

# 3x5 bitmap digits 0-9, one row of three pixels per string.
_GLYPHS = torch.tensor(
    [
        [[int(bit) for bit in row] for row in rows.split()]
        for rows in (
            "111 101 101 101 111",
            "010 110 010 010 111",
            "111 001 111 100 111",
            "111 001 111 001 111",
            "101 101 111 001 001",
            "111 100 111 001 111",
            "111 100 111 101 111",
            "111 001 001 001 001",
            "111 101 111 101 111",
            "111 101 111 001 111",
        )
    ],
    dtype=torch.bool,
)


def digits_mask(text: str, scale: int) -> torch.Tensor:
    """A bool ``[5*scale, (4*len-1)*scale]`` mask of ``text`` (digits only) in 3x5 glyphs."""
    glyphs = _GLYPHS[torch.tensor([int(c) for c in text])]  # [n, 5, 3]
    spaced = torch.nn.functional.pad(glyphs, (0, 1))  # one blank column after each
    line = spaced.permute(1, 0, 2).reshape(5, -1)[:, :-1]
    return line.repeat_interleave(scale, 0).repeat_interleave(scale, 1)


class TestPattern:
    """Renders frame ``n`` of the pattern at a fixed size."""

    __test__ = False  # not a pytest class

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self.stamped = stamp.fits(width, height)
        self.top = width // stamp.CELLS if self.stamped else 0
        bars_bottom = self.top + (height - self.top) * 2 // 3
        background = torch.zeros((height, width, 3), dtype=torch.uint8)
        columns = torch.arange(width) * len(_BARS) // width
        background[self.top : bars_bottom] = _BARS[columns]
        ramp = (torch.arange(width) * 255 // max(1, width - 1)).to(torch.uint8)
        background[bars_bottom:] = ramp[None, :, None]
        self.background = background
        self.block = max(2, min(width, height) // 6)
        self.block_top = self.top + (bars_bottom - self.top - self.block) // 2
        self.scale = max(1, height // 64)

    def render(self, n: int) -> torch.Tensor:
        """Frame ``n``: RGB uint8 ``[height, width, 3]``."""
        frame = self.background.clone()
        span = max(1, self.width - self.block)
        x = abs((n * 4) % (2 * span) - span)  # bounces between the edges
        block = frame[self.block_top : self.block_top + self.block, x : x + self.block]
        block[:] = 0
        inset = self.block // 4
        block[inset:-inset, inset:-inset] = 255
        self._draw_counter(frame, n)
        if self.stamped:
            stamp.draw(frame, n % stamp.LIMIT)
        return frame

    def _draw_counter(self, frame: torch.Tensor, n: int) -> None:
        text = str(n)
        margin = self.scale * 2
        scale = min(self.scale, (self.width - 2 * margin) // (4 * len(text) - 1))
        if scale < 1 or 5 * scale + 2 * margin > self.height:
            return
        mask = digits_mask(text, scale)
        height, width = mask.shape
        bottom = self.height - margin
        box = frame[bottom - height - margin : bottom + margin, : width + 2 * margin]
        box[:] = 0
        glyph_area = box[margin : margin + height, margin : margin + width]
        glyph_area[mask] = 255


class TestSource(Source):
    """A synthetic source at the flow's size and fps; ``duration`` ends it.

    Frame ``n`` has pts ``n`` in time base ``1/fps``. With ``realtime`` frames are
    released at that rate (a live source); without it as fast as they are drawn.
    """

    __test__ = False  # not a pytest class

    def __init__(self, spec: TestSourceSpec, video: VideoSpec) -> None:
        super().__init__(spec, video)
        self.spec: TestSourceSpec = spec
        self.live = spec.realtime
        self.time_base = 1 / frame_rate(video.fps)
        self.total = None if spec.duration is None else max(1, round(spec.duration * video.fps))
        self.pattern = TestPattern(video.width, video.height)
        self.frames_made = 0

    async def frames(self) -> AsyncIterator[VideoFrame]:
        reader = ThreadedIterator(self._generate, name="testsrc")
        pacer = Pacer() if self.spec.realtime else None
        try:
            async for frame in reader:
                if pacer is not None:
                    await pacer.wait(frame.time)
                self.frames_made += 1
                yield frame
        finally:
            await reader.aclose()

    def status(self) -> dict[str, Any]:
        return {"frames": self.frames_made, "total": self.total}

    def _generate(self) -> Iterator[VideoFrame]:
        numbers = itertools.count() if self.total is None else range(self.total)
        for n in numbers:
            yield VideoFrame(data=self.pattern.render(n), pts=n, time_base=self.time_base)
