"""The params models against the OpenAPI document and the worker's rules."""

from __future__ import annotations

import typing
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from rtcflow.daydream import (
    MODEL_IDS,
    SD15Params,
    SDTurboParams,
    SDXLParams,
    StreamDiffusionParams,
    merge_params,
    parse_params,
)
from rtcflow.daydream.openapi import openapi_document, request_violations
from rtcflow.daydream.params import SD15ControlNet, SDTurboControlNet, SDXLControlNet

CONTROLNET = {"conditioning_scale": 0.5, "preprocessor": "canny", "enabled": True}

# One rich params object per model id, using every kind of field the model has.
FULL: dict[str, dict[str, Any]] = {
    "stabilityai/sd-turbo": {
        "model_id": "stabilityai/sd-turbo",
        "prompt": [["a sunset", 0.7], ["a neon city", 0.3]],
        "prompt_interpolation_method": "slerp",
        "negative_prompt": "blurry",
        "guidance_scale": 1.2,
        "delta": 0.7,
        "num_inference_steps": 50,
        "t_index_list": [12, 20, 32],
        "width": 512,
        "height": 768,
        "lora_dict": None,
        "acceleration": "tensorrt",
        "seed": [[42, 0.5], [7, 0.5]],
        "similar_image_filter_threshold": 0.9,
        "image_postprocessing": {"processors": [{"type": "sharpen", "params": {"k": 1}}]},
        "latent_preprocessing": {"enabled": True, "processors": [{"type": "latent_feedback"}]},
        "controlnets": [
            {"model_id": "thibaud/controlnet-sd21-canny-diffusers", **CONTROLNET},
            {"model_id": "thibaud/controlnet-sd21-depth-diffusers", **CONTROLNET},
        ],
    },
    "stabilityai/sdxl-turbo": {
        "model_id": "stabilityai/sdxl-turbo",
        "prompt": "a sunset",
        "seed": 42,
        "controlnets": [{"model_id": "xinsir/controlnet-depth-sdxl-1.0", **CONTROLNET}],
        "ip_adapter": {"type": "faceid", "scale": 0.6, "weight_type": "style transfer"},
        "ip_adapter_style_image_url": "https://example.org/style.png",
        "cached_attention": {"enabled": True, "max_frames": 2, "interval": 10},
    },
    "Lykon/dreamshaper-8": {
        "model_id": "Lykon/dreamshaper-8",
        "prompt": "a watercolour",
        "controlnets": [{"model_id": "lllyasviel/control_v11f1e_sd15_tile", **CONTROLNET}],
        "ip_adapter": {"enabled": False},
    },
    "prompthero/openjourney-v4": {
        "model_id": "prompthero/openjourney-v4",
        "t_index_list": [0, 0, 50],
        "controlnets": [
            {"model_id": "daydreamlive/TemporalNet2-stable-diffusion-v1-5", **CONTROLNET}
        ],
    },
}


