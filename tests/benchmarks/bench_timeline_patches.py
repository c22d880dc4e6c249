"""PATCH rate during a timeline prompt ramp, against the configured bound.

A live flow (solid clip -> daydream step on the emulator -> probe) runs a timeline that
crossfades ``dream.prompt`` over ``ramp`` seconds. The timeline driver steps the
crossfade at a bounded rate (4 updates/s by default) and coalesces changes into one
PATCH. The baseline, measured in the same run, is what a plain per-frame updater would
send: one PATCH for every output frame shown during the ramp.

Run: ``python -m tests.benchmarks.bench_timeline_patches [--ramp 4]``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import tempfile
from pathlib import Path
from typing import Any

from rtcflow.daydream.emulator import DaydreamEmulator, WebRTCMedia
from tests.daydream_flows.daydream_testing import (
    API_KEY,
    DaydreamFlows,
    flow_yaml,
    patches,
    until,
    write_solid_clip,
)

RATE_BOUND = 4.0  # the timeline driver's default updates per second


async def measure(ramp: float) -> dict[str, Any]:
    async with DaydreamEmulator(api_key=API_KEY, media=WebRTCMedia()) as emulator:
        assert emulator.url is not None
        with tempfile.TemporaryDirectory() as folder:
            clip = write_solid_clip(Path(folder) / "grey.mp4")
            flows = DaydreamFlows(Path(folder), emulator.url)
            cue = [{"at": "1s", "set": {"dream.prompt": "neon city"}, "ramp": f"{ramp}s"}]
            try:
                await flows.apply(flow_yaml(clip, {"prompt": "a sunset"}, timeline=cue))
                probe = flows.probe()
                await until(
                    lambda: any(p["prompt"] == "neon city" for p in patches(emulator)),
                    timeout=30 + ramp,
                )
                times = [r.received for r in emulator.requests if r.method == "PATCH"]
                start, end = times[0], times[-1]
                frames_during = len([s for s in probe.samples if start <= s.received <= end])
            finally:
                await flows.stop()
    gaps = [b - a for a, b in itertools.pairwise(times)]
    span = end - start
    return {
        "ramp_s": ramp,
        "patches": len(times),
        "per_frame_baseline_patches": frames_during,
        "ratio": round(len(times) / max(frames_during, 1), 3),
        "rate_per_s": round((len(times) - 1) / span, 2) if span > 0 else None,
        "min_gap_s": round(min(gaps), 3) if gaps else None,
        "bound_per_s": RATE_BOUND,
        "within_bound": bool(gaps) and min(gaps) >= 1 / RATE_BOUND * 0.9,
    }


def run(ramp: float = 4.0) -> dict[str, Any]:
    return asyncio.run(measure(ramp))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--ramp", type=float, default=4.0)
    print(json.dumps(run(parser.parse_args().ramp), indent=2))
