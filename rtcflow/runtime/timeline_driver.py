"""Runs a flow's timeline against its running steps, on the stream's clock.

Stream time is the output clock: output frame ``n`` (pts ``n``) shows stream time
``n * time_base``, so offsets never drift however long a flow runs. A workflow input must
be set *before* the frame it is due on is processed, and the chain processes a frame
ahead of the tick that shows it, so the driver predicts, for every frame entering the
chain, the output tick that will first show it (:class:`TickPredictor`), evaluates the
:class:`~rtcflow.timeline.Playhead` at that tick and calls ``set_input`` on the workflow
steps (applied by the engine at the next frame boundary). The prediction is corrected from
what the output actually shows, so the measured lag between a cue's due frame and the
first frame that shows it (``cue_lag_frames`` in status) is 0 in steady state.

Daydream targets go through an :class:`~rtcflow.timeline.UpdateThrottle` (default 4
updates/s per step, coalesced) to a step that implements :class:`ParamsStep`: one call of
``update_params`` is one PATCH.

Editing a timeline keeps the origin: the new timeline starts at the current position,
fires nothing from before it, and every target is set to the new timeline's value there
(level-triggered). A restart moves the origin to the next frame.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any, Protocol, runtime_checkable

from rtcflow.daydream.changes import HOT_PARAMS
from rtcflow.daydream.params import BaseStreamDiffusionParams
from rtcflow.daydream.spec import DaydreamStepSpec
from rtcflow.media.frame import VideoFrame
from rtcflow.runtime.flow import FlowGraph
from rtcflow.runtime.step import Step
from rtcflow.runtime.workflow_step import WorkflowStep
from rtcflow.spec.models import FlowBody, WorkflowStepSpec
from rtcflow.spec.timeline import Target, TimelineSpec
from rtcflow.timeline import (
    UNSET,
    ParamInfo,
    Problem,
    Resolver,
    StepUpdate,
    Tick,
    Timeline,
    TimelineError,
    UpdateThrottle,
    check_targets,
    set_path,
)
from rtcflow.timeline.check import ParamType
from rtcflow.workflow import CompiledWorkflow, NodeLink, WorkflowValidationError

log = logging.getLogger(__name__)

#: Daydream updates per second and step (the Daydream notes: debounce, never per frame).
DEFAULT_UPDATE_RATE = 4.0
_LAG_HISTORY = 1000  # cue lags kept for status
_ERROR_LIMIT = 20  # target errors kept for status


# -- the steps a timeline changes ---------------------------------------------------------


@runtime_checkable
class ParamsStep(Protocol):
    """A step whose params change by coalesced live updates: the Daydream step.

    ``params`` are the params its spec declares (the driver keeps track of what it sent
    on top); ``update_params`` takes changed top-level params (hot ones only: the driver
    never sends a cold change) and sends them as one PATCH without blocking the caller; a
    newer call supersedes one not yet sent.
    """

    name: str

    @property
    def params(self) -> BaseStreamDiffusionParams: ...

    def update_params(self, changes: Mapping[str, Any]) -> None: ...


_COMFY_TYPES: dict[str, ParamType] = {"INT": "int", "FLOAT": "float", "STRING": "string"}
_JSON_TYPES: dict[str, ParamType] = {
    "integer": "int",
    "number": "float",
    "string": "string",
    "boolean": "boolean",
}


def workflow_param(workflow: CompiledWorkflow, target: Target) -> ParamInfo | str:
    """What a workflow target ``<step>.<node id>.<input>`` takes, or why it cannot be set."""
    if len(target.path) != 2 or not all(isinstance(part, str) for part in target.path):
        return f"a workflow target is <step>.<node id>.<input>, not {target}"
    node_id, name = (str(part) for part in target.path)
    node = workflow.graph.nodes.get(node_id)
    if node is None:
        nodes = ", ".join(workflow.graph.nodes)
        return f"workflow {target.step} has no node {node_id!r} (nodes: {nodes})"
    try:
        spec = workflow.input_spec(node_id, name)
    except WorkflowValidationError as exc:
        return f"node {node_id} ({node.class_type}): {exc.problems[0].message}"
    if isinstance(link := node.inputs.get(name), NodeLink):
        return (
            f"node {node_id} ({node.class_type}) takes {name!r} from node {link.node_id}; "
            "only constant inputs can change"
        )
    if spec.choices is not None:
        kind: ParamType = "string" if all(isinstance(c, str) for c in spec.choices) else "any"
        return ParamInfo(kind, choices=spec.choices)
    if spec.type == "BOOLEAN":
        return ParamInfo("boolean")
    if spec.type in _COMFY_TYPES and not spec.force_input:
        return ParamInfo(_COMFY_TYPES[spec.type], minimum=spec.min, maximum=spec.max)
    return f"node {node_id} ({node.class_type}) takes {name!r} as a {spec.type} link, not a value"


def daydream_param(params: BaseStreamDiffusionParams, target: Target) -> ParamInfo | str:
    """What a Daydream target takes, or why it cannot be set (unknown, or cold: a reload).

    Hot and cold follow :mod:`rtcflow.daydream.changes`: top-level keys in ``HOT_PARAMS``;
    of a ControlNet only ``conditioning_scale``; of ``ip_adapter`` anything but ``type``.
    """
    key, rest = target.path[0], target.path[1:]
    fields = type(params).model_fields
    if not isinstance(key, str) or key not in fields:
        live = ", ".join(sorted(HOT_PARAMS & fields.keys()))
        return f"{params.model_id} has no param {key!r} (live params: {live})"
    if key not in HOT_PARAMS:
        return (
            f"{target} needs a pipeline reload (about 30 s without output); a timeline "
            "changes live params only"
        )
    if key == "controlnets" and (len(rest) != 2 or rest[1] != "conditioning_scale"):
        return f"{target}: of a ControlNet only conditioning_scale changes live"
    if key == "ip_adapter" and rest == ("type",):
        return f"{target}: changing the IP-Adapter type reloads the pipeline"
    try:
        set_path(params.to_api(), target.path, None)
    except TimelineError:
        return f"{target}: {target.step}'s params have no such list item"
    if target.path == ("prompt",):
        return ParamInfo("prompt")
    schema = type(params).model_json_schema()
    return _schema_param(schema, schema.get("$defs", {}), target.path)


def _schema_param(
    node: Mapping[str, Any], defs: Mapping[str, Any], path: tuple[str | int, ...]
) -> ParamInfo:
    """The ParamInfo of the JSON-schema node at ``path`` (``any`` where it cannot tell)."""
    for part in path:
        node = _scalar(node, defs)
        if isinstance(part, int):
            items = node.get("items") or {}
            prefix = node.get("prefixItems")
            node = prefix[part] if prefix and part < len(prefix) else items
        else:
            node = (node.get("properties") or {}).get(part) or node.get("additionalProperties")
            if not isinstance(node, Mapping):
                return ParamInfo("any")
    node = _scalar(node, defs)
    if "enum" in node:
        choices = tuple(node["enum"])
        kind: ParamType = "string" if all(isinstance(c, str) for c in choices) else "any"
        return ParamInfo(kind, choices=choices)
    if node.get("type") in _JSON_TYPES:
        return ParamInfo(
            _JSON_TYPES[node["type"]], minimum=node.get("minimum"), maximum=node.get("maximum")
        )
    return ParamInfo("any")


def _scalar(node: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    """``node`` with ``$ref`` followed and ``null`` dropped; of a union, its one scalar member
    (``seed``: an integer or weighted seeds), else the node itself."""
    while "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[-1]]
    members = [m for m in node.get("anyOf", ()) if m.get("type") != "null"]
    if not members:
        return node
    if len(members) > 1:
        scalars = [m for m in members if m.get("type") not in ("array", "object", None)]
        if len(scalars) != 1:
            return node
        members = scalars
    return _scalar(members[0], defs)


def _timeline_targets(spec: TimelineSpec) -> Iterator[Target]:
    for cue in spec.cues:
        yield from map(Target.parse, cue.set)
    for track in spec.tracks:
        yield Target.parse(track.track)


def timeline_problems(
    body: FlowBody, workflow: Callable[[WorkflowStepSpec], CompiledWorkflow | None]
) -> list[Problem]:
    """Every problem with ``body.timeline``'s targets and values against the flow's steps.

    ``workflow`` gives a workflow step's compiled workflow; it is asked only for steps the
    timeline targets, and ``None`` (a workflow that does not compile, reported on its own)
    skips the checks of that step's targets.
    """
    specs = {step.name: step for step in body.steps}
    compiled: dict[str, CompiledWorkflow | None] = {}

    def resolve(target: Target) -> ParamInfo | str:
        spec: Any = specs.get(target.step)
        if isinstance(spec, WorkflowStepSpec):
            if spec.name not in compiled:
                compiled[spec.name] = workflow(spec)
            found = compiled[spec.name]
            return ParamInfo("any") if found is None else workflow_param(found, target)
        if isinstance(spec, DaydreamStepSpec):
            return daydream_param(spec.daydream.params, target)
        return _unknown_step(target, specs)

    return check_targets(body.timeline, resolve)


def _unknown_step(target: Target, steps: Mapping[str, Any]) -> str:
    return f"no step named {target.step!r} (steps: {', '.join(steps) or 'none'})"


def _running_resolver(steps: Mapping[str, Step]) -> Resolver:
    def resolve(target: Target) -> ParamInfo | str:
        step = steps.get(target.step)
        if isinstance(step, WorkflowStep) and step.workflow is not None:
            return workflow_param(step.workflow, target)
        if isinstance(step, ParamsStep):
            return daydream_param(step.params, target)
        if step is None:
            return _unknown_step(target, steps)
        return f"step {target.step!r} has no parameters a timeline can change"

    return resolve


def _get_path(container: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        if isinstance(part, int):
            if not isinstance(container, list | tuple) or not 0 <= part < len(container):
                return UNSET
            container = container[part]
        elif isinstance(container, Mapping) and part in container:
            container = container[part]
        else:
            return UNSET
    return UNSET if container is None else container


def _workflow_value(workflow: CompiledWorkflow, target: Target) -> Any:
    """A workflow input's declared value (its default when the workflow leaves it out)."""
    node_id, name = (str(part) for part in target.path)
    declared = workflow.graph.nodes[node_id].inputs.get(name, UNSET)
    if declared is UNSET:
        default = workflow.input_spec(node_id, name).default
        return UNSET if default is None else default
    return declared


