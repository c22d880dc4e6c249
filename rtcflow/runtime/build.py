"""Builds running components (source, steps, sinks) from validated spec models."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from rtcflow.daydream.client import API_KEY_ENV, API_URL_ENV
from rtcflow.daydream.spec import DaydreamStepSpec
from rtcflow.daydream.state import LEDGER_FOLDER, StreamLedger
from rtcflow.daydream.step import DaydreamStep
from rtcflow.runtime.step import Step
from rtcflow.runtime.workflow_step import WorkflowStep
from rtcflow.sinks import Sink, create_sink
from rtcflow.sources import Source, create_source
from rtcflow.spec.env import Environment
from rtcflow.spec.models import FlowBody, SinkSpec, SourceSpec, StepSpec, WorkflowStepSpec


def default_device() -> torch.device:
    """CUDA when available, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass(frozen=True)
class RuntimeOptions:
    """Process-wide settings that specs do not carry (CLI flags)."""

    workspace: Path | None = None
    #: ``--warm-pipeline N``: frames run through each new workflow before it goes live;
    #: the larger of this and the spec's ``warmup_frames`` applies.
    warmup_frames: int = 0
    device: torch.device = field(default_factory=default_device)
    #: torch intra-op threads for CPU workflows. One by default: a flow already runs
    #: decode, each step and encode on threads of their own, and more intra-op threads
    #: contend with them (on 2 cores, 2 threads made a 3 ms invert take 40-80 ms).
    torch_threads: int = 1
    #: ``--state-dir``: where rtcflow records what must outlive a crash (Daydream streams).
    state_dir: Path = Path(".rtcflow")


def configure_torch(options: RuntimeOptions) -> None:
    """Apply the process-wide torch settings the runtime relies on."""
    if options.device.type == "cpu":
        torch.set_num_threads(options.torch_threads)


class ComponentBuilder:
    """Creates the running component for each spec model of a flow."""

    def __init__(self, options: RuntimeOptions) -> None:
        self.options = options
        self._stream_ledger: StreamLedger | None = None

    @property
    def stream_ledger(self) -> StreamLedger:
        """This process's record of its Daydream streams (files appear on first use)."""
        if self._stream_ledger is None:
            self._stream_ledger = StreamLedger(self.options.state_dir / LEDGER_FOLDER)
        return self._stream_ledger

    def source(self, spec: SourceSpec, body: FlowBody) -> Source:
        return create_source(spec, body.video)

    def sink(self, spec: SinkSpec, body: FlowBody) -> Sink:
        return create_sink(spec, body.video)

    def step(self, spec: StepSpec, body: FlowBody, env: Environment | None = None) -> Step:
        """The step for ``spec``; ``env`` (default: the process environment) gives the
        Daydream API key and URL."""
        if isinstance(spec, DaydreamStepSpec):
            env = env or Environment(os.environ)
            return DaydreamStep(
                spec,
                body.video,
                api_key=env.variables.get(API_KEY_ENV),
                api_url=env.variables.get(API_URL_ENV),
                ledger=self.stream_ledger,
                dotenv_file=env.dotenv_file,
            )
        if isinstance(spec, WorkflowStepSpec):
            return WorkflowStep(
                spec,
                body.video,
                device=self.options.device,
                workspace=self.options.workspace,
                warmup_frames=max(self.options.warmup_frames, body.warmup_frames),
            )
        raise TypeError(f"no runtime for step {spec.name!r} ({type(spec).__name__})")
