"""Per-frame cost of timeline evaluation, against a plain dict lookup of the same targets.

- ``dict_lookup`` (the baseline): reading every target's current value from a dict.
- ``playhead``: :meth:`Playhead.advance` per frame, the runtime's per-frame call.
- ``value_at``: :meth:`Timeline.value_at` per frame, random access with no state.

The timeline is a looping show with crossfades, overlapping random ramps, a keyframe track
and periodic random seeds. Ratios are ours / baseline time per frame.
Run: ``python -m tests.benchmarks.bench_timeline [--seconds 600]``; results are also saved to
``bench-results/timeline.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rtcflow.spec.timeline import TimelineSpec
from rtcflow.timeline import Timeline

FPS = 30
SHOW = {
    "seed": 1,
    "loop": "2m",
    "cues": [
        {"at": 0, "set": {"dream.prompt": "dawn"}, "ramp": "5s"},
        {
            "at": "30s",
            "set": {"dream.prompt": "neon city", "dream.guidance_scale": 2.0},
            "ramp": "5s",
        },
        {
            "at": "1m",
            "set": {"dream.prompt": "forest"},
            "ramp": {"duration": 8, "easing": "ease-in-out"},
        },
        {"every": "20s", "set": {"dream.seed": "random"}},
        {"every": "7s", "set": {"fx.3.strength": "random(0.0, 1.0)"}, "ramp": "2s"},
    ],
    "tracks": [
        {
            "track": "fx.5.blur_radius",
            "keys": [
                {"at": 0, "value": 0.0},
                {"at": "40s", "value": 4.0},
                {"at": "2m", "value": 0.0},
            ],
        }
    ],
}
INITIAL = {
    "dream.prompt": "a sunset",
    "dream.guidance_scale": 1.0,
    "dream.seed": 42,
    "fx.3.strength": 0.5,
    "fx.5.blur_radius": 0.0,
}


def _best_ns_per_frame(frame: Callable[[float], Any], frames: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for index in range(frames):
            frame(index / FPS)
        best = min(best, (time.perf_counter_ns() - start) / frames)
    return best


RESULTS = Path("bench-results")


def run(seconds: float = 600.0, repeats: int = 3) -> dict[str, Any]:
    """Time ``seconds`` of 30 fps frames three ways; saved to bench-results/timeline.json."""
    frames = int(seconds * FPS)
    spec = TimelineSpec.model_validate(SHOW)
    origin = datetime(2025, 1, 1, tzinfo=UTC)
    targets = Timeline(spec, initial=INITIAL, origin=origin).targets
    static = Timeline(spec, initial=INITIAL, origin=origin).value_at(0)

    def plain(_t: float) -> None:
        for target in targets:
            static[target]

    def playhead_frames() -> Callable[[float], Any]:
        playhead = Timeline(spec, initial=INITIAL, origin=origin).playhead()
        return playhead.advance

    baseline = _best_ns_per_frame(plain, frames, repeats)
    # A fresh playhead per repeat: time only moves forward.
    playhead = min(_best_ns_per_frame(playhead_frames(), frames, 1) for _ in range(repeats))
    value_at = _best_ns_per_frame(
        Timeline(spec, initial=INITIAL, origin=origin).value_at, frames, repeats
    )
    result = {
        "frames": frames,
        "targets": len(targets),
        "ns_per_frame": {"dict_lookup": baseline, "playhead": playhead, "value_at": value_at},
        "ratio_to_dict_lookup": {"playhead": playhead / baseline, "value_at": value_at / baseline},
        "budget_share_at_30fps": {
            "playhead": playhead * FPS / 1e9,
            "value_at": value_at * FPS / 1e9,
        },
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "timeline.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="stream time to evaluate")
    results = run(parser.parse_args().seconds)
    per_frame = results["ns_per_frame"]
    print(f"{results['frames']} frames at {FPS} fps, {results['targets']} targets")
    for name, ns in per_frame.items():
        ratio = ns / per_frame["dict_lookup"]
        print(f"  {name:12s} {ns / 1000:8.2f} µs/frame  {ratio:6.1f}x dict lookup")
    print(f"saved {RESULTS / 'timeline.json'}")


if __name__ == "__main__":
    main()
