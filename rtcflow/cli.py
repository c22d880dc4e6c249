"""The ``rtcflow`` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from rtcflow.reconcile.reconciler import Reconciler
from rtcflow.reconcile.status import FlowStatus
from rtcflow.reconcile.watch import watch
from rtcflow.runtime.build import (
    ComponentBuilder,
    RuntimeOptions,
    configure_torch,
    default_device,
)

if TYPE_CHECKING:
    from rtcflow.api.server import ControlServer
    from rtcflow.api.trickle_control import TrickleChannels
    from rtcflow.protocols.trickle import TrickleServer
    from rtcflow.spec.models import WorkflowStepSpec
    from rtcflow.workflow import CompiledWorkflow

log = logging.getLogger("rtcflow")


def _seconds(text: str) -> float:
    """A duration: plain seconds, or ``90s``, ``1m30s``, ``00:01:30``."""
    from rtcflow.spec.timeline import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


# -- apply -------------------------------------------------------------------------------


def _progress_table(statuses: list[FlowStatus]):
    from rich.table import Table

    table = Table(title="rtcflow", expand=False)
    for column in (
        "flow",
        "phase",
        "fps",
        "in",
        "out",
        "dropped",
        "repeated",
        "p50 ms",
        "p95 ms",
        "errors",
        "note",
    ):
        table.add_column(column, justify="right" if column not in ("flow", "note") else "left")
    for status in statuses:
        counters = status.graph.get("counters", {})
        note = status.apply_error or (status.spec_problems[0] if status.spec_problems else "")
        note = note or status.graph.get("error") or ""
        table.add_row(
            status.name,
            status.phase + (" (degraded)" if status.conditions.degraded else ""),
            f"{counters.get('fps', 0):.1f}",
            str(counters.get("frames_in", 0)),
            str(counters.get("frames_out", 0)),
            str(counters.get("frames_dropped", 0)),
            str(counters.get("frames_repeated", 0)),
            _ms(counters.get("latency_p50_ms")),
            _ms(counters.get("latency_p95_ms")),
            str(counters.get("step_errors", 0)),
            note[:80],
        )
    return table


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _status_line(status: FlowStatus) -> str:
    c = status.graph.get("counters", {})
    return (
        f"flow {status.name}: {status.phase} fps={c.get('fps', 0):.1f} "
        f"in={c.get('frames_in', 0)} out={c.get('frames_out', 0)} "
        f"dropped={c.get('frames_dropped', 0)} repeated={c.get('frames_repeated', 0)} "
        f"p50={_ms(c.get('latency_p50_ms'))}ms p95={_ms(c.get('latency_p95_ms'))}ms"
        + _timeline_note(status.graph.get("timeline"))
        + (f" error={status.apply_error}" if status.apply_error else "")
    )


def _timeline_note(timeline: dict | None) -> str:
    """`` timeline=0:01:23.400 next=dream.prompt@0:01:30.000`` for a flow with cues."""
    from rtcflow.timeline.table import format_offset

    if not timeline or not (timeline["values"] or timeline["next_cue"]):
        return ""
    note = f" timeline={format_offset(timeline['position'])}"
    for cue in timeline["next_cue"][:1]:
        note += f" next={cue['target']}@{format_offset(cue['at'])}"
    return note


async def _report_progress(reconciler: Reconciler, stop: asyncio.Event) -> None:
    """A live table on a terminal; a log line per flow every 5 s otherwise."""
    if sys.stdout.isatty():
        from rich.live import Live

        with Live(_progress_table(reconciler.status()), refresh_per_second=2) as live:
            while not stop.is_set():
                live.update(_progress_table(reconciler.status()))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.5)
        return
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 5.0)
        if stop.is_set():
            return
        for status in reconciler.status():
            log.info("%s", _status_line(status))


def _all_ended(reconciler: Reconciler) -> bool:
    return all(f.graph.done.is_set() for f in reconciler.flows.values())


DEFAULT_API_PORT = 8889


class ControlAPI:
    """The control API of ``apply``: started by ``--api-port``, or on ``DEFAULT_API_PORT``
    as soon as a flow serves something on it (a preview page, WHIP ingest)."""

    def __init__(
        self,
        reconciler: Reconciler,
        host: str,
        port: int | None,
        channels: TrickleChannels | None = None,
    ) -> None:
        self.reconciler = reconciler
        self.channels = channels
        self.host = host
        self.port = DEFAULT_API_PORT if port is None else port
        self.server: ControlServer | None = None
        self._failed = False
        self._announced: set[str] = set()

    async def start(self) -> None:
        from rtcflow.api.server import ControlServer, create_app

        server = ControlServer(create_app(self.reconciler, self.channels), self.host, self.port)
        try:
            await server.start()
        except OSError as exc:
            self._failed = True
            log.error(
                "cannot serve the control API on %s:%s (%s); choose another with --api-port",
                self.host,
                self.port,
                exc,
            )
            return
        self.server = server
        log.info("control API at %s", server.url)

    async def serve_flows(self) -> None:
        """Start the API if a flow needs it; print the URL of each newly served path."""
        from rtcflow.api.ingest import ingest_path
        from rtcflow.api.preview import preview_path

        served: dict[str, str] = {}
        for loaded in self.reconciler.desired.values():
            flow = loaded.flow
            for path, what in ((preview_path(flow), "preview"), (ingest_path(flow), "WHIP ingest")):
                if path is not None:
                    served[path] = f"{what} of {flow.name}"
        if served and self.server is None and not self._failed:
            await self.start()
        if self.server is None:
            return
        for path, label in served.items():
            if path not in self._announced:
                self._announced.add(path)
                print(f"{label}: {self.server.url}{path}", flush=True)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()


def _trickle_address(text: str) -> tuple[str, int]:
    """``--trickle-server [HOST:]PORT`` (host 127.0.0.1 when omitted)."""
    host, _, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected [HOST:]PORT, got {text!r}") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"port {number} is out of range")
    return host or "127.0.0.1", number


async def _start_trickle_server(address: tuple[str, int] | None) -> TrickleServer | None:
    """The embedded trickle server of ``--trickle-server`` (None when not asked or when
    it cannot listen, which is logged)."""
    if address is None:
        return None
    from rtcflow.protocols.trickle import TrickleServer

    server = TrickleServer(*address)
    try:
        await server.start()
    except OSError as exc:
        log.error("cannot serve trickle on %s:%s (%s)", *address, exc)
        return None
    print(f"trickle server: {server.url}", flush=True)
    return server


async def _stop_trickle_server(server: TrickleServer | None) -> None:
    if server is not None:
        await server.stop()


async def apply(args: argparse.Namespace) -> int:
    reconciler = Reconciler(
        args.paths, ComponentBuilder(_runtime_options(args)), restart_timeline=args.restart_timeline
    )
    from rtcflow.api.trickle_control import TrickleChannels

    channels = TrickleChannels(reconciler)
    api = ControlAPI(reconciler, args.api_host, args.api_port, channels)
    if args.api_port is not None:
        await api.start()
        if api.server is None:
            return 1
    trickle = await _start_trickle_server(args.trickle_server)
    if args.trickle_server is not None and trickle is None:
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await reconciler.reconcile()
    if not reconciler.flows and not args.watch:
        log.error("no flow could be started")
        await _stop_trickle_server(trickle)
        return 1
    await channels.start()
    tasks = [asyncio.create_task(_report_progress(reconciler, stop))]
    if args.watch:
        tasks.append(asyncio.create_task(watch(reconciler, stop)))
    deadline = None if args.duration is None else time.monotonic() + args.duration
    while not stop.is_set():
        if deadline is not None and time.monotonic() >= deadline:
            break
        if not args.watch and _all_ended(reconciler):
            break
        await api.serve_flows()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.2)
    stop.set()
    final = reconciler.status()
    await channels.stop()
    await reconciler.stop_all()
    await api.stop()
    await _stop_trickle_server(trickle)
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    for status in final:
        print(_status_line(status))
    return 1 if any(s.phase == "Failed" or s.apply_error for s in final) else 0


async def serve(args: argparse.Namespace) -> int:
    """The ComfyStream-compatible stream API: a Livepeer worker whose streams are started
    over HTTP (``POST /stream/start``) and run as API-declared flows."""
    from rtcflow.api.server import ControlServer, create_app
    from rtcflow.api.trickle_control import TrickleChannels

    reconciler = Reconciler([], ComponentBuilder(_runtime_options(args)))
    channels = TrickleChannels(reconciler)
    trickle = await _start_trickle_server(args.trickle_server)
    if args.trickle_server is not None and trickle is None:
        return 1
    server = ControlServer(create_app(reconciler, channels), args.host, args.port)
    try:
        await server.start()
    except OSError as exc:
        log.error("cannot serve on %s:%s (%s); choose another --port", args.host, args.port, exc)
        await _stop_trickle_server(trickle)
        return 1
    print(f"stream API: {server.url}/stream/start", flush=True)
    await channels.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    progress = asyncio.create_task(_report_progress(reconciler, stop))
    await stop.wait()
    await progress
    await channels.stop()
    await reconciler.stop_all()
    await server.stop()
    await _stop_trickle_server(trickle)
    return 0


def _workflow_compiler(workspace: Path | None) -> Callable[[WorkflowStepSpec], CompiledWorkflow]:
    """Compiles each workflow step spec once; raises its ``WorkflowError`` on every call.

    Specs are remembered by identity (an inline workflow is not hashable): keep them alive.
    """
    from rtcflow.runtime.workflow_step import load_compiled_workflow
    from rtcflow.workflow import WorkflowError

    results: dict[int, CompiledWorkflow | WorkflowError] = {}

    def compiled(spec: WorkflowStepSpec) -> CompiledWorkflow:
        if id(spec) not in results:
            try:
                results[id(spec)] = load_compiled_workflow(spec, workspace)
            except WorkflowError as exc:
                results[id(spec)] = exc
        result = results[id(spec)]
        if isinstance(result, WorkflowError):
            raise result
        return result

    return compiled


def _or_none(
    compiled: Callable[[WorkflowStepSpec], CompiledWorkflow],
) -> Callable[[WorkflowStepSpec], CompiledWorkflow | None]:
    """``compiled`` answering ``None`` for a workflow that does not compile."""
    from rtcflow.workflow import WorkflowError

    def workflow(spec: WorkflowStepSpec) -> CompiledWorkflow | None:
        try:
            return compiled(spec)
        except WorkflowError:
            return None

    return workflow


def validate(args: argparse.Namespace) -> int:
    """Check the specs, compile every workflow step (node classes, links, ranges), then
    check the timeline's targets against the steps."""
    from rtcflow.runtime.timeline_driver import timeline_problems
    from rtcflow.spec.loader import load_specs, validate_paths
    from rtcflow.spec.models import WorkflowStepSpec
    from rtcflow.workflow import WorkflowError

    if validate_paths(args.paths, sys.stdout):
        return 1
    compiled = _workflow_compiler(args.workspace)
    failed = False
    flows = [flow for file in load_specs(args.paths) for flow in file.flows]
    for loaded in flows:
        for index, step in enumerate(loaded.flow.spec.steps):
            if not isinstance(step, WorkflowStepSpec):
                continue
            try:
                compiled(step)
            except WorkflowError as exc:
                failed = True
                print(loaded.problem(("spec", "steps", index, "workflow"), str(exc)))
        for problem in timeline_problems(loaded.flow.spec, _or_none(compiled)):
            failed = True
            print(loaded.problem(problem.loc, problem.message))
    return 1 if failed else 0


