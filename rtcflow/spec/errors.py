"""Spec problems: what is wrong, and where in which file.

Every problem prints as ``file:line:col: field.path: message`` (lines and columns are
1-based), the format compilers use, so editors and terminals can jump to it. Messages never
contain the input value of a field: a secret (a token) must not reach logs or terminals.

Validators in the models that want to point below the field they validate raise
:func:`spec_error` with ``at`` (a path relative to that field), or several at once with
:func:`spec_errors`; the error formatter appends ``at`` to the field path.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticCustomError

#: Error type of :func:`spec_error`; its ``ctx`` holds ``message`` and ``at``.
SPEC_ERROR_TYPE = "spec"

LocPath = tuple[str | int, ...]


@dataclass(frozen=True, order=True)
class SpecProblem:
    """One problem in a spec file. ``line``/``column`` are 1-based; 0 means "no position"."""

    file: Path
    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else str(self.file)
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class SpecError(Exception):
    """One or more spec problems; ``str()`` lists them all, one per line."""

    def __init__(self, problems: Iterable[SpecProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


def format_field_path(path: Sequence[Any]) -> str:
    """``("spec", "sinks", 1, "path")`` -> ``spec.sinks[1].path``; odd keys are quoted."""
    text = ""
    for item in path:
        if isinstance(item, int) and not isinstance(item, bool):
            text += f"[{item}]"
        elif isinstance(item, str) and item.isidentifier():
            text += f".{item}" if text else item
        else:
            text += f"[{item!r}]"
    return text


def spec_error(message: str, *, at: LocPath = ()) -> PydanticCustomError:
    """A validation error for a model validator, located ``at`` below the validated field.

    ``message`` is used verbatim (no ``{}`` formatting) and must not contain secret values.
    """
    return PydanticCustomError(SPEC_ERROR_TYPE, "{message}", {"message": message, "at": at})


def spec_errors(title: str, errors: Sequence[PydanticCustomError]) -> ValidationError:
    """Several :func:`spec_error` errors raised together from one validator."""
    return ValidationError.from_exception_data(
        title, [{"type": error, "loc": (), "input": None} for error in errors]
    )
