"""YAML documents as plain data, with the position of every key and value.

ruamel.yaml's composer gives the node tree of each document with its marks; this module
turns it into plain Python data (dicts, lists, scalars with YAML 1.2 types), records where
each value and key starts, reports duplicate keys (YAML 1.2, section 3.2.1.3: keys are
unique), and interpolates ``${...}`` in every string value (:mod:`rtcflow.spec.env`) so
that validation sees the final text. Merge keys (``<<: *anchor``) and aliases are expanded;
merged values keep the position of the anchored node.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from rtcflow.spec.env import Environment, InterpolationError
from rtcflow.spec.errors import LocPath, SpecProblem, format_field_path

_STR_TAG = "tag:yaml.org,2002:str"
_NULL_TAG = "tag:yaml.org,2002:null"
_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True, order=True)
class Position:
    """A 1-based line and column in a file."""

    line: int
    column: int

    @classmethod
    def of(cls, node: Node) -> Position:
        return cls(node.start_mark.line + 1, node.start_mark.column + 1)


@dataclass(frozen=True)
class Document:
    """One YAML document: its data and where each part of it is written."""

    data: Any = field(repr=False)
    start: Position
    values: Mapping[LocPath, Position] = field(repr=False)
    keys: Mapping[LocPath, Position] = field(repr=False)
    unresolved: frozenset[LocPath] = field(repr=False)
    """Paths of strings whose interpolation failed (already reported)."""

    def position(self, path: LocPath, *, key: bool = False) -> Position:
        """Where ``path`` is written: its key (``key=True``) or its value; for a path that
        is not in the document (a missing field), the nearest mapping or list holding it."""
        if key and path in self.keys:
            return self.keys[path]
        while path not in self.values:
            path = path[:-1]
        return self.values[path]


def parse_documents(
    text: str, file: Path, environment: Environment
) -> tuple[list[Document], list[SpecProblem]]:
    """Every non-empty document of ``text``, and the problems found in it.

    A YAML syntax error ends the stream: the documents before it are returned.
    """
    yaml = YAML(typ="safe", pure=True)  # pure: the Python composer keeps every node's marks
    constructor = yaml.constructor
    documents: list[Document] = []
    problems: list[SpecProblem] = []
    try:
        for root in yaml.compose_all(text):
            if root is None or (isinstance(root, ScalarNode) and root.tag == _NULL_TAG):
                continue
            builder = _Builder(file, environment, constructor)
            data = builder.build(root, ())
            problems.extend(builder.problems)
            documents.append(
                Document(
                    data,
                    Position.of(root),
                    builder.values,
                    builder.keys,
                    frozenset(builder.unresolved),
                )
            )
    except YAMLError as error:
        problems.append(_syntax_problem(file, error))
    return documents, problems


def _syntax_problem(file: Path, error: YAMLError) -> SpecProblem:
    if not isinstance(error, MarkedYAMLError):
        return SpecProblem(file, 0, 0, "", f"invalid YAML: {error}")
    mark = error.problem_mark or error.context_mark
    message = error.problem or error.context or "invalid YAML"
    if error.context and error.problem:
        context_mark = error.context_mark
        started = (
            f" started at line {context_mark.line + 1}, column {context_mark.column + 1}"
            if context_mark is not None and context_mark is not mark
            else ""
        )
        message = f"{message} ({error.context}{started})"
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
    return SpecProblem(file, line, column, "", f"invalid YAML: {message}")


class _Builder:
    """Builds the data of one document and records positions and problems on the way."""

    def __init__(self, file: Path, environment: Environment, constructor: Any) -> None:
        self.file = file
        self.environment = environment
        self.constructor = constructor
        self.values: dict[LocPath, Position] = {}
        self.keys: dict[LocPath, Position] = {}
        self.unresolved: set[LocPath] = set()
        self.problems: list[SpecProblem] = []
        self._open: set[int] = set()  # ids of the collections being built (alias cycles)

    def problem(self, node: Node, path: LocPath, message: str) -> None:
        where = Position.of(node)
        self.problems.append(
            SpecProblem(self.file, where.line, where.column, format_field_path(path), message)
        )

    def build(self, node: Node, path: LocPath) -> Any:
        self.values[path] = Position.of(node)
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        if id(node) in self._open:
            self.problem(node, path, "an alias refers to a node that contains it")
            return None
        self._open.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
            return self._mapping(node, path)
        finally:
            self._open.discard(id(node))

    def _scalar(self, node: ScalarNode, path: LocPath, *, interpolate: bool = True) -> Any:
        if node.tag != _STR_TAG:
            try:
                return self.constructor.construct_object(node, deep=True)
            except YAMLError as error:
                self.problem(node, path, f"invalid YAML value: {getattr(error, 'problem', error)}")
                return None
        if not interpolate or "$" not in node.value:
            return node.value
        try:
            return self.environment.interpolate(node.value)
        except InterpolationError as error:
            self.problem(node, path, str(error))
            self.unresolved.add(path)
            return node.value

    def _mapping(self, node: MappingNode, path: LocPath) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for key_node, value_node, merged in self._pairs(node, path):
            if not isinstance(key_node, ScalarNode):
                self.problem(key_node, path, "a mapping key must be a scalar")
                continue
            key = self._scalar(key_node, path, interpolate=False)
            if key in result:
                if not merged:
                    first = self.keys[(*path, key)]
                    self.problem(
                        key_node,
                        (*path, key),
                        f"duplicate key {key!r} (first at line {first.line}, "
                        f"column {first.column})",
                    )
                continue
            self.keys[(*path, key)] = Position.of(key_node)
            result[key] = self.build(value_node, (*path, key))
        return result

    def _pairs(self, node: MappingNode, path: LocPath) -> Iterator[tuple[Node, Node, bool]]:
        """Key/value nodes: the mapping's own first, then those of ``<<`` merged mappings
        (YAML merge key, https://yaml.org/type/merge.html), which never override."""
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges.extend(
                    value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                )
            else:
                yield key_node, value_node, False
        for merged in merges:
            if not isinstance(merged, MappingNode):
                self.problem(merged, path, "'<<' merges only mappings")
                continue
            for key_node, value_node, _ in self._pairs(merged, path):
                yield key_node, value_node, True
