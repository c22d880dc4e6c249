"""Daydream benchmarks (REST side and the emulator's effect), each against a plain baseline.

- ``patch``: live parameter updates through :class:`DaydreamClient` (params validated,
  ``changed_params`` computed, retry wrapper, answer parsed) against bare ``httpx`` PATCHes
  of the same bodies, both to the emulator on loopback in the same run.
- ``effect``: the emulator's :func:`apply_effect` on 512x512 frames (weighted prompt,
  weighted seed) against a plain torch tint blend of the same frames.

Ratios are ours / baseline time per operation (1.0 = as fast as plain code).
Run: ``python -m tests.benchmarks.bench_daydream [--updates 300] [--frames 300]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import torch

from rtcflow.daydream import DaydreamClient, changed_params, merge_params, parse_params
from rtcflow.daydream.emulator import DaydreamEmulator, apply_effect

RESULTS = Path("bench-results")
API_KEY = "bench-key"
PARAMS = {"model_id": "stabilityai/sd-turbo", "prompt": "a sunset", "seed": 1}


def _prompt(i: int) -> list[list[Any]]:
    return [["a sunset", 1 - i / 1000], ["a neon city", i / 1000]]


async def patch(updates: int, rounds: int = 3) -> dict[str, float]:
    """Best of ``rounds`` alternating runs per side, so load on the machine hits both."""
    async with DaydreamEmulator(api_key=API_KEY) as emulator:
        url = str(emulator.url)
        headers = {"Authorization": f"Bearer {API_KEY}"}
        async with (
            DaydreamClient(API_KEY, api_url=url) as client,
            httpx.AsyncClient(base_url=url, headers=headers) as http,
        ):
            stream = await client.create_stream(parse_params(PARAMS))
            ours, plain = [], []
            for _ in range(rounds):
                ours.append(await _client_updates(client, stream.id, updates))
                plain.append(await _httpx_updates(http, stream.id, updates))
    best, baseline = min(ours), min(plain)
    return {"client_ms": best * 1e3, "httpx_ms": baseline * 1e3, "ratio": round(best / baseline, 3)}


async def _client_updates(client: DaydreamClient, stream_id: str, updates: int) -> float:
    params = parse_params(PARAMS)
    start = time.perf_counter()
    for i in range(updates):
        edited = merge_params(params, {"prompt": _prompt(i)})
        await client.update_stream(stream_id, changed_params(params, edited))
        params = edited
    return (time.perf_counter() - start) / updates


async def _httpx_updates(http: httpx.AsyncClient, stream_id: str, updates: int) -> float:
    start = time.perf_counter()
    for i in range(updates):
        body = {"pipeline": "streamdiffusion", "params": {**PARAMS, "prompt": _prompt(i)}}
        response = await http.patch(f"/v1/streams/{stream_id}", json=body)
        response.raise_for_status()
        response.json()
    return (time.perf_counter() - start) / updates


def effect(frames: int) -> dict[str, float]:
    # One thread for both sides: on a busy small machine torch's thread pool mostly waits.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _effect(frames)
    finally:
        torch.set_num_threads(threads)


def _effect(frames: int, rounds: int = 3) -> dict[str, float]:
    torch.manual_seed(0)
    images = [torch.randint(0, 256, (512, 512, 3), dtype=torch.uint8) for _ in range(8)]
    params = parse_params(
        {**PARAMS, "prompt": _prompt(250), "seed": [[1, 0.5], [9, 0.5]], "guidance_scale": 1.5}
    )
    tint, alpha = torch.tensor([200.0, 80.0, 40.0]), 0.6

    def blend(image: torch.Tensor) -> torch.Tensor:
        mixed = image.to(torch.float32) * (1 - alpha) + tint * alpha
        return mixed.round_().clamp_(0, 255).to(torch.uint8)

    def per_frame(render: Any) -> float:
        start = time.perf_counter()
        for i in range(frames):
            render(images[i % len(images)])
        return (time.perf_counter() - start) / frames

    apply_effect(images[0], params)  # warm the stripe cache
    ours, plain = [], []
    for _ in range(rounds):
        ours.append(per_frame(lambda image: apply_effect(image, params)))
        plain.append(per_frame(blend))
    best, baseline = min(ours), min(plain)
    return {"effect_ms": best * 1e3, "blend_ms": baseline * 1e3, "ratio": round(best / baseline, 3)}


def run(updates: int = 300, frames: int = 300) -> dict[str, Any]:
    """Run both benchmarks; the results are also saved to bench-results/daydream.json."""
    result = {"patch": asyncio.run(patch(updates)), "effect": effect(frames)}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "daydream.json").write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--frames", type=int, default=300)
    args = parser.parse_args()
    print(json.dumps(run(args.updates, args.frames), indent=2))
