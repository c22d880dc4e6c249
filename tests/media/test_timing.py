from __future__ import annotations

import asyncio
from fractions import Fraction

import pytest

from rtcflow.media.timing import Pacer, frame_rate, rescale


def test_frame_rate_is_exact():
    assert frame_rate(30) == 30
    assert frame_rate(29.97) == Fraction(2997, 100)
    assert frame_rate(30000 / 1001) == Fraction(30000, 1001)
    with pytest.raises(ValueError):
        frame_rate(0)


def test_rescale_rounds_to_nearest():
    assert rescale(1, Fraction(1, 30), Fraction(1, 90_000)) == 3000
    assert rescale(2, Fraction(1, 30), Fraction(1, 1000)) == 67
    assert rescale(3000, Fraction(1, 90_000), Fraction(1, 30)) == 1


async def test_pacer_never_releases_a_frame_early():
    loop = asyncio.get_running_loop()
    pacer = Pacer()
    times = [0.0, 0.02, 0.04, 0.1, 0.1, 0.12]
    released = []
    for time in times:
        await pacer.wait(time)
        released.append(loop.time())
    for time, at in zip(times, released, strict=True):
        assert at - released[0] >= time - 0.002
    assert pacer.resyncs == 0


async def test_pacer_releases_late_frames_at_once_and_reanchors_after_a_stall():
    loop = asyncio.get_running_loop()
    pacer = Pacer(max_lag=0.05)
    await pacer.wait(0.0)
    await asyncio.sleep(0.2)  # the consumer stalls for 0.2 s
    start = loop.time()
    await pacer.wait(0.04)  # late: released without sleeping
    assert pacer.resyncs == 1  # and the clock is anchored again at the stalled frame
    await pacer.wait(0.08)
    assert loop.time() - start >= 0.04 - 0.002  # next frame paced from the new anchor
