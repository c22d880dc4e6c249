"""The parsed workflow graph: ComfyUI's API format as typed values.

API format (what ComfyUI's "Save (API)" writes): ``{"<id>": {"class_type": str,
"inputs": {...}, "_meta": {...}}}``. An input is a link ``["<node id>", <output index>]``
or a constant; a constant that is itself a list is wrapped as ``{"__value__": [...]}``
so it cannot be mistaken for a link. ``_meta`` (titles) is kept only for messages.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from rtcflow.workflow.errors import WorkflowFormatError

LIST_CONSTANT_KEY = "__value__"


class NodeLink(BaseModel):
    """A link to output ``slot`` of node ``node_id``."""

    model_config = ConfigDict(frozen=True)

    node_id: str
    slot: int

    def to_api(self) -> list[Any]:
        return [self.node_id, self.slot]


class WorkflowNode(BaseModel):
    """One node: its class and its inputs (constants or :class:`NodeLink`)."""

    model_config = ConfigDict(frozen=True)

    id: str
    class_type: str
    inputs: dict[str, Any]
    title: str | None = None

    def links(self) -> dict[str, NodeLink]:
        """The inputs that are links, by input name."""
        return {name: value for name, value in self.inputs.items() if isinstance(value, NodeLink)}

    def constants(self) -> dict[str, Any]:
        """The inputs that are constants, by input name."""
        return {
            name: value for name, value in self.inputs.items() if not isinstance(value, NodeLink)
        }


class WorkflowGraph(BaseModel):
    """A whole workflow; ``source`` names where it came from, for error messages."""

    model_config = ConfigDict(frozen=True)

    nodes: dict[str, WorkflowNode]
    source: str | None = None

    def to_api(self) -> dict[str, Any]:
        """The graph in ComfyUI's API format (what ``PROMPT`` hidden inputs receive)."""
        return {
            node.id: {
                "class_type": node.class_type,
                "inputs": {name: _api_value(value) for name, value in node.inputs.items()},
                **({"_meta": {"title": node.title}} if node.title else {}),
            }
            for node in self.nodes.values()
        }

    def of_class(self, class_type: str) -> list[WorkflowNode]:
        """The nodes of one class, in id order."""
        return [node for node in self.nodes.values() if node.class_type == class_type]


def _api_value(value: Any) -> Any:
    if isinstance(value, NodeLink):
        return value.to_api()
    if isinstance(value, list):
        return {LIST_CONSTANT_KEY: value}
    return value


def is_api_link(value: Any) -> bool:
    """ComfyUI's link test: a two-item list of a string node id and an integer slot."""
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], int)
        and not isinstance(value[1], bool)
    )


def graph_from_api(data: dict[str, Any], source: str | None = None) -> WorkflowGraph:
    """Build a graph from an API-format mapping; raises :class:`WorkflowFormatError`."""
    where = f"{source}: " if source else ""
    if not data:
        raise WorkflowFormatError(f"{where}the workflow has no nodes")
    nodes: dict[str, WorkflowNode] = {}
    for node_id, entry in data.items():
        if not isinstance(entry, dict):
            raise WorkflowFormatError(
                f"{where}node {node_id}: expected an object with 'class_type' and 'inputs',"
                f" got {type(entry).__name__}"
            )
        class_type = entry.get("class_type")
        if not isinstance(class_type, str) or not class_type:
            raise WorkflowFormatError(f"{where}node {node_id}: 'class_type' is missing")
        raw_inputs = entry.get("inputs", {})
        if not isinstance(raw_inputs, dict):
            raise WorkflowFormatError(
                f"{where}node {node_id} ({class_type}): 'inputs' is not an object"
            )
        inputs = {name: _parse_input(value) for name, value in raw_inputs.items()}
        meta = entry.get("_meta")
        title = meta.get("title") if isinstance(meta, dict) else None
        nodes[str(node_id)] = WorkflowNode(
            id=str(node_id), class_type=class_type, inputs=inputs, title=title
        )
    return WorkflowGraph(nodes=nodes, source=source)


def _parse_input(value: Any) -> Any:
    if is_api_link(value):
        return NodeLink(node_id=value[0], slot=value[1])
    if isinstance(value, dict) and set(value) == {LIST_CONSTANT_KEY}:
        return value[LIST_CONSTANT_KEY]
    return value
