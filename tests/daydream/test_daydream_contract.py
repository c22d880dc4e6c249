"""The OpenAPI validators and the retry timing rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rtcflow.daydream import RetryPolicy
from rtcflow.daydream.openapi import (
    SchemaViolation,
    openapi_document,
    request_violations,
    response_violations,
)
from rtcflow.daydream.retry import parse_retry_after


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


def test_retry_after_forms() -> None:
    now = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after("Sun, 01 Jun 2025 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Sun, 01 Jun 2025 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    assert parse_retry_after("-5") == 0.0


def test_backoff_grows_and_is_bounded() -> None:
    policy = RetryPolicy(backoff=0.5, max_backoff=4.0)
    for retry, ceiling in enumerate([0.5, 1.0, 2.0, 4.0, 4.0, 4.0]):
        delays = [policy.backoff_delay(retry) for _ in range(50)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
