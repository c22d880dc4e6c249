"""Building blocks of every spec model: the base class, path types, the type-tag union
marker. A leaf module, so packages that define spec models of their own (daydream,
timeline) import it without importing the Flow models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, ValidationInfo
from pydantic_core import CoreSchema, core_schema

from rtcflow.spec.errors import spec_error

NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"


class SpecModel(BaseModel):
    """Base of every spec model: unknown fields are errors, models are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def resolve_path(value: Path, info: ValidationInfo) -> Path:
    """Resolve ``value`` against the spec file's folder (``base_dir`` in the context)."""
    base = (info.context or {}).get("base_dir")
    if base is not None and not value.is_absolute():
        return (Path(base) / value).resolve()
    return value


class _Written:
    """``Annotated`` marker of a path field the flow writes (an output), not reads."""

    def __repr__(self) -> str:
        return "WRITTEN"


WRITTEN = _Written()

SpecPath = Annotated[Path, Field(description="Path, relative to the spec file's folder.")]
OutputPath = Annotated[
    Path, Field(description="Path the flow writes, relative to the spec file's folder."), WRITTEN
]


@dataclass(frozen=True)
class TypeTag:
    """``Annotated`` marker for a union of spec models told apart by their ``type`` field.

    Use it beside ``Field(discriminator="type")``. A missing or unknown ``type`` becomes one
    error that names the allowed types ("unknown source type 'webcm'; expected one of:
    file, testsrc, webcam") instead of pydantic's generic tag error.
    """

    kind: str

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        members = get_args(source) if get_origin(source) in (Union, UnionType) else (source,)
        tags = [
            tag for member in members for tag in get_args(member.model_fields["type"].annotation)
        ]
        return core_schema.no_info_before_validator_function(
            partial(_check_type_tag, self.kind, tags), handler(source)
        )


def _check_type_tag(kind: str, tags: Sequence[str], value: Any) -> Any:
    if isinstance(value, Mapping):
        expected = ", ".join(tags)
        if "type" not in value:
            raise spec_error(f"missing {kind} type; expected one of: {expected}", at=("type",))
        if value["type"] not in tags:
            raise spec_error(
                f"unknown {kind} type {value['type']!r}; expected one of: {expected}",
                at=("type",),
            )
    return value