def timeline(args: argparse.Namespace) -> int:
    """Print each flow's cue table; with ``--plot``, draw its targets' curves as a PNG."""
    from datetime import datetime

    from rtcflow.runtime.timeline_driver import declared_values, timeline_problems
    from rtcflow.spec.loader import load_specs
    from rtcflow.timeline import Timeline, TimelineError, plot_timeline, render_cue_table

    files = load_specs(args.paths)
    for problem in (problem for file in files for problem in file.problems):
        print(problem)
    failed = any(file.problems for file in files)
    workflow = _or_none(_workflow_compiler(args.workspace))
    flows = [flow for file in files for flow in file.flows]
    timed = [f for f in flows if f.flow.spec.timeline.cues or f.flow.spec.timeline.tracks]
    if not timed:
        print(f"no timeline in {', '.join(map(str, args.paths))}")
        return 1
    for loaded in timed:
        body = loaded.flow.spec
        for problem in timeline_problems(body, workflow):
            failed = True
            print(loaded.problem(problem.loc, problem.message))
        shown = Timeline(
            body.timeline,
            initial=declared_values(body, workflow),
            origin=datetime.now().astimezone(),
        )
        print(f"flow {loaded.flow.name} ({loaded.file})")
        print(render_cue_table(shown, duration=args.duration), end="")
        if args.plot is not None:
            path = args.plot
            if len(timed) > 1:
                path = path.with_name(f"{path.stem}-{loaded.flow.name}{path.suffix}")
            try:
                print(f"plotted {plot_timeline(shown, path, duration=args.duration)}")
            except TimelineError as exc:
                failed = True
                print(f"flow {loaded.flow.name}: {exc}")
    return 1 if failed else 0


