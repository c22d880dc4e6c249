"""The stream graph with real (test-defined) sources, steps and sinks."""

import asyncio

import pytest

from rtcflow.runtime.flow import FlowGraph, FlowPhase, start_steps
from tests.components import AddStep, CollectingSink, CountingSource


async def run_for(graph: FlowGraph, seconds: float) -> None:
    await asyncio.sleep(seconds)
    await graph.stop()


def pts_of(sink: CollectingSink) -> list[int]:
    return [f.pts for f in sink.frames]


async def test_batch_flow_delivers_every_frame_in_order(video):
    graph = FlowGraph("batch", video, CountingSource(video, 40, live=False))
    sink = CollectingSink(video)
    await graph.start([AddStep("add", 1)], {"out": sink})
    await asyncio.wait_for(graph.wait(), 10)
    assert graph.phase is FlowPhase.COMPLETED
    assert [int(f.data[0, 0, 0]) for f in sink.frames] == [(i % 256) + 1 for i in range(40)]
    assert pts_of(sink) == list(range(40))
    assert sink.closed == 1


async def test_live_output_keeps_fps_with_slow_step_by_repeating(video):
    graph = FlowGraph("slow", video, CountingSource(video, None))
    sink = CollectingSink(video)
    await graph.start([AddStep("slow", 0, delay=0.2)], {"out": sink})
    await run_for(graph, 1.5)
    counters = graph.counters()
    # Output ticks continue at the flow's rate although processing runs at ~5 fps.
    assert counters.frames_out > 3 * counters.frames_processed
    assert counters.frames_repeated > 0
    pts = pts_of(sink)
    assert pts == sorted(set(pts)), "pts must increase strictly"
    assert counters.frames_dropped > 0, "stale input frames are dropped, not queued"


async def test_failing_step_passes_frames_through_and_counts(video):
    graph = FlowGraph("fail", video, CountingSource(video, 20, live=False))
    sink = CollectingSink(video)
    await graph.start([AddStep("boom", 5, fail=True), AddStep("add", 1)], {"out": sink})
    await asyncio.wait_for(graph.wait(), 10)
    assert [int(f.data[0, 0, 0]) for f in sink.frames] == [i + 1 for i in range(20)]
    assert graph.step_errors["boom"].count == 20
    assert "step exploded" in graph.status()["steps"]["boom"]["last_error"]


async def test_slow_sink_does_not_block_the_other(video):
    graph = FlowGraph("fanout", video, CountingSource(video, None))
    fast, slow = CollectingSink(video), CollectingSink(video, delay=0.5)
    await graph.start([], {"fast": fast, "slow": slow})
    await run_for(graph, 1.5)
    assert len(fast.frames) >= 10 * len(slow.frames)
    assert graph.status()["sinks"]["slow"]["dropped"] > 0


async def test_failing_sink_is_reopened_and_others_continue(video):
    graph = FlowGraph("retry", video, CountingSource(video, None))
    good, flaky = CollectingSink(video), CollectingSink(video, fail_first=2)
    await graph.start([], {"good": good, "flaky": flaky})
    await run_for(graph, 2.5)
    assert flaky.opened >= 3, "reopened after each failure"
    assert flaky.frames, "writes resume after the failures"
    assert len(good.frames) > len(flaky.frames)
    assert graph.sinks["flaky"].failures == 2


async def test_step_swap_happens_between_frames_without_gaps(video):
    graph = FlowGraph("swap", video, CountingSource(video, None))
    sink = CollectingSink(video)
    first = AddStep("fx", 100)
    await graph.start([first], {"out": sink})
    await asyncio.sleep(0.5)
    second = AddStep("fx", 200)
    await second.start()
    await graph.replace_steps([second])
    assert first.closed
    await run_for(graph, 0.5)
    pts = pts_of(sink)
    assert pts == list(range(pts[0], pts[0] + len(pts))), "no tick lost across the swap"
    values = [int(f.data[0, 0, 0]) - int(f.data[-1, -1, -1]) for f in sink.frames]
    assert set(values) == {0}, "every frame is processed wholly by one chain"


async def test_source_replacement_keeps_sinks_receiving(video):
    graph = FlowGraph("resrc", video, CountingSource(video, None))
    sink = CollectingSink(video)
    await graph.start([], {"out": sink})
    await asyncio.sleep(0.4)
    before = len(sink.frames)
    await graph.replace_source(CountingSource(video, None))
    await run_for(graph, 0.4)
    assert len(sink.frames) > before
    assert sink.closed == 1 and sink.opened == 1, "the sink was never restarted"


async def test_start_steps_closes_every_step_when_one_fails():
    class FailingStart(AddStep):
        async def start(self) -> None:
            raise RuntimeError("cannot compile")

    steps = [AddStep("a", 1), FailingStart("b", 1), AddStep("c", 1)]
    with pytest.raises(RuntimeError, match="cannot compile"):
        await start_steps(steps)
    assert [s.closed for s in steps] == [True, True, True]
