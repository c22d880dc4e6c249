"""Hot/cold classification of params edits and the PATCH bodies they produce."""

from __future__ import annotations

from typing import Any

import pytest

from rtcflow.daydream import HOT_PARAMS, SDXLParams, changed_params, cold_changes, parse_params

CANNY = {"model_id": "xinsir/controlnet-canny-sdxl-1.0", "preprocessor": "canny", "enabled": True}
DEPTH = {"model_id": "xinsir/controlnet-depth-sdxl-1.0", "preprocessor": "depth", "enabled": True}
BASE: dict[str, Any] = {
    "model_id": "stabilityai/sdxl-turbo",
    "prompt": "a sunset",
    "guidance_scale": 1.0,
    "seed": 42,
    "width": 512,
    "height": 512,
    "t_index_list": [10, 20],
    "controlnets": [
        {**CANNY, "conditioning_scale": 0.5},
        {**DEPTH, "conditioning_scale": 0.3},
    ],
    "ip_adapter": {"scale": 0.5, "enabled": True},
    "image_postprocessing": {"processors": [{"type": "sharpen"}]},
}


def edit(**changes: Any) -> tuple[SDXLParams, SDXLParams]:
    old = parse_params(BASE)
    new = parse_params({**BASE, **changes})
    assert isinstance(old, SDXLParams) and isinstance(new, SDXLParams)
    return old, new


@pytest.mark.parametrize(
    "changes",
    [
        {"prompt": "a neon city"},
        {"prompt": [["a sunset", 0.5], ["a neon city", 0.5]]},
        {"guidance_scale": 2.5},
        {"delta": 0.4},
        {"negative_prompt": "blurry"},
        {"num_inference_steps": 30},
        {"t_index_list": [5, 15, 25]},
        {"seed": [[42, 0.5], [43, 0.5]]},
        {"prompt_interpolation_method": "linear", "normalize_prompt_weights": False},
        {"use_safety_checker": False},
        {"ip_adapter_style_image_url": "https://example.org/s.png"},
        {"ip_adapter": {"scale": 0.9, "enabled": False, "weight_type": "composition"}},
        {"image_preprocessing": {"processors": [{"type": "depth"}]}},
        {"image_postprocessing": {"processors": [{"type": "blur", "params": {"r": 2}}]}},
        {"latent_postprocessing": {"processors": [{"type": "latent_feedback"}]}},
    ],
)
def test_hot_edits_patch_exactly_what_changed(changes: dict[str, Any]) -> None:
    old, new = edit(**changes)
    assert cold_changes(old, new) == []
    patch = changed_params(old, new)
    sent = new.to_api()
    assert patch == {"model_id": "stabilityai/sdxl-turbo"} | {key: sent[key] for key in changes}
    assert set(patch) - {"model_id"} <= HOT_PARAMS


def test_conditioning_scale_is_hot_and_patches_the_whole_list() -> None:
    controlnets = [{**CANNY, "conditioning_scale": 0.5}, {**DEPTH, "conditioning_scale": 0.0}]
    old, new = edit(controlnets=controlnets)
    assert cold_changes(old, new) == []
    assert changed_params(old, new) == {
        "model_id": "stabilityai/sdxl-turbo",
        "controlnets": new.to_api()["controlnets"],
    }


@pytest.mark.parametrize(
    ("changes", "cold"),
    [
        ({"width": 768}, ["width"]),
        ({"width": 768, "height": 1024, "prompt": "x"}, ["width", "height"]),
        ({"acceleration": "xformers"}, ["acceleration"]),
        ({"do_add_noise": False}, ["do_add_noise"]),
        ({"skip_diffusion": True}, ["skip_diffusion"]),
        ({"lora_dict": {"some/lora": 0.8}}, ["lora_dict"]),
        ({"enable_similar_image_filter": True}, ["enable_similar_image_filter"]),
        (
            {"cached_attention": {"enabled": True, "max_frames": 1, "interval": 4}},
            ["cached_attention"],
        ),
        ({"ip_adapter": {"type": "faceid", "scale": 0.5, "enabled": True}}, ["ip_adapter.type"]),
        (
            {"controlnets": [{**CANNY, "conditioning_scale": 0.5}]},
            ["controlnets"],
        ),
        (
            {
                "controlnets": [
                    {**CANNY, "conditioning_scale": 0.5},
                    {**DEPTH, "conditioning_scale": 0.9, "preprocessor": "depth_tensorrt"},
                ]
            },
            ["controlnets[1].preprocessor"],
        ),
        (
            {
                "controlnets": [
                    {**CANNY, "conditioning_scale": 0.5, "enabled": False},
                    {
                        **CANNY,
                        "model_id": "xinsir/controlnet-tile-sdxl-1.0",
                        "conditioning_scale": 0.3,
                    },
                ]
            },
            ["controlnets[0].enabled", "controlnets[1].model_id", "controlnets[1].preprocessor"],
        ),
        (
            {"image_postprocessing": {"processors": [{"type": "realesrgan_trt"}]}},
            ["image_postprocessing"],
        ),
        (
            {
                "image_postprocessing": {
                    "processors": [{"type": "upscale", "params": {"scale_factor": 4}}]
                }
            },
            ["image_postprocessing"],
        ),
    ],
)
def test_cold_edits_are_named(changes: dict[str, Any], cold: list[str]) -> None:
    old, new = edit(**changes)
    assert cold_changes(old, new) == cold
    assert set(changed_params(old, new)) == {"model_id", *changes}


def test_a_disabled_upscaler_keeps_the_resolution() -> None:
    processors = {"processors": [{"type": "realesrgan_trt", "enabled": False}]}
    old, new = edit(image_postprocessing=processors)
    assert cold_changes(old, new) == []


def test_model_change_is_cold() -> None:
    old = parse_params({"model_id": "stabilityai/sd-turbo", "prompt": "a"})
    new = parse_params({"model_id": "Lykon/dreamshaper-8", "prompt": "a"})
    assert cold_changes(old, new) == ["model_id"]
    assert changed_params(old, new) == {"model_id": "Lykon/dreamshaper-8"}


def test_unsetting_a_param_cannot_be_patched() -> None:
    old, _ = edit()
    new = parse_params({key: value for key, value in BASE.items() if key != "prompt"})
    assert cold_changes(old, new) == ["prompt"]
    assert "prompt" not in changed_params(old, new)


def test_no_change() -> None:
    old, new = edit()
    assert cold_changes(old, new) == []
    assert changed_params(old, new) == {"model_id": "stabilityai/sdxl-turbo"}


def test_hot_params_are_params() -> None:
    assert HOT_PARAMS.issubset(SDXLParams.model_fields)
    assert not HOT_PARAMS & {"model_id", "width", "height", "acceleration", "do_add_noise"}
