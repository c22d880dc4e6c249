"""Reading a workflow from a file, JSON text or a mapping, in either ComfyUI format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rtcflow.workflow.errors import WorkflowFormatError
from rtcflow.workflow.frame_boundary import convert_image_io
from rtcflow.workflow.graph import WorkflowGraph, graph_from_api
from rtcflow.workflow.registry import NodeRegistry
from rtcflow.workflow.ui_format import is_ui_format, ui_to_api

#: The workflow of a step that declares none: invert the frame.
DEFAULT_WORKFLOW: dict[str, Any] = {
    "2": {"class_type": "LoadTensor", "inputs": {}},
    "3": {"class_type": "ImageInvert", "inputs": {"image": ["2", 0]}},
    "1": {"class_type": "SaveTensor", "inputs": {"images": ["3", 0]}},
}


def parse_workflow(source: Path | str | dict[str, Any], registry: NodeRegistry) -> WorkflowGraph:
    """Parse a workflow: a JSON file (``Path``), JSON text (``str``) or a mapping.

    The API format is read as is; the editor (UI) format is converted with the node
    schemas in ``registry``. A lone ``LoadImage`` / ``SaveImage`` / ``PreviewImage`` is
    swapped for the frame nodes. Raises :class:`WorkflowFormatError`.
    """
    name: str | None = None
    if isinstance(source, Path):
        name = str(source)
        try:
            source = source.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise WorkflowFormatError(f"cannot read workflow {name}: {exc}") from exc
    if isinstance(source, str):
        try:
            data = json.loads(source)
        except json.JSONDecodeError as exc:
            where = f"{name}:" if name else "line "
            raise WorkflowFormatError(
                f"{where}{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}"
            ) from exc
    else:
        data = source
    if not isinstance(data, dict):
        where = f"{name}: " if name else ""
        raise WorkflowFormatError(f"{where}a workflow is a JSON object, not {type(data).__name__}")
    if is_ui_format(data):
        data = ui_to_api(data, registry, name)
    return convert_image_io(graph_from_api(data, name))