def errors_of(data: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    with pytest.raises(ValidationError) as info:
        parse_params(data)
    return [(error["loc"], error["msg"]) for error in info.value.errors()]


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_full_params_validate_here_and_against_the_openapi_schema(model_id: str) -> None:
    params = parse_params(FULL[model_id])
    body = params.to_api()
    expected = {key: value for key, value in FULL[model_id].items() if value is not None}
    if "ip_adapter" in expected:  # the model fills in the schema's default type
        expected["ip_adapter"] = {"type": "regular", **expected["ip_adapter"]}
    assert body == expected
    request = {"pipeline": "streamdiffusion", "params": body}
    assert request_violations("/v1/streams", "post", request) == []


def test_model_id_selects_the_model() -> None:
    assert type(parse_params({"model_id": "stabilityai/sd-turbo"})) is SDTurboParams
    assert type(parse_params({"model_id": "stabilityai/sdxl-turbo"})) is SDXLParams
    assert type(parse_params({"model_id": "Lykon/dreamshaper-8"})) is SD15Params
    assert type(parse_params({"model_id": "prompthero/openjourney-v4"})) is SD15Params
    [(loc, message)] = errors_of({"model_id": "runwayml/sd-1.5"})
    assert loc == ()
    assert "does not match any of the expected tags" in message
    assert "'stabilityai/sd-turbo'" in message


@pytest.mark.parametrize(
    ("schema", "model"),
    [("SDTurbo", SDTurboParams), ("SDXL", SDXLParams), ("SD1.5", SD15Params)],
)
def test_models_have_exactly_the_openapi_fields(schema: str, model: type) -> None:
    properties = openapi_document()["components"]["schemas"][schema]["properties"]
    assert set(model.model_fields) == set(properties)


@pytest.mark.parametrize(
    ("schema", "controlnet"),
    [("SDTurbo", SDTurboControlNet), ("SDXL", SDXLControlNet), ("SD1.5", SD15ControlNet)],
)
def test_controlnet_ids_are_the_openapi_enums(schema: str, controlnet: type) -> None:
    items = openapi_document()["components"]["schemas"][schema]["properties"]["controlnets"]
    allowed = items["items"]["properties"]["model_id"]["enum"]
    assert list(typing.get_args(controlnet.model_fields["model_id"].annotation)) == allowed


@pytest.mark.parametrize("size", [500, 320, 1088, 384.0, "512", True])
def test_bad_width(size: object) -> None:
    [(loc, _)] = errors_of({"model_id": "stabilityai/sd-turbo", "width": size})
    assert loc == ("stabilityai/sd-turbo", "width")


def test_width_message_names_the_rule() -> None:
    [(_, message)] = errors_of({"model_id": "stabilityai/sd-turbo", "height": 500})
    assert message == "Input should be a multiple of 64"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"t_index_list": []}, "at least 1 item"),
        ({"t_index_list": [1, 2, 3, 4, 5]}, "at most 4 items"),
        ({"t_index_list": [20, 10]}, "non-decreasing: t_index_list[1]=10 follows 20"),
        ({"t_index_list": [-1]}, "t_index_list[0]=-1 is outside [0, "),
        ({"t_index_list": [10, 51]}, "outside [0, the default num_inference_steps=50]"),
        (
            {"num_inference_steps": 10, "t_index_list": [5, 11]},
            "t_index_list[1]=11 is outside [0, num_inference_steps=10]",
        ),
        ({"num_inference_steps": 0}, "greater than or equal to 1"),
        ({"num_inference_steps": 101}, "less than or equal to 100"),
    ],
)
def test_step_rules(fields: dict[str, Any], message: str) -> None:
    [(loc, text)] = errors_of({"model_id": "stabilityai/sd-turbo", **fields})
    assert loc[1] in fields
    assert message in text


def test_t_index_list_may_reach_num_inference_steps() -> None:
    params = parse_params(
        {"model_id": "stabilityai/sd-turbo", "num_inference_steps": 8, "t_index_list": [8, 8]}
    )
    assert params.t_index_list == (8, 8)


@pytest.mark.parametrize(
    ("model_id", "controlnet_id"),
    [
        ("stabilityai/sd-turbo", "xinsir/controlnet-depth-sdxl-1.0"),
        ("stabilityai/sdxl-turbo", "thibaud/controlnet-sd21-hed-diffusers"),
        ("Lykon/dreamshaper-8", "daydreamlive/TemporalNet2-stable-diffusion-2-1"),
        ("prompthero/openjourney-v4", "xinsir/controlnet-canny-sdxl-1.0"),
    ],
)
def test_controlnet_not_allowed_for_the_model(model_id: str, controlnet_id: str) -> None:
    controlnets = [{"model_id": controlnet_id, **CONTROLNET}]
    [(loc, message)] = errors_of({"model_id": model_id, "controlnets": controlnets})
    assert loc == (model_id, "controlnets", 0, "model_id")
    assert message.startswith("Input should be ")
    assert controlnet_id not in message


def test_controlnets_must_be_unique() -> None:
    cn = {"model_id": "thibaud/controlnet-sd21-canny-diffusers", **CONTROLNET}
    [(loc, message)] = errors_of({"model_id": "stabilityai/sd-turbo", "controlnets": [cn, cn]})
    assert loc == ("stabilityai/sd-turbo", "controlnets")
    assert "listed twice" in message


def test_controlnet_required_fields_and_window() -> None:
    cn = {"model_id": "thibaud/controlnet-sd21-canny-diffusers", "preprocessor": "canny"}
    found = errors_of({"model_id": "stabilityai/sd-turbo", "controlnets": [cn]})
    assert {loc[-1] for loc, _ in found} == {"conditioning_scale", "enabled"}
    window = {**cn, **CONTROLNET, "control_guidance_start": 0.8, "control_guidance_end": 0.2}
    [(_, message)] = errors_of({"model_id": "stabilityai/sd-turbo", "controlnets": [window]})
    assert "is after control_guidance_end" in message


