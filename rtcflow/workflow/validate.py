"""Validation: everything ComfyUI's ``validate_prompt`` checks, reported all at once.

Every node's class must exist (its protocol attributes readable). Then, for the nodes that
will run (``SaveTensor``, ``OUTPUT_NODE`` nodes and their ancestors, as in ComfyUI):
required inputs present, no unknown inputs, links pointing at existing nodes and existing
outputs of a matching type, constants of the right type within ``min``/``max`` or among
the combo choices (or accepted by the class's ``VALIDATE_INPUTS``), no cycles; and the
workflow has exactly one ``LoadTensor`` and one ``SaveTensor``.
"""

from __future__ import annotations

import graphlib
import inspect
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rtcflow.workflow.errors import WorkflowProblem, WorkflowValidationError
from rtcflow.workflow.frame_boundary import LOAD_TENSOR, SAVE_TENSOR
from rtcflow.workflow.graph import NodeLink, WorkflowGraph, WorkflowNode
from rtcflow.workflow.nodespec import NodeSchema, link_type_matches
from rtcflow.workflow.registry import NodeRegistry


@dataclass(frozen=True, slots=True)
class ValidatedWorkflow:
    """A valid graph with what compiling needs: schemas, run order, checked constants."""

    graph: WorkflowGraph
    schemas: dict[str, NodeSchema]
    #: The nodes that run (outputs and their ancestors), dependencies first.
    order: tuple[str, ...]
    #: Each running node's constants, converted to their declared types.
    constants: dict[str, dict[str, Any]]


def node_sort_key(node_id: str) -> tuple[int, int, str]:
    """Numeric ids in numeric order, then the rest alphabetically."""
    return (0, int(node_id), "") if node_id.isdigit() else (1, 0, node_id)


def validate_workflow(graph: WorkflowGraph, registry: NodeRegistry) -> ValidatedWorkflow:
    """Validate ``graph``; raises :class:`WorkflowValidationError` listing every problem."""
    problems: list[WorkflowProblem] = []
    schemas = _schemas(graph, registry, problems)
    problems.extend(_frame_boundary_problems(graph))
    outputs = [
        node.id
        for node in graph.nodes.values()
        if node.class_type == SAVE_TENSOR or (node.id in schemas and schemas[node.id].output_node)
    ]
    running = _ancestors(graph, outputs)
    constants: dict[str, dict[str, Any]] = {}
    for node_id in sorted(running, key=node_sort_key):
        node = graph.nodes[node_id]
        if node_id in schemas:
            constants[node_id] = check_node(node, schemas[node_id], graph, schemas, problems)
    order = _topological_order(graph, running, problems)
    if problems:
        problems.sort(key=lambda p: (p.node_id is not None, node_sort_key(p.node_id or "")))
        raise WorkflowValidationError(problems, graph.source)
    return ValidatedWorkflow(graph=graph, schemas=schemas, order=order, constants=constants)


def _schemas(
    graph: WorkflowGraph, registry: NodeRegistry, problems: list[WorkflowProblem]
) -> dict[str, NodeSchema]:
    schemas: dict[str, NodeSchema] = {}
    for node in sorted(graph.nodes.values(), key=lambda node: node_sort_key(node.id)):
        if node.class_type not in registry:
            hint = ""
            if registry.failures:
                failed = "; ".join(str(failure) for failure in registry.failures)
                hint = f" (node packs that failed to load: {failed})"
            problems.append(_problem(node, None, f"unknown node class{hint}"))
            continue
        try:
            schemas[node.id] = registry.schema(node.class_type)
        except ValueError as exc:
            problems.append(_problem(node, None, f"the node class is malformed: {exc}"))
    return schemas


def _frame_boundary_problems(graph: WorkflowGraph) -> Iterable[WorkflowProblem]:
    for class_type, role, fallback in (
        (LOAD_TENSOR, "frame input", "one LoadImage"),
        (SAVE_TENSOR, "frame output", "one SaveImage or PreviewImage"),
    ):
        found = graph.of_class(class_type)
        if not found:
            yield WorkflowProblem(
                node_id=None,
                class_type=class_type,
                input=None,
                message=f"the workflow has no {role}: add a {class_type} node"
                f" (or exactly {fallback})",
            )
        elif len(found) > 1:
            ids = ", ".join(node.id for node in found)
            yield WorkflowProblem(
                node_id=None,
                class_type=class_type,
                input=None,
                message=f"{len(found)} {class_type} nodes ({ids}):"
                f" a workflow has exactly one {role}",
            )


def _ancestors(graph: WorkflowGraph, roots: list[str]) -> set[str]:
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        node_id = stack.pop()
        if node_id in seen or node_id not in graph.nodes:
            continue
        seen.add(node_id)
        stack.extend(link.node_id for link in graph.nodes[node_id].links().values())
    return seen


