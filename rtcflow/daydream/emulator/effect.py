"""The emulator's stand-in for StreamDiffusion: a cheap effect whose pixels show the params.

No model runs; instead each param a PATCH changes live leaves a mark a test can measure:

- ``prompt`` picks a tint colour (a hash of the text); weighted prompts blend their tints
  by weight, so a crossfade moves the colour smoothly.
- ``guidance_scale`` g sets how strongly the tint covers the frame: ``g / (1 + g)``
  (unset: the worker's default 1.0, so half).
- ``seed`` shifts a faint diagonal stripe pattern by ``seed mod 16`` pixels; weighted
  seeds blend their patterns by weight.
- ``width``/``height`` set the output size, as they do on the service.
- ``skip_diffusion`` passes frames through untouched.

Weights are normalised to sum to 1 unless ``normalize_prompt_weights`` /
``normalize_seed_weights`` is false.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from rtcflow.daydream.params import BaseStreamDiffusionParams

#: Period of the seed stripes, in pixels along the diagonal.
STRIPE_PERIOD = 16
#: How far the stripes move a channel value up or down.
STRIPE_AMPLITUDE = 6.0
#: The worker's guidance_scale when a request leaves it unset.
DEFAULT_GUIDANCE_SCALE = 1.0


def prompt_tint(text: str) -> tuple[float, float, float]:
    """The RGB tint (0-255) of one prompt: the first bytes of its SHA-256."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return (float(digest[0]), float(digest[1]), float(digest[2]))


def tint_strength(guidance_scale: float | None) -> float:
    """How much of the frame the tint replaces, 0 (none) to 1 (all)."""
    g = max(0.0, DEFAULT_GUIDANCE_SCALE if guidance_scale is None else guidance_scale)
    return g / (1.0 + g)


def apply_effect(image: torch.Tensor, params: BaseStreamDiffusionParams) -> torch.Tensor:
    """Render ``params`` onto an RGB ``uint8`` ``[H, W, 3]`` frame; returns a new frame."""
    if image.dtype != torch.uint8 or image.dim() != 3 or image.shape[2] != 3:
        raise ValueError(
            f"expected a uint8 [H, W, 3] frame, got {image.dtype} {tuple(image.shape)}"
        )
    if params.skip_diffusion:
        return image.clone()
    height, width = params.height or image.shape[0], params.width or image.shape[1]
    frame = image.to(torch.float32)
    if (height, width) != tuple(image.shape[:2]):
        frame = F.interpolate(
            frame.permute(2, 0, 1).unsqueeze(0), size=(height, width), mode="bilinear"
        )[0].permute(1, 2, 0)
    if params.prompt is not None:
        alpha = tint_strength(params.guidance_scale)
        tint = torch.tensor(_blended_tint(params), dtype=torch.float32, device=frame.device)
        frame = frame * (1.0 - alpha) + tint * alpha
    if params.seed is not None:
        frame = frame + _stripes(height, width, _seed_mix(params), str(image.device))
    return frame.round_().clamp_(0, 255).to(torch.uint8)


def _blended_tint(params: BaseStreamDiffusionParams) -> tuple[float, float, float]:
    prompt = params.prompt
    weighted = [(prompt, 1.0)] if isinstance(prompt, str) else list(prompt or ())
    weights = _weights([w for _, w in weighted], params.normalize_prompt_weights)
    tints = [prompt_tint(text) for text, _ in weighted]
    r, g, b = (sum(w * tint[c] for w, tint in zip(weights, tints, strict=True)) for c in range(3))
    return (r, g, b)


def _seed_mix(params: BaseStreamDiffusionParams) -> tuple[tuple[int, float], ...]:
    """(stripe offset, weight) per seed."""
    seed = params.seed
    weighted = [(seed, 1.0)] if isinstance(seed, int) else list(seed or ())
    weights = _weights([w for _, w in weighted], params.normalize_seed_weights)
    return tuple((s % STRIPE_PERIOD, w) for (s, _), w in zip(weighted, weights, strict=True))


def _weights(weights: Sequence[float], normalize: bool | None) -> list[float]:
    total = sum(weights)
    if normalize is False or total == 0:
        return list(weights)
    return [w / total for w in weights]


@functools.lru_cache(maxsize=16)
def _stripes(
    height: int, width: int, mix: tuple[tuple[int, float], ...], device: str
) -> torch.Tensor:
    """``[H, W, 1]`` of ±amplitude: diagonal stripes, each seed's shifted by its offset."""
    diagonal = torch.arange(height).unsqueeze(1) + torch.arange(width).unsqueeze(0)
    pattern = torch.zeros(height, width)
    for offset, weight in mix:
        phase = (diagonal + offset) % STRIPE_PERIOD < STRIPE_PERIOD // 2
        pattern += weight * (phase.to(torch.float32) * 2 - 1) * STRIPE_AMPLITUDE
    return pattern.unsqueeze(2).to(device)
