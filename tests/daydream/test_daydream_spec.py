"""The ``daydream:`` step as the Flow spec embeds it."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from rtcflow.daydream import SDXLParams
from rtcflow.daydream.spec import DaydreamStepSpec


def step(**daydream: Any) -> dict[str, Any]:
    return {"name": "dream", "daydream": daydream}


def locations(data: dict[str, Any]) -> list[tuple[Any, ...]]:
    with pytest.raises(ValidationError) as info:
        DaydreamStepSpec.model_validate(data)
    return [error["loc"] for error in info.value.errors()]


def test_minimal_step() -> None:
    spec = DaydreamStepSpec.model_validate(
        step(params={"model_id": "stabilityai/sdxl-turbo", "prompt": "a sunset"})
    )
    assert isinstance(spec.daydream.params, SDXLParams)
    assert spec.daydream.on_cold_change == "reject"
    assert spec.daydream.api_url is None


def test_all_options() -> None:
    spec = DaydreamStepSpec.model_validate(
        step(
            params={"model_id": "Lykon/dreamshaper-8"},
            on_cold_change="recreate",
            api_url="http://127.0.0.1:8787",
        )
    )
    assert spec.daydream.on_cold_change == "recreate"
    assert spec.daydream.api_url == "http://127.0.0.1:8787"


def test_errors_point_at_the_field() -> None:
    params = {"model_id": "stabilityai/sd-turbo", "width": 100}
    assert locations(step(params=params)) == [
        ("daydream", "params", "stabilityai/sd-turbo", "width")
    ]
    assert locations(
        step(params={"model_id": "stabilityai/sd-turbo"}, on_cold_change="ignore")
    ) == [("daydream", "on_cold_change")]
    assert locations(
        step(params={"model_id": "stabilityai/sd-turbo"}, api_url="localhost:8787")
    ) == [("daydream", "api_url")]
    assert locations(step(params={"model_id": "stabilityai/sd-turbo"}, api_key="sk")) == [
        ("daydream", "api_key")
    ]
    assert locations(step()) == [("daydream", "params")]
    assert locations(
        {"name": "Dream!", "daydream": {"params": {"model_id": "stabilityai/sd-turbo"}}}
    ) == [("name",)]


def test_json_schema() -> None:
    schema = DaydreamStepSpec.model_json_schema()
    assert schema["required"] == ["name", "daydream"]
    config = schema["$defs"]["DaydreamConfig"]
    assert config["additionalProperties"] is False
    assert config["properties"]["on_cold_change"]["enum"] == ["reload", "recreate", "reject"]
