"""The HTTP rules WHIP and WHEP endpoints share, on aiohttp.web.

Routes for an endpoint mounted at ``path``:

- ``POST path``: create a session (the subclass negotiates) → ``201`` + ``Location`` +
  ``ETag`` (+ ``Link: rel="ice-server"``), RFC 9725 section 4.2.
- ``PATCH path/{id}``: trickle ICE (``application/trickle-ice-sdpfrag``, RFC 8840)
  → ``204``; ``If-Match`` required (``428``), stale (``412``); ``If-Match: "*"`` asks
  for an ICE restart, which aiortc cannot do (``422``), RFC 9725 section 4.3.
- ``DELETE path/{id}`` → ``200``, RFC 9725 section 4.2.
- ``OPTIONS`` on both → ``204`` with ``Accept-Post``/``Accept-Patch``, and CORS
  (browsers read ``Location``, ``ETag`` and ``Link`` only if they are exposed).
- ``Authorization: Bearer`` checked when a token is set → ``401`` with
  ``WWW-Authenticate`` (RFC 6750 section 3).

Every error is plain text saying what was wrong with the request.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence

from aiohttp import web
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.exceptions import OperationError

from rtcflow.protocols.webrtc.ice_servers import ice_servers_to_links
from rtcflow.protocols.webrtc.sdpfrag import SdpFragmentError, parse_sdpfrag
from rtcflow.protocols.webrtc.tracks import FrameReceiver, FrameTrack

__all__ = ["ServerSession", "WebRTCEndpoint"]

logger = logging.getLogger(__name__)

SDP = "application/sdp"
SDPFRAG = "application/trickle-ice-sdpfrag"
MAX_BODY = 64 * 1024
_SDP_LINE = re.compile(r"[a-z]=")


def _check_sdp_lines(sdp: str) -> None:
    """SDP is ``v=0`` then ``<type>=<value>`` lines (RFC 8866 section 5); aiortc skips
    what it does not understand, so say which line is wrong before handing it over."""
    lines = sdp.splitlines()
    if not lines or lines[0].strip() != "v=0":
        raise ValueError("line 1 must be v=0")
    for number, line in enumerate(lines, start=1):
        if line and _SDP_LINE.match(line) is None:
            raise ValueError(f"line {number} is not <type>=<value>: {line[:80]!r}")


class ServerSession:
    """One session on an endpoint: a resource URL bound to an aiortc peer connection.

    A WHIP session has a ``receiver`` (the publisher's frames, latest wins); a WHEP
    session has a ``track`` (the player's paced frames).
    """

    def __init__(self, pc: RTCPeerConnection, match_info: Mapping[str, str]) -> None:
        self.id = secrets.token_urlsafe(12)
        self.etag = f'"{secrets.token_hex(8)}"'
        self.pc = pc
        self.match_info = dict(match_info)
        self.receiver: FrameReceiver | None = None
        self.track: FrameTrack | None = None
        self.awaiting_answer = False
        self.connected = asyncio.Event()
        self._closing: asyncio.Future[None] | None = None
        self._closed = asyncio.Event()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def wait_closed(self) -> None:
        """Wait until the session is deleted, fails or the server closes."""
        await self._closed.wait()
        assert self._closing is not None
        await asyncio.shield(self._closing)

    async def close(self) -> None:
        """Stop media and close the peer connection. Idempotent.

        The closing runs to its end even if the caller is cancelled: aiortc's
        ``close()`` cannot be resumed once interrupted.
        """
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close())
            self._closed.set()
        await asyncio.shield(self._closing)

    async def _close(self) -> None:
        if self.track is not None:
            self.track.stop()
        await self.pc.close()
        if self.receiver is not None:
            await self.receiver.close()


class WebRTCEndpoint:
    """Base of :class:`WhipEndpoint` and :class:`WhepEndpoint`.

    ``token``: required Bearer token (``None``: open). ``ice_servers``: used by the
    server's peers and announced to clients. ``max_sessions``: beyond it POST answers
    ``busy_error`` with ``Retry-After``. ``cors_origin``: ``Access-Control-Allow-Origin``
    (``None`` disables CORS). Sessions not connected within ``connect_timeout`` seconds
    are dropped.
    """

    #: Answer to a POST beyond ``max_sessions`` (WHIP: 503, RFC 9725 section 4.7).
    busy_error: type[web.HTTPException] = web.HTTPServiceUnavailable

    def __init__(
        self,
        *,
        token: str | None = None,
        ice_servers: Sequence[RTCIceServer] = (),
        max_sessions: int | None = None,
        cors_origin: str | None = "*",
        connect_timeout: float = 30.0,
    ) -> None:
        self.token = token
        self.ice_servers = list(ice_servers)
        self.max_sessions = max_sessions
        self.cors_origin = cors_origin
        self.connect_timeout = connect_timeout
        self.sessions: dict[str, ServerSession] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def add_routes(self, router: web.UrlDispatcher, path: str) -> None:
        """Register the endpoint at ``path`` (it may hold ``{variables}``)."""
        path = path.rstrip("/") or "/"
        resource = path.rstrip("/") + "/{session_id}"
        router.add_route("POST", path, self._wrap(self._post))
        router.add_route("OPTIONS", path, self._wrap(self._options_endpoint))
        router.add_route("PATCH", resource, self._wrap(self._patch))
        router.add_route("DELETE", resource, self._wrap(self._delete))
        router.add_route("OPTIONS", resource, self._wrap(self._options_resource))

    async def close(self) -> None:
        """Close every session and stop the endpoint's tasks."""
        await asyncio.gather(*(s.close() for s in list(self.sessions.values())))
        self.sessions.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- for subclasses ------------------------------------------------------------

    async def create_session(
        self, request: web.Request, offer: str | None
    ) -> tuple[ServerSession, int, str]:
        """Negotiate a new session: (session, status 201 or 406, SDP body)."""
        raise NotImplementedError

    async def apply_answer(self, session: ServerSession, answer: str) -> None:
        """Apply a PATCHed ``application/sdp`` answer (WHEP counter offers only)."""
        raise web.HTTPUnsupportedMediaType(
            text=f"PATCH takes {SDPFRAG} here", headers={"Accept-Patch": SDPFRAG}
        )

    def new_peer_connection(self) -> RTCPeerConnection:
        # An explicit list: with None, aiortc would gather against Google's STUN server.
        return RTCPeerConnection(
            RTCConfiguration(
                iceServers=list(self.ice_servers), bundlePolicy=RTCBundlePolicy.MAX_BUNDLE
            )
        )

    async def set_remote(self, pc: RTCPeerConnection, sdp: str, kind: str) -> None:
        """Apply a client's SDP; bad SDP is the client's fault (400/422)."""
        try:
            _check_sdp_lines(sdp)
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=kind))
        except Exception as exc:  # aiortc raises assorted errors for bad SDP
            await pc.close()
            message = str(exc) or type(exc).__name__
            if isinstance(exc, OperationError):  # aiortc: no codec in common
                raise web.HTTPUnprocessableEntity(
                    text=f"no video codec in common with the server: {message}"
                ) from exc
            raise web.HTTPBadRequest(text=f"malformed SDP {kind}: {message}") from exc

    def spawn(self, coroutine: Awaitable[None]) -> None:
        """Run a task owned by the endpoint (cancelled by :meth:`close`)."""
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def register(self, session: ServerSession) -> None:
        """Track ``session`` until it closes, fails or misses ``connect_timeout``."""
        self.sessions[session.id] = session
        pc = session.pc

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState == "connected":
                session.connected.set()
            elif pc.connectionState in ("failed", "closed"):
                self.spawn(self._drop(session))

        self.spawn(self._expire_unconnected(session))

    # -- handlers ------------------------------------------------------------------

    def _wrap(
        self, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                if exc.status >= 500:
                    logger.warning(
                        "%s %s -> %s %s", request.method, request.path, exc.status, exc.text
                    )
                response = web.Response(status=exc.status, text=exc.text, headers=exc.headers)
            self._add_cors(response)
            return response

        return wrapped

    def _add_cors(self, response: web.StreamResponse, preflight: bool = False) -> None:
        if self.cors_origin is None:
            return
        response.headers["Access-Control-Allow-Origin"] = self.cors_origin
        response.headers["Access-Control-Expose-Headers"] = (
            "Location, ETag, Link, Accept-Patch, Accept-Post, Retry-After"
        )
        if preflight:
            response.headers["Access-Control-Allow-Methods"] = "POST, PATCH, DELETE, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = (
                "Authorization, Content-Type, If-Match"
            )
            response.headers["Access-Control-Max-Age"] = "600"

    def _check_auth(self, request: web.Request) -> None:
        if self.token is None:
            return
        header = request.headers.get("Authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            credentials.strip().encode(), self.token.encode()
        ):
            return
        challenge = 'Bearer realm="rtcflow"'
        if header:
            challenge += ', error="invalid_token"'
        raise web.HTTPUnauthorized(
            text="a valid Authorization: Bearer token is required",
            headers={"WWW-Authenticate": challenge},
        )

    async def _read_body(self, request: web.Request) -> str:
        if request.content_length is not None and request.content_length > MAX_BODY:
            raise web.HTTPRequestEntityTooLarge(
                max_size=MAX_BODY, actual_size=request.content_length
            )
        try:
            return await request.text()
        except UnicodeDecodeError as exc:
            raise web.HTTPBadRequest(text=f"the body is not UTF-8 text: {exc}") from exc

    def _session(self, request: web.Request) -> ServerSession:
        session = self.sessions.get(request.match_info["session_id"])
        if session is None:
            raise web.HTTPNotFound(text=f"no session at {request.path}")
        return session

    async def _post(self, request: web.Request) -> web.Response:
        self._check_auth(request)
        body = await self._read_body(request)
        offer: str | None = None
        if body.strip():
            if request.content_type != SDP:
                raise web.HTTPUnsupportedMediaType(
                    text=f"the offer must be {SDP}, not {request.content_type}"
                )
            offer = body
        if self.max_sessions is not None and len(self.sessions) >= self.max_sessions:
            raise self.busy_error(
                text=f"at most {self.max_sessions} sessions; try again later",
                headers={"Retry-After": "1"},
            )
        session, status, sdp = await self.create_session(request, offer)
        self.register(session)
        headers = {
            "Location": f"{request.path.rstrip('/')}/{session.id}",
            "ETag": session.etag,
            "Accept-Patch": SDPFRAG,
        }
        response = web.Response(status=status, text=sdp, content_type=SDP, headers=headers)
        for link in ice_servers_to_links(self.ice_servers):
            response.headers.add("Link", link)
        return response

    async def _patch(self, request: web.Request) -> web.Response:
        self._check_auth(request)
        session = self._session(request)
        body = await self._read_body(request)
        if request.content_type == SDP:
            await self.apply_answer(session, body)
            return web.Response(status=204)
        if request.content_type != SDPFRAG:
            raise web.HTTPUnsupportedMediaType(
                text=f"PATCH takes {SDPFRAG}, not {request.content_type}",
                headers={"Accept-Patch": SDPFRAG},
            )
        if_match = request.headers.get("If-Match")
        if if_match is None:
            raise web.HTTPPreconditionRequired(text="trickle ICE PATCH needs If-Match: <ETag>")
        if if_match.strip() == "*":
            raise web.HTTPUnprocessableEntity(text="ICE restarts are not supported")
        if if_match.strip() != session.etag:
            raise web.HTTPPreconditionFailed(
                text=f"If-Match {if_match} does not match the session's ETag {session.etag}"
            )
        try:
            fragment = parse_sdpfrag(body)
        except SdpFragmentError as exc:
            raise web.HTTPBadRequest(text=f"malformed {SDPFRAG}: {exc}") from exc
        remote = session.pc.remoteDescription
        if (
            fragment.ice_ufrag is not None
            and remote is not None
            and f"a=ice-ufrag:{fragment.ice_ufrag}" not in remote.sdp
        ):
            raise web.HTTPUnprocessableEntity(
                text=f"ice-ufrag {fragment.ice_ufrag} is not this session's"
            )
        for candidate in [*fragment.candidates, *([None] if fragment.end_of_candidates else [])]:
            try:
                await session.pc.addIceCandidate(candidate)
            except ValueError as exc:  # e.g. after end-of-candidates: nothing to apply
                logger.debug("trickle candidate ignored: %s", exc)
        return web.Response(status=204)

    async def _delete(self, request: web.Request) -> web.Response:
        self._check_auth(request)
        session = self._session(request)
        await self._drop(session)
        return web.Response(status=200, text="session deleted")

    async def _options_endpoint(self, request: web.Request) -> web.Response:
        response = web.Response(status=204, headers={"Accept-Post": SDP, "Allow": "POST, OPTIONS"})
        self._add_cors(response, preflight=True)
        return response

    async def _options_resource(self, request: web.Request) -> web.Response:
        response = web.Response(
            status=204, headers={"Accept-Patch": SDPFRAG, "Allow": "PATCH, DELETE, OPTIONS"}
        )
        self._add_cors(response, preflight=True)
        return response

    # -- lifecycle -----------------------------------------------------------------

    async def _drop(self, session: ServerSession) -> None:
        self.sessions.pop(session.id, None)
        await session.close()

    async def _expire_unconnected(self, session: ServerSession) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(session.connected.wait(), self.connect_timeout)
            return
        logger.info("session %s did not connect within %g s", session.id, self.connect_timeout)
        await self._drop(session)
