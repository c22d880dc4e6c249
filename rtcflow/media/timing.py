"""Frame rates, time bases and real-time pacing.

A frame's presentation time is ``pts * time_base`` seconds (FFmpeg's convention,
``AVStream.time_base``). Live sources deliver each frame no earlier than its
presentation time on a monotonic clock, the way ``ffmpeg -re`` reads its input.
"""

from __future__ import annotations

import asyncio
from fractions import Fraction

#: The MPEG-TS and RTP video clock (ISO/IEC 13818-1 §2.4.2, RFC 6184 §5.1).
VIDEO_CLOCK = Fraction(1, 90_000)


def frame_rate(fps: float) -> Fraction:
    """``fps`` as an exact fraction (``29.97`` becomes ``2997/100``, ``30`` stays ``30``)."""
    if fps <= 0:
        raise ValueError(f"fps must be positive, not {fps}")
    return Fraction(fps).limit_denominator(1001)


def rescale(pts: int, source: Fraction, target: Fraction) -> int:
    """Convert ``pts`` from time base ``source`` to ``target``, rounding to nearest."""
    return round(pts * source / target)


class Pacer:
    """Waits until each frame's presentation time on the event loop's monotonic clock.

    The clock is anchored at the first frame. A frame that is already late is released
    at once; when the consumer falls more than ``max_lag`` seconds behind (a stall), the
    clock is re-anchored instead of releasing the backlog in a burst.
    """

    def __init__(self, max_lag: float = 0.5) -> None:
        self.max_lag = max_lag
        self.resyncs = 0
        self._anchor: float | None = None

    async def wait(self, time: float) -> None:
        """Sleep until presentation time ``time`` (seconds on the stream's timeline)."""
        now = asyncio.get_running_loop().time()
        if self._anchor is None:
            self._anchor = now - time
            return
        delay = self._anchor + time - now
        if delay > 0:
            await asyncio.sleep(delay)
        elif -delay > self.max_lag:
            self._anchor = now - time
            self.resyncs += 1
