"""Helpers shared by the workflow engine tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from rtcflow.workflow import CompiledWorkflow, NodeRegistry, compile_workflow, parse_workflow

NODEPACKS = Path(__file__).parent / "nodepacks"
TESTPACK = NODEPACKS / "rtcflow_testpack"


def compile_api(api: dict[str, Any], registry: NodeRegistry) -> CompiledWorkflow:
    return compile_workflow(parse_workflow(api, registry), registry)


def image(height: int = 8, width: int = 8, seed: int = 0) -> torch.Tensor:
    """A random IMAGE [1, H, W, 3] in 0..1."""
    return torch.rand((1, height, width, 3), generator=torch.Generator().manual_seed(seed))


def chain(*middle: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """API workflow: LoadTensor "1" -> each (class, constants) in turn -> SaveTensor."""
    api: dict[str, Any] = {"1": {"class_type": "LoadTensor", "inputs": {}}}
    previous = "1"
    for offset, (class_type, constants) in enumerate(middle, start=2):
        node_id = str(offset)
        api[node_id] = {"class_type": class_type, "inputs": {"image": [previous, 0], **constants}}
        previous = node_id
    api["99"] = {"class_type": "SaveTensor", "inputs": {"images": [previous, 0]}}
    return api
