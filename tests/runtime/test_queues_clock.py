import asyncio
import itertools
from fractions import Fraction

import pytest

from rtcflow.runtime.clock import OutputClock, frame_time_base
from rtcflow.runtime.queues import FrameQueue, QueueClosed


async def test_lossy_queue_keeps_newest_and_counts_drops():
    queue: FrameQueue[int] = FrameQueue(2, lossy=True)
    for i in range(5):
        await queue.put(i)
    assert queue.dropped == 3
    assert [await queue.get(), await queue.get()] == [3, 4]


async def test_lossless_queue_blocks_producer_until_room():
    queue: FrameQueue[int] = FrameQueue(1, lossy=False)
    await queue.put(1)
    blocked = asyncio.create_task(queue.put(2))
    await asyncio.sleep(0.01)
    assert not blocked.done()
    assert await queue.get() == 1
    await asyncio.wait_for(blocked, 1)
    assert await queue.get() == 2
    assert queue.dropped == 0


async def test_closed_queue_drains_then_raises():
    queue: FrameQueue[int] = FrameQueue(3)
    await queue.put(7)
    queue.close()
    assert await queue.get() == 7
    with pytest.raises(QueueClosed):
        await queue.get()
    with pytest.raises(QueueClosed):
        await queue.put(8)


async def test_next_nowait_skips_to_keep_backlog():
    queue: FrameQueue[int] = FrameQueue(4)
    for i in range(4):
        await queue.put(i)
    assert queue.next_nowait(backlog=1) == 2
    assert queue.dropped == 2
    assert queue.next_nowait(backlog=1) == 3
    assert queue.next_nowait(backlog=1) is None
    for i in range(3):
        await queue.put(i)
    assert queue.next_nowait(backlog=0) == 2


def test_time_base_makes_one_frame_one_unit():
    assert frame_time_base(30) == Fraction(1, 30)
    assert frame_time_base(29.97) * 29.97 == pytest.approx(1)


async def test_clock_ticks_are_consecutive_and_skip_when_far_behind():
    clock = OutputClock(100, max_lag=2)
    ticks = []
    async for tick in clock.ticks():
        ticks.append(tick)
        if len(ticks) == 3:
            await asyncio.sleep(0.1)  # ten periods behind
        if len(ticks) == 6:
            break
    assert ticks[:3] == [0, 1, 2]
    assert all(b > a for a, b in itertools.pairwise(ticks))
    assert clock.skipped >= 5
    assert ticks[3] >= 8