def _initial_value(step: Step, target: Target) -> Any:
    """The value a target has before the timeline changes it."""
    if isinstance(step, WorkflowStep):
        assert step.workflow is not None
        return _workflow_value(step.workflow, target)
    assert isinstance(step, ParamsStep)
    return _get_path(step.params.to_api(), target.path)


def declared_values(
    body: FlowBody, workflow: Callable[[WorkflowStepSpec], CompiledWorkflow | None]
) -> dict[Target, Any]:
    """The values the timeline's targets have in the spec, before the timeline runs.

    For tables and plots; targets that do not resolve, or whose workflow ``workflow``
    cannot give (``None``), are left out.
    """
    specs = {step.name: step for step in body.steps}
    values: dict[Target, Any] = {}
    for target in dict.fromkeys(_timeline_targets(body.timeline)):
        spec: Any = specs.get(target.step)
        value: Any = UNSET
        if isinstance(spec, WorkflowStepSpec):
            found = workflow(spec)
            if found is not None and isinstance(workflow_param(found, target), ParamInfo):
                value = _workflow_value(found, target)
        elif isinstance(spec, DaydreamStepSpec):
            value = _get_path(spec.daydream.params.to_api(), target.path)
        if value is not UNSET:
            values[target] = value
    return values


# -- the clock ---------------------------------------------------------------------------


