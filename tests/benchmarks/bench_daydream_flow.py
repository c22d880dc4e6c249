"""The Daydream step in a running flow against the emulator, and a bare WHIP->WHEP loop.

- ``first_frame``: from starting a flow (file -> daydream -> probe sink, through the
  reconciler) to the first output frame that shows the stream's effect; baseline: the
  same against the same emulator with no graph: create the stream, publish over WHIP,
  play over WHEP, first frame.
- ``edit``: from a spec edit (file written, reconcile called) to the first output frame
  showing the new prompt, in ms and in output frames; baseline: a bare PATCH on the bare
  loop, to the first received frame showing it. The step coalesces edits for
  ``debounce_ms`` before it PATCHes (by design: one PATCH per burst); that wait is in the
  flow's figure and reported beside it.

Ratios are flow / bare (1.0 = no cost over plain code). Medians of ``rounds`` runs.
Run: ``python -m tests.benchmarks.bench_daydream_flow [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from rtcflow.daydream import DaydreamClient, parse_params
from rtcflow.daydream.emulator import DaydreamEmulator, WebRTCMedia
from rtcflow.daydream.session import PLAYBACK_URL_HEADER, SessionOptions
from rtcflow.protocols.webrtc import FrameReceiver, FrameTrack, WhepClient, WhipClient
from tests.daydream_flows.daydream_testing import (
    API_KEY,
    FPS,
    GREY,
    SD_TURBO,
    DaydreamFlows,
    centre,
    close_to,
    expected,
    flow_yaml,
    solid_frame,
    write_solid_clip,
)

RESULTS = Path("bench-results")
BEFORE = {"prompt": "a sunset", "guidance_scale": 4.0}
AFTER = {"prompt": "neon city", "guidance_scale": 4.0}


async def _flow_round(emulator: DaydreamEmulator, folder: Path) -> dict[str, float]:
    assert emulator.url is not None
    clip = write_solid_clip(folder / "grey.mp4")
    flows = DaydreamFlows(folder, emulator.url)
    try:
        started = time.monotonic()
        await flows.apply(flow_yaml(clip, BEFORE))
        probe = flows.probe()
        while not any(close_to(s.colour, expected(BEFORE)) for s in probe.samples):
            await asyncio.sleep(0.005)
        first = next(s for s in probe.samples if close_to(s.colour, expected(BEFORE)))
        await asyncio.sleep(0.5)
        edited = time.monotonic()
        await flows.apply(flow_yaml(clip, AFTER))
        while not any(close_to(s.colour, expected(AFTER)) for s in probe.since(edited)):
            await asyncio.sleep(0.005)
        after = probe.since(edited)
        shown = next(i for i, s in enumerate(after) if close_to(s.colour, expected(AFTER)))
    finally:
        await flows.stop()
    return {
        "first_frame_ms": (first.received - started) * 1e3,
        "edit_ms": (after[shown].received - edited) * 1e3,
        "edit_frames": shown + 1,
    }


@contextlib.asynccontextmanager
async def _feeding(track: FrameTrack) -> AsyncIterator[None]:
    async def feed() -> None:
        for index in itertools.count():
            track.put(solid_frame(GREY, index))
            await asyncio.sleep(1 / FPS)

    task = asyncio.create_task(feed())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _first_showing(receiver: FrameReceiver, params: dict[str, Any]) -> tuple[float, int]:
    for count in itertools.count(1):
        frame = await receiver.next()
        if close_to(centre(frame), expected(params)):
            return time.monotonic(), count
    raise AssertionError("unreachable")


async def _bare_round(emulator: DaydreamEmulator) -> dict[str, float]:
    assert emulator.url is not None
    track = FrameTrack(FPS)
    async with DaydreamClient(API_KEY, api_url=emulator.url) as client, _feeding(track):
        started = time.monotonic()
        stream = await client.create_stream(parse_params({"model_id": SD_TURBO, **BEFORE}))
        async with WhipClient(stream.whip_url, codec="h264") as whip:
            await whip.start(track)
            async with WhepClient(whip.response_headers[PLAYBACK_URL_HEADER]) as whep:
                first, _ = await _first_showing(await whep.start(), BEFORE)
                await asyncio.sleep(0.5)
                edited = time.monotonic()
                await client.update_stream(stream.id, {"model_id": SD_TURBO, **AFTER})
                assert whep.receiver is not None
                shown, frames = await _first_showing(whep.receiver, AFTER)
        await client.delete_stream(stream.id)
    track.stop()
    return {
        "first_frame_ms": (first - started) * 1e3,
        "edit_ms": (shown - edited) * 1e3,
        "edit_frames": frames,
    }


async def measure(rounds: int) -> dict[str, Any]:
    flow, bare = [], []
    async with DaydreamEmulator(api_key=API_KEY, media=WebRTCMedia()) as emulator:
        for index in range(rounds):  # alternate, so load on the machine hits both sides
            with tempfile.TemporaryDirectory() as folder:
                flow.append(await _flow_round(emulator, Path(folder)))
            bare.append(await _bare_round(emulator))
            print(f"round {index}: flow {flow[-1]} bare {bare[-1]}", flush=True)

    def median(rows: list[dict[str, float]], key: str) -> float:
        return round(statistics.median(row[key] for row in rows), 1)

    result: dict[str, Any] = {"rounds": rounds, "debounce_ms": SessionOptions().debounce * 1e3}
    for key in ("first_frame_ms", "edit_ms", "edit_frames"):
        ours, baseline = median(flow, key), median(bare, key)
        result[key] = {"flow": ours, "bare": baseline, "ratio": round(ours / baseline, 3)}
    return result


def run(rounds: int = 3) -> dict[str, Any]:
    """Run the benchmark; the result is also saved to bench-results/daydream_flow.json."""
    result = asyncio.run(measure(rounds))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "daydream_flow.json").write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    print(json.dumps(run(parser.parse_args().rounds), indent=2))
