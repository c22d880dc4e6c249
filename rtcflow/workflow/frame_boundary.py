"""The frame boundary: ``LoadTensor`` yields the live frame, ``SaveTensor`` takes the result.

These follow ComfyStream's tensor nodes (same class and input names, ``IS_CHANGED``
returning NaN so ComfyUI re-runs them every prompt). The engine does not call their
functions: it writes the frame into ``LoadTensor``'s output and reads ``SaveTensor``'s
``images`` input. A workflow made for still images (one ``LoadImage``, one ``SaveImage``
or ``PreviewImage``) is converted by swapping those for the tensor nodes.
"""

from __future__ import annotations

import torch

from rtcflow.workflow.graph import WorkflowGraph, WorkflowNode

LOAD_TENSOR = "LoadTensor"
SAVE_TENSOR = "SaveTensor"
_IMAGE_INPUTS = ("LoadImage",)
_IMAGE_OUTPUTS = ("SaveImage", "PreviewImage")


class LoadTensor:
    """The live frame as IMAGE (float32 ``[B, H, W, 3]`` in 0..1)."""

    CATEGORY = "rtcflow/frame"
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "execute"

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {}

    @classmethod
    def IS_CHANGED(cls) -> float:
        return float("nan")

    def execute(self) -> tuple[torch.Tensor]:
        raise RuntimeError("LoadTensor is fed by the engine, not called")


class SaveTensor:
    """Marks the processed frame: the ``images`` input is the workflow's output."""

    CATEGORY = "rtcflow/frame"
    RETURN_TYPES = ()
    FUNCTION = "execute"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {"required": {"images": ("IMAGE",)}}

    @classmethod
    def IS_CHANGED(cls) -> float:
        return float("nan")

    def execute(self, images: torch.Tensor) -> tuple[()]:
        raise RuntimeError("SaveTensor is read by the engine, not called")


def convert_image_io(graph: WorkflowGraph) -> WorkflowGraph:
    """Swap a lone ``LoadImage`` / ``SaveImage``-or-``PreviewImage`` for the tensor nodes.

    Only when the workflow has no tensor node of that side and exactly one candidate;
    anything else is left for validation to report.
    """
    nodes = dict(graph.nodes)
    if not graph.of_class(LOAD_TENSOR):
        loaders = [node for node in nodes.values() if node.class_type in _IMAGE_INPUTS]
        if len(loaders) == 1:
            loader = loaders[0]
            nodes[loader.id] = WorkflowNode(
                id=loader.id, class_type=LOAD_TENSOR, inputs={}, title=loader.title
            )
    if not graph.of_class(SAVE_TENSOR):
        savers = [node for node in nodes.values() if node.class_type in _IMAGE_OUTPUTS]
        if len(savers) == 1 and "images" in savers[0].inputs:
            saver = savers[0]
            nodes[saver.id] = WorkflowNode(
                id=saver.id,
                class_type=SAVE_TENSOR,
                inputs={"images": saver.inputs["images"]},
                title=saver.title,
            )
    return graph.model_copy(update={"nodes": nodes})
