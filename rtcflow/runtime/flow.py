"""The running stream graph of one flow: source → steps → output clock → sinks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from rtcflow.media.frame import VideoFrame
from rtcflow.runtime.clock import OutputClock, frame_time_base
from rtcflow.runtime.queues import FrameQueue, QueueClosed
from rtcflow.runtime.sink_runner import SinkRunner
from rtcflow.runtime.stats import FlowCounters, LatencyWindow, RateMeter
from rtcflow.runtime.step import Step
from rtcflow.sinks.base import Sink
from rtcflow.sources.base import Source, SourceError
from rtcflow.spec.models import VideoSpec

log = logging.getLogger(__name__)


class FlowPhase(StrEnum):
    STARTING = "Starting"
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPED = "Stopped"


@dataclass
class StepErrors:
    count: int = 0
    last: str | None = None


@dataclass
class _Input:
    frame: VideoFrame
    arrived: float = field(default_factory=time.monotonic)


class FlowGraph:
    """The asyncio graph of one flow.

    Three tasks and one task per sink:

    - the *source pump* puts decoded frames into the input queue;
    - the *chain* takes one frame at a time through every step, in order (each workflow
      step computes on its own thread); a step that raises passes its input through and
      the error is counted; the step list is swapped only between two frames;
    - the *output* stamps frames with monotonic pts at the flow's fps and fans them out
      to every sink's own queue. A live flow ticks on a monotonic clock and repeats the
      last output when processing is late; a batch flow (a non-live source) resamples
      by timestamps and loses nothing.

    Every queue is bounded: live flows drop the oldest frame (counted), batch flows apply
    back-pressure. Components are replaced in place (``replace_source``,
    ``replace_steps``, ``add_sink``/``remove_sink``) while frames keep flowing.
    """

    def __init__(self, name: str, video: VideoSpec, source: Source) -> None:
        self.name = name
        self.video = video
        self.source = source
        self.live = source.live
        self.steps: list[Step] = []
        self.sinks: dict[str, SinkRunner] = {}
        self.phase = FlowPhase.STARTING
        self.error: str | None = None
        self.step_errors: dict[str, StepErrors] = {}
        self.time_base = frame_time_base(video.fps)
        self._input: FrameQueue[_Input] = FrameQueue(1 if self.live else 4, lossy=self.live)
        # Live output keeps one frame of jitter buffer (see _output_live).
        self._output: FrameQueue[VideoFrame] = FrameQueue(3 if self.live else 4, lossy=self.live)
        self._chain_lock = asyncio.Lock()
        self._frames_in = 0
        self._frames_processed = 0
        self._frames_out = 0
        self._frames_repeated = 0
        self._fps = RateMeter()
        self._latency = LatencyWindow()
        self._last_input: VideoFrame | None = None
        self._source_task: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.done = asyncio.Event()
        #: called in the chain with each frame before the steps process it (timeline hook:
        #: inputs set here apply to that frame)
        self.before_steps: Callable[[VideoFrame], None] | None = None
        #: called with each output tick index and the frame it shows (before restamping)
        #: before fan-out (timeline hook)
        self.on_tick: Callable[[int, VideoFrame], None] | None = None

    # -- lifecycle -------------------------------------------------------------------

    async def start(self, steps: Sequence[Step], sinks: Mapping[str, Sink]) -> None:
        """Open the sinks and let frames flow through ``steps``, which must already be
        started (``start_steps``), as for ``replace_steps``."""
        self.steps = list(steps)
        for name, sink in sinks.items():
            self._start_sink(name, sink)
        self._source_task = asyncio.create_task(self._pump(self.source), name=f"{self.name}:src")
        output = self._output_live() if self.live else self._output_batch()
        self._tasks = [
            asyncio.create_task(self._chain(), name=f"{self.name}:chain"),
            asyncio.create_task(output, name=f"{self.name}:out"),
        ]
        self.phase = FlowPhase.RUNNING

    async def wait(self) -> None:
        """Wait until the flow ends by itself (end of a non-looping source)."""
        await self.done.wait()

    async def stop(self) -> None:
        """Stop every task, finalize the sinks and release every component."""
        await self._cancel(self._source_task)
        for task in self._tasks:
            await self._cancel(task)
        await self._shutdown(drain=False)
        if self.phase not in (FlowPhase.COMPLETED, FlowPhase.FAILED):
            self.phase = FlowPhase.STOPPED

    async def _shutdown(self, *, drain: bool) -> None:
        for runner in list(self.sinks.values()):
            await runner.stop(drain=drain)
        for step in self.steps:
            await _close_quietly(step)
        await _close_quietly(self.source)
        self.done.set()

    @staticmethod
    async def _cancel(task: asyncio.Task[None] | None) -> None:
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- replacing components while running -------------------------------------------

    async def replace_source(self, source: Source) -> None:
        """Swap the source; steps and sinks keep running (live output repeats meanwhile)."""
        await self._cancel(self._source_task)
        old, self.source = self.source, source
        await _close_quietly(old)
        self._source_task = asyncio.create_task(self._pump(source), name=f"{self.name}:src")

    async def replace_steps(self, steps: Sequence[Step]) -> None:
        """Swap in a new step chain between two frames.

        Steps that are new in ``steps`` must already be started (compiled and warmed
        beside the running chain); steps no longer in the chain are closed after the swap.
        """
        async with self._chain_lock:
            old, self.steps = self.steps, list(steps)
        for step in old:
            if all(step is not kept for kept in self.steps):
                await _close_quietly(step)

    def add_sink(self, name: str, sink: Sink) -> None:
        self._start_sink(name, sink)

    async def remove_sink(self, name: str) -> None:
        runner = self.sinks.pop(name)
        await runner.stop(drain=False)

    def _start_sink(self, name: str, sink: Sink) -> None:
        runner = SinkRunner(name, sink, lossy=self.live)
        self.sinks[name] = runner
        runner.start()

    # -- the tasks --------------------------------------------------------------------

    async def _pump(self, source: Source) -> None:
        try:
            async for frame in source.frames():
                self._frames_in += 1
                await self._input.put(_Input(frame))
        except asyncio.CancelledError:
            raise
        except (SourceError, QueueClosed) as exc:
            self._fail(f"source: {exc}")
            return
        except Exception as exc:
            log.exception("flow %s: source crashed", self.name)
            self._fail(f"source: {type(exc).__name__}: {exc}")
            return
        log.info("flow %s: end of source", self.name)
        self._input.close()

    def _fail(self, message: str) -> None:
        self.error = message
        self.phase = FlowPhase.FAILED
        log.error("flow %s: %s", self.name, message)
        self._input.close()

    async def _chain(self) -> None:
        while True:
            try:
                item = await self._input.get()
            except QueueClosed:
                self._output.close()
                return
            self._last_input = item.frame
            async with self._chain_lock:
                if self.before_steps is not None:
                    self.before_steps(item.frame)
                frame = await self._run_steps(item.frame)
            if frame is None:
                continue
            self._frames_processed += 1
            self._latency.add(time.monotonic() - item.arrived)
            await self._output.put(frame)

    async def _run_steps(self, frame: VideoFrame) -> VideoFrame | None:
        current: VideoFrame | None = frame
        for step in self.steps:
            assert current is not None
            try:
                current = await step.process(current)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                errors = self.step_errors.setdefault(step.name, StepErrors())
                errors.count += 1
                errors.last = f"{type(exc).__name__}: {exc}"
                if errors.count == 1 or errors.count % 100 == 0:
                    log.warning(
                        "flow %s: step %s failed (%d): %s",
                        self.name,
                        step.name,
                        errors.count,
                        errors.last,
                    )
            if current is None:
                return None
        return current

    async def _emit(self, frame: VideoFrame, tick: int) -> None:
        stamped = frame.with_pts(tick, self.time_base)
        if self.on_tick is not None:
            self.on_tick(tick, frame)
        self._frames_out += 1
        self._fps.mark()
        for runner in list(self.sinks.values()):
            await runner.put(stamped)

    async def _output_live(self) -> None:
        clock = OutputClock(self.video.fps)
        last: VideoFrame | None = None
        async for tick in clock.ticks():
            # One frame of slack absorbs jitter between processing and the clock;
            # beyond that, skip to the newest frame (real time wins over completeness).
            frame = self._output.next_nowait(backlog=1)
            if frame is None:
                if self._output.closed:
                    break
                if last is not None:
                    self._frames_repeated += 1
                # Fallback until the first processed frame: the latest input, unprocessed.
                frame = last or self._last_input
                if frame is None:
                    continue
            else:
                last = frame
            await self._emit(frame, tick)
        await self._finish()

    async def _output_batch(self) -> None:
        """Resample by timestamps: each output tick shows the latest frame due by then."""
        period = float(self.time_base)
        tick = 0
        pending: VideoFrame | None = None
        origin: float | None = None
        while True:
            try:
                frame = await self._output.get()
            except QueueClosed:
                break
            origin = frame.time if origin is None else origin
            if pending is not None:
                while tick * period < frame.time - origin - 1e-6:
                    await self._emit(pending, tick)
                    tick += 1
            pending = frame
        if pending is not None:
            await self._emit(pending, tick)
        await self._finish()

    async def _finish(self) -> None:
        if self.phase is FlowPhase.RUNNING:
            self.phase = FlowPhase.COMPLETED
        await self._shutdown(drain=True)

    # -- status -----------------------------------------------------------------------

    def counters(self) -> FlowCounters:
        return FlowCounters(
            frames_in=self._frames_in,
            frames_processed=self._frames_processed,
            frames_out=self._frames_out,
            frames_dropped=self._input.dropped
            + self._output.dropped
            + sum(r.queue.dropped for r in self.sinks.values()),
            frames_repeated=self._frames_repeated,
            step_errors=sum(e.count for e in self.step_errors.values()),
            fps=round(self._fps.rate(), 2),
            latency_p50_ms=self._latency.percentile(50),
            latency_p95_ms=self._latency.percentile(95),
            queue_depths={
                "input": self._input.depth,
                "output": self._output.depth,
                **{f"sink:{n}": r.queue.depth for n, r in self.sinks.items()},
            },
        )

    def status(self) -> dict[str, Any]:
        return {
            "phase": self.phase.value,
            "error": self.error,
            "live": self.live,
            "counters": self.counters().model_dump(),
            "source": self.source.status(),
            "steps": {
                step.name: {
                    **step.status(),
                    "errors": self.step_errors.get(step.name, StepErrors()).count,
                    "last_error": self.step_errors.get(step.name, StepErrors()).last,
                }
                for step in self.steps
            },
            "sinks": {name: runner.status() for name, runner in self.sinks.items()},
        }


async def start_steps(steps: Sequence[Step]) -> None:
    """Start (compile, warm up) each step; when one fails, close them all and re-raise."""
    try:
        for step in steps:
            await step.start()
    except BaseException:
        for step in steps:
            await _close_quietly(step)
        raise


async def _close_quietly(component: Any) -> None:
    try:
        await component.close()
    except Exception as exc:  # a failing close must not stop the others
        log.warning("closing %r failed: %s", component, exc)
