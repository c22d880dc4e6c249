"""The per-frame program: a workflow's frame nodes compiled into one straight-line function.

Calling nodes through a generic loop costs a dict copy and a ``**kwargs`` call per node
on every frame. Instead, once per compile, the frame nodes are written out as Python
source and compiled (the way ``dataclasses`` builds ``__init__``); error handling aside::

    def run_frame(image, values):
        o3 = fn_0(image=image, blur_radius=k_0_0, sigma=k_0_1)
        if type(o3) is not tuple or len(o3) != 1:
            o3 = fix(0, o3)
        o4 = fn_1(image=o3[0])
        del o3
        ...
        return o5[0]

Inputs become keyword arguments with fixed names: a link reads the producer's output
tuple (``oN`` for frame nodes, ``values[N]`` for cached constant nodes, ``image`` for
``LoadTensor``), a constant is a global of the function, so ``set_input`` replaces it
without recompiling. Only names (as string literals) and integers are written into the
source; functions and values travel in the function's globals.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rtcflow.workflow.errors import NodeExecutionError


@dataclass(slots=True)
class NodeCall:
    """One node's precomputed call: ``function(**constants, name=outputs[producer][slot])``."""

    node_id: str
    class_type: str
    index: int
    function: Callable[..., Any]
    constants: dict[str, Any]
    links: tuple[tuple[str, int, int], ...]
    outputs: int


def node_outputs(call: NodeCall, result: Any) -> tuple[Any, ...]:
    """A node's outputs as a tuple: output nodes may return ``{"ui": ..., "result": ...}``."""
    if isinstance(result, dict):
        result = result.get("result", ())
    if result is None:
        result = ()
    if not isinstance(result, tuple | list) or len(result) < call.outputs:
        raise NodeExecutionError(
            call.node_id,
            call.class_type,
            f"returned {result!r}, expected a tuple of {call.outputs} outputs (RETURN_TYPES)",
        )
    return tuple(result)


def node_failure(call: NodeCall, exc: Exception) -> NodeExecutionError:
    """The error that names the node which raised ``exc``."""
    return NodeExecutionError(call.node_id, call.class_type, f"{type(exc).__name__}: {exc}")


class FrameProgram:
    """The frame nodes of a plan as one compiled function: ``run(image, values) -> IMAGE``.

    ``values`` holds the cached outputs of constant nodes by plan index; ``result`` is the
    ``(index, slot)`` that ``SaveTensor`` reads.
    """

    def __init__(
        self, calls: Sequence[NodeCall], load_index: int | None, result: tuple[int, int]
    ) -> None:
        self._calls = tuple(calls)
        self._load_index = load_index
        self._result = result
        self._constant_globals: dict[tuple[int, str], str] = {}
        self._globals: dict[str, Any] = {}
        self.run: Callable[[Any, list[Any]], Any] = self._build()

    def set_constant(self, node_id: str, name: str, value: Any) -> None:
        """Change a constant input of a frame node (its ``NodeCall`` already updated)."""
        position = next(i for i, call in enumerate(self._calls) if call.node_id == node_id)
        global_name = self._constant_globals.get((position, name))
        if global_name is None:  # an optional input set for the first time: new signature
            self.run = self._build()
        else:
            self._globals[global_name] = value

    def _source_of(self, index: int, slot: int, produced: set[int]) -> str:
        if index == self._load_index:
            return "image"
        if index in produced:
            return f"o{index}[{slot}]"
        return f"values[{index}][{slot}]"

    def _build(self) -> Callable[[Any, list[Any]], Any]:
        namespace: dict[str, Any] = {
            "fix": lambda at, result: node_outputs(self._calls[at], result),
            "fail": lambda at, exc: node_failure(self._calls[at], exc),
            "NodeExecutionError": NodeExecutionError,
        }
        self._constant_globals = {}
        # Free each output right after its last reader, as a plain loop would, so that
        # intermediate tensors do not all stay alive until the frame ends.
        last_reader = {call.index: position for position, call in enumerate(self._calls)}
        for position, call in enumerate(self._calls):
            for _, producer, _ in call.links:
                if producer in last_reader:
                    last_reader[producer] = position
        last_reader.pop(self._result[0], None)
        lines = ["def run_frame(image, values):", "    at = 0", "    try:"]
        produced: set[int] = set()
        for position, call in enumerate(self._calls):
            namespace[f"fn_{position}"] = call.function
            arguments = [(name, self._source_of(p, s, produced)) for name, p, s in call.links]
            for number, (name, value) in enumerate(call.constants.items()):
                global_name = f"k_{position}_{number}"
                namespace[global_name] = value
                self._constant_globals[(position, name)] = global_name
                arguments.append((name, global_name))
            output = f"o{call.index}"
            lines += [
                f"        at = {position}",
                f"        {output} = fn_{position}({_call_arguments(arguments)})",
                f"        if type({output}) is not tuple or len({output}) != {call.outputs}:",
                f"            {output} = fix({position}, {output})",
            ]
            produced.add(call.index)
            done = [f"o{index}" for index, last in last_reader.items() if last == position]
            if done:
                lines.append(f"        del {', '.join(done)}")
        lines += [
            f"        return {self._source_of(*self._result, produced)}",
            "    except NodeExecutionError:",
            "        raise",
            "    except Exception as exc:",
            "        raise fail(at, exc) from exc",
        ]
        code = compile("\n".join(lines), "<rtcflow frame program>", "exec")
        exec(code, namespace)
        self._globals = namespace
        return namespace["run_frame"]


def _call_arguments(arguments: list[tuple[str, str]]) -> str:
    """Keyword arguments; names that are not identifiers go through a ``**{...}`` dict."""
    plain = [f"{name}={expr}" for name, expr in arguments if _is_keyword_name(name)]
    other = [f"{name!r}: {expr}" for name, expr in arguments if not _is_keyword_name(name)]
    if other:
        plain.append("**{" + ", ".join(other) + "}")
    return ", ".join(plain)


def _is_keyword_name(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)
