"""The ``daydream`` step: each frame goes out over WHIP, Daydream's output comes back over WHEP.

``process()`` hands the frame to the stream's WHIP track and returns the newest output
frame received over WHEP (restamped as the frame it answers), or ``None`` until output
arrives, while the graph keeps its output timing. The stream is created in ``start()``
and deleted in ``close()``; :class:`~rtcflow.daydream.session.DaydreamSession` does the
work.

Edits reach a running step without a restart (:meth:`DaydreamStep.apply_spec`, called by
the reconciler for a changed step): live params become one PATCH with ``model_id`` and the
changed keys; a change the service can only apply by reloading its pipeline (about 30 s,
see :func:`~rtcflow.daydream.changes.cold_changes`) follows ``on_cold_change``:

- ``reject`` (default): the edit raises :class:`ColdChangeRejected`; nothing changes.
- ``reload``: PATCH anyway (a PATCH cannot unset a key: that is rejected too).
- ``recreate``: a second stream is created with the new params and fed beside the first;
  it replaces it when its first output frame arrives, and the first is deleted.

The timeline driver changes params through :meth:`DaydreamStep.update_params`
(:class:`~rtcflow.runtime.timeline_driver.ParamsStep`), coalesced the same way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rtcflow.daydream.changes import changed_params, cold_changes
from rtcflow.daydream.client import DaydreamClient
from rtcflow.daydream.errors import ColdChangeRejected, DaydreamConfigError, DaydreamStepError
from rtcflow.daydream.params import BaseStreamDiffusionParams, parse_params
from rtcflow.daydream.session import DaydreamSession, SessionOptions
from rtcflow.daydream.spec import DaydreamStepSpec
from rtcflow.daydream.state import StreamLedger
from rtcflow.media.frame import VideoFrame
from rtcflow.spec.models import VideoSpec

__all__ = ["DaydreamStep"]

logger = logging.getLogger(__name__)


class DaydreamStep:
    """Runs a flow's frames through a Daydream stream (a :class:`~rtcflow.runtime.step.Step`).

    ``api_key`` comes from ``DAYDREAM_API_KEY`` (the builder reads the environment and the
    spec's ``.env``); ``api_url`` is the spec's, else ``DAYDREAM_API_URL``, else the
    hosted service. Created streams are written to ``ledger`` until deleted.
    """

    def __init__(
        self,
        spec: DaydreamStepSpec,
        video: VideoSpec,
        *,
        api_key: str | None,
        api_url: str | None = None,
        ledger: StreamLedger | None = None,
        dotenv_file: Path | None = None,
        options: SessionOptions | None = None,
    ) -> None:
        self.name = spec.name
        self.spec = spec
        self.video = video
        self.ledger = ledger
        self.dotenv_file = dotenv_file
        self.options = options or SessionOptions()
        self._api_key = api_key
        self._default_api_url = api_url
        self._api_url = spec.daydream.api_url or api_url
        self._client: DaydreamClient | None = None
        self._active: DaydreamSession | None = None
        self._next: DaydreamSession | None = None  # a recreated stream, until its output
        self._updated: set[str] = set()  # keys set through update_params (the timeline)
        self._retiring: set[asyncio.Task[None]] = set()

    @property
    def params(self) -> BaseStreamDiffusionParams:
        """The params the spec declares (updates are sent on top of them)."""
        return self.spec.daydream.params

    # -- Step ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the stream and start publishing; raises :class:`DaydreamStepError` for a
        missing or refused key and for params the service rejects."""
        try:
            self._client = DaydreamClient(self._api_key or "", api_url=self._api_url)
        except DaydreamConfigError as exc:
            raise DaydreamStepError(
                f"daydream step {self.name!r}: {exc} (in the environment or in a .env file "
                "beside the spec)"
            ) from None
        try:
            self._active = await self._open(self.params.to_api())
        except BaseException:
            await self._client.aclose()
            self._client = None
            raise

    async def process(self, frame: VideoFrame) -> VideoFrame | None:
        active = self._active
        if active is None:
            raise DaydreamStepError(f"daydream step {self.name!r} is not started")
        if active.fatal is not None:
            raise DaydreamStepError(
                f"daydream step {self.name!r} stopped: {active.fatal}; fix it and edit the "
                "spec (or restart) to start it again"
            )
        active.publish(frame)
        upcoming = self._next
        if upcoming is not None:
            upcoming.publish(frame)
            if upcoming.latest is not None:
                self._promote(upcoming)
                active = upcoming
        output = active.latest
        return None if output is None else output.with_pts(frame.pts, frame.time_base)

    async def close(self) -> None:
        """Delete the streams (and end their sessions)."""
        sessions = [s for s in (self._next, self._active) if s is not None]
        self._active = self._next = None
        for session in sessions:
            await session.close()
        await asyncio.gather(*self._retiring, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def status(self) -> dict[str, Any]:
        """The stream, its media, the last applied params and when; never the key."""
        active = self._active
        return {
            "type": "daydream",
            "api_url": self._api_url or (self._client.api_url if self._client else None),
            "on_cold_change": self.spec.daydream.on_cold_change,
            **(active.status() if active is not None else {"state": "stopped"}),
            "recreating": self._next.status() if self._next is not None else None,
        }

    # -- live changes ----------------------------------------------------------------------

    def update_params(self, changes: Mapping[str, Any]) -> None:
        """Send changed top-level params (the timeline's, coalesced by its driver) as one
        PATCH, rate-limited; never blocks."""
        self._send(changes, debounce=False)
        self._updated.update(changes)

    async def apply_spec(self, spec: DaydreamStepSpec) -> bool:
        """Take an edited spec without a restart; ``False`` when the step must be rebuilt
        (another API, or the step has stopped).

        Raises :class:`ColdChangeRejected` (changing nothing) for a cold change the spec's
        ``on_cold_change`` does not allow, and :class:`DaydreamStepError` (or an API
        error) when a recreated stream cannot be created.
        """
        active = self._active
        new_url = spec.daydream.api_url or self._default_api_url
        if active is None or active.fatal is not None or new_url != self._api_url:
            return False
        old, new = self.params, spec.daydream.params
        cold = cold_changes(old, new)
        policy = spec.daydream.on_cold_change
        if cold and policy == "reject":
            raise ColdChangeRejected(
                f"{', '.join(cold)}: the service reloads its pipeline for this (about 30 s "
                "without output); set on_cold_change: reload or recreate to allow it, or "
                "revert the edit",
                cold,
            )
        if cold and policy == "recreate":
            wanted = {**new.to_api(), **{k: active.wanted[k] for k in self._updated}}
            upcoming = await self._open(wanted)
            if self._next is not None:
                self._retire(self._next)
            self._next = upcoming
        else:
            unset = [key for key in cold if key in old.to_api() and key not in new.to_api()]
            if unset:
                raise ColdChangeRejected(
                    f"{', '.join(unset)}: a PATCH cannot unset a param; set on_cold_change: "
                    "recreate to start a stream without it, or set a value",
                    unset,
                )
            changes = changed_params(old, new)
            if len(changes) > 1 or old.model_id != new.model_id:
                self._send(changes, debounce=True)
        self.spec = spec
        return True

    # -- sessions --------------------------------------------------------------------------

    def _send(self, changes: Mapping[str, Any], *, debounce: bool) -> None:
        for session in (self._active, self._next):
            if session is not None:
                session.update(changes, debounce=debounce)

    async def _open(self, params: Mapping[str, Any]) -> DaydreamSession:
        assert self._client is not None
        session = DaydreamSession(
            self._client,
            parse_params(params),
            name=f"rtcflow-{self.name}",
            video=self.video,
            ledger=self.ledger,
            dotenv_file=self.dotenv_file,
            options=self.options,
        )
        await session.open()
        return session

    def _promote(self, upcoming: DaydreamSession) -> None:
        """The recreated stream has output: it replaces the running one."""
        previous, self._active, self._next = self._active, upcoming, None
        logger.info("daydream step %s: switched to the recreated stream", self.name)
        if previous is not None:
            self._retire(previous)

    def _retire(self, session: DaydreamSession) -> None:
        task = asyncio.ensure_future(session.close())
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)
