"""The ComfyUI workflow engine: parse, validate, compile and run workflows per frame.

Typical use::

    registry = NodeRegistry.with_builtins()
    workflow = compile_workflow(parse_workflow(Path("workflows/invert.json"), registry), registry)
    image_out = workflow.run(image_in)        # IMAGE [1, H, W, 3] float32 in 0..1
    workflow.set_input("3", "sigma", 2.0)     # from any thread; applies at the next frame
"""

from __future__ import annotations

from rtcflow.workflow.compiler import CompiledWorkflow, compile_workflow
from rtcflow.workflow.errors import (
    NodeExecutionError,
    WorkflowError,
    WorkflowFormatError,
    WorkflowProblem,
    WorkflowValidationError,
)
from rtcflow.workflow.graph import NodeLink, WorkflowGraph, WorkflowNode
from rtcflow.workflow.nodespec import InputSpec
from rtcflow.workflow.parse import DEFAULT_WORKFLOW, parse_workflow
from rtcflow.workflow.registry import NodePackFailure, NodeRegistry

__all__ = [
    "DEFAULT_WORKFLOW",
    "CompiledWorkflow",
    "InputSpec",
    "NodeExecutionError",
    "NodeLink",
    "NodePackFailure",
    "NodeRegistry",
    "WorkflowError",
    "WorkflowFormatError",
    "WorkflowGraph",
    "WorkflowNode",
    "WorkflowProblem",
    "WorkflowValidationError",
    "compile_workflow",
    "parse_workflow",
]
