"""Bounded frame queues: latest-frame-wins for live flows, back-pressure for batch flows."""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

T = TypeVar("T")


class QueueClosed(Exception):
    """The producer closed the queue and every item has been taken."""


class FrameQueue(Generic[T]):
    """A bounded FIFO between two tasks.

    A *lossy* queue never blocks its producer: when full, the oldest item is dropped and
    counted (real-time: a slow consumer sees the newest frames). A *lossless* queue makes
    the producer wait for room (batch: every frame is processed). Either way memory is
    bounded by ``maxsize``.
    """

    def __init__(self, maxsize: int = 1, *, lossy: bool = True) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self._items: asyncio.Queue[T] = asyncio.Queue(maxsize)
        self._lossy = lossy
        self._closed = False
        self._wakeup = asyncio.Event()
        self.dropped = 0

    @property
    def depth(self) -> int:
        return self._items.qsize()

    @property
    def closed(self) -> bool:
        return self._closed

    async def put(self, item: T) -> None:
        """Enqueue ``item``, dropping the oldest (lossy) or waiting for room (lossless)."""
        if self._closed:
            raise QueueClosed
        if self._lossy:
            if self._items.full():
                self._items.get_nowait()
                self.dropped += 1
            self._items.put_nowait(item)
        else:
            await self._items.put(item)
        self._wakeup.set()

    def get_nowait(self) -> T | None:
        """The next item, or ``None`` when empty."""
        try:
            return self._items.get_nowait()
        except asyncio.QueueEmpty:
            return None

    def next_nowait(self, backlog: int = 0) -> T | None:
        """The next item, first skipping (and counting) the oldest ones so that at most
        ``backlog`` items stay queued after it; ``None`` when empty.

        ``backlog=0`` returns the newest item; ``backlog=1`` keeps a one-item jitter
        buffer, so a consumer ticking at the producer's rate sees every item.
        """
        while self.depth > backlog + 1:
            self.get_nowait()
            self.dropped += 1
        return self.get_nowait()

    async def get(self) -> T:
        """Wait for the next item; raises :class:`QueueClosed` once closed and drained."""
        while True:
            item = self.get_nowait()
            if item is not None:
                return item
            if self._closed:
                raise QueueClosed
            self._wakeup.clear()
            await self._wakeup.wait()

    def close(self) -> None:
        """No more items will come; waiting consumers wake up."""
        self._closed = True
        self._wakeup.set()
