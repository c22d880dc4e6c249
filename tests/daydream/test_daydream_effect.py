"""The emulator's frame effect: params visible in pixels, and a PATCH taking effect."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from rtcflow.daydream import DaydreamClient, parse_params
from rtcflow.daydream.emulator import (
    DaydreamEmulator,
    EffectOnlyMedia,
    apply_effect,
    prompt_tint,
    tint_strength,
)
from rtcflow.daydream.emulator.effect import STRIPE_AMPLITUDE, STRIPE_PERIOD

GREY = torch.full((64, 96, 3), 128, dtype=torch.uint8)


def render(image: torch.Tensor = GREY, **params: Any) -> torch.Tensor:
    return apply_effect(image, parse_params({"model_id": "stabilityai/sd-turbo", **params}))


def mean_colour(image: torch.Tensor) -> torch.Tensor:
    return image.to(torch.float32).mean(dim=(0, 1))


def test_prompt_tints_towards_its_colour() -> None:
    for prompt in ("a sunset", "a neon city"):
        tint = torch.tensor(prompt_tint(prompt))
        out = render(prompt=prompt, guidance_scale=1.0)
        assert out.dtype == torch.uint8 and out.shape == GREY.shape
        # Half grey, half tint (guidance 1 -> strength 1/2), everywhere.
        expected = (128 + tint) / 2
        assert torch.allclose(mean_colour(out), expected, atol=0.51)
    assert prompt_tint("a sunset") != prompt_tint("a neon city")


def test_guidance_scale_is_the_tint_strength() -> None:
    tint = torch.tensor(prompt_tint("rain"))
    distances = []
    for guidance in (0.0, 0.5, 1.0, 3.0, 9.0):
        out = render(prompt="rain", guidance_scale=guidance)
        distances.append(float((mean_colour(out) - tint).abs().sum()))
        alpha = tint_strength(guidance)
        assert torch.allclose(mean_colour(out), 128 * (1 - alpha) + tint * alpha, atol=0.51)
    assert distances == sorted(distances, reverse=True)
    assert torch.equal(render(prompt="rain", guidance_scale=0.0), GREY)
    assert tint_strength(None) == tint_strength(1.0) == 0.5


def test_weighted_prompts_blend_tints_by_weight() -> None:
    a, b = torch.tensor(prompt_tint("a")), torch.tensor(prompt_tint("b"))
    out = render(prompt=[["a", 3.0], ["b", 1.0]], guidance_scale=1.0)
    assert torch.allclose(mean_colour(out), (128 + 0.75 * a + 0.25 * b) / 2, atol=0.51)
    raw = render(
        prompt=[["a", 0.5], ["b", 0.25]], guidance_scale=1.0, normalize_prompt_weights=False
    )
    expected = ((128 + 0.5 * a + 0.25 * b) / 2).clamp(0, 255)
    assert torch.allclose(mean_colour(raw), expected, atol=0.51)


def test_seed_shifts_the_stripes() -> None:
    seven, eight = render(seed=7), render(seed=8)
    assert not torch.equal(seven, eight)
    # Stripes run along x + y + seed: one more seed is one pixel further right.
    assert torch.equal(eight[:, :-1], seven[:, 1:])
    assert torch.equal(render(seed=7 + STRIPE_PERIOD), seven)
    values = set(seven.unique().tolist())
    assert values == {128 - STRIPE_AMPLITUDE, 128 + STRIPE_AMPLITUDE}


def test_weighted_seeds_blend_their_stripes() -> None:
    # Two seeds half a period apart cancel out.
    blended = render(seed=[[0, 0.5], [STRIPE_PERIOD // 2, 0.5]])
    assert torch.equal(blended, GREY)


def test_size_and_passthrough() -> None:
    frame = torch.randint(0, 256, (48, 80, 3), dtype=torch.uint8)
    assert render(frame, width=512, height=384).shape == (384, 512, 3)
    assert torch.equal(render(frame, prompt="x", seed=3, skip_diffusion=True), frame)
    assert torch.equal(render(frame), frame)  # no prompt, no seed: nothing to show


def test_rejects_other_frame_layouts() -> None:
    with pytest.raises(ValueError, match=r"uint8 \[H, W, 3\]"):
        render(GREY.to(torch.float32))
    with pytest.raises(ValueError, match=r"uint8 \[H, W, 3\]"):
        render(GREY.permute(2, 0, 1).contiguous())


async def test_a_patch_takes_effect_in_pixels(
    client: DaydreamClient, emulator: DaydreamEmulator
) -> None:
    media = emulator.media
    assert isinstance(media, EffectOnlyMedia)
    params = parse_params({"model_id": "stabilityai/sd-turbo", "prompt": "dawn", "seed": 1})
    stream = await client.create_stream(params)
    before = media.render(stream.id, GREY)
    assert torch.equal(before, apply_effect(GREY, params))

    await client.update_stream(stream.id, {"model_id": "stabilityai/sd-turbo", "prompt": "dusk"})
    after = media.render(stream.id, GREY)
    dusk = torch.tensor(prompt_tint("dusk"))
    assert torch.allclose(mean_colour(after), (128 + dusk) / 2, atol=1.0)
    assert not torch.equal(before, after)

    await client.delete_stream(stream.id)
    with pytest.raises(KeyError):
        media.render(stream.id, GREY)
