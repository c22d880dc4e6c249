"""Validating a YAML document against a model, with pydantic's errors as located problems.

pydantic's error ``loc`` mixes field names with union tags (``("spec", "source", "file",
"path")``: ``file`` is the discriminator value, not a key). The tags are stripped by
walking the model's core schema beside the ``loc``: a tagged union consumes its tag, a
smart union its member label, a model a field name, a list an index, a dict a key. What is
left is the path of keys and indexes into the document, which gives the line and column.

Messages are built from ``errors(include_input=False)``, never from ``str(error)``, so a
secret input value (a token) is never part of a message.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from rtcflow.spec.document import Document
from rtcflow.spec.errors import SPEC_ERROR_TYPE, LocPath, SpecProblem, format_field_path

ModelT = TypeVar("ModelT", bound=BaseModel)

_SEQUENCES = frozenset({"list", "set", "frozenset", "tuple", "generator"})
_CONTAINERS = _SEQUENCES | {"model-fields", "tagged-union", "union", "dict"}
_DICT_KEY = "[key]"  # pydantic's loc item after a dict key whose key itself is invalid

_MESSAGES = {
    "missing": "missing required field",
    "path_type": "expected a path (a string)",
}


def validate_document(
    model: type[ModelT],
    document: Document,
    file: Path,
    context: Mapping[str, Any] | None = None,
) -> tuple[ModelT | None, list[SpecProblem]]:
    """The validated model, or ``None`` and the problems of ``document``."""
    try:
        return model.model_validate(document.data, context=context), []
    except ValidationError as error:
        return None, problems_from_validation_error(error, model, document, file)


def problems_from_validation_error(
    error: ValidationError, model: type[BaseModel], document: Document, file: Path
) -> list[SpecProblem]:
    """One located problem per error of ``error``, in file order (duplicates removed)."""
    walker = _schema_walker(model)
    problems: dict[SpecProblem, None] = {}
    for detail in error.errors(include_input=False, include_url=False):
        path, at_key, fields = walker.document_path(detail["loc"])
        if detail["type"] == SPEC_ERROR_TYPE:
            path = (*path, *detail["ctx"]["at"])
        if path in document.unresolved:
            continue  # reported where the ${...} failed
        at_key = at_key or detail["type"] == "extra_forbidden"
        where = document.position(path, key=at_key)
        message = _message(detail, fields)
        problem = SpecProblem(file, where.line, where.column, format_field_path(path), message)
        problems[problem] = None
    return sorted(problems, key=lambda problem: (problem.line, problem.column))


def _message(detail: ErrorDetails, fields: Sequence[str]) -> str:
    kind = detail["type"]
    ctx = detail.get("ctx") or {}
    if kind == "extra_forbidden":
        name = str(detail["loc"][-1])
        close = difflib.get_close_matches(name, fields, n=1)
        if close:
            return f"unknown field; did you mean {close[0]!r}?"
        return f"unknown field; expected one of: {', '.join(fields)}"
    if kind in ("value_error", "assertion_error"):
        return str(ctx["error"])
    if kind == "literal_error":
        return f"expected {ctx['expected']}"
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    message = detail["msg"]
    return message[:1].lower() + message[1:] if message[1:2].islower() else message


@cache
def _schema_walker(model: type[BaseModel]) -> _SchemaWalker:
    return _SchemaWalker(model.__pydantic_core_schema__)


class _SchemaWalker:
    """Maps pydantic ``loc`` tuples of one model to paths into the validated data."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.root = schema
        self.definitions: dict[str, Mapping[str, Any]] = {}
        self._collect_definitions(schema)

    def _collect_definitions(self, node: Any) -> None:
        if isinstance(node, Mapping):
            if isinstance(node.get("ref"), str) and "type" in node:
                self.definitions[node["ref"]] = node
            for value in node.values():
                self._collect_definitions(value)
        elif isinstance(node, list | tuple):
            for value in node:
                self._collect_definitions(value)

    def document_path(self, loc: Sequence[str | int]) -> tuple[LocPath, bool, tuple[str, ...]]:
        """``(path, at_key, fields)``: the path without tags, whether the error is about a
        mapping key rather than its value, and the fields of the model last entered."""
        path: list[str | int] = []
        fields: tuple[str, ...] = ()
        at_key = False
        schema: Mapping[str, Any] | None = self.root
        index = 0
        while index < len(loc):
            item = loc[index]
            schema = self._container(schema)
            kind = schema["type"] if schema is not None else None
            if kind == "model-fields":
                by_name = {_field_name(name, f): f for name, f in schema["fields"].items()}
                fields = tuple(by_name)
                path.append(item)
                field = by_name.get(item) if isinstance(item, str) else None
                schema = field["schema"] if field is not None else None
            elif kind == "tagged-union":
                schema = schema["choices"].get(item)
            elif kind == "union":
                schema = self._union_choice(schema["choices"], item)
            elif kind in _SEQUENCES:
                path.append(item)
                schema = _item_schema(schema, item)
            elif kind == "dict":
                path.append(item)
                schema = schema.get("values_schema")
                if index + 1 < len(loc) and loc[index + 1] == _DICT_KEY:
                    at_key = True
                    index += 1
            else:  # a schema this walk does not know: keep the rest as it is
                path.extend(loc[index:])
                break
            index += 1
        return tuple(path), at_key, fields

    def _container(self, schema: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        """Follow wrappers (models, defaults, validators, refs) to the next container."""
        while schema is not None and schema["type"] not in _CONTAINERS:
            kind = schema["type"]
            if kind == "definition-ref":
                schema = self.definitions.get(schema["schema_ref"])
            elif kind == "lax-or-strict":
                schema = schema["lax_schema"]
            elif kind == "json-or-python":
                schema = schema["python_schema"]
            else:
                schema = schema.get("schema")
        return schema

    def _union_choice(self, choices: Sequence[Any], label: str | int) -> Mapping[str, Any] | None:
        """The member of a smart union that pydantic labels ``label`` in a ``loc``."""
        for choice in choices:
            schema, name = choice if isinstance(choice, tuple) else (choice, None)
            if name is None:
                target = schema
                if target["type"] == "definition-ref":
                    target = self.definitions.get(target["schema_ref"], target)
                name = target["cls"].__name__ if target["type"] == "model" else target["type"]
            if name == label:
                return schema
        return None


def _field_name(name: str, field: Mapping[str, Any]) -> str:
    alias = field.get("validation_alias")
    return alias if isinstance(alias, str) else name


def _item_schema(schema: Mapping[str, Any], index: str | int) -> Mapping[str, Any] | None:
    items = schema.get("items_schema")
    if isinstance(items, list):  # tuple[...]: one schema per position
        if not items or not isinstance(index, int):
            return None
        return items[min(index, len(items) - 1)]
    return items
