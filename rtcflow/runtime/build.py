"""Builds running components (source, steps, sinks) from validated spec models."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from rtcflow.runtime.step import Step
from rtcflow.runtime.workflow_step import WorkflowStep
from rtcflow.sinks import Sink, create_sink
from rtcflow.sources import Source, create_source
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


class ComponentBuilder:
    """Creates the running component for each spec model of a flow."""

    def __init__(self, options: RuntimeOptions) -> None:
        self.options = options

    def source(self, spec: SourceSpec, body: FlowBody) -> Source:
        return create_source(spec, body.video)

    def sink(self, spec: SinkSpec, body: FlowBody) -> Sink:
        return create_sink(spec, body.video)

    def step(self, spec: StepSpec, body: FlowBody) -> Step:
        if isinstance(spec, WorkflowStepSpec):
            return WorkflowStep(
                spec,
                body.video,
                device=self.options.device,
                workspace=self.options.workspace,
                warmup_frames=max(self.options.warmup_frames, body.warmup_frames),
            )
        raise TypeError(f"no runtime for step {spec.name!r} ({type(spec).__name__})")
