"""Workflow engine overhead: the compiled plan against plain Python and per-frame recompiling.

A chain of N cheap nodes (``Nudge``: ``image + amount`` on a small tensor, written in
ComfyUI's node protocol) runs three ways in the same process:

- ``plain``: the same node functions called in a hand-written Python loop (the baseline);
- ``engine``: ``CompiledWorkflow.run`` (target: at most 1.2x the baseline per frame);
- ``recompile``: parse, validate and compile the workflow again for every frame, then run
  it, which is what queueing a prompt per frame costs (ComfyUI re-validates and re-walks
  the graph for each prompt); shown for context, to see what compiling once buys.

Each runner is timed over interleaved rounds and its best round is kept (as ``timeit``
advises: background load only ever adds time), so a busy machine skews all three alike.

Run: ``python -m tests.benchmarks.bench_engine [--frames 2000] [--device cpu]
[--output bench-results/engine.json]`` (``RTCFLOW_BENCH_ENGINE_OUTPUT`` also sets the path).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from rtcflow.workflow import NodeRegistry, compile_workflow, parse_workflow

DEFAULT_OUTPUT = Path("bench-results/engine.json")
TARGET_RATIO = 1.2
FRAME_SHAPE = (1, 8, 8, 3)
AMOUNT = 1e-4


class Nudge:
    """A cheap node: adds a constant to the image."""

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "image": ("IMAGE",),
                "amount": ("FLOAT", {"default": 0.0, "min": -1.0, "max": 1.0}),
            }
        }

    def run(self, image: torch.Tensor, amount: float) -> tuple[torch.Tensor]:
        return (image + amount,)


def chain_workflow(length: int) -> dict[str, Any]:
    """API format: LoadTensor -> ``length`` Nudge nodes -> SaveTensor."""
    api: dict[str, Any] = {"0": {"class_type": "LoadTensor", "inputs": {}}}
    for index in range(1, length + 1):
        api[str(index)] = {
            "class_type": "Nudge",
            "inputs": {"image": [str(index - 1), 0], "amount": AMOUNT},
        }
    api["out"] = {"class_type": "SaveTensor", "inputs": {"images": [str(length), 0]}}
    return api


def plain_loop(length: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """The baseline: the same node methods called one after another."""
    functions = [Nudge().run for _ in range(length)]

    def run(image: torch.Tensor) -> torch.Tensor:
        for function in functions:
            image = function(image=image, amount=AMOUNT)[0]
        return image

    return run


def recompile_every_frame(
    api: dict[str, Any], registry: NodeRegistry
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The per-prompt way: validate and plan the whole graph again for each frame."""

    def run(image: torch.Tensor) -> torch.Tensor:
        return compile_workflow(parse_workflow(api, registry), registry).run(image)

    return run


def per_frame_us(
    runs: dict[str, Callable[[torch.Tensor], torch.Tensor]],
    frames: dict[str, int],
    image: torch.Tensor,
    rounds: int,
) -> dict[str, float]:
    """Microseconds per frame of each runner: the best of interleaved rounds."""
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for runner in runs.values():
        runner(image)  # warm up
    for _ in range(rounds):
        for name, runner in runs.items():
            count = frames[name]
            start = time.perf_counter()
            for _ in range(count):
                runner(image)
            if image.is_cuda:
                torch.cuda.synchronize()
            samples[name].append((time.perf_counter() - start) / count * 1e6)
    return {name: min(values) for name, values in samples.items()}


def run(
    lengths: tuple[int, ...] = (20, 100), frames: int = 2000, device: str = "cpu", rounds: int = 9
) -> dict[str, Any]:
    """Measure every chain length; returns the results (also what ``main`` saves)."""
    registry = NodeRegistry.with_builtins()
    registry.register({"Nudge": Nudge})
    image = torch.rand(FRAME_SHAPE, device=device)
    chains: dict[str, Any] = {}
    for length in lengths:
        api = chain_workflow(length)
        workflow = compile_workflow(parse_workflow(api, registry), registry)
        baseline = plain_loop(length)
        assert torch.allclose(workflow.run(image), baseline(image))
        per_round = max(1, frames // (length * rounds))
        timings = per_frame_us(
            {
                "plain": baseline,
                "engine": workflow.run,
                "recompile": recompile_every_frame(api, registry),
            },
            {"plain": per_round * 10, "engine": per_round * 10, "recompile": per_round},
            image,
            rounds,
        )
        chains[str(length)] = {
            **{f"{name}_us": round(value, 2) for name, value in timings.items()},
            "engine_ratio": round(timings["engine"] / timings["plain"], 3),
            "recompile_ratio": round(timings["recompile"] / timings["plain"], 3),
        }
    return {
        "benchmark": "engine",
        "device": device,
        "frame_shape": list(FRAME_SHAPE),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "target_engine_ratio": TARGET_RATIO,
        "meets_target": all(c["engine_ratio"] <= TARGET_RATIO for c in chains.values()),
        "chains": chains,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=2000, help="node calls per round budget")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--lengths", type=int, nargs="+", default=[20, 100])
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(os.environ.get("RTCFLOW_BENCH_ENGINE_OUTPUT", DEFAULT_OUTPUT)),
    )
    args = parser.parse_args()
    result = run(tuple(args.lengths), args.frames, args.device)
    print(f"workflow engine, {args.device}, IMAGE {FRAME_SHAPE}, per frame (best of rounds):")
    print(f"{'nodes':>6} {'plain':>10} {'engine':>10} {'ratio':>7} {'recompile':>11} {'ratio':>8}")
    for length, chain in result["chains"].items():
        print(
            f"{length:>6} {chain['plain_us']:>8.1f}us {chain['engine_us']:>8.1f}us"
            f" {chain['engine_ratio']:>6.2f}x {chain['recompile_us']:>9.1f}us"
            f" {chain['recompile_ratio']:>7.1f}x"
        )
    verdict = "meets" if result["meets_target"] else "MISSES"
    print(f"engine {verdict} the target of <= {TARGET_RATIO}x the plain loop")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()
