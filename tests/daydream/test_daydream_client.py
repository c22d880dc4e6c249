"""The client against the emulator running on loopback: contract, errors, retries, secrets."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp import web

from rtcflow.daydream import (
    DaydreamAPIError,
    DaydreamAuthError,
    DaydreamBadRequest,
    DaydreamClient,
    DaydreamConfigError,
    DaydreamConnectionError,
    DaydreamNotFound,
    DaydreamProtocolError,
    DaydreamRateLimited,
    DaydreamServerError,
    RetryPolicy,
    changed_params,
    merge_params,
    parse_params,
)
from rtcflow.daydream.emulator import DaydreamEmulator, Fault
from rtcflow.daydream.openapi import request_violations

PARAMS = {
    "stabilityai/sd-turbo": {
        "controlnets": [
            {
                "model_id": "thibaud/controlnet-sd21-depth-diffusers",
                "conditioning_scale": 0.4,
                "preprocessor": "depth_tensorrt",
                "enabled": True,
            }
        ],
    },
    "stabilityai/sdxl-turbo": {"ip_adapter": {"type": "faceid", "scale": 0.5}},
    "Lykon/dreamshaper-8": {"seed": [[1, 0.3], [2, 0.7]], "width": 704},
    "prompthero/openjourney-v4": {"t_index_list": [4, 8], "num_inference_steps": 10},
}
# Operation templates of the OpenAPI document, by method and whether the path has an id.
TEMPLATES = {
    ("POST", False): "/v1/streams",
    ("DELETE", False): "/v1/streams",
    ("GET", True): "/v1/streams/{id}",
    ("PATCH", True): "/v1/streams/{id}",
}


def template(method: str, path: str) -> str | None:
    return TEMPLATES.get((method, path.count("/") == 3))


@pytest.mark.parametrize("model_id", list(PARAMS))
async def test_lifecycle_requests_follow_the_openapi_contract(
    client: DaydreamClient, emulator: DaydreamEmulator, model_id: str
) -> None:
    params = parse_params({"model_id": model_id, "prompt": "a sunset", **PARAMS[model_id]})
    stream = await client.create_stream(params, name="show")
    assert stream.whip_url == f"{emulator.url}/whip/{stream.id}"
    assert stream.params == params.to_api()
    assert stream.name == "show"
    assert (await client.get_stream(stream.id)).id == stream.id

    edited = merge_params(params, {"prompt": [["a sunset", 0.5], ["neon", 0.5]]})
    updated = await client.update_stream(stream.id, changed_params(params, edited))
    assert updated.params == edited.to_api()
    status = await client.get_stream_status(stream.id)
    assert status.whep_url == f"{emulator.url}/whep/{stream.id}"
    assert status.stream_id == stream.id
    await client.delete_stream(stream.id)
    assert emulator.streams == {}

    sent = [(r.method, r.path, r.query) for r in emulator.requests]
    assert sent == [
        ("POST", "/v1/streams", {}),
        ("GET", f"/v1/streams/{stream.id}", {}),
        ("PATCH", f"/v1/streams/{stream.id}", {}),
        ("GET", f"/v1/streams/{stream.id}/status", {}),
        ("DELETE", "/v1/streams", {"id": stream.id}),
    ]
    patch = emulator.requests[2].body
    assert patch == {
        "pipeline": "streamdiffusion",
        "params": {"model_id": model_id, "prompt": [["a sunset", 0.5], ["neon", 0.5]]},
    }
    for request in emulator.requests:
        if request.body is not None:
            operation = template(request.method, request.path)
            assert operation is not None
            assert request_violations(operation, request.method, request.body) == []


async def test_patch_must_name_the_model(client: DaydreamClient) -> None:
    with pytest.raises(ValueError, match="model_id"):
        await client.update_stream("str_x", {"prompt": "a"})


async def test_empty_stream_id_is_refused(client: DaydreamClient) -> None:
    with pytest.raises(ValueError, match="empty"):
        await client.get_stream("")


async def test_error_envelope_becomes_the_exception(client: DaydreamClient) -> None:
    with pytest.raises(DaydreamNotFound) as info:
        await client.get_stream("str_missing")
    error = info.value
    assert (error.status, error.code) == (404, "STREAMS/NOT_FOUND")
    assert "str_missing" in error.message
    assert error.request_id and error.trace_id
    assert str(error) == (
        f"GET /v1/streams/str_missing: 404 STREAMS/NOT_FOUND: {error.message} "
        f"(request id {error.request_id})"
    )


async def test_invalid_params_are_a_bad_request_with_details(
    client: DaydreamClient, emulator: DaydreamEmulator
) -> None:
    stream = await client.create_stream(parse_params({"model_id": "stabilityai/sd-turbo"}))
    with pytest.raises(DaydreamBadRequest) as info:
        await client.update_stream(stream.id, {"model_id": "stabilityai/sd-turbo", "width": 500})
    assert info.value.details == [
        {"path": "params.width", "message": "Input should be a multiple of 64"}
    ]


async def test_wrong_key_is_an_auth_error_and_not_retried(emulator: DaydreamEmulator) -> None:
    assert emulator.url is not None
    async with DaydreamClient("not-the-key", api_url=emulator.url) as wrong:
        with pytest.raises(DaydreamAuthError) as info:
            await wrong.get_stream("str_x")
    assert info.value.status == 401
    assert len(emulator.requests) == 1


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_is_waited_for_then_the_request_succeeds(
    client: DaydreamClient, emulator: DaydreamEmulator, status: int
) -> None:
    emulator.inject(Fault(status=status, retry_after=1, method="POST"))
    stream = await client.create_stream(parse_params({"model_id": "stabilityai/sd-turbo"}))
    assert list(emulator.streams) == [stream.id]
    first, second = emulator.requests
    # Retry-After: 1 was honoured (the policy's own backoff is 20 ms at most).
    assert second.received - first.received >= 0.9


async def test_rate_limit_longer_than_the_policy_allows_is_raised_at_once(
    client: DaydreamClient, emulator: DaydreamEmulator
) -> None:
    emulator.inject(Fault(status=429, retry_after=3600))
    with pytest.raises(DaydreamRateLimited) as info:
        await client.get_stream("str_x")
    assert info.value.retry_after == 3600
    assert len(emulator.requests) == 1


async def test_retries_are_bounded(client: DaydreamClient, emulator: DaydreamEmulator) -> None:
    emulator.inject(Fault(status=503, times=10))
    with pytest.raises(DaydreamServerError) as info:
        await client.get_stream("str_x")
    assert info.value.status == 503
    assert len(emulator.requests) == client.retry.max_attempts


async def test_server_error_then_success(
    client: DaydreamClient, emulator: DaydreamEmulator
) -> None:
    stream = await client.create_stream(parse_params({"model_id": "stabilityai/sd-turbo"}))
    emulator.inject(Fault(status=500, method="PATCH"))
    updated = await client.update_stream(stream.id, {"model_id": "stabilityai/sd-turbo", "seed": 7})
    assert updated.params["seed"] == 7
    assert [r.method for r in emulator.requests] == ["POST", "PATCH", "PATCH"]


async def test_create_is_not_repeated_after_a_500(
    client: DaydreamClient, emulator: DaydreamEmulator
) -> None:
    # The service may have created the stream before failing: a retry could leak a
    # billed stream, so a 500 on create surfaces instead.
    emulator.inject(Fault(status=500, method="POST"))
    with pytest.raises(DaydreamServerError):
        await client.create_stream(parse_params({"model_id": "stabilityai/sd-turbo"}))
    assert len(emulator.requests) == 1
    emulator.inject(Fault(status=503, method="POST"))
    await client.create_stream(parse_params({"model_id": "stabilityai/sd-turbo"}))
    assert len(emulator.streams) == 1


async def test_connection_refused(emulator: DaydreamEmulator) -> None:
    url = emulator.url
    assert url is not None
    await emulator.close()
    retry = RetryPolicy(max_attempts=2, initial_delay=0.01)
    async with DaydreamClient("key", api_url=url, retry=retry) as offline:
        with pytest.raises(DaydreamConnectionError, match="ConnectError"):
            await offline.get_stream("str_x")


async def test_answers_off_contract_are_protocol_errors() -> None:
    async def not_json(request: web.Request) -> web.Response:
        return web.Response(text="<html>gateway</html>")

    async def no_id(request: web.Request) -> web.Response:
        return web.json_response({"stream_key": "stk_secret_value", "whip_url": "x"})

    app = web.Application()
    app.router.add_get("/v1/streams/html", not_json)
    app.router.add_get("/v1/streams/noid", no_id)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        async with DaydreamClient("key", api_url=f"http://127.0.0.1:{port}") as c:
            with pytest.raises(DaydreamProtocolError, match="not JSON"):
                await c.get_stream("html")
            with pytest.raises(DaydreamProtocolError) as info:
                await c.get_stream("noid")
    finally:
        await runner.cleanup()
    assert "id: Field required" in str(info.value)
    assert "stk_secret_value" not in str(info.value)


def test_key_and_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAYDREAM_API_KEY", "env-key")
    monkeypatch.setenv("DAYDREAM_API_URL", "http://127.0.0.1:9/")
    assert DaydreamClient().api_url == "http://127.0.0.1:9"
    monkeypatch.delenv("DAYDREAM_API_KEY")
    with pytest.raises(DaydreamConfigError, match="DAYDREAM_API_KEY"):
        DaydreamClient()
    with pytest.raises(DaydreamConfigError, match="http"):
        DaydreamClient("k", api_url="ftp://example.org")


async def test_api_key_never_shows(
    client: DaydreamClient,
    emulator: DaydreamEmulator,
    api_key: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: ours, httpx, httpcore, aiohttp
    shown: list[Any] = [client]
    emulator.inject(Fault(status=429, retry_after=0))
    emulator.inject(Fault(status=500, method="GET"))
    stream = await client.create_stream(parse_params({"model_id": "stabilityai/sd-turbo"}))
    shown += [stream, await client.get_stream(stream.id)]
    shown.append(await client.get_stream_status(stream.id))
    for failing in (
        client.get_stream("str_missing"),
        client.update_stream(stream.id, {"model_id": "x"}),
    ):
        with pytest.raises(DaydreamAPIError) as info:
            await failing
        shown.append(info.value)
    emulator.inject(Fault(status=401))
    with pytest.raises(DaydreamAuthError) as auth:
        await client.delete_stream(stream.id)
    shown.append(auth.value)

    texts = [caplog.text] + [repr(item) for item in shown] + [str(item) for item in shown]
    assert "retrying" in caplog.text  # the retries were logged
    for text in texts:
        assert api_key not in text
    assert stream.stream_key is not None
    assert stream.stream_key.get_secret_value() not in repr(stream) + str(stream)
