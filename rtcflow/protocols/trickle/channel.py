"""Server-side state of trickle channels: a ring of segments whose bytes fan out to readers.

Mirrors go-livepeer ``trickle/trickle_server.go`` (``Stream``, ``Segment``): a channel keeps
the last ``RING_SIZE`` segments; a segment is an append-only list of the byte chunks its
publisher sent, and every reader walks the same list, so fan-out never copies per
subscriber. Everything here runs on one event loop, so no locks are needed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from rtcflow.protocols.trickle.wire import RING_SIZE, SEQ_CURRENT, SEQ_NEXT

log = logging.getLogger(__name__)


class Segment:
    """One segment: chunks appended by its publisher, read concurrently by subscribers."""

    def __init__(self, seq: int) -> None:
        self.seq = seq
        self.chunks: list[bytes] = []
        self.size = 0
        self.closed = False
        self.readers = 0  # subscribers currently reading (or waiting for) this segment
        # Set when the segment ends; a publisher waiting on its first byte watches it.
        self.ended = asyncio.Event()
        # Replaced after every append so that waiting readers wake exactly once per change.
        self._changed = asyncio.Event()

    @property
    def fresh(self) -> bool:
        """Not written to and not closed yet (a pre-created or pre-connected segment)."""
        return not self.closed and self.size == 0

    def append(self, data: bytes) -> None:
        self.chunks.append(data)
        self.size += len(data)
        self._wake()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.ended.set()
            self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        """Every chunk from the start, then new ones as they arrive, until the segment ends."""
        index = 0
        self.readers += 1
        try:
            while True:
                if index < len(self.chunks):
                    index += 1
                    yield self.chunks[index - 1]
                elif self.closed:
                    return
                else:
                    await self._changed.wait()
        finally:
            self.readers -= 1


class Channel:
    """A named stream: a ring of the last ``RING_SIZE`` segments and the write position."""

    def __init__(self, name: str, mime_type: str, now: float) -> None:
        self.name = name
        self.mime_type = mime_type
        self.next_write = 0  # seq of the next segment to be written
        self.write_time = now  # loop time of the last segment start, for the idle sweep
        self.closed = False
        self._ring: list[Segment | None] = [None] * RING_SIZE

    def segment_for_write(self, seq: int) -> Segment:
        """The segment a POST to ``seq`` (``-1``: next) writes into, created if needed.

        A fresh segment at that seq (pre-created by a subscriber or a pre-connected POST)
        is reused. One that already has data or ended is replaced: that is a publisher
        retrying the segment, and its readers see the old attempt end.
        """
        if seq == SEQ_NEXT:
            seq = self.next_write
        slot = seq % RING_SIZE
        current = self._ring[slot]
        if current is not None:
            if current.seq == seq and current.fresh:
                return current
            current.close()
        segment = self._ring[slot] = Segment(seq)
        return segment

    def segment_for_read(self, seq: int) -> tuple[int, Segment | None]:
        """Resolve ``seq`` (``-1`` next, ``-2`` current) and find its segment.

        A request for the next write position pre-creates the segment so that the
        subscriber waits for its first byte. go-livepeer also allows seq 1 on a channel
        nothing was written to; we allow any seq there, because a restarted server cannot
        know where its publisher resumes (the publisher keeps its numbering). Returns the
        resolved seq and the segment, or None when it is outside the window.
        """
        if seq == SEQ_NEXT:
            seq = self.next_write
        elif seq == SEQ_CURRENT:
            seq = max(self.next_write - 1, 0)
        if seq < 0:
            return seq, None
        slot = seq % RING_SIZE
        segment = self._ring[slot]
        if segment is not None and segment.seq == seq:
            return seq, segment
        if not self.closed and (seq == self.next_write or self.next_write == 0):
            segment = self._ring[slot] = Segment(seq)
            return seq, segment
        return seq, None

    def find(self, seq: int) -> Segment | None:
        segment = self._ring[seq % RING_SIZE] if seq >= 0 else None
        return segment if segment is not None and segment.seq == seq else None

    def mark_started(self, seq: int, now: float) -> None:
        """A segment started (or was skipped): it is now the current one."""
        self.next_write = seq + 1
        self.write_time = now

    def close_before(self, seq: int) -> None:
        """``Lp-Trickle-Reset``: end segments older than ``seq``, keep pre-connected ones."""
        for segment in self._ring:
            if segment is not None and segment.seq < seq:
                segment.close()

    def close(self) -> None:
        """End every segment and refuse new ones; readers see ``Lp-Trickle-Closed``."""
        self.closed = True
        for segment in self._ring:
            if segment is not None:
                segment.close()
        self._ring = [None] * RING_SIZE

    @property
    def buffered_bytes(self) -> int:
        return sum(segment.size for segment in self._ring if segment is not None)