def check_node(
    node: WorkflowNode,
    schema: NodeSchema,
    graph: WorkflowGraph,
    schemas: dict[str, NodeSchema],
    problems: list[WorkflowProblem],
) -> dict[str, Any]:
    """Check one node's inputs, appending problems; returns its converted constants."""
    if schema.input_is_list or schema.output_is_list:
        problems.append(
            _problem(
                node, None, "INPUT_IS_LIST / OUTPUT_IS_LIST nodes are not supported by rtcflow"
            )
        )
    for name in node.inputs.keys() - schema.inputs.keys():
        known = ", ".join(schema.inputs) or "no inputs"
        problems.append(_problem(node, name, f"unknown input (the class takes: {known})"))
    for name, spec in schema.inputs.items():
        if name not in node.inputs and spec.required:
            problems.append(_problem(node, name, f"required input is missing ({spec.describe()})"))
    link_types: dict[str, str] = {}
    for name, link in node.links().items():
        if name in schema.inputs:
            received = _check_link(node, name, link, graph, schemas, problems)
            if received is not None:
                link_types[name] = received
    return check_constants(node, schema, node.constants(), link_types, problems)


def _check_link(
    node: WorkflowNode,
    name: str,
    link: NodeLink,
    graph: WorkflowGraph,
    schemas: dict[str, NodeSchema],
    problems: list[WorkflowProblem],
) -> str | None:
    source = graph.nodes.get(link.node_id)
    if source is None:
        problems.append(_problem(node, name, f"links to node {link.node_id}, which does not exist"))
        return None
    source_schema = schemas.get(source.id)
    if source_schema is None:
        return None  # the unknown source class is reported on its own
    outputs = source_schema.return_types
    if not 0 <= link.slot < len(outputs):
        problems.append(
            _problem(
                node,
                name,
                f"links to output {link.slot} of node {source.id} ({source.class_type}),"
                f" which has {len(outputs)} output{'s' if len(outputs) != 1 else ''}",
            )
        )
        return None
    received = outputs[link.slot]
    spec = schemas[node.id].inputs[name]
    if not link_type_matches(received, spec):
        problems.append(
            _problem(
                node,
                name,
                f"takes {spec.type}, but output {link.slot} of node {source.id}"
                f" ({source.class_type}) is {received}",
            )
        )
    return received


def check_constants(
    node: WorkflowNode,
    schema: NodeSchema,
    constants: dict[str, Any],
    link_types: dict[str, str],
    problems: list[WorkflowProblem],
) -> dict[str, Any]:
    """Convert and range-check constants; inputs the class's ``VALIDATE_INPUTS`` takes are
    left to it, as ComfyUI does. Appends problems; returns the converted constants."""
    custom = _custom_validated(schema, constants)
    checked: dict[str, Any] = {}
    for name, value in constants.items():
        spec = schema.inputs.get(name)
        if spec is None or name in custom:
            checked[name] = value
            continue
        try:
            checked[name] = spec.coerce(value)
        except ValueError as exc:
            problems.append(_problem(node, name, str(exc)))
    if schema.validate_inputs is not None:
        # Linked inputs have no value before running: ComfyUI passes None for them.
        arguments = {
            name: checked.get(name) for name in custom if name in checked or name in link_types
        }
        if "input_types" in custom:
            arguments["input_types"] = link_types
        try:
            verdict = schema.validate_inputs(**arguments)
        except Exception as exc:
            verdict = f"{type(exc).__name__}: {exc}"
        if verdict is not True:
            problems.append(_problem(node, None, f"VALIDATE_INPUTS rejected the inputs: {verdict}"))
    return checked


def _custom_validated(schema: NodeSchema, constants: dict[str, Any]) -> set[str]:
    """The input names a class's ``VALIDATE_INPUTS`` checks itself (all, given ``**kwargs``)."""
    if schema.validate_inputs is None:
        return set()
    parameters = inspect.signature(schema.validate_inputs).parameters.values()
    if any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters):
        return set(constants)
    return {parameter.name for parameter in parameters}


def _topological_order(
    graph: WorkflowGraph, running: set[str], problems: list[WorkflowProblem]
) -> tuple[str, ...]:
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for node_id in sorted(running, key=node_sort_key):
        sources = {link.node_id for link in graph.nodes[node_id].links().values()}
        sorter.add(node_id, *sorted(sources & running, key=node_sort_key))
    try:
        return tuple(sorter.static_order())
    except graphlib.CycleError as exc:
        cycle = exc.args[1]
        node = graph.nodes[cycle[0]]
        path = " -> ".join(cycle)
        problems.append(_problem(node, None, f"the workflow has a cycle: {path}"))
        return ()


def _problem(node: WorkflowNode, input_name: str | None, message: str) -> WorkflowProblem:
    return WorkflowProblem(
        node_id=node.id, class_type=node.class_type, input=input_name, message=message
    )
