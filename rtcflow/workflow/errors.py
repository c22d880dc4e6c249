"""The workflow engine's exception hierarchy.

Everything the engine raises derives from :class:`WorkflowError`, so a caller can catch one
type. Validation collects every problem of a workflow before raising, the way ComfyUI's
``validate_prompt`` answers with ``node_errors`` for all nodes at once.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class WorkflowProblem(BaseModel):
    """One thing wrong with a workflow, located by node id, class and input."""

    model_config = ConfigDict(frozen=True)

    node_id: str | None
    class_type: str | None
    input: str | None
    message: str

    def __str__(self) -> str:
        where = []
        if self.node_id is not None:
            where.append(f"node {self.node_id}")
        if self.class_type is not None:
            where.append(f"({self.class_type})")
        if self.input is not None:
            where.append(f"input {self.input!r}")
        return f"{' '.join(where)}: {self.message}" if where else self.message


class WorkflowError(Exception):
    """Base class of every error the workflow engine raises."""


class WorkflowFormatError(WorkflowError):
    """The workflow is not readable JSON, or not a convertible ComfyUI workflow."""


class WorkflowValidationError(WorkflowError):
    """The workflow does not validate; ``problems`` lists everything found, not just the first."""

    def __init__(
        self,
        problems: list[WorkflowProblem],
        source: str | None = None,
        *,
        headline: str | None = None,
    ) -> None:
        self.problems = problems
        self.source = source
        if headline is None:
            origin = f"workflow {source}" if source else "workflow"
            count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
            headline = f"{origin} is invalid ({count})"
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{headline}:\n{lines}")


class NodeExecutionError(WorkflowError):
    """A node raised while the workflow ran; names the node and keeps the cause chained."""

    def __init__(self, node_id: str, class_type: str, message: str) -> None:
        self.node_id = node_id
        self.class_type = class_type
        super().__init__(f"node {node_id} ({class_type}): {message}")
