"""Live parameters and the trickle side channels of flows, as ComfyStream handles them.

A Livepeer gateway drives a worker's stream over two JSON trickle channels besides the
video (one JSON object per segment, ``rtcflow.protocols.trickle.json_channel``):

- *control* (gateway → worker): parameter updates, ComfyStream's ``params`` object:
  ``prompt`` (a ComfyUI API-format workflow, as an object or JSON text; ComfyStream's
  newer ``prompts`` takes one workflow or a list holding one), ``width`` and ``height``.
- *events* (worker → gateway): ``{"event": {...}, "queue_event_type": ...}`` as pytrickle
  writes them: a heartbeat with fps and counters every 10 s (``stream_heartbeat``),
  errors as they happen (``ai_stream_events``), and the stream's start and stop
  (``stream_trace``).

A flow gets these channels from its trickle source's ``control_url``/``events_url``.
A parameter update is validated, its workflow compiled, and then laid over the flow's
declared spec (``Reconciler.overlays``) and reconciled like any edit: a new workflow is
warmed beside the running one and swapped in between two frames, a new size restarts
the flow. An update that does not validate, compile or apply changes nothing and is
reported on the events channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from rtcflow.protocols.retry import Backoff
from rtcflow.protocols.trickle import (
    TrickleError,
    TrickleJsonPublisher,
    TrickleJsonSubscriber,
)
from rtcflow.reconcile.reconciler import Reconciler
from rtcflow.runtime.workflow_step import load_compiled_workflow
from rtcflow.spec.models import (
    Flow,
    TrickleSinkSpec,
    TrickleSourceSpec,
    VideoSpec,
    WorkflowStepSpec,
)
from rtcflow.workflow import DEFAULT_WORKFLOW, WorkflowError

__all__ = [
    "HEARTBEAT_INTERVAL",
    "LiveParams",
    "ParamsRejected",
    "StreamParams",
    "TrickleChannels",
    "field_errors",
    "with_params",
]

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL = 10.0


def _workflow_json(value: Any) -> Any:
    """A workflow given as JSON text becomes an object; ``""`` is the default workflow."""
    if value == "":
        return DEFAULT_WORKFLOW
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            ) from None
    return value


def _one_workflow(value: Any) -> Any:
    value = _workflow_json(value)
    return [value] if isinstance(value, dict) else value


#: A ComfyUI API-format workflow: an object, or JSON text of one.
Workflow = Annotated[dict[str, Any], BeforeValidator(_workflow_json)]
# The flow's own limits on the frame size (``VideoSpec``), so both reject the same values.
Width = Annotated[int, *VideoSpec.model_fields["width"].metadata]
Height = Annotated[int, *VideoSpec.model_fields["height"].metadata]


class StreamParams(BaseModel):
    """ComfyStream's stream parameters (``params`` of ``/stream/start``, control messages)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    width: Width | None = None
    height: Height | None = None
    prompt: Workflow | None = Field(
        None, description="ComfyUI API-format workflow (object or JSON text); none: inversion"
    )
    prompts: Annotated[
        list[Workflow] | None, BeforeValidator(_one_workflow), Field(min_length=1, max_length=1)
    ] = Field(None, description="ComfyStream's newer name: one workflow, or a list of one")

    @model_validator(mode="after")
    def _one_name(self) -> StreamParams:
        if self.prompt is not None and self.prompts is not None:
            raise ValueError("give 'prompt' or 'prompts', not both")
        return self

    @property
    def workflow(self) -> dict[str, Any] | None:
        """The workflow given (as ``prompt`` or ``prompts``), if any."""
        return self.prompts[0] if self.prompts else self.prompt

    def merged(self, update: StreamParams) -> StreamParams:
        """These parameters with the ones ``update`` gives laid over them."""
        return StreamParams.model_construct(
            width=update.width if update.width is not None else self.width,
            height=update.height if update.height is not None else self.height,
            prompt=update.workflow if update.workflow is not None else self.workflow,
            prompts=None,
        )


