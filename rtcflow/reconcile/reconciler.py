"""Keeps the running flows equal to the spec files (level-triggered, per flow)."""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from rtcflow.daydream.errors import ColdChangeRejected
from rtcflow.daydream.spec import DaydreamStepSpec
from rtcflow.daydream.state import LEDGER_FOLDER, delete_orphans
from rtcflow.daydream.step import DaydreamStep
from rtcflow.reconcile.diff import Diff, FlowDiff, diff
from rtcflow.reconcile.digest import FlowDigests, flow_digests
from rtcflow.reconcile.status import Conditions, EventLog, FlowStatus, git_revision
from rtcflow.runtime.build import ComponentBuilder
from rtcflow.runtime.flow import FlowGraph, FlowPhase, start_steps
from rtcflow.runtime.step import Step
from rtcflow.runtime.timeline_driver import TimelineDriver, timeline_problems
from rtcflow.runtime.workflow_step import WorkflowStep, load_compiled_workflow
from rtcflow.spec.env import Environment
from rtcflow.spec.errors import SpecError
from rtcflow.spec.loader import LoadedFlow, SpecProblem, load_specs, referenced_paths
from rtcflow.spec.models import Flow, WorkflowStepSpec
from rtcflow.timeline import TimelineError
from rtcflow.workflow import CompiledWorkflow, WorkflowError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeclaredFlow:
    """A flow declared through the API (``POST /stream/start``) rather than in a file."""

    flow: Flow
    origin: str

    @property
    def watched_paths(self) -> set[Path]:
        return referenced_paths(self.flow)


#: Where a desired flow comes from: a spec file or the API.
DesiredFlow = LoadedFlow | DeclaredFlow


def _file(desired: DesiredFlow) -> Path | None:
    return desired.file if isinstance(desired, LoadedFlow) else None


@dataclass
class RunningFlow:
    """A flow's running graph and the spec/digests of what is actually running."""

    loaded: DesiredFlow
    digests: FlowDigests
    graph: FlowGraph
    steps: dict[str, Step] = field(default_factory=dict)
    timeline: TimelineDriver | None = None