def test_ip_adapter_types_per_model() -> None:
    assert (
        parse_params(
            {"model_id": "stabilityai/sdxl-turbo", "ip_adapter": {"type": "faceid"}}
        ).ip_adapter.type
        == "faceid"
    )  # type: ignore[union-attr]
    [(loc, message)] = errors_of(
        {"model_id": "Lykon/dreamshaper-8", "ip_adapter": {"type": "faceid"}}
    )
    assert loc == ("Lykon/dreamshaper-8", "ip_adapter", "type")
    assert "'regular'" in message
    [(loc, message)] = errors_of({"model_id": "stabilityai/sd-turbo", "ip_adapter": {}})
    assert loc == ("stabilityai/sd-turbo", "ip_adapter")
    assert message == "Extra inputs are not permitted"


def test_weighted_prompts_and_seeds() -> None:
    params = parse_params(
        {"model_id": "stabilityai/sd-turbo", "prompt": [["a", 0.7], ["b", 0.3]], "seed": [[1, 1]]}
    )
    assert params.prompt == (("a", 0.7), ("b", 0.3))
    assert params.seed == ((1, 1.0),)
    assert params.to_api()["prompt"] == [["a", 0.7], ["b", 0.3]]
    for bad in ([], [["", 1.0]], [["a"]], [["a", 0.5, 1]], [["a", "heavy"]], [["a", float("nan")]]):
        assert errors_of({"model_id": "stabilityai/sd-turbo", "prompt": bad})
    for bad in ([], [[1.5, 1.0]], True, 2**53, "42", [["1", 1.0]]):
        assert errors_of({"model_id": "stabilityai/sd-turbo", "seed": bad})


def test_cached_attention_needs_tensorrt_at_512() -> None:
    cache = {"enabled": True, "max_frames": 2, "interval": 5}
    [(loc, message)] = errors_of(
        {
            "model_id": "stabilityai/sdxl-turbo",
            "acceleration": "xformers",
            "cached_attention": cache,
        }
    )
    assert loc == ("stabilityai/sdxl-turbo", "cached_attention")
    assert "tensorrt" in message
    [(_, message)] = errors_of(
        {"model_id": "Lykon/dreamshaper-8", "height": 768, "cached_attention": cache}
    )
    assert "512x512" in message
    off = {**cache, "enabled": False}
    assert parse_params({"model_id": "Lykon/dreamshaper-8", "height": 768, "cached_attention": off})


def test_style_image_url_must_be_https_or_data() -> None:
    [(_, message)] = errors_of(
        {"model_id": "stabilityai/sdxl-turbo", "ip_adapter_style_image_url": "http://x/y.png"}
    )
    assert "https://" in message
    assert parse_params(
        {
            "model_id": "stabilityai/sdxl-turbo",
            "ip_adapter_style_image_url": "data:image/png;base64,AA",
        }
    )


def test_strict_and_frozen() -> None:
    [(loc, message)] = errors_of({"model_id": "stabilityai/sd-turbo", "promt": "typo"})
    assert loc == ("stabilityai/sd-turbo", "promt")
    assert message == "Extra inputs are not permitted"
    params = parse_params({"model_id": "stabilityai/sd-turbo", "prompt": "a"})
    with pytest.raises(ValidationError):
        params.prompt = "b"  # type: ignore[misc]


def test_null_means_unset() -> None:
    params = parse_params({"model_id": "stabilityai/sd-turbo", "prompt": None, "width": None})
    assert params.to_api() == {"model_id": "stabilityai/sd-turbo"}


def test_merge_params_replaces_top_level_keys_and_validates() -> None:
    params = parse_params(FULL["stabilityai/sd-turbo"])
    merged = merge_params(params, {"prompt": "rain", "t_index_list": [1]})
    assert merged.prompt == "rain"
    assert merged.t_index_list == (1,)
    assert merged.controlnets == params.controlnets
    with pytest.raises(ValidationError):
        merge_params(params, {"num_inference_steps": 10})  # t_index_list 32 is now too high
    switched = merge_params(
        parse_params({"model_id": "stabilityai/sd-turbo"}), {"model_id": "Lykon/dreamshaper-8"}
    )
    assert type(switched) is SD15Params


def test_json_schema_for_the_spec() -> None:
    schema = TypeAdapter(StreamDiffusionParams).json_schema()
    assert set(schema["discriminator"]["mapping"]) == set(MODEL_IDS)
    sdturbo = schema["$defs"]["SDTurboParams"]["properties"]
    width = next(s for s in sdturbo["width"]["anyOf"] if s.get("type") == "integer")
    assert width == {
        "type": "integer",
        "minimum": 384,
        "maximum": 1024,
        "multipleOf": 64,
        "description": width["description"],
    }
