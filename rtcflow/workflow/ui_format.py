"""Converting ComfyUI's editor ("UI") format to the API format.

The UI format (``{"nodes": [...], "links": [...]}``, what "Save" writes) stores each
node's widget values positionally in ``widgets_values``, so mapping them to input names
needs the node class's ``INPUT_TYPES`` order: every widget input (primitive or combo,
not ``forceInput``) takes one value, linked or not, and a seed-like INT input is
followed by the editor's "control after generate" value. Links are
``[id, origin_id, origin_slot, target_id, target_slot, type]`` (or objects with those
names). Editor-only nodes are resolved away: ``Reroute`` passes its input through,
``PrimitiveNode`` supplies its value as a constant, notes are dropped. Muted nodes
(mode 2) are dropped; bypassed ones (mode 4) are dropped with each output wired to the
first linked input of the same type, as the editor does when it queues a prompt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rtcflow.workflow.errors import WorkflowFormatError
from rtcflow.workflow.graph import LIST_CONSTANT_KEY
from rtcflow.workflow.nodespec import SEED_CONTROL_VALUES, InputSpec
from rtcflow.workflow.registry import NodeRegistry

MODE_MUTED = 2
MODE_BYPASSED = 4
_REROUTE = "Reroute"
_PRIMITIVE = "PrimitiveNode"
_EDITOR_ONLY = frozenset({_REROUTE, _PRIMITIVE, "Note", "MarkdownNote"})


def is_ui_format(data: Mapping[str, Any]) -> bool:
    """Whether a workflow mapping is in the editor format rather than the API format."""
    return isinstance(data.get("nodes"), list) and "links" in data


@dataclass(frozen=True, slots=True)
class _Link:
    origin_id: Any
    origin_slot: int


@dataclass(frozen=True, slots=True)
class _Constant:
    value: Any


class _Converter:
    def __init__(self, data: Mapping[str, Any], registry: NodeRegistry, source: str | None):
        self.registry = registry
        self.where = f"{source}: " if source else ""
        for feature, present in (
            ("subgraphs", (data.get("definitions") or {}).get("subgraphs")),
            ("group nodes", (data.get("extra") or {}).get("groupNodes")),
        ):
            if present:
                raise WorkflowFormatError(
                    f"{self.where}the workflow uses {feature}, which rtcflow cannot convert;"
                    " export it from ComfyUI with 'Save (API)'"
                )
        self.nodes: dict[Any, dict[str, Any]] = {}
        for node in data["nodes"]:
            if not isinstance(node, dict) or "id" not in node or "type" not in node:
                raise WorkflowFormatError(f"{self.where}a node has no 'id' or 'type': {node!r}")
            self.nodes[node["id"]] = node
        self.links = dict(map(self._link, data["links"] or []))

    def _link(self, raw: Any) -> tuple[Any, _Link]:
        """A link by id, from ``[id, origin, slot, target, slot, type]`` or an object."""
        try:
            if isinstance(raw, dict):
                return raw["id"], _Link(raw["origin_id"], int(raw["origin_slot"]))
            return raw[0], _Link(raw[1], int(raw[2]))
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise WorkflowFormatError(f"{self.where}malformed link {raw!r}") from exc

    def _incoming(self, node: dict[str, Any], slot: int) -> _Link | None:
        """The link into input ``slot`` of ``node``, found by the input's link id."""
        inputs = node.get("inputs") or []
        if slot >= len(inputs) or inputs[slot].get("link") is None:
            return None
        return self.links.get(inputs[slot]["link"])

    def _source(self, link: _Link | None) -> list[Any] | _Constant | None:
        """Follow a link back through editor-only and bypassed nodes to its real source."""
        seen: set[Any] = set()
        while link is not None:
            origin = self.nodes.get(link.origin_id)
            if origin is None or origin.get("mode") == MODE_MUTED or link.origin_id in seen:
                return None
            seen.add(link.origin_id)
            if origin["type"] == _PRIMITIVE:
                values = origin.get("widgets_values") or [None]
                return _Constant(values[0])
            if origin["type"] == _REROUTE:
                link = self._incoming(origin, 0)
            elif origin.get("mode") == MODE_BYPASSED:
                link = self._bypass(origin, link.origin_slot)
            else:
                return [str(link.origin_id), link.origin_slot]
        return None

    def _bypass(self, node: dict[str, Any], output_slot: int) -> _Link | None:
        outputs = node.get("outputs") or []
        wanted = outputs[output_slot].get("type") if output_slot < len(outputs) else None
        for slot, entry in enumerate(node.get("inputs") or []):
            if entry.get("type") == wanted and entry.get("link") is not None:
                return self._incoming(node, slot)
        return None

    def convert(self) -> dict[str, Any]:
        api: dict[str, Any] = {}
        for node_id, node in self.nodes.items():
            if node["type"] in _EDITOR_ONLY or node.get("mode") in (MODE_MUTED, MODE_BYPASSED):
                continue
            inputs = self._widget_inputs(node)
            for slot, entry in enumerate(node.get("inputs") or []):
                source = self._source(self._incoming(node, slot))
                if isinstance(source, _Constant):
                    inputs[entry["name"]] = _api_constant(source.value)
                elif source is not None:
                    inputs[entry["name"]] = source
            api[str(node_id)] = {"class_type": node["type"], "inputs": inputs}
            if node.get("title"):
                api[str(node_id)]["_meta"] = {"title": node["title"]}
        return api

    def _widget_inputs(self, node: dict[str, Any]) -> dict[str, Any]:
        """Name the node's widget values with its class's INPUT_TYPES order."""
        values = node.get("widgets_values")
        if not values or node["type"] not in self.registry:
            return {}
        try:
            schema = self.registry.schema(node["type"])
        except ValueError:
            return {}  # validation reports the malformed class
        widgets = [spec for spec in schema.inputs.values() if spec.is_widget]
        if isinstance(values, dict):
            return {
                spec.name: _api_constant(values[spec.name])
                for spec in widgets
                if spec.name in values
            }
        return _positional_widgets(widgets, list(values))


def _positional_widgets(widgets: list[InputSpec], values: list[Any]) -> dict[str, Any]:
    named: dict[str, Any] = {}
    position = 0
    for spec in widgets:
        if position >= len(values):
            break
        named[spec.name] = _api_constant(values[position])
        position += 1
        if (
            spec.has_seed_control
            and position < len(values)
            and values[position] in SEED_CONTROL_VALUES
        ):
            position += 1
    return named


def _api_constant(value: Any) -> Any:
    return {LIST_CONSTANT_KEY: value} if isinstance(value, list) else value


def ui_to_api(
    data: Mapping[str, Any], registry: NodeRegistry, source: str | None = None
) -> dict[str, Any]:
    """Convert an editor-format workflow to the API format.

    Nodes of unknown classes are kept with their links only, for validation to report.
    Raises :class:`WorkflowFormatError` for what cannot be converted (subgraphs, malformed
    nodes or links).
    """
    return _Converter(data, registry, source).convert()
