"""One Daydream stream run for a flow: created over REST, fed by WHIP, played back by WHEP.

The way every Daydream client gets output (the Daydream notes, "Getting the processed
output back"):

1. ``POST /v1/streams`` creates the stream; it is recorded in the
   :class:`~rtcflow.daydream.state.StreamLedger` before anything else can fail.
2. WHIP (RFC 9725) publishes the step's input to ``whip_url``: H.264 constrained
   baseline, the only codec Livepeer ingests.
3. WHEP plays the output from the WHIP answer's ``Livepeer-Playback-URL`` (else the status
   endpoint's ``gateway_status.whep_url``); the gateway answers 404 until output exists
   and 429 above its viewer limit, which :class:`~rtcflow.protocols.webrtc.WhepClient`
   retries, honouring ``Retry-After``.

A supervisor task keeps this running: when a session ends (the service restarts, the
network drops) it checks the stream at the API, creates a new one if it is gone, and
connects again after an exponential backoff. A create that fails ambiguously (500, a
timeout) is looked up by its unique name before another is made, so no billed stream is
left behind. 401/403 and 400 stop the session for good (:attr:`DaydreamSession.fatal`):
retrying cannot fix a key or params.

Param updates are coalesced: changes arriving within ``debounce`` seconds of the first
go out as one ``PATCH`` (``model_id`` plus the changed keys), at most one per
``min_interval`` seconds; updates the caller coalesced already (the timeline's) skip the
``debounce`` window.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rtcflow.daydream.client import DaydreamClient
from rtcflow.daydream.errors import (
    DaydreamAuthError,
    DaydreamBadRequest,
    DaydreamConfigError,
    DaydreamConnectionError,
    DaydreamError,
    DaydreamNotFound,
    DaydreamProtocolError,
    DaydreamServerError,
)
from rtcflow.daydream.params import BaseStreamDiffusionParams, parse_params
from rtcflow.daydream.state import StreamLedger
from rtcflow.daydream.streams import Stream
from rtcflow.media.convert import fitted
from rtcflow.media.frame import VideoFrame
from rtcflow.protocols.retry import Backoff
from rtcflow.protocols.webrtc import (
    FrameReceiver,
    FrameTrack,
    SessionClosed,
    WebRTCError,
    WhepClient,
    WhipClient,
)
from rtcflow.spec.models import VideoSpec

__all__ = ["PLAYBACK_URL_HEADER", "DaydreamSession", "SessionOptions", "SessionState"]

logger = logging.getLogger(__name__)

#: The WHIP answer header that names the stream's WHEP URL (Livepeer's gateway).
PLAYBACK_URL_HEADER = "Livepeer-Playback-URL"

#: Errors that retrying cannot fix: a refused key, params the service rejects.
_FATAL = (DaydreamAuthError, DaydreamBadRequest, DaydreamConfigError)


@dataclass(frozen=True)
class SessionOptions:
    """Timing of a :class:`DaydreamSession` (defaults suit the hosted service)."""

    #: Param changes within this many seconds of the first one go out as one PATCH.
    debounce: float = 0.25
    #: At least this many seconds between two PATCHes (4 per second).
    min_interval: float = 0.25
    #: WHIP encoder start bitrate and ceiling, bits/s.
    bitrate: int = 1_500_000
    #: How long WHEP retries 404/429 for the first output before the session starts over.
    output_deadline: float = 60.0
    #: A session with nothing from its peer for this long is over (the service went away).
    liveness_timeout: float = 5.0
    #: ICE/DTLS must connect within this many seconds.
    connect_timeout: float = 30.0
    #: How long closing waits for the stream's DELETE (it stays recorded when it fails).
    close_timeout: float = 15.0


class SessionState(enum.StrEnum):
    CREATING = "creating"
    CONNECTING = "connecting"
    WAITING = "waiting for output"
    LIVE = "live"
    RETRYING = "retrying"
    FAILED = "failed"
    CLOSED = "closed"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class DaydreamSession:
    """One Daydream stream with its WHIP and WHEP sessions and its param updates.

    :meth:`open` creates the stream and starts the media; :meth:`publish` hands it input
    frames (latest wins); :attr:`latest` is the newest output frame at the flow's size, or
    ``None`` until output arrives; :meth:`update` queues param changes; :meth:`close`
    deletes the stream.
    """

    def __init__(
        self,
        client: DaydreamClient,
        params: BaseStreamDiffusionParams,
        *,
        name: str,
        video: VideoSpec,
        ledger: StreamLedger | None = None,
        dotenv_file: Path | None = None,
        options: SessionOptions | None = None,
    ) -> None:
        self.client = client
        self.name = name
        self.video = video
        self.ledger = ledger
        self.dotenv_file = dotenv_file
        self.options = options or SessionOptions()
        #: The params the stream should have: declared, with every update on top.
        self.wanted: dict[str, Any] = params.to_api()
        #: The params the service confirmed, and when.
        self.applied: dict[str, Any] | None = None
        self.applied_at: str | None = None
        self.stream: Stream | None = None
        self.state = SessionState.CREATING
        self.whep_url: str | None = None
        self.latest: VideoFrame | None = None
        self.fatal: DaydreamError | None = None
        self.last_error: str | None = None
        self.streams_created = 0
        self.frames_received = 0
        self.patches = 0
        self.track = FrameTrack(video.fps)
        self._pending: dict[str, Any] = {}
        self._pending_due: float | None = None
        self._not_before = 0.0
        self._updates_queued = asyncio.Event()
        self._patch_backoff = Backoff(initial=0.5, maximum=10.0)
        self._tasks: list[asyncio.Task[None]] = []
        self._creating: asyncio.Future[None] | None = None

    # -- the step's side ------------------------------------------------------------------

    async def open(self) -> None:
        """Create the stream and start its media in the background.

        Raises when retrying cannot help (:class:`DaydreamAuthError`, :class:`DaydreamBadRequest`);
        a transient failure (5xx, the API unreachable) is retried in the background.
        """
        try:
            await self._create()
        except _FATAL:
            self.state = SessionState.FAILED
            self.track.stop()
            raise
        except DaydreamError as exc:
            self._note_error(exc)
        self._tasks = [
            asyncio.create_task(self._supervise(), name=f"daydream:{self.name}:media"),
            asyncio.create_task(self._send_updates(), name=f"daydream:{self.name}:patch"),
        ]

    def publish(self, frame: VideoFrame) -> None:
        """Send ``frame`` to the stream (paced; a newer frame replaces an unsent one)."""
        self.track.put(frame)

    def update(self, changes: Mapping[str, Any], *, debounce: bool = True) -> None:
        """Queue top-level param changes; they go out coalesced as one PATCH.

        ``debounce=False`` skips the coalescing window (the caller coalesced already, as
        the timeline driver does); the rate limit still applies. Raises
        :class:`pydantic.ValidationError` (changing nothing) for params the model rejects.
        """
        parse_params({**self.wanted, **changes})
        self.wanted = {**self.wanted, **changes}
        self._queue(changes, wait=self.options.debounce if debounce else 0.0)

    async def close(self) -> None:
        """Stop the media and delete the stream (kept in the ledger if the DELETE fails)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.track.stop()
        if self._creating is not None and not self._creating.done():
            with contextlib.suppress(Exception):  # failed, or still going: then recorded
                async with asyncio.timeout(self.options.close_timeout):
                    await asyncio.shield(self._creating)
        stream, self.stream = self.stream, None
        if stream is not None:
            await self._delete(stream)
        if self.state is not SessionState.FAILED:
            self.state = SessionState.CLOSED

    def status(self) -> dict[str, Any]:
        """Stream, media and params state; no secret (``whip_url`` holds the stream key)."""
        return {
            "stream_id": self.stream.id if self.stream is not None else None,
            "state": self.state.value,
            "whep_url": self.whep_url,
            "streams_created": self.streams_created,
            "frames_sent": self.track.sent,
            "frames_received": self.frames_received,
            "params": self.applied,
            "params_applied_at": self.applied_at,
            "patches": self.patches,
            "pending_params": sorted(self._pending),
            "last_error": str(self.fatal) if self.fatal else self.last_error,
        }

    # -- the stream -----------------------------------------------------------------------

    async def _create(self) -> None:
        """Create a stream with :attr:`wanted` and record it.

        The request runs to its end even when the caller is cancelled: a stream created
        unseen would be billed, so :meth:`close` waits for it and deletes it.
        """
        self._creating = asyncio.ensure_future(self._create_stream())
        await asyncio.shield(self._creating)

    async def _create_stream(self) -> None:
        self.state = SessionState.CREATING
        sent = dict(self.wanted)
        name = f"{self.name}-{secrets.token_hex(4)}"  # unique: found again after a 500
        try:
            stream = await self.client.create_stream(parse_params(sent), name=name)
        except (DaydreamServerError, DaydreamConnectionError) as exc:
            found = await self._find(name)
            if found is None:
                raise
            logger.warning(
                "daydream %s: create failed (%s) but made stream %s", self.name, exc, found.id
            )
            stream = found
        if self.ledger is not None:
            self.ledger.add(
                stream.id, self.client.api_url, dotenv_file=self.dotenv_file, step=self.name
            )
        self.stream = stream
        self.streams_created += 1
        self.applied, self.applied_at = dict(stream.params or sent), _now()
        logger.info("daydream %s: created stream %s", self.name, stream.id)
        # Updates queued while the create was on its way have yet to reach the stream.
        self._pending = {}
        self._queue({k: v for k, v in self.wanted.items() if sent.get(k) != v})

    async def _find(self, name: str) -> Stream | None:
        """The stream named ``name``, if an ambiguous create made it after all."""
        try:
            streams = await self.client.list_streams()
        except DaydreamError as exc:
            logger.warning("daydream %s: cannot list streams to check a create: %s", self.name, exc)
            return None
        return next((stream for stream in streams if stream.name == name), None)

    async def _check_stream(self) -> None:
        """After a failure: forget the stream if the API no longer has it."""
        stream = self.stream
        if stream is None:
            return
        try:
            await self.client.get_stream(stream.id)
        except DaydreamNotFound:
            logger.warning(
                "daydream %s: stream %s is gone; creating a new one", self.name, stream.id
            )
            if self.ledger is not None:
                self.ledger.remove(stream.id)
            self.stream = None
        except DaydreamError as exc:  # unreachable: try the same stream again later
            self._note_error(exc)

    async def _delete(self, stream: Stream) -> None:
        try:
            async with asyncio.timeout(self.options.close_timeout):
                await self.client.delete_stream(stream.id)
        except DaydreamNotFound:
            pass
        except (DaydreamError, TimeoutError) as exc:
            logger.error(
                "daydream %s: could not delete stream %s (%s); it stays recorded and is "
                "deleted when rtcflow next starts",
                self.name,
                stream.id,
                exc or "timed out",
            )
            return
        if self.ledger is not None:
            self.ledger.remove(stream.id)
        logger.info("daydream %s: deleted stream %s", self.name, stream.id)

    def _fail(self, error: DaydreamError) -> None:
        self.fatal = error
        self.state = SessionState.FAILED
        logger.error("daydream %s: stopped: %s", self.name, error)

    def _note_error(self, error: Exception) -> None:
        self.last_error = f"{type(error).__name__}: {error}"

    # -- media ----------------------------------------------------------------------------

    async def _supervise(self) -> None:
        """Keep a stream, its WHIP publisher and its WHEP player running."""
        backoff = Backoff(initial=0.5, maximum=10.0)
        while True:
            retry_after: float | None = None
            try:
                if self.stream is None:
                    await self._create()
                await self._run_media(backoff)
            except _FATAL as exc:
                self._fail(exc)
                return
            except (DaydreamError, WebRTCError) as exc:
                self._note_error(exc)
                retry_after = getattr(exc, "retry_after", None)
            await self._check_stream()
            if self.fatal is not None:
                return
            self.state = SessionState.RETRYING
            delay = backoff.delay(retry_after)
            logger.warning(
                "daydream %s: %s; reconnecting in %.1f s", self.name, self.last_error, delay
            )
            await asyncio.sleep(delay)

    async def _run_media(self, backoff: Backoff) -> None:
        """One WHIP + WHEP pair on the current stream, until either ends (then raises)."""
        assert self.stream is not None
        options = self.options
        self.state = SessionState.CONNECTING
        whip = WhipClient(
            self.stream.whip_url,
            codec="h264",
            bitrate=options.bitrate,
            connect_timeout=options.connect_timeout,
            liveness_timeout=options.liveness_timeout,
        )
        whep: WhepClient | None = None
        try:
            await whip.start(self.track)
            self.whep_url = whip.response_headers.get(PLAYBACK_URL_HEADER) or (
                await self._status_whep_url()
            )
            self.state = SessionState.WAITING
            whep = WhepClient(
                self.whep_url,
                retry_deadline=options.output_deadline,
                connect_timeout=options.connect_timeout,
                liveness_timeout=options.liveness_timeout,
            )
            await self._receive(await whep.start(), whip, whep, backoff)
        finally:
            self.latest = None  # stale from now on: the graph repeats its last output
            if whep is not None:
                await whep.stop()
            await whip.stop()

    async def _status_whep_url(self) -> str:
        assert self.stream is not None
        status = await self.client.get_stream_status(self.stream.id)
        if status.whep_url is None:
            raise DaydreamProtocolError(
                f"no WHEP URL for stream {self.stream.id} yet (neither the WHIP answer's "
                f"{PLAYBACK_URL_HEADER} nor the stream status gives one)"
            )
        return status.whep_url

    async def _receive(
        self, receiver: FrameReceiver, whip: WhipClient, whep: WhepClient, backoff: Backoff
    ) -> None:
        """Keep the newest output frame until a session ends; raises why it ended."""

        async def frames() -> None:
            async for frame in fitted(receiver, self.video.width, self.video.height):
                self.latest = frame
                self.frames_received += 1
                if self.state is not SessionState.LIVE:
                    self.state = SessionState.LIVE
                    self.last_error = None
                    backoff.reset()

        watched = [
            asyncio.ensure_future(frames()),
            asyncio.ensure_future(whip.wait_closed()),
            asyncio.ensure_future(whep.wait_closed()),
        ]
        try:
            await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in watched:
                task.cancel()
            await asyncio.gather(*watched, return_exceptions=True)
        raise whip.error or whep.error or SessionClosed("the output track ended")

    # -- param updates --------------------------------------------------------------------

    def _queue(self, changes: Mapping[str, Any], wait: float = 0.0) -> None:
        """Add ``changes`` to the next PATCH, due ``wait`` seconds from now at the latest."""
        if not changes:
            return
        self._pending.update(changes)
        due = asyncio.get_running_loop().time() + wait
        self._pending_due = due if self._pending_due is None else min(due, self._pending_due)
        self._updates_queued.set()

    async def _send_updates(self) -> None:
        """Send queued changes as PATCHes: coalesced, rate-limited, retried with backoff."""
        loop = asyncio.get_running_loop()
        options = self.options
        while True:
            await self._updates_queued.wait()
            self._updates_queued.clear()
            if not self._pending or self._pending_due is None:
                continue
            due = max(self._pending_due, self._not_before)
            await asyncio.sleep(max(0.0, due - loop.time()))
            stream = self.stream
            if stream is None or not self._pending:
                continue  # a stream being created takes every wanted param
            body = {"model_id": self.wanted["model_id"], **self._pending}
            self._pending, self._pending_due = {}, None
            self._not_before = loop.time() + options.min_interval
            try:
                answer = await self.client.update_stream(stream.id, body)
            except DaydreamAuthError as exc:
                self._fail(exc)
                return
            except DaydreamNotFound:
                continue  # the supervisor replaces the stream, with every wanted param
            except DaydreamBadRequest as exc:
                self._note_error(exc)  # these values cannot be applied: drop them
                continue
            except DaydreamError as exc:
                self._note_error(exc)
                self._not_before = loop.time() + self._patch_backoff.delay(
                    getattr(exc, "retry_after", None)
                )
                self._queue({k: v for k, v in body.items() if k not in self._pending})
                continue
            self._patch_backoff.reset()
            if self.stream is stream:
                self.applied = {**(self.applied or {}), **(answer.params or body)}
                self.applied_at = _now()
                self.patches += 1
            if self._pending:
                self._updates_queued.set()
