"""A timeline ramp on a Daydream prompt: a throttled crossfade of weighted prompts."""

from __future__ import annotations

import itertools
from pathlib import Path

from rtcflow.daydream.emulator import DaydreamEmulator
from tests.daydream_flows.daydream_testing import (
    DaydreamFlows,
    close_to,
    expected,
    flow_yaml,
    patches,
    until,
)

RAMP_SECONDS = 2.0
#: The timeline driver lets 4 updates a second through; the final value comes on top.
MAX_PATCHES = int(RAMP_SECONDS * 4) + 2


async def test_a_prompt_ramp_patches_weighted_prompts_at_a_bounded_rate(
    flows: DaydreamFlows, emulator: DaydreamEmulator, clip: Path
) -> None:
    ramp = [{"at": "1s", "set": {"dream.prompt": "neon city"}, "ramp": f"{RAMP_SECONDS}s"}]
    await flows.apply(flow_yaml(clip, {"prompt": "a sunset"}, timeline=ramp))
    probe = flows.probe()
    await until(lambda: any(p["prompt"] == "neon city" for p in patches(emulator)), timeout=30)

    sent = patches(emulator)
    assert 4 <= len(sent) <= MAX_PATCHES
    assert all(set(p) == {"model_id", "prompt"} for p in sent)
    blends = [p["prompt"] for p in sent[:-1]]
    assert all([text for text, _ in blend] == ["a sunset", "neon city"] for blend in blends)
    weights = [blend[1][1] for blend in blends]
    assert weights == sorted(weights) and weights[0] > 0 and weights[-1] < 1
    assert sent[-1]["prompt"] == "neon city"
    times = [r.received for r in emulator.requests if r.method == "PATCH"]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.2  # rate-limited, never one PATCH per frame
    await until(lambda: close_to(probe.samples[-1].colour, expected({"prompt": "neon city"})))
