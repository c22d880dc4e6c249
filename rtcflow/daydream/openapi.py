"""The Daydream API contract: the vendored OpenAPI document and validators built from it.

``openapi.yaml`` (beside this file) is the document behind Daydream's official TypeScript
SDK (``daydreamlive/daydream-typescript``, ``.speakeasy/out.openapi.yaml``), OpenAPI 3.1,
whose schemas are JSON Schema 2020-12. Three things need care to validate with it:

- ``$ref``s point into the document (``#/components/schemas/SDTurbo``): every validator
  starts from a reference into one registered resource, so they resolve as written.
- ``nullable: true`` is OpenAPI 3.0 vocabulary that 2020-12 ignores; it is rewritten to
  the 3.1 form, ``type: [<type>, "null"]``.
- ``oneOf`` with a ``discriminator`` (the ``params`` of each operation) is validated
  against the one schema ``model_id`` maps to, as OpenAPI specifies, which also turns
  "not valid under any of the given schemas" into errors that name the field.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from jsonschema import Draft202012Validator, ValidationError, validators
from jsonschema.protocols import Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from ruamel.yaml import YAML

_DOCUMENT_URI = "urn:rtcflow:daydream:openapi"
_DRAFT_KEYWORDS = Draft202012Validator.VALIDATORS


@dataclass(frozen=True, slots=True)
class SchemaViolation:
    """One way a JSON value breaks its schema; ``path`` is like ``params.controlnets[0]``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '(body)'}: {self.message}"


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The vendored OpenAPI document, ``nullable`` rewritten (see the module notes).

    Shared and cached: treat it as read-only.
    """
    text = files("rtcflow.daydream").joinpath("openapi.yaml").read_text(encoding="utf-8")
    document = YAML(typ="safe").load(text)
    _rewrite_nullable(document)
    return document


def request_violations(path: str, method: str, body: Any) -> list[SchemaViolation]:
    """How ``body`` breaks the JSON request schema of ``method`` on ``path`` (a template)."""
    pointer = f"/paths/{_escape(path)}/{method.lower()}/requestBody/content/application~1json"
    return _violations(f"{pointer}/schema", body)


def response_violations(path: str, method: str, status: int, body: Any) -> list[SchemaViolation]:
    """How ``body`` breaks the JSON schema of a ``status`` answer to ``method`` on ``path``."""
    pointer = f"/paths/{_escape(path)}/{method.lower()}/responses/{status}/content"
    return _violations(f"{pointer}/application~1json/schema", body)


def _violations(pointer: str, instance: Any) -> list[SchemaViolation]:
    errors = sorted(_validator(pointer).iter_errors(instance), key=lambda e: list(e.path))
    return [SchemaViolation(json_path(error.absolute_path), error.message) for error in errors]


@functools.cache
def _registry() -> Registry:
    resource = DRAFT202012.create_resource(openapi_document())
    return Registry().with_resource(_DOCUMENT_URI, resource)


@functools.cache
def _validator(pointer: str) -> Validator:
    if _lookup(openapi_document(), pointer) is None:
        raise KeyError(f"the Daydream OpenAPI document has nothing at {pointer}")
    return _OpenAPIValidator({"$ref": f"{_DOCUMENT_URI}#{pointer}"}, registry=_registry())


def _discriminated_one_of(
    validator: Validator, one_of: list[Any], instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    discriminator = schema.get("discriminator")
    if discriminator is None or not validator.is_type(instance, "object"):
        yield from _DRAFT_KEYWORDS["oneOf"](validator, one_of, instance, schema)
        return
    name = discriminator["propertyName"]
    mapping: dict[str, str] = discriminator.get("mapping", {})
    value = instance.get(name)
    if value not in mapping:
        choices = ", ".join(repr(choice) for choice in mapping)
        yield ValidationError(f"{value!r} is not one of {choices}", path=(name,))
        return
    yield from validator.descend(instance, {"$ref": mapping[value]})


def _single_any_of(
    validator: Validator, any_of: list[Any], instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if len(any_of) == 1:  # equivalent to the one subschema, whose errors say more
        yield from validator.descend(instance, any_of[0], schema_path=0)
        return
    yield from _DRAFT_KEYWORDS["anyOf"](validator, any_of, instance, schema)


_OpenAPIValidator = validators.extend(
    Draft202012Validator, {"oneOf": _discriminated_one_of, "anyOf": _single_any_of}
)


def _rewrite_nullable(node: Any) -> None:
    if isinstance(node, dict):
        if node.pop("nullable", False) is True and isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
        for child in node.values():
            _rewrite_nullable(child)
    elif isinstance(node, list):
        for child in node:
            _rewrite_nullable(child)


def _escape(path: str) -> str:
    """A JSON Pointer token (RFC 6901 section 3)."""
    return path.replace("~", "~0").replace("/", "~1")


def _lookup(document: Any, pointer: str) -> Any:
    node = document
    for token in pointer.strip("/").split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or token not in node:
            return None
        node = node[token]
    return node


def json_path(parts: Iterable[str | int]) -> str:
    """``["params", "controlnets", 0, "model_id"]`` as ``params.controlnets[0].model_id``."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text