_FrameKey = tuple[int, int, int]


def _frame_key(frame: VideoFrame) -> _FrameKey:
    """What identifies a frame between the chain and the output (steps keep the timing)."""
    return frame.pts, frame.time_base.numerator, frame.time_base.denominator


class TickPredictor:
    """Predicts the output tick that will first show a frame entering the chain.

    A frame's *position* is its source time in output frames, counted from the first frame
    (``ceil``, the rule by which a batch flow's output resamples); a source that jumps
    (a replaced source, a new time base, a gap over ``max_gap`` seconds) is re-anchored to
    continue one frame after the previous one. The prediction is position + ``lead``, where
    ``lead`` is learned from the output: every first showing of a predicted frame sets it
    to the distance that frame actually had (not corrected by the error, which frames
    already predicted would apply again), so at constant latency every prediction is exact.
    Arithmetic is on integers: exact however long the stream.
    """

    def __init__(self, time_base: Fraction, *, max_gap: float = 1.0, memory: int = 64) -> None:
        self.time_base = time_base
        self.max_gap = max_gap
        self.memory = memory
        self.lead = 0
        self.last: int | None = None  # the last prediction
        self._source_base: Fraction | None = None
        # position = pts * scale / divisor (source pts to output frames), in integers
        self._scale = self._divisor = self._gap = 1
        self._anchor = 0  # pts * scale at position 0
        self._units: int | None = None  # the last frame's pts * scale
        self._position = -1
        # frame → (prediction, position) until its first showing
        self._pending: OrderedDict[_FrameKey, tuple[int, int]] = OrderedDict()

    def predict(self, frame: VideoFrame) -> int:
        """The tick that will first show ``frame`` (non-decreasing from call to call)."""
        if frame.time_base != self._source_base:
            self._rescale(frame.time_base)
        units = frame.pts * self._scale
        if self._units is None or units <= self._units or units - self._units > self._gap:
            self._anchor = units - (self._position + 1) * self._divisor
        self._units = units
        self._position = -((self._anchor - units) // self._divisor)  # ceil
        tick = self._position + self.lead
        self.last = tick if self.last is None else max(tick, self.last)
        self._pending[_frame_key(frame)] = (self.last, self._position)
        while len(self._pending) > self.memory:
            self._pending.popitem(last=False)
        return self.last

    def _rescale(self, source_base: Fraction) -> None:
        ratio = source_base / self.time_base  # output frames per source pts
        self._source_base = source_base
        self._scale, self._divisor = ratio.numerator, ratio.denominator
        self._gap = math.ceil(self.max_gap / self.time_base) * self._divisor
        self._units = None  # re-anchor on the next frame

    def observe(self, frame: VideoFrame, tick: int) -> int | None:
        """``frame`` is shown at ``tick``: its prediction (``None`` if not the first showing)."""
        found = self._pending.pop(_frame_key(frame), None)
        if found is None:
            return None
        predicted, position = found
        self.lead = tick - position
        return predicted


# -- the driver --------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


class TimelineDriver:
    """Drives one flow's timeline: workflow inputs per frame, Daydream params throttled.

    Create it with the flow's steps once they are started (it reads their current values
    as the targets' initial values and raises :class:`TimelineError` for a target no step
    has), :meth:`attach` it to the graph, and :meth:`update` it when the timeline or the
    steps change. ``clock`` gives the wall-clock time of the origin (for cron cues).
    """

    def __init__(
        self,
        spec: TimelineSpec,
        steps: Sequence[Step],
        time_base: Fraction,
        *,
        rate: float = DEFAULT_UPDATE_RATE,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.time_base = time_base
        self.rate = rate
        self.clock = clock
        self.predictor = TickPredictor(time_base)
        #: frames between a workflow cue's due frame and the first frame that shows it
        self.cue_lags: deque[int] = deque(maxlen=_LAG_HISTORY)
        self.errors: dict[str, str] = {}
        self.origin_tick = 0
        self.origin = clock()
        self.shown: int | None = None  # the last output tick
        self._due: OrderedDict[_FrameKey, int] = OrderedDict()
        self._pending_due: int | None = None
        self._throttle = UpdateThrottle(rate)
        # Per Daydream step: the step, its declared params and its params as sent
        # (declared + timeline changes). A spec edit applied in place replaces the
        # declared params object, which starts the record afresh from them.
        self._sent: dict[str, tuple[ParamsStep, BaseStreamDiffusionParams, dict[str, Any]]] = {}
        self.timeline, self.steps = self._build(spec, steps, self.origin)
        self.playhead = self.timeline.playhead()

    # -- (re)building -------------------------------------------------------------------

    def _build(
        self, spec: TimelineSpec, steps: Sequence[Step], origin: datetime
    ) -> tuple[Timeline, dict[str, Step]]:
        """The timeline compiled against ``steps``' declared values; raises TimelineError."""
        by_name = {step.name: step for step in steps}
        problems = check_targets(spec, _running_resolver(by_name), loc=("timeline",))
        if problems:
            raise TimelineError("; ".join(map(str, problems)))
        targets = dict.fromkeys(_timeline_targets(spec))
        initial = {target: _initial_value(by_name[target.step], target) for target in targets}
        known = {target: value for target, value in initial.items() if value is not UNSET}
        return Timeline(spec, initial=known, origin=origin), by_name

    def update(self, spec: TimelineSpec, steps: Sequence[Step], *, restart: bool = False) -> None:
        """Run ``spec`` on ``steps`` from now on, setting every target at once.

        Without ``restart`` the origin is kept: nothing from before the current position
        fires, and each target takes the new timeline's value there. With ``restart`` the
        timeline starts over at the next frame. Raises :class:`TimelineError` (and changes
        nothing) when a target does not resolve against ``steps``.
        """
        position = self.playhead.position
        origin = self.clock() if restart else self.origin
        timeline, by_name = self._build(spec, steps, origin)
        self._send(self._throttle.flush(max(position, 0.0)))
        start: float | None = None if math.isinf(position) else position
        if restart:
            self.origin_tick, self.origin, start = self._next_tick(), origin, None
            self._throttle = UpdateThrottle(self.rate)
        self.timeline, self.steps = timeline, by_name
        # Workflow inputs are all set again (a swapped-in workflow has its own values);
        # Daydream params only where they differ from what the stream has.
        sent = {
            target: value
            for target in timeline.targets
            if isinstance(step := by_name[target.step], ParamsStep)
            and (value := _get_path(self._params_of(step), target.path)) is not UNSET
        }
        self.playhead = timeline.playhead(start, sent)
        self._advance(0.0 if start is None else start)

    def _params_of(self, step: ParamsStep) -> dict[str, Any]:
        """``step``'s params as sent: declared, with every change the driver sent."""
        known = self._sent.get(step.name)
        declared = step.params
        if known is None or known[0] is not step or known[1] is not declared:
            known = self._sent[step.name] = (step, declared, declared.to_api())
        return known[2]

    def _next_tick(self) -> int:
        known = [tick for tick in (self.predictor.last, self.shown) if tick is not None]
        return max(known) + 1 if known else 0

    # -- the graph's hooks --------------------------------------------------------------

    def attach(self, graph: FlowGraph) -> None:
        """Hook into ``graph``: before the steps of every frame, and at every output tick."""
        graph.before_steps = self.before_steps
        graph.on_tick = self.on_tick

    def stream_time(self, tick: int) -> float:
        """Timeline seconds at output tick ``tick`` (exact: no drift over hours)."""
        # Integer true division rounds correctly, as float(Fraction) does.
        base = self.time_base
        return (tick - self.origin_tick) * base.numerator / base.denominator

    def before_steps(self, frame: VideoFrame) -> None:
        """Set the values due on the tick that will show ``frame`` (the chain's hook)."""
        try:
            tick = self.predictor.predict(frame)
            self._advance(self.stream_time(tick))
            if self._pending_due is not None:
                self._due[_frame_key(frame)] = self._pending_due
                self._pending_due = None
                while len(self._due) > self.predictor.memory:
                    self._due.popitem(last=False)
        except Exception as exc:  # the timeline must never stop the frames
            self._error("timeline", exc)

    def on_tick(self, tick: int, frame: VideoFrame) -> None:
        """Output tick ``tick`` shows ``frame``: correct the prediction, catch up if late."""
        try:
            self.shown = tick
            if self.predictor.observe(frame, tick) is not None:
                due = self._due.pop(_frame_key(frame), None)
                if due is not None:
                    self.cue_lags.append(tick - due)
            t = self.stream_time(tick)
            if t > self.playhead.position or self._throttle.next_due() is not None:
                self._advance(t)  # the chain is late, or Daydream updates are held
        except Exception as exc:
            self._error("timeline", exc)

    def _advance(self, t: float) -> None:
        result = self.playhead.advance(max(t, self.playhead.position, 0.0))
        self._apply(result)

    def _reasserted(self) -> dict[Target, Any]:
        """The timeline's current values of every Daydream step whose declared params a
        spec edit replaced: the edit was PATCHed as declared, and the timeline keeps
        winning for the targets it drives (level-triggered)."""
        values: dict[Target, Any] = {}
        for name, (step, declared, _) in list(self._sent.items()):
            if step.params is not declared:
                self._params_of(step)  # start the record afresh from the new params
                values |= {t: v for t, v in self.playhead.values.items() if t.step == name}
        return values

    def _apply(self, tick: Tick) -> None:
        params: dict[Target, Any] = self._reasserted()
        workflow_changed = False
        for target, value in tick.changed.items():
            step = self.steps[target.step]
            if isinstance(step, WorkflowStep):
                node_id, name = (str(part) for part in target.path)
                try:
                    step.set_input(node_id, name, value)
                    workflow_changed = True
                except Exception as exc:
                    self._error(str(target), exc)
            else:
                params[target] = value
        cues = [c.time for c in tick.fired if isinstance(self.steps[c.target.step], WorkflowStep)]
        if workflow_changed and cues:
            due = self.origin_tick + math.ceil(round(min(cues) / float(self.time_base), 6))
            self._pending_due = due if self._pending_due is None else min(due, self._pending_due)
        self._send(self._throttle.push(tick.time, params))

    def _send(self, updates: Sequence[StepUpdate]) -> None:
        for update in updates:
            step = self.steps.get(update.step)
            if not isinstance(step, ParamsStep):
                continue
            params = self._params_of(step)
            changes = update.params(params)
            try:
                step.update_params(changes)
            except Exception as exc:
                self._error(update.step, exc)
                continue
            params.update(changes)

    def _error(self, where: str, exc: Exception) -> None:
        message = f"{type(exc).__name__}: {exc}"
        if self.errors.get(where) != message:
            log.warning("timeline: %s: %s", where, message)
        self.errors.pop(where, None)
        self.errors[where] = message
        while len(self.errors) > _ERROR_LIMIT:
            self.errors.pop(next(iter(self.errors)))

    # -- status -------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Position (of the frame on screen), every target's value, the next cue, health."""
        shown = self.stream_time(self.shown) if self.shown is not None else 0.0
        state = self.timeline.status(max(shown, 0.0))
        lags = list(self.cue_lags)
        return {
            **state.model_dump(mode="json"),
            "origin": self.origin.isoformat(),
            "origin_tick": self.origin_tick,
            "cue_lag_frames": {
                "count": len(lags),
                "max": max(lags, default=None),
                "mean": round(sum(lags) / len(lags), 3) if lags else None,
            },
            "errors": dict(self.errors),
        }
