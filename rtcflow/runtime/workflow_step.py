"""The step that runs a ComfyUI workflow on every frame, on a thread of its own."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path
from typing import Any

import torch

from rtcflow.media.convert import from_image, to_image
from rtcflow.media.frame import VideoFrame
from rtcflow.spec.models import VideoSpec, WorkflowStepSpec
from rtcflow.workflow import (
    DEFAULT_WORKFLOW,
    CompiledWorkflow,
    NodeRegistry,
    compile_workflow,
    parse_workflow,
)


def load_compiled_workflow(spec: WorkflowStepSpec, workspace: Path | None) -> CompiledWorkflow:
    """Parse, validate and compile the step's workflow (inversion when none is declared)."""
    registry = NodeRegistry.with_builtins()
    if workspace is not None:
        registry.load_workspace(workspace)
    for folder in spec.workflow.custom_nodes:
        registry.load_custom_nodes(folder)
    ref = spec.workflow
    source: Path | dict[str, Any] = ref.file or ref.inline or DEFAULT_WORKFLOW
    return compile_workflow(parse_workflow(source, registry), registry)


class WorkflowStep:
    """Runs a compiled workflow per frame on one dedicated thread (node state stays warm).

    ``start`` compiles the workflow and runs ``warmup_frames`` blank frames through it,
    on the step's thread, so a new or swapped-in workflow is warm before its first live
    frame. The frame is converted to ComfyUI's IMAGE once on the way in and once out.
    """

    def __init__(
        self,
        spec: WorkflowStepSpec,
        video: VideoSpec,
        *,
        device: torch.device,
        workspace: Path | None = None,
        warmup_frames: int = 0,
    ) -> None:
        self.name = spec.name
        self.spec = spec
        self.video = video
        self.device = device
        self.workspace = workspace
        self.warmup_frames = warmup_frames
        self.workflow: CompiledWorkflow | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=f"rtcflow-step-{spec.name}")

    async def _on_thread(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    async def start(self) -> None:
        self.workflow = await self._on_thread(load_compiled_workflow, self.spec, self.workspace)
        if self.warmup_frames:
            blank = VideoFrame(
                torch.zeros((self.video.height, self.video.width, 3), dtype=torch.uint8),
                pts=0,
                time_base=Fraction(1, 1),
            )
            for _ in range(self.warmup_frames):
                await self._on_thread(self._process_on_thread, blank)

    def _process_on_thread(self, frame: VideoFrame) -> VideoFrame:
        assert self.workflow is not None
        image = to_image(frame, self.device)
        return from_image(self.workflow.run(image), frame)

    async def process(self, frame: VideoFrame) -> VideoFrame:
        return await self._on_thread(self._process_on_thread, frame)

    def set_input(self, node_id: str, input_name: str, value: object) -> None:
        """Change a node input; it takes effect at the next frame boundary."""
        assert self.workflow is not None
        self.workflow.set_input(node_id, input_name, value)

    async def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)

    def status(self) -> dict[str, Any]:
        return {"type": "workflow", "device": str(self.device)}
