"""The emulator's REST side over real HTTP: what it accepts, rejects and answers."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from rtcflow.daydream.emulator import DaydreamEmulator, EffectOnlyMedia, run_emulator
from rtcflow.daydream.openapi import response_violations

SD_TURBO = {"model_id": "stabilityai/sd-turbo", "prompt": "a sunset"}


@pytest.fixture
async def http(emulator: DaydreamEmulator, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(base_url=str(emulator.url), headers=headers) as opened:
        yield opened


def assert_answer(response: httpx.Response, path: str, method: str, status: int) -> dict[str, Any]:
    """The answer has ``status`` and a body valid under the OpenAPI response schema."""
    assert response.status_code == status, response.text
    body = response.json()
    assert response_violations(path, method, status, body) == []
    return body


async def create(http: httpx.AsyncClient, params: dict[str, Any] = SD_TURBO) -> dict[str, Any]:
    response = await http.post(
        "/v1/streams", json={"pipeline": "streamdiffusion", "params": params}
    )
    return assert_answer(response, "/v1/streams", "post", 201)


@pytest.mark.parametrize(
    "params",
    [
        SD_TURBO,
        {"model_id": "stabilityai/sdxl-turbo", "ip_adapter": {"scale": 0.3}, "seed": [[1, 1.0]]},
        {
            "model_id": "Lykon/dreamshaper-8",
            "image_preprocessing": {"processors": [{"type": "blur"}]},
        },
        {"model_id": "prompthero/openjourney-v4", "lora_dict": {"a/b": 0.5}},
    ],
)
async def test_answers_follow_the_openapi_response_schemas(
    http: httpx.AsyncClient, emulator: DaydreamEmulator, params: dict[str, Any]
) -> None:
    stream = await create(http, params)
    stream_id = stream["id"]
    assert stream["whip_url"] == f"{emulator.url}/whip/{stream_id}"
    assert stream["gateway_host"] == str(emulator.url).removeprefix("http://")
    got = assert_answer(await http.get(f"/v1/streams/{stream_id}"), "/v1/streams/{id}", "get", 200)
    assert got == stream
    patch = {
        "pipeline": "streamdiffusion",
        "params": {"model_id": params["model_id"], "delta": 0.5},
    }
    patched = assert_answer(
        await http.patch(f"/v1/streams/{stream_id}", json=patch), "/v1/streams/{id}", "patch", 200
    )
    assert patched["params"] == {**stream["params"], "delta": 0.5}
    listed = assert_answer(await http.get("/v1/streams"), "/v1/streams", "get", 200)
    assert [s["id"] for s in listed["data"]] == [stream_id]
    deleted = assert_answer(
        await http.delete("/v1/streams", params={"id": stream_id}), "/v1/streams", "delete", 200
    )
    assert deleted == {"success": True, "data": {}}
    assert emulator.streams == {}


async def test_status_has_the_whep_url_and_counts_reloads(
    http: httpx.AsyncClient, emulator: DaydreamEmulator
) -> None:
    stream_id = (await create(http))["id"]

    async def status() -> dict[str, Any]:
        response = await http.get(f"/v1/streams/{stream_id}/status")
        assert response.status_code == 200
        body = response.json()
        assert body["success"] is True and body["error"] is None
        return body["data"]

    data = await status()
    assert data["gateway_status"]["whep_url"] == f"{emulator.url}/whep/{stream_id}"
    assert data["inference_status"]["last_params"] == SD_TURBO
    assert data["inference_status"]["restart_count"] == 0
    hot = {"pipeline": "streamdiffusion", "params": {**SD_TURBO, "prompt": "rain"}}
    await http.patch(f"/v1/streams/{stream_id}", json=hot)
    assert (await status())["inference_status"]["restart_count"] == 0
    cold = {
        "pipeline": "streamdiffusion",
        "params": {"model_id": "stabilityai/sd-turbo", "width": 768},
    }
    await http.patch(f"/v1/streams/{stream_id}", json=cold)
    data = await status()
    assert data["inference_status"]["restart_count"] == 1
    assert data["inference_status"]["last_params"] == {**SD_TURBO, "prompt": "rain", "width": 768}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer nope"},
    ],
)
async def test_unauthorized(emulator: DaydreamEmulator, headers: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=str(emulator.url)) as anonymous:
        response = await anonymous.post(
            "/v1/streams",
            json={"pipeline": "streamdiffusion", "params": SD_TURBO},
            headers=headers,
        )
    body = assert_answer(response, "/v1/streams", "post", 401)
    assert body["code"] == "AUTH/UNAUTHORIZED"
    assert emulator.streams == {}


async def test_any_key_when_none_is_configured() -> None:
    async with (
        DaydreamEmulator() as open_emulator,
        httpx.AsyncClient(base_url=str(open_emulator.url)) as anyone,
    ):
        response = await anyone.get("/v1/streams", headers={"Authorization": "Bearer whatever"})
        assert response.status_code == 200
        response = await anyone.get("/v1/streams")
        assert response.status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("GET", "/v1/streams/str_nope", "/v1/streams/{id}"),
        ("PATCH", "/v1/streams/str_nope", "/v1/streams/{id}"),
        ("DELETE", "/v1/streams?id=str_nope", "/v1/streams"),
    ],
)
async def test_unknown_stream(
    http: httpx.AsyncClient, method: str, path: str, template: str
) -> None:
    patch = {"pipeline": "streamdiffusion", "params": SD_TURBO}
    response = await http.request(method, path, json=patch if method == "PATCH" else None)
    body = assert_answer(response, template, method.lower(), 404)
    assert body["code"] == "STREAMS/NOT_FOUND"
    assert body["requestId"] == response.headers["X-Request-Id"]
    assert (await http.get("/v1/streams/str_nope/status")).status_code == 404


@pytest.mark.parametrize(
    ("body", "path", "message"),
    [
        ({"params": SD_TURBO}, "", "'pipeline' is a required property"),
        ({"pipeline": "comfyui", "params": SD_TURBO}, "pipeline", "is not one of"),
        (
            {"pipeline": "streamdiffusion", "params": {"prompt": "x"}},
            "params.model_id",
            "None is not one of",
        ),
        (
            {"pipeline": "streamdiffusion", "params": {**SD_TURBO, "ip_adapter": {"scale": 1}}},
            "params",
            "Additional properties are not allowed ('ip_adapter' was unexpected)",
        ),
        (
            {"pipeline": "streamdiffusion", "params": {**SD_TURBO, "width": 2048}},
            "params.width",
            "2048 is greater than the maximum of 1024",
        ),
        # Valid for the schema, refused by the worker's rules:
        (
            {"pipeline": "streamdiffusion", "params": {**SD_TURBO, "width": 500}},
            "params.width",
            "Input should be a multiple of 64",
        ),
        (
            {"pipeline": "streamdiffusion", "params": {**SD_TURBO, "t_index_list": [30, 10]}},
            "params.t_index_list",
            "non-decreasing",
        ),
    ],
)
async def test_invalid_create_body(
    http: httpx.AsyncClient, emulator: DaydreamEmulator, body: Any, path: str, message: str
) -> None:
    response = await http.post("/v1/streams", json=body)
    answer = assert_answer(response, "/v1/streams", "post", 400)
    assert answer["code"] == "VALIDATION/INVALID_REQUEST"
    assert any(d["path"] == path and message in d["message"] for d in answer["details"]), answer
    assert emulator.streams == {}


async def test_invalid_patch_keeps_the_running_params(
    http: httpx.AsyncClient, emulator: DaydreamEmulator
) -> None:
    stream_id = (await create(http))["id"]
    bad = {
        "pipeline": "streamdiffusion",
        "params": {"model_id": "stabilityai/sd-turbo", "num_inference_steps": 0},
    }
    assert_answer(
        await http.patch(f"/v1/streams/{stream_id}", json=bad), "/v1/streams/{id}", "patch", 400
    )
    no_model = {"pipeline": "streamdiffusion", "params": {"prompt": "x"}}
    assert (await http.patch(f"/v1/streams/{stream_id}", json=no_model)).status_code == 400
    not_json = await http.patch(
        f"/v1/streams/{stream_id}", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 400
    assert not_json.json()["error"] == "request body is not JSON"
    assert emulator.streams[stream_id].params.to_api() == SD_TURBO


async def test_delete_by_path_and_without_id(
    http: httpx.AsyncClient, emulator: DaydreamEmulator
) -> None:
    stream_id = (await create(http))["id"]
    assert_answer(await http.delete("/v1/streams"), "/v1/streams", "delete", 400)
    response = await http.delete(f"/v1/streams/{stream_id}")
    assert response.status_code == 200
    assert emulator.streams == {}


async def test_unknown_route_and_method_answer_the_envelope(http: httpx.AsyncClient) -> None:
    response = await http.get("/v1/pipelines")
    assert response.status_code == 404
    assert response.json()["success"] is False
    response = await http.put("/v1/streams")
    assert response.status_code == 405
    assert response.json()["code"] == "REQUEST/METHOD_NOT_ALLOWED"


async def test_faults_over_http(http: httpx.AsyncClient, emulator: DaydreamEmulator) -> None:
    added = await http.post("/_emulator/faults", json={"status": 500, "times": 2, "method": "GET"})
    assert added.status_code == 201
    assert (
        await http.post("/v1/streams", json={"pipeline": "streamdiffusion", "params": SD_TURBO})
    ).status_code == 201
    for _ in range(2):
        failed = await http.get("/v1/streams")
        assert_answer(failed, "/v1/streams", "get", 500)
    assert (await http.get("/v1/streams")).status_code == 200

    await http.post(
        "/_emulator/faults", json={"status": 429, "retry_after": 7, "path": "/v1/streams"}
    )
    assert (await http.get("/v1/streams/x")).status_code == 404  # another path: served
    limited = await http.get("/v1/streams")
    assert_answer(limited, "/v1/streams", "get", 429)
    assert limited.headers["Retry-After"] == "7"

    await http.post("/_emulator/faults", json={"status": 401, "times": 5})
    assert (await http.delete("/_emulator/faults")).status_code == 200
    assert (await http.get("/v1/streams")).status_code == 200

    bad = await http.post("/_emulator/faults", json={"status": 200, "colour": "red"})
    assert bad.status_code == 400
    assert {d["path"] for d in bad.json()["details"]} == {"status", "colour"}


async def test_media_routes_without_a_webrtc_backend(
    http: httpx.AsyncClient, emulator: DaydreamEmulator
) -> None:
    stream = await create(http)
    assert isinstance(emulator.media, EffectOnlyMedia)
    offer = await http.post(
        stream["whip_url"], content=b"v=0\r\n", headers={"Content-Type": "application/sdp"}
    )
    assert offer.status_code == 501
    play = await http.post(f"{emulator.url}/whep/str_unknown", content=b"v=0\r\n")
    assert play.status_code == 404


async def test_run_emulator_serves_until_cancelled(api_key: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    task = asyncio.create_task(run_emulator("127.0.0.1", port, api_key=api_key))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(100):
                try:
                    response = await http.get(
                        "/v1/streams", headers={"Authorization": f"Bearer {api_key}"}
                    )
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.02)
            assert response.json() == {"success": True, "data": []}
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
