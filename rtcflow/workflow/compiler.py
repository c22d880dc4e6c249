"""Compiling a validated workflow into a per-frame plan, and running it.

ComfyUI executes a prompt by re-validating it, rebuilding cache keys from every node's
ancestors and walking the graph (``execution.py``), which ComfyStream does once per
frame. Here that work happens once:

- Nodes not downstream of ``LoadTensor`` (model loaders, text encoders, constants) are
  *constant*: they run on the first frame and their outputs are kept. They run again only
  when one of their inputs changes (``set_input``, or an upstream constant re-ran) or
  when their class's ``IS_CHANGED`` (called with the node's constant inputs before each
  frame) returns a different value; NaN never equals itself, so it means "every frame".
- The *frame* nodes run for every frame, in a precomputed order, as one generated
  function with each node's arguments bound in advance (see ``framecode``).
- ``set_input`` may be called from any thread; changes wait in a queue and are applied
  at the start of the next ``run()``, so a frame never sees half an update.
"""

from __future__ import annotations

import threading
from typing import Any

import torch

from rtcflow.workflow.errors import NodeExecutionError, WorkflowProblem, WorkflowValidationError
from rtcflow.workflow.frame_boundary import LOAD_TENSOR, SAVE_TENSOR
from rtcflow.workflow.framecode import FrameProgram, NodeCall, node_failure, node_outputs
from rtcflow.workflow.graph import NodeLink, WorkflowGraph
from rtcflow.workflow.nodespec import InputSpec, NodeSchema
from rtcflow.workflow.registry import NodeRegistry
from rtcflow.workflow.validate import ValidatedWorkflow, check_constants, validate_workflow

_NEVER_SEEN = object()


def compile_workflow(graph: WorkflowGraph, registry: NodeRegistry) -> CompiledWorkflow:
    """Validate ``graph`` and compile it into a runnable plan.

    Raises :class:`WorkflowValidationError` listing every problem, or
    :class:`NodeExecutionError` when a node class cannot be instantiated.
    """
    return CompiledWorkflow(validate_workflow(graph, registry))