class ParamsRejected(Exception):
    """Parameters that do not validate, compile or apply; ``errors`` maps field → message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{field}: {message}" for field, message in self.errors.items()))


def field_errors(error: ValidationError, prefix: tuple[str | int, ...] = ()) -> dict[str, str]:
    """Pydantic's errors as ``{"params.width": "message"}``."""
    return {
        ".".join(str(part) for part in (*prefix, *item["loc"])) or "body": item["msg"]
        for item in error.errors()
    }


def workflow_step_index(flow: Flow) -> int | None:
    """The first workflow step of ``flow``: the one parameter updates change."""
    for index, step in enumerate(flow.spec.steps):
        if isinstance(step, WorkflowStepSpec):
            return index
    return None


def with_params(flow: Flow, params: StreamParams) -> Flow:
    """``flow`` with ``params`` applied: the video size, and the workflow of its first
    workflow step (its custom node folders are kept)."""
    body = flow.spec
    update: dict[str, Any] = {}
    size = {name: getattr(params, name) for name in ("width", "height")}
    if any(value is not None for value in size.values()):
        given = {name: value for name, value in size.items() if value is not None}
        update["video"] = body.video.model_copy(update=given)
    workflow = params.workflow
    if workflow is not None:
        index = workflow_step_index(flow)
        if index is None:
            raise ParamsRejected({"prompt": f"flow {flow.name!r} has no workflow step"})
        step = body.steps[index]
        ref = step.workflow.model_copy(update={"file": None, "inline": workflow})
        steps = list(body.steps)
        steps[index] = step.model_copy(update={"workflow": ref})
        update["steps"] = steps
    return flow.model_copy(update={"spec": body.model_copy(update=update)}) if update else flow


class LiveParams:
    """Parameter updates of running flows, kept as overlays on their declared specs."""

    def __init__(self, reconciler: Reconciler) -> None:
        self.reconciler = reconciler
        self.params: dict[str, StreamParams] = {}

    def parse(self, message: Mapping[str, Any]) -> StreamParams:
        """Validate one update; raises ``ParamsRejected`` naming the fields."""
        try:
            return StreamParams.model_validate(message)
        except ValidationError as exc:
            raise ParamsRejected(field_errors(exc)) from None

    async def check_workflow(self, flow: Flow) -> None:
        """Compile ``flow``'s first workflow step; raises ``ParamsRejected`` if it fails."""
        index = workflow_step_index(flow)
        if index is None:
            return
        step = flow.spec.steps[index]
        workspace = self.reconciler.builder.options.workspace
        try:
            await asyncio.to_thread(load_compiled_workflow, step, workspace)
        except WorkflowError as exc:
            raise ParamsRejected({"prompt": str(exc)}) from None

    async def update(self, name: str, message: Mapping[str, Any]) -> StreamParams:
        """Apply one update to flow ``name``: validate, compile, reconcile.

        Returns the flow's parameters now in force. Raises ``ParamsRejected`` (and changes
        nothing) when the update does not validate, its workflow does not compile, or the
        reconciler cannot apply it (or no flow of that name is desired).
        """
        desired = self.reconciler.desired.get(name)
        if desired is None:
            raise ParamsRejected({"params": f"no flow named {name!r}"})
        declared = desired.flow
        params = self.parse(message)
        previous = self.params.get(name)
        merged = previous.merged(params) if previous is not None else params
        await self.check_workflow(with_params(declared, merged))
        self._set(name, merged)
        await self.reconciler.reconcile()
        running = self.reconciler.flows.get(name)
        if running is None or running.digests != self.reconciler.wanted.get(name):
            error = self.reconciler.apply_errors.get(name, "the change did not apply")
            self._set(name, previous)
            await self.reconciler.reconcile()
            raise ParamsRejected({"params": error})
        return merged

    async def forget(self, name: str) -> None:
        """Drop flow ``name``'s updates (its declared spec applies again)."""
        if self.params.pop(name, None) is not None:
            self.reconciler.overlays.pop(name, None)
            if name in self.reconciler.desired:
                await self.reconciler.reconcile()

    def _set(self, name: str, params: StreamParams | None) -> None:
        if params is None:
            self.params.pop(name, None)
            self.reconciler.overlays.pop(name, None)
            return
        self.params[name] = params
        self.reconciler.overlays[name] = lambda flow: with_params(flow, params)


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class _ChannelURLs:
    control: str | None
    events: str | None