# -- the command line --------------------------------------------------------------------


def _add_runtime_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that become ``RuntimeOptions`` (``apply`` and ``serve``)."""
    parser.add_argument("--workspace", type=Path, help="a ComfyUI checkout whose nodes to load")
    parser.add_argument(
        "--warm-pipeline",
        type=int,
        default=0,
        metavar="N",
        help="run N frames through each new workflow before it goes live",
    )
    parser.add_argument("--device", help="torch device for workflows (default: cuda if available)")
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        metavar="N",
        help="torch intra-op threads for CPU workflows (default 1: decode, steps and encode "
        "already run on threads of their own)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path(".rtcflow"),
        help="where to record remote resources (Daydream streams) so that a crashed run's "
        "are deleted at the next start (default: .rtcflow)",
    )


def _runtime_options(args: argparse.Namespace) -> RuntimeOptions:
    """``RuntimeOptions`` from the runtime flags, with torch configured for them."""
    options = RuntimeOptions(
        workspace=args.workspace,
        warmup_frames=args.warm_pipeline,
        device=torch.device(args.device) if args.device else default_device(),
        torch_threads=args.torch_threads,
        state_dir=args.state_dir,
    )
    configure_torch(options)
    return options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rtcflow", description="Declarative workflow runner for real-time AI video."
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("apply", help="run the flows of spec files and keep them in sync")
    p.add_argument("paths", nargs="+", type=Path, help="spec files or folders")
    p.add_argument("--duration", type=_seconds, help="stop after this long (e.g. 30s, 2m)")
    _add_runtime_arguments(p)
    p.add_argument(
        "--no-watch", dest="watch", action="store_false", help="do not reload on file changes"
    )
    p.add_argument(
        "--restart-timeline",
        action="store_true",
        help="restart a timeline from 0 whenever it is edited (default: keep its origin)",
    )
    p.add_argument(
        "--trickle-server",
        type=_trickle_address,
        metavar="[HOST:]PORT",
        help="run a trickle server in this process (e.g. 3389), for flows with trickle "
        "sources and sinks on this machine",
    )
    p.add_argument("--api-host", default="127.0.0.1", help="control API address")
    p.add_argument(
        "--api-port",
        type=int,
        help="serve the control API (status, events, previews, WHIP ingest) on this port; "
        f"without it the API starts on {DEFAULT_API_PORT} when a flow has a preview sink "
        "or a whip source (0 picks a free port)",
    )

    p = commands.add_parser(
        "validate", help="check spec files and their workflows (exit 0 valid, 1 invalid)"
    )
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--workspace", type=Path, help="a ComfyUI checkout whose nodes to load")

    p = commands.add_parser(
        "timeline", help="print the cue table of each flow's timeline; --plot draws its curves"
    )
    p.add_argument("paths", nargs="+", type=Path, help="spec files or folders")
    p.add_argument("--plot", type=Path, metavar="PNG", help="draw every numeric target's curve")
    p.add_argument(
        "--duration", type=_seconds, help="span to show (default: the whole timeline, e.g. 2m)"
    )
    p.add_argument("--workspace", type=Path, help="a ComfyUI checkout whose nodes to load")

    p = commands.add_parser(
        "serve", help="serve the ComfyStream-compatible stream API (a Livepeer worker)"
    )
    _add_runtime_arguments(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=DEFAULT_API_PORT)
    p.add_argument(
        "--trickle-server",
        type=_trickle_address,
        metavar="[HOST:]PORT",
        help="also run a trickle server in this process (a one-machine setup)",
    )

    commands.add_parser("schema", help="print the JSON Schema of the spec")

    p = commands.add_parser("trickle-server", help="serve Livepeer trickle channels")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3389)
    p.add_argument("--base-path", default="/")

    p = commands.add_parser("daydream-emulator", help="serve a local stand-in of the Daydream API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8787)
    p.add_argument("--api-key", help="accept only this key (default: any non-empty key)")
    p.add_argument(
        "--warmup",
        type=_seconds,
        default=0.0,
        help="seconds from a stream's first input frame to its first output (WHEP answers "
        "404 meanwhile, as the service does while it loads)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.command == "apply":
        return asyncio.run(apply(args))
    if args.command == "serve":
        return asyncio.run(serve(args))
    if args.command == "validate":
        return validate(args)
    if args.command == "timeline":
        return timeline(args)
    if args.command == "schema":
        import json

        from rtcflow.spec.schema import flow_json_schema

        print(json.dumps(flow_json_schema(), indent=2))
        return 0
    if args.command == "trickle-server":
        from rtcflow.protocols.trickle import run_trickle_server

        print(f"trickle server: http://{args.host}:{args.port}{args.base_path}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run_trickle_server(args.host, args.port, args.base_path))
        return 0
    if args.command == "daydream-emulator":
        from rtcflow.daydream.emulator import run_emulator

        print(f"Daydream emulator: DAYDREAM_API_URL=http://{args.host}:{args.port}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(
                run_emulator(args.host, args.port, api_key=args.api_key, warmup=args.warmup)
            )
        return 0
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