class Reconciler:
    """Loads the specs, diffs them against what runs, and applies the smallest change.

    A file with problems changes nothing that runs: its flows keep their running spec and
    report the problems until the file is fixed. Flows declared through the API
    (``declare``/``withdraw``) are reconciled exactly like those from files. Each
    component is applied on its own; a component that fails to apply keeps its previous
    version running and its running digest unchanged, so the next reconcile tries it
    again.
    """

    def __init__(
        self,
        paths: Sequence[Path],
        builder: ComponentBuilder,
        *,
        environ: Mapping[str, str] | None = None,
        events: EventLog | None = None,
        restart_timeline: bool = False,
    ) -> None:
        self.paths = [Path(p) for p in paths]
        #: ``--restart-timeline``: every timeline edit starts it over (rehearsing a show)
        self.restart_timeline = restart_timeline
        self.builder = builder
        self.environ = environ
        self.events = events or EventLog()
        self.flows: dict[str, RunningFlow] = {}
        self.problems: dict[Path, list[SpecProblem]] = {}
        self.apply_errors: dict[str, str] = {}
        self.desired: dict[str, DesiredFlow] = {}
        self.declared: dict[str, DeclaredFlow] = {}
        #: Live changes laid over a flow's declared spec (trickle control channel params);
        #: applied to whatever the file or the API declares, so they survive edits.
        self.overlays: dict[str, Callable[[Flow], Flow]] = {}
        self.wanted: dict[str, FlowDigests] = {}
        self.revisions: dict[Path, str | None] = {}
        self._lock = asyncio.Lock()
        self._orphans_checked = False

    # -- reconcile ------------------------------------------------------------------

    async def declare(self, flow: Flow, origin: str) -> None:
        """Add or replace an API-declared flow and reconcile.

        Raises ``ValueError`` when a spec file already declares a flow of that name.
        """
        existing = self.desired.get(flow.name)
        if isinstance(existing, LoadedFlow):
            raise ValueError(f"flow {flow.name!r} is declared in {existing.file}")
        self.declared[flow.name] = DeclaredFlow(flow, origin)
        await self.reconcile()

    async def withdraw(self, name: str) -> None:
        """Remove an API-declared flow and reconcile (its graph stops)."""
        del self.declared[name]
        await self.reconcile()

    def load_desired(self) -> dict[str, DesiredFlow]:
        """Every valid flow of the spec files; a bad file contributes its running flows."""
        desired: dict[str, DesiredFlow] = dict(self.declared)
        self.problems = {}
        for loaded_file in load_specs(self.paths, self.environ):
            if loaded_file.problems:
                self.problems[loaded_file.path] = loaded_file.problems
                for name, running in self.flows.items():
                    if _file(running.loaded) == loaded_file.path:
                        desired[name] = running.loaded
                continue
            for loaded in loaded_file.flows:
                desired[loaded.flow.name] = loaded
        for name, overlay in self.overlays.items():
            if name in desired:
                desired[name] = replace(desired[name], flow=overlay(desired[name].flow))
        return desired

    async def reconcile(self) -> Diff:
        """Load, diff and apply; returns the diff that was applied."""
        async with self._lock:
            if not self._orphans_checked:  # streams a crashed run left (billed until deleted)
                self._orphans_checked = True
                await delete_orphans(self.builder.options.state_dir / LEDGER_FOLDER, self.environ)
            desired = await asyncio.to_thread(self.load_desired)
            for path, problems in self.problems.items():
                for problem in problems:
                    log.error("%s", problem)
                names = [n for n, f in self.flows.items() if _file(f.loaded) == path]
                for name in names or [path.name]:
                    self.events.record(
                        name, "SpecRejected", f"{len(problems)} problem(s) in {path}"
                    )
            self.desired = desired
            running = {name: f.digests for name, f in self.flows.items()}
            wanted = {
                name: running[name]
                if name in self.flows and self.flows[name].loaded is loaded
                else await asyncio.to_thread(flow_digests, loaded.flow)
                for name, loaded in desired.items()
            }
            self.wanted = wanted
            files = {_file(loaded) for loaded in desired.values()} - {None}
            self.revisions = {f: await asyncio.to_thread(git_revision, f) for f in files}
            change = diff(running, wanted)
            if change:
                log.info("applying:\n%s", change.describe())
            await self._apply(change, desired, wanted)
            return change

    async def _apply(
        self, change: Diff, desired: Mapping[str, DesiredFlow], wanted: Mapping[str, FlowDigests]
    ) -> None:
        for name in change.removed:
            await self.stop_flow(name)
            self.events.record(name, "Removed", "flow removed from the specs")
        for name in change.added:
            await self._start(desired[name], wanted[name])
        for flow_diff in change.changed:
            await self._change(flow_diff, desired[flow_diff.name], wanted[flow_diff.name])

    async def _start(self, loaded: DesiredFlow, digests: FlowDigests) -> None:
        name = loaded.flow.name
        body = loaded.flow.spec
        steps: list[Step] = []
        try:
            env = self._environment(loaded)
            steps = [self.builder.step(spec, body, env) for spec in body.steps]
            await start_steps(steps)
            # Checked against the started steps' own compiled workflows: nothing twice.
            await self._check_timeline(loaded, {s.name: s for s in steps})
            source = self.builder.source(body.source, body)
            sinks = {spec.name: self.builder.sink(spec, body) for spec in body.sinks}
            graph = FlowGraph(name, body.video, source)
            await graph.start(steps, sinks)
        except Exception as exc:
            for step in steps:
                await step.close()
            self._apply_failed(name, "StartFailed", exc)
            return
        # No await since start: the graph's tasks have not run, so no frame is missed.
        try:
            timeline = TimelineDriver(body.timeline, steps, graph.time_base)
        except TimelineError as exc:
            await graph.stop()
            self._apply_failed(name, "StartFailed", exc)
            return
        timeline.attach(graph)
        self.apply_errors.pop(name, None)
        self.flows[name] = RunningFlow(loaded, digests, graph, {s.name: s for s in steps}, timeline)
        origin = loaded.file if isinstance(loaded, LoadedFlow) else loaded.origin
        self.events.record(name, "Started", f"flow started from {origin}")

    async def stop_flow(self, name: str) -> None:
        running = self.flows.pop(name, None)
        if running is not None:
            await running.graph.stop()

    async def stop_all(self) -> None:
        for name in list(self.flows):
            await self.stop_flow(name)
            self.events.record(name, "Stopped", "flow stopped")

    def _apply_failed(self, name: str, reason: str, exc: BaseException) -> None:
        message = f"{type(exc).__name__}: {exc}"
        self.apply_errors[name] = message
        log.error("flow %s: %s: %s", name, reason, message)
        self.events.record(name, reason, message)

    async def _change(self, change: FlowDiff, loaded: DesiredFlow, wanted: FlowDigests) -> None:
        running = self.flows[change.name]
        if change.restart or running.graph.phase is not FlowPhase.RUNNING:
            await self.stop_flow(change.name)
            await self._start(loaded, wanted)
            if change.name not in self.flows:  # the new spec failed: bring the old one back
                await self._start(running.loaded, running.digests)
            return
        if change.chain_changed or change.timeline or change.timeline_restart:
            kept = {n: s for n, s in running.steps.items() if n not in change.steps.changed}
            try:
                await self._check_timeline(loaded, kept)
            except Exception as exc:  # a timeline that does not fit: change nothing
                self._apply_failed(change.name, "TimelineRejected", exc)
                return
        restart = change.timeline_restart or (self.restart_timeline and change.timeline)
        ok = True
        if change.source:
            ok &= await self._apply_source(running, loaded, wanted)
        if change.chain_changed:
            ok &= await self._apply_chain(running, change, loaded, wanted, restart=restart)
        elif change.timeline or change.timeline_restart:
            ok &= await self._apply_timeline(running, loaded, wanted, restart=restart)
        if change.sinks:
            ok &= await self._apply_sinks(running, change, loaded, wanted)
        running.loaded = loaded
        if ok:
            self.apply_errors.pop(change.name, None)

    # Each _apply_* applies one kind of component in place, moves the running digests
    # of what it applied to the wanted ones, and returns False (the error recorded, the
    # previous component still running) when it failed.

    async def _apply_source(
        self, running: RunningFlow, loaded: DesiredFlow, wanted: FlowDigests
    ) -> bool:
        name, body = running.graph.name, loaded.flow.spec
        try:
            await running.graph.replace_source(self.builder.source(body.source, body))
        except Exception as exc:
            self._apply_failed(name, "SourceFailed", exc)
            return False
        running.digests = replace(running.digests, source=wanted.source)
        self.events.record(name, "SourceRestarted", "source changed")
        return True

    async def _apply_chain(
        self,
        running: RunningFlow,
        change: FlowDiff,
        loaded: DesiredFlow,
        wanted: FlowDigests,
        *,
        restart: bool,
    ) -> bool:
        try:
            running.steps = await self._swap_steps(running, change, loaded, restart=restart)
        except Exception as exc:
            self._apply_failed(change.name, "StepFailed", exc)
            return False
        running.digests = replace(
            running.digests,
            steps=wanted.steps,
            timeline=wanted.timeline,
            timeline_restart=wanted.timeline_restart,
        )
        self.events.record(change.name, "StepsSwapped", ", ".join(change.describe()))
        return True

    async def _apply_timeline(
        self, running: RunningFlow, loaded: DesiredFlow, wanted: FlowDigests, *, restart: bool
    ) -> bool:
        if running.timeline is None:
            return True
        name = running.graph.name
        try:
            steps = list(running.steps.values())
            running.timeline.update(loaded.flow.spec.timeline, steps, restart=restart)
        except TimelineError as exc:
            self._apply_failed(name, "TimelineRejected", exc)
            return False
        running.digests = replace(
            running.digests, timeline=wanted.timeline, timeline_restart=wanted.timeline_restart
        )
        self.events.record(
            name,
            "TimelineRestarted" if restart else "TimelineUpdated",
            "timeline starts over" if restart else "timeline changed; origin kept",
        )
        return True

    async def _apply_sinks(
        self, running: RunningFlow, change: FlowDiff, loaded: DesiredFlow, wanted: FlowDigests
    ) -> bool:
        """Restart only the sinks that changed; add and remove the others."""
        body = loaded.flow.spec
        ok = True
        for sink_name in change.sinks.removed + change.sinks.changed:
            await running.graph.remove_sink(sink_name)
        specs = {s.name: s for s in body.sinks}
        for sink_name in change.sinks.changed + change.sinks.added:
            try:
                running.graph.add_sink(sink_name, self.builder.sink(specs[sink_name], body))
            except Exception as exc:
                ok = False
                self._apply_failed(change.name, "SinkFailed", exc)
                continue
            self.events.record(change.name, "SinkStarted", f"sink {sink_name} (re)started")
        # Sinks that failed to build are gone either way: only started ones count.
        started = set(running.graph.sinks)
        running.digests = replace(
            running.digests, sinks=tuple(s for s in wanted.sinks if s[0] in started)
        )
        return ok

    async def _swap_steps(
        self, running: RunningFlow, change: FlowDiff, loaded: DesiredFlow, *, restart: bool
    ) -> dict[str, Step]:
        """Start new/changed steps beside the running chain, then swap between frames.

        A changed Daydream step that can take its new spec in place (a PATCH) stays in the
        chain. The timeline is rebound to the new chain before the swap, so the first frame
        through a new step already has the timeline's values.
        """
        body = loaded.flow.spec
        updated = await self._update_daydream_steps(running, change, loaded)
        chain: list[Step] = []
        new: list[Step] = []
        for spec in body.steps:
            kept = running.steps.get(spec.name)
            if kept is not None and (spec.name not in change.steps.changed or spec.name in updated):
                chain.append(kept)
            else:
                new.append(self.builder.step(spec, body, self._environment(loaded)))
                chain.append(new[-1])
        await start_steps(new)
        try:
            if running.timeline is not None:
                running.timeline.update(body.timeline, chain, restart=restart)
        except BaseException:
            for step in new:
                await step.close()
            raise
        await running.graph.replace_steps(chain)
        return {step.name: step for step in chain}

    async def _update_daydream_steps(
        self, running: RunningFlow, change: FlowDiff, loaded: DesiredFlow
    ) -> set[str]:
        """Hand edited specs to their running Daydream steps; the names that took them.

        A cold change its step's ``on_cold_change`` rejects raises a ``SpecError`` located
        at the param, and that step keeps running as it was.
        """
        updated: set[str] = set()
        for index, spec in enumerate(loaded.flow.spec.steps):
            step = running.steps.get(spec.name)
            if spec.name not in change.steps.changed or not isinstance(step, DaydreamStep):
                continue
            if not isinstance(spec, DaydreamStepSpec):
                continue
            try:
                if await step.apply_spec(spec):
                    updated.add(spec.name)
            except ColdChangeRejected as exc:
                if not isinstance(loaded, LoadedFlow):
                    raise
                param = re.split(r"[.\[]", exc.params[0])[0]
                at = ("spec", "steps", index, "daydream", "params", param)
                raise SpecError([loaded.problem(at, str(exc))]) from None
            self.events.record(change.name, "DaydreamUpdated", f"step {spec.name}: updated live")
        return updated

    def _environment(self, loaded: DesiredFlow) -> Environment:
        """Where a flow's steps read secrets: the environment, and a spec file's ``.env``."""
        if isinstance(loaded, LoadedFlow):
            return Environment.for_spec(loaded.file, self.environ)
        return Environment(dict(os.environ if self.environ is None else self.environ))

    async def _check_timeline(self, loaded: DesiredFlow, running: Mapping[str, Step]) -> None:
        """Raise ``SpecError`` (located) when the timeline's targets do not fit the steps.

        Workflows of ``running`` steps are used as they are; others are compiled.
        """

        def workflow(spec: WorkflowStepSpec) -> CompiledWorkflow | None:
            step = running.get(spec.name)
            if isinstance(step, WorkflowStep) and step.workflow is not None:
                return step.workflow
            try:
                return load_compiled_workflow(spec, self.builder.options.workspace)
            except WorkflowError:  # reported when the step starts
                return None

        problems = await asyncio.to_thread(timeline_problems, loaded.flow.spec, workflow)
        if problems and isinstance(loaded, LoadedFlow):
            raise SpecError(loaded.problem(p.loc, p.message) for p in problems)
        if problems:
            raise ValueError("; ".join(map(str, problems)))

    # -- watching and status --------------------------------------------------------

    def watched_paths(self) -> set[Path]:
        """The spec files and folders plus every file the desired flows reference."""
        paths = {p.resolve() for p in self.paths}
        for loaded in self.desired.values():
            paths |= {p.resolve() for p in loaded.watched_paths}
        return paths

    def status(self) -> list[FlowStatus]:
        names = sorted(set(self.flows) | set(self.desired) | set(self.apply_errors))
        problem_lines = {
            path: [str(p) for p in problems] for path, problems in self.problems.items()
        }
        result = []
        for name in names:
            running = self.flows.get(name)
            loaded = self.desired.get(name) or (running.loaded if running else None)
            graph = running.graph.status() if running else {}
            if running is not None and running.timeline is not None:
                graph["timeline"] = running.timeline.status()
            phase = running.graph.phase.value if running else FlowPhase.FAILED.value
            wanted = self.wanted.get(name)
            file = _file(loaded) if loaded else None
            problems = problem_lines.get(file, []) if file else []
            degraded = bool(
                problems
                or self.apply_errors.get(name)
                or any(s.get("last_error") for s in graph.get("sinks", {}).values())
                or graph.get("counters", {}).get("step_errors")
            )
            result.append(
                FlowStatus(
                    name=name,
                    file=str(file) if file else None,
                    revision=self.revisions.get(file) if file else None,
                    phase=phase,
                    conditions=Conditions(
                        ready=phase == FlowPhase.RUNNING.value,
                        reconciling=self._lock.locked(),
                        degraded=degraded,
                    ),
                    desired_digest=wanted.flow if wanted else None,
                    running_digest=running.digests.flow if running else None,
                    spec_problems=problems,
                    apply_error=self.apply_errors.get(name),
                    graph=graph,
                    events=self.events.for_flow(name),
                )
            )
        return result