class CompiledWorkflow:
    """A validated, compiled workflow: ``run`` it once per frame.

    ``frame_nodes`` are the ids of the nodes that run for every frame and
    ``constant_nodes`` those whose outputs are cached, both in execution order; the
    frame boundary nodes (``LoadTensor``, ``SaveTensor``) are in neither.
    """

    def __init__(self, validated: ValidatedWorkflow) -> None:
        self.graph = validated.graph
        self._schemas = validated.schemas
        self._inputs = validated.constants
        order = validated.order
        self._index = {node_id: index for index, node_id in enumerate(order)}
        # A workflow whose output ignores the frame is valid; LoadTensor then does not run.
        load_id = self.graph.of_class(LOAD_TENSOR)[0].id
        self._load_index = self._index.get(load_id)
        self._save_id = self.graph.of_class(SAVE_TENSOR)[0].id
        result = self.graph.nodes[self._save_id].inputs["images"]
        self._result = (self._index[result.node_id], result.slot)

        frame_dependent = {load_id}
        for node_id in order:
            if any(link.node_id in frame_dependent for link in self._links(node_id)):
                frame_dependent.add(node_id)
        boundary = (LOAD_TENSOR, SAVE_TENSOR)
        runnable = [
            node_id for node_id in order if self._schemas[node_id].class_type not in boundary
        ]
        self.frame_nodes = tuple(node_id for node_id in runnable if node_id in frame_dependent)
        self.constant_nodes = tuple(
            node_id for node_id in runnable if node_id not in frame_dependent
        )

        prompt = self.graph.to_api()
        self._calls = {node_id: self._bind(node_id, prompt) for node_id in runnable}
        self._frame_program = FrameProgram(
            [self._calls[node_id] for node_id in self.frame_nodes], self._load_index, self._result
        )
        self._constant_calls = tuple(self._calls[node_id] for node_id in self.constant_nodes)
        #: Each constant node with the constant nodes downstream of it (itself included).
        self._downstream = {node_id: {node_id} for node_id in self.constant_nodes}
        for node_id in reversed(self.constant_nodes):
            for link in self._links(node_id):
                if link.node_id in self._downstream:
                    self._downstream[link.node_id] |= self._downstream[node_id]
        self._watched = [
            (self._calls[node_id], self._schemas[node_id].is_changed)
            for node_id in self.constant_nodes
            if self._schemas[node_id].is_changed is not None
        ]
        self._last_change_marks: dict[str, Any] = {}
        self._values: list[tuple[Any, ...] | None] = [None] * len(order)
        self._stale: set[str] = set(self.constant_nodes)
        self._pending: dict[tuple[str, str], Any] = {}
        self._pending_lock = threading.Lock()

    def _links(self, node_id: str) -> list[NodeLink]:
        return list(self.graph.nodes[node_id].links().values())

    def _bind(self, node_id: str, prompt: dict[str, Any]) -> NodeCall:
        schema = self._schemas[node_id]
        try:
            instance = schema.node_class()
        except Exception as exc:
            raise NodeExecutionError(
                node_id, schema.class_type, f"cannot create the node: {type(exc).__name__}: {exc}"
            ) from exc
        hidden = {"PROMPT": prompt, "UNIQUE_ID": node_id}
        constants = {name: hidden.get(kind) for name, kind in schema.hidden.items()}
        constants.update(self._inputs[node_id])
        links = tuple(
            (name, self._index[link.node_id], link.slot)
            for name, link in self.graph.nodes[node_id].links().items()
        )
        return NodeCall(
            node_id=node_id,
            class_type=schema.class_type,
            index=self._index[node_id],
            function=getattr(instance, schema.function),
            constants=constants,
            links=links,
            outputs=len(schema.return_types),
        )

    # -- running ------------------------------------------------------------------------

    def run(self, image: torch.Tensor) -> torch.Tensor:
        """Run one frame: IMAGE ``[1, H, W, 3]`` float32 in 0..1 in, the same out.

        Raises :class:`NodeExecutionError` naming the node that failed.
        """
        if self._pending:
            self._apply_pending()
        if self._watched:
            self._poll_is_changed()
        if self._stale:
            self._run_constant_nodes()
        output = self._frame_program.run(image, self._values)
        if not isinstance(output, torch.Tensor):
            raise NodeExecutionError(
                self._save_id, SAVE_TENSOR, f"'images' is {type(output).__name__}, not an IMAGE"
            )
        return output

    def _run_constant_nodes(self) -> None:
        """Re-run the stale constant nodes in order; on failure they stay stale (retried)."""
        values = self._values
        for call in self._constant_calls:
            if call.node_id not in self._stale:
                continue
            kwargs = call.constants.copy()
            for name, producer, slot in call.links:
                kwargs[name] = values[producer][slot]  # type: ignore[index]
            try:
                result = call.function(**kwargs)
            except Exception as exc:
                raise node_failure(call, exc) from exc
            values[call.index] = node_outputs(call, result)
            self._stale.discard(call.node_id)

    def _poll_is_changed(self) -> None:
        for call, is_changed in self._watched:
            arguments = self._inputs[call.node_id]
            try:
                mark = is_changed(**arguments)
            except Exception as exc:
                raise NodeExecutionError(
                    call.node_id, call.class_type, f"IS_CHANGED raised {type(exc).__name__}: {exc}"
                ) from exc
            previous = self._last_change_marks.get(call.node_id, _NEVER_SEEN)
            self._last_change_marks[call.node_id] = mark
            if not _same(mark, previous):
                self._stale |= self._downstream[call.node_id]

    # -- changing inputs ----------------------------------------------------------------

    def input_spec(self, node_id: str, input_name: str) -> InputSpec:
        """The declared spec of a node's input (type, range, choices, default).

        Raises :class:`WorkflowValidationError` when there is no such node or input.
        """
        return self._spec(node_id, input_name)[1]

    def _spec(self, node_id: str, input_name: str) -> tuple[NodeSchema, InputSpec]:
        node = self.graph.nodes.get(node_id)
        if node is None:
            raise self._refusal(node_id, None, input_name, "no such node in the workflow")
        schema = self._schemas[node_id]
        spec = schema.inputs.get(input_name)
        if spec is None:
            known = ", ".join(schema.inputs) or "no inputs"
            raise self._refusal(
                node_id, node.class_type, input_name, f"unknown input (the class takes: {known})"
            )
        return schema, spec

    def _refusal(
        self, node_id: str, class_type: str | None, input_name: str, message: str
    ) -> WorkflowValidationError:
        problem = WorkflowProblem(
            node_id=node_id, class_type=class_type, input=input_name, message=message
        )
        return WorkflowValidationError(
            [problem], self.graph.source, headline=f"cannot use input {input_name!r}"
        )

    def set_input(self, node_id: str, input_name: str, value: object) -> None:
        """Set a constant input; it takes effect at the start of the next ``run()``.

        Safe to call from any thread. The value is checked against the input's spec now:
        raises :class:`WorkflowValidationError` when it does not fit, when the input is
        a link, or when the node does not run in this workflow.
        """
        schema, _ = self._spec(node_id, input_name)
        node = self.graph.nodes[node_id]
        link = node.inputs.get(input_name)
        if isinstance(link, NodeLink):
            message = f"the input is linked to node {link.node_id}; only constants can be set"
            raise self._refusal(node_id, node.class_type, input_name, message)
        if node_id not in self._calls:
            message = "the node does not run in this workflow (it feeds no output)"
            raise self._refusal(node_id, node.class_type, input_name, message)
        with self._pending_lock:
            constants = {**self._inputs[node_id], **self._pending_for(node_id), input_name: value}
        link_types = {
            name: self._schemas[link.node_id].return_types[link.slot]
            for name, link in node.links().items()
        }
        problems: list[WorkflowProblem] = []
        checked = check_constants(node, schema, constants, link_types, problems)
        if problems:
            raise WorkflowValidationError(
                problems, self.graph.source, headline=f"cannot set input {input_name!r}"
            )
        with self._pending_lock:
            self._pending[(node_id, input_name)] = checked[input_name]

    def _pending_for(self, node_id: str) -> dict[str, Any]:
        return {name: value for (owner, name), value in self._pending.items() if owner == node_id}

    def _apply_pending(self) -> None:
        with self._pending_lock:
            pending, self._pending = self._pending, {}
        for (node_id, input_name), value in pending.items():
            current = self._inputs[node_id]
            if input_name in current and _same(current[input_name], value):
                continue
            self._inputs[node_id] = {**current, input_name: value}
            call = self._calls[node_id]
            call.constants = {**call.constants, input_name: value}
            if node_id in self._downstream:
                self._stale |= self._downstream[node_id]
            else:
                self._frame_program.set_constant(node_id, input_name, value)


def _same(a: Any, b: Any) -> bool:
    """Equality that never raises (tensors and arrays compare as different)."""
    try:
        return bool(a == b)
    except Exception:
        return False
