from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from rtcflow.media.threaded import ThreadedIterator


class Counter:
    """A blocking iterator that records which thread runs it and how far it got."""

    def __init__(self, limit: int | None = None, fail_at: int | None = None) -> None:
        self.limit = limit
        self.fail_at = fail_at
        self.produced = 0
        self.closed = False
        self.threads: set[str] = set()

    def __call__(self) -> Iterator[int]:
        self.threads.add(threading.current_thread().name)
        try:
            while self.limit is None or self.produced < self.limit:
                if self.produced == self.fail_at:
                    raise RuntimeError(f"broken at {self.produced}")
                self.threads.add(threading.current_thread().name)
                self.produced += 1
                yield self.produced - 1
        finally:
            self.closed = True


async def test_yields_everything_in_order_from_a_worker_thread():
    counter = Counter(limit=50)
    items = [item async for item in ThreadedIterator(counter, name="counter-thread")]
    assert items == list(range(50))
    assert counter.threads == {"counter-thread"}
    assert counter.closed


async def test_errors_reach_the_consumer():
    counter = Counter(fail_at=3)
    received = []
    with pytest.raises(RuntimeError, match="broken at 3"):
        async for item in ThreadedIterator(counter):
            received.append(item)
    assert received == [0, 1, 2]
    assert counter.closed


async def test_the_thread_stays_at_most_prefetch_items_ahead():
    counter = Counter()
    reader = ThreadedIterator(counter, prefetch=3)
    assert await anext(reader) == 0
    await asyncio.sleep(0.2)  # plenty of time to run ahead if nothing stopped it
    assert counter.produced == 1 + 3
    await reader.aclose()
    assert counter.closed


async def test_aclose_stops_the_thread_and_ends_a_waiting_consumer():
    started = threading.Event()
    release = threading.Event()

    def slow() -> Iterator[int]:
        yield 0
        started.set()
        release.wait(5)
        yield 1
        yield 2

    reader = ThreadedIterator(slow, name="slow-reader")
    assert await anext(reader) == 0
    waiting = asyncio.create_task(anext(reader, None))
    await asyncio.to_thread(started.wait, 5)
    closing = asyncio.create_task(reader.aclose())
    release.set()
    await closing
    assert await waiting in (1, None)  # the item in flight, or the end
    assert await anext(reader, None) is None
    assert "slow-reader" not in {t.name for t in threading.enumerate()}
