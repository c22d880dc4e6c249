"""Client-side signaling against scripted aiohttp servers: errors, redirects, retries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from rtcflow.protocols.webrtc import (
    FrameTrack,
    ProtocolViolation,
    ServerUnavailable,
    SessionRejected,
    SessionState,
    WhepClient,
    WhipClient,
)


@dataclass
class Scripted:
    """A real HTTP server answering POSTs from a script and recording every request."""

    url: str = ""
    answers: list[Callable[[web.Request], web.Response]] = field(default_factory=list)
    requests: list[tuple[str, str, str | None, float]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        loop = asyncio.get_running_loop()
        self.requests.append(
            (request.method, request.path, request.headers.get("Authorization"), loop.time())
        )
        if request.method == "DELETE":
            return web.Response(status=200)
        return self.answers.pop(0)(request)


@pytest.fixture
async def scripted() -> AsyncIterator[Scripted]:
    script = Scripted()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", script.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    script.url = f"http://127.0.0.1:{site.port}"
    yield script
    await runner.cleanup()


def answer(status: int, text: str = "", **headers: str) -> Callable[[web.Request], web.Response]:
    return lambda _: web.Response(status=status, text=text, headers=headers)


async def test_malformed_answer_is_a_protocol_violation_and_the_session_is_deleted(
    scripted: Scripted,
) -> None:
    scripted.answers.append(
        answer(
            201, "v=0\r\ngarbage\r\n", Location="sessions/1", **{"Content-Type": "application/sdp"}
        )
    )
    client = WhipClient(f"{scripted.url}/whip/", token="k")
    with pytest.raises(ProtocolViolation, match="SDP answer was not accepted"):
        await client.start(FrameTrack())
    assert client.state == SessionState.FAILED
    # Location resolved against the request URL; the token went with the DELETE too.
    assert [(m, p, a) for m, p, a, _ in scripted.requests] == [
        ("POST", "/whip/", "Bearer k"),
        ("DELETE", "/whip/sessions/1", "Bearer k"),
    ]


@pytest.mark.parametrize(
    ("reply", "error", "message"),
    [
        (
            answer(201, "v=0\r\n", **{"Content-Type": "application/sdp"}),
            ProtocolViolation,
            "without a Location",
        ),
        (answer(201, "", Location="/s/1"), ProtocolViolation, "expected an application/sdp body"),
        (answer(302, Location="/elsewhere"), ProtocolViolation, "unexpected redirect 302"),
        (answer(404, "no such stream"), SessionRejected, "no such stream"),
        (answer(500, "database on fire"), ServerUnavailable, "database on fire"),
    ],
)
async def test_bad_answers_raise_clear_errors(
    scripted: Scripted, reply: Callable[[web.Request], web.Response], error: type, message: str
) -> None:
    scripted.answers.append(reply)
    client = WhipClient(f"{scripted.url}/whip")
    with pytest.raises(error, match=message) as raised:
        await client.start(FrameTrack())
    assert f"POST {scripted.url}/…" in str(raised.value)  # the path may hold a stream key
    assert raised.value.url == f"{scripted.url}/whip"
    assert client.state == SessionState.FAILED


async def test_retry_after_is_waited_before_retrying(scripted: Scripted) -> None:
    scripted.answers += [answer(503, "busy", **{"Retry-After": "1"}), answer(400, "bad offer")]
    client = WhipClient(f"{scripted.url}/whip", retry_deadline=30)
    with pytest.raises(SessionRejected) as raised:
        await client.start(FrameTrack())
    assert raised.value.status == 400 and raised.value.body == "bad offer"
    (_, _, _, first), (_, _, _, second) = scripted.requests
    assert second - first >= 1.0 - 0.01


async def test_whep_retries_404_409_and_429(scripted: Scripted) -> None:
    scripted.answers += [
        answer(404, **{"Retry-After": "0"}),
        answer(409, **{"Retry-After": "0"}),
        answer(429),
        answer(403, "banned"),
    ]
    client = WhepClient(f"{scripted.url}/whep", retry_deadline=30)
    with pytest.raises(SessionRejected, match="banned") as raised:
        await client.start()
    assert raised.value.status == 403
    assert len(scripted.requests) == 4


async def test_unreachable_server_is_unavailable() -> None:
    client = WhipClient("http://127.0.0.1:9/whip", request_timeout=5)
    with pytest.raises(ServerUnavailable) as raised:
        await client.start(FrameTrack())
    assert raised.value.status is None
    assert "no answer from the server" in str(raised.value)
