"""One sink behind its own bounded queue, reopened with backoff when it fails."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from rtcflow.media.frame import VideoFrame
from rtcflow.protocols.retry import Backoff
from rtcflow.runtime.queues import FrameQueue, QueueClosed
from rtcflow.sinks.base import Sink

log = logging.getLogger(__name__)


class SinkRunner:
    """Feeds ``sink`` from a queue of its own so it can never block the graph.

    Live flows use a lossy queue (a slow sink loses its oldest frames, counted); batch
    flows a lossless one. When ``open`` or ``write`` fails the sink is closed, reopened
    after a backoff delay, and the error is kept for status; the other sinks go on.
    """

    def __init__(self, name: str, sink: Sink, *, lossy: bool, maxsize: int = 4) -> None:
        self.name = name
        self.sink = sink
        self.queue: FrameQueue[VideoFrame] = FrameQueue(maxsize, lossy=lossy)
        self.frames_written = 0
        self.failures = 0
        self.last_error: str | None = None
        self._is_open = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"sink:{self.name}")

    async def put(self, frame: VideoFrame) -> None:
        """Offer a frame (waits only on a lossless queue)."""
        with contextlib.suppress(QueueClosed):
            await self.queue.put(frame)

    async def stop(self, *, drain: bool) -> None:
        """Stop after writing what is queued (``drain``) or at once; then close the sink."""
        self.queue.close()
        if self._task is not None:
            if not drain:
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close()

    async def _close(self) -> None:
        if self._is_open:
            self._is_open = False
            try:
                await self.sink.close()
            except Exception as exc:  # closing must not take the flow down
                log.warning("sink %s: close failed: %s", self.name, exc)

    async def _run(self) -> None:
        backoff = Backoff(initial=0.5, maximum=10.0)
        while True:
            try:
                if not self._is_open:
                    await self.sink.open()
                    self._is_open = True
                frame = await self.queue.get()
                await self.sink.write(frame)
                self.frames_written += 1
                if self.last_error is not None and backoff.attempts:
                    log.info("sink %s: recovered", self.name)
                    backoff.reset()
                    self.last_error = None
            except QueueClosed:
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("sink %s failed (%s); retrying", self.name, self.last_error)
                await self._close()
                await asyncio.sleep(backoff.delay())

    def status(self) -> dict[str, Any]:
        return {
            "frames_written": self.frames_written,
            "queue_depth": self.queue.depth,
            "dropped": self.queue.dropped,
            "failures": self.failures,
            "last_error": self.last_error,
            "open": self._is_open,
            **self.sink.status(),
        }
