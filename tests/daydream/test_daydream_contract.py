"""The OpenAPI validators and the retry timing rules."""

from __future__ import annotations

import pytest

from rtcflow.daydream.openapi import (
    SchemaViolation,
    openapi_document,
    request_violations,
    response_violations,
)


def create(params: dict[str, object]) -> list[SchemaViolation]:
    return request_violations(
        "/v1/streams", "post", {"pipeline": "streamdiffusion", "params": params}
    )


def test_nullable_is_read_as_openapi_means_it() -> None:
    assert create({"model_id": "stabilityai/sd-turbo", "lora_dict": None}) == []
    [violation] = create({"model_id": "stabilityai/sd-turbo", "prompt": None})
    assert violation.path == "params.prompt"


def test_discriminator_picks_the_schema_by_model_id() -> None:
    # SD1.5 has ip_adapter but only type "regular"; the error names that field alone.
    [violation] = create({"model_id": "Lykon/dreamshaper-8", "ip_adapter": {"type": "faceid"}})
    assert violation == SchemaViolation(
        "params.ip_adapter.type", "'faceid' is not one of ['regular']"
    )
    assert create({"model_id": "stabilityai/sdxl-turbo", "ip_adapter": {"type": "faceid"}}) == []
    [violation] = create({"model_id": "stabilityai/sd-2"})
    assert violation.path == "params.model_id"
    assert "'stabilityai/sdxl-turbo'" in violation.message


def test_refs_resolve_in_response_schemas() -> None:
    stream = {
        "pipeline": "streamdiffusion",
        "params": {"model_id": "prompthero/openjourney-v4", "ip_adapter": {"scale": 1}},
        "id": "str_1",
        "stream_key": "k",
        "created_at": "2025-01-01T00:00:00Z",
        "output_playback_id": "p",
        "name": "",
        "author": "a",
        "from_playground": False,
        "gateway_host": "h",
        "is_smoke_test": False,
        "whip_url": "http://h/whip/str_1",
    }
    # The answer schemas (SD1.5_4) require ip_adapter.type, the request ones do not.
    [violation] = response_violations("/v1/streams/{id}", "get", 200, stream)
    assert violation == SchemaViolation("params.ip_adapter", "'type' is a required property")
    stream["params"] = {"model_id": "prompthero/openjourney-v4", "ip_adapter": {"type": "regular"}}
    assert response_violations("/v1/streams/{id}", "get", 200, stream) == []


def test_unknown_operation() -> None:
    with pytest.raises(KeyError, match="nothing at"):
        request_violations("/v1/streams/{id}", "put", {})
    assert openapi_document()["openapi"] == "3.1.0"