class FlowChannels:
    """The control and events channels of one flow."""

    def __init__(
        self,
        name: str,
        urls: _ChannelURLs,
        reconciler: Reconciler,
        live_params: LiveParams,
        *,
        heartbeat_interval: float,
        poll_interval: float,
    ) -> None:
        self.name = name
        self.urls = urls
        self.reconciler = reconciler
        self.live_params = live_params
        self.heartbeat_interval = heartbeat_interval
        self.poll_interval = poll_interval
        self.messages_applied = 0
        self.messages_rejected = 0
        self.events_sent = 0
        self._events: TrickleJsonPublisher | None = None
        self._reported: dict[str, str] = {}  # error source → last message published
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if self.urls.control:
            self._tasks.append(asyncio.create_task(self._control(self.urls.control)))
        if self.urls.events:
            self._events = TrickleJsonPublisher(self.urls.events)
            self._tasks.append(asyncio.create_task(self._report()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._events is not None:
            events, self._events = self._events, None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._publish_to(events, "stream_trace", {"type": "stream_stopped"}), 2.0
                )
            await events.aclose()

    # -- control ------------------------------------------------------------------------

    async def _control(self, url: str) -> None:
        backoff = Backoff(initial=0.25, maximum=5.0)
        while True:
            try:
                async with TrickleJsonSubscriber(url) as subscriber:
                    async for message in subscriber:
                        backoff.reset()
                        await self._apply(message)
            except TrickleError as exc:
                log.info("flow %s: control channel %s: %s", self.name, url, exc)
            await asyncio.sleep(backoff.delay())

    async def _apply(self, message: dict[str, Any]) -> None:
        try:
            params = await self.live_params.update(self.name, message)
        except ParamsRejected as exc:
            self.messages_rejected += 1
            log.warning("flow %s: control message rejected: %s", self.name, exc)
            self.reconciler.events.record(self.name, "ParamsRejected", str(exc))
            await self._publish_error("control", f"control message rejected: {exc}")
            return
        self.messages_applied += 1
        fields = ", ".join(sorted(params.model_dump(exclude_none=True)))
        self.reconciler.events.record(self.name, "ParamsApplied", f"control channel: {fields}")

    # -- events -------------------------------------------------------------------------

    async def _report(self) -> None:
        """Publish the start, then errors as they appear and a heartbeat every interval."""
        loop = asyncio.get_running_loop()
        await self._publish("stream_trace", {"type": "stream_started"})
        next_heartbeat = loop.time()
        while True:
            await self._publish_new_errors()
            if loop.time() >= next_heartbeat:
                next_heartbeat += self.heartbeat_interval
                await self._publish("stream_heartbeat", self._heartbeat())
            await asyncio.sleep(min(self.poll_interval, max(0.0, next_heartbeat - loop.time())))

    def _graph(self) -> dict[str, Any]:
        running = self.reconciler.flows.get(self.name)
        return running.graph.status() if running is not None else {}

    def _heartbeat(self) -> dict[str, Any]:
        graph = self._graph()
        counters = graph.get("counters", {})
        desired = self.reconciler.desired.get(self.name)
        flow = desired.flow if desired is not None else None
        source = flow.spec.source if flow is not None else None
        sinks = flow.spec.sinks if flow is not None else []
        return {
            "type": "heartbeat",
            "request_id": self.name,
            "phase": graph.get("phase"),
            "urls": {
                "subscribe": source.url if isinstance(source, TrickleSourceSpec) else None,
                "publish": [s.url for s in sinks if isinstance(s, TrickleSinkSpec)],
                "control": self.urls.control or "",
                "events": self.urls.events or "",
            },
            "dimensions": {
                "width": flow.spec.video.width if flow else None,
                "height": flow.spec.video.height if flow else None,
            },
            "fps": counters.get("fps", 0.0),
            "counters": {key: value for key, value in counters.items() if key != "queue_depths"},
            "control": {"applied": self.messages_applied, "rejected": self.messages_rejected},
        }

    def _errors(self) -> dict[str, str]:
        """Every error the flow reports now, by where it comes from."""
        errors = {}
        if apply_error := self.reconciler.apply_errors.get(self.name):
            errors["apply"] = apply_error
        graph = self._graph()
        if graph.get("error"):
            errors["flow"] = graph["error"]
        for kind in ("steps", "sinks"):
            for component, status in graph.get(kind, {}).items():
                if status.get("last_error"):
                    errors[f"{kind}.{component}"] = status["last_error"]
        return errors

    async def _publish_new_errors(self) -> None:
        for where, message in self._errors().items():
            if self._reported.get(where) != message:
                self._reported[where] = message
                await self._publish_error(where, message)

    async def _publish_error(self, where: str, message: str) -> None:
        event = {"type": "error", "request_id": self.name, "source": where, "message": message}
        await self._publish("ai_stream_events", event)

    async def _publish(self, queue_event_type: str, event: dict[str, Any]) -> None:
        if self._events is not None:
            await self._publish_to(self._events, queue_event_type, event)

    async def _publish_to(
        self, events: TrickleJsonPublisher, queue_event_type: str, event: dict[str, Any]
    ) -> None:
        """Publish one event; events are best effort, so a failure is only logged."""
        message = {"event": {**event, "timestamp": _now_ms()}, "queue_event_type": queue_event_type}
        try:
            await events.publish(message)
        except TrickleError as exc:
            log.warning("flow %s: cannot publish %s event: %s", self.name, event["type"], exc)
            return
        self.events_sent += 1

    def status(self) -> dict[str, Any]:
        return {
            "control_url": self.urls.control,
            "events_url": self.urls.events,
            "messages_applied": self.messages_applied,
            "messages_rejected": self.messages_rejected,
            "events_sent": self.events_sent,
        }


class TrickleChannels:
    """Runs the control and events channels of every desired flow whose trickle source
    names them, and keeps them in step with the reconciler (checked every
    ``poll_interval``, and at once by ``sync``)."""

    def __init__(
        self,
        reconciler: Reconciler,
        *,
        heartbeat_interval: float = HEARTBEAT_INTERVAL,
        poll_interval: float = 0.5,
    ) -> None:
        self.reconciler = reconciler
        self.live_params = LiveParams(reconciler)
        self.heartbeat_interval = heartbeat_interval
        self.poll_interval = poll_interval
        self.flows: dict[str, FlowChannels] = {}
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def wanted(self) -> dict[str, _ChannelURLs]:
        """The channels the desired flows declare."""
        wanted = {}
        for name, desired in self.reconciler.desired.items():
            source = desired.flow.spec.source
            if isinstance(source, TrickleSourceSpec) and (source.control_url or source.events_url):
                wanted[name] = _ChannelURLs(source.control_url, source.events_url)
        return wanted

    async def sync(self) -> None:
        """Start and stop channels so that they match the desired flows."""
        async with self._lock:
            wanted = self.wanted()
            for name, channels in list(self.flows.items()):
                if wanted.get(name) != channels.urls:
                    del self.flows[name]
                    await channels.stop()
                    if name not in wanted:
                        await self.live_params.forget(name)
            for name, urls in wanted.items():
                if name not in self.flows:
                    channels = FlowChannels(
                        name,
                        urls,
                        self.reconciler,
                        self.live_params,
                        heartbeat_interval=self.heartbeat_interval,
                        poll_interval=self.poll_interval,
                    )
                    self.flows[name] = channels
                    channels.start()

    async def start(self) -> None:
        """Keep the channels in step with the reconciler until ``stop``."""
        await self.sync()
        self._task = asyncio.create_task(self._follow(), name="trickle channels")

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            await self.sync()

    async def stop(self) -> None:
        """Stop following and close every flow's channels."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        async with self._lock:
            for channels in self.flows.values():
                await channels.stop()
            self.flows.clear()
