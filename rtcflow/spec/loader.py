"""Loading spec files: discovery, YAML, interpolation, validation, cross-file checks.

``load_specs`` is what the reconciler and ``rtcflow validate`` call. It never raises for
bad content: every problem of a file is collected (YAML syntax, duplicate keys, unset
variables, every validation error of every document) and returned with the flows that
validated. A file with problems should change nothing that runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from pydantic import BaseModel

from rtcflow.spec.base import WRITTEN
from rtcflow.spec.document import Document, Position, parse_documents
from rtcflow.spec.env import DOTENV_NAME, Environment
from rtcflow.spec.errors import LocPath, SpecError, SpecProblem, format_field_path
from rtcflow.spec.models import Flow
from rtcflow.spec.validation import validate_document

SPEC_SUFFIXES = (".yaml", ".yml")

_NAME_PATH: LocPath = ("metadata", "name")


@dataclass(frozen=True)
class LoadedFlow:
    """A valid flow and where it was written."""

    flow: Flow
    file: Path
    line: int
    """Line where the document's content starts."""
    document: Document = field(repr=False, compare=False)

    def position(self, path: LocPath) -> Position:
        """Where the field at ``path`` (e.g. ``("spec", "sinks", 1)``) is written."""
        return self.document.position(path)

    def problem(self, path: LocPath, message: str) -> SpecProblem:
        """A problem located at ``path`` of this flow (e.g. a sink that fails to start)."""
        where = self.position(path)
        return SpecProblem(self.file, where.line, where.column, format_field_path(path), message)

    @property
    def watched_paths(self) -> set[Path]:
        """The spec file, the ``.env`` beside it (present or not) and every input the flow
        references: what to watch to know when this flow may have changed."""
        return {self.file, self.file.parent / DOTENV_NAME} | referenced_paths(self.flow)


@dataclass(frozen=True)
class LoadedFile:
    """One spec file: its valid flows and all its problems (sorted by position)."""

    path: Path
    flows: list[LoadedFlow]
    problems: list[SpecProblem]
    env_file: Path | None = None
    """The ``.env`` file whose variables were used, if there was one."""


def discover_spec_files(paths: Sequence[Path]) -> list[Path]:
    """Spec files named by ``paths``: files as given, and the ``*.yaml``/``*.yml`` files
    directly inside folders (not recursive; hidden files skipped), sorted by name.

    Raises :class:`SpecError` naming every path that does not exist.
    """
    files, problems = _discover(paths)
    if problems:
        raise SpecError(problems)
    return files


def load_file(path: Path, environ: Mapping[str, str] | None = None) -> LoadedFile:
    """Load every ``Flow`` document of ``path``; never raises for bad content.

    ``environ`` replaces ``os.environ`` for ``${...}`` (the ``.env`` beside ``path`` is
    still read). Relative paths in the spec resolve against ``path``'s folder.
    """
    try:
        environment = Environment.for_spec(path, environ)
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return LoadedFile(path, [], [SpecProblem(path, 0, 0, "", f"cannot read: {error}")])
    documents, problems = parse_documents(text, path, environment)
    context = {"base_dir": path.absolute().parent}
    flows: list[LoadedFlow] = []
    for document in documents:
        if not isinstance(document.data, dict):
            problems.append(
                SpecProblem(
                    path,
                    document.start.line,
                    document.start.column,
                    "",
                    f"a document must be a mapping (a Flow), not {_yaml_kind(document.data)}",
                )
            )
            continue
        flow, flow_problems = validate_document(Flow, document, path, context)
        problems.extend(flow_problems)
        if flow is not None:
            flows.append(LoadedFlow(flow, path, document.start.line, document))
    return LoadedFile(path, flows, _sorted(problems), environment.dotenv_file)


def load_specs(paths: Sequence[Path], environ: Mapping[str, str] | None = None) -> list[LoadedFile]:
    """Load every spec file under ``paths`` and check that flow names are unique.

    A path that does not exist becomes a file with that problem. A flow whose
    ``metadata.name`` is already used (in any file loaded before it, or earlier in its own
    file) is dropped from its file and reported there, naming the first one's location.
    """
    files, missing = _discover(paths)
    loaded = [LoadedFile(problem.file, [], [problem]) for problem in missing]
    loaded += [load_file(file, environ) for file in files]
    return _drop_duplicate_names(loaded)


def referenced_paths(model: BaseModel) -> set[Path]:
    """Every file or folder the model reads: each ``Path`` in its fields, nested models,
    lists and dicts; fields marked as outputs (``OutputPath``) are left out."""
    found: set[Path] = set()
    for name, info in type(model).model_fields.items():
        if WRITTEN not in info.metadata:
            found |= _paths_in(getattr(model, name))
    return found


def validate_paths(paths: Sequence[Path], out: TextIO) -> int:
    """``rtcflow validate``: print every problem, or one line per valid flow.

    Returns 0 when every file is valid and at least one flow was found, else 1.
    """
    loaded = load_specs(paths)
    problems = [problem for file in loaded for problem in file.problems]
    for problem in problems:
        print(problem, file=out)
    flows = [flow for file in loaded for flow in file.flows]
    if not problems and not flows:
        print(f"no Flow documents in {', '.join(map(str, paths))}", file=out)
    if problems or not flows:
        return 1
    for flow in flows:
        print(f"{flow.file}:{flow.line}: flow {flow.flow.name!r} is valid", file=out)
    return 0


def _discover(paths: Sequence[Path]) -> tuple[list[Path], list[SpecProblem]]:
    files: dict[Path, Path] = {}  # resolved -> as given, first occurrence wins
    problems: list[SpecProblem] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(
                child
                for child in path.iterdir()
                if child.suffix.lower() in SPEC_SUFFIXES
                and not child.name.startswith(".")
                and child.is_file()
            )
        elif path.exists():
            found = [path]
        else:
            problems.append(SpecProblem(path, 0, 0, "", "no such file or folder"))
            continue
        for file in found:
            files.setdefault(file.resolve(), file)
    return list(files.values()), problems


def _drop_duplicate_names(loaded: list[LoadedFile]) -> list[LoadedFile]:
    first: dict[str, LoadedFlow] = {}
    result = []
    for file in loaded:
        kept, problems = [], list(file.problems)
        for flow in file.flows:
            earlier = first.setdefault(flow.flow.name, flow)
            if earlier is flow:
                kept.append(flow)
                continue
            where = earlier.position(_NAME_PATH)
            problems.append(
                flow.problem(
                    _NAME_PATH,
                    f"duplicate flow name {flow.flow.name!r}; first defined at "
                    f"{earlier.file}:{where.line}:{where.column}",
                )
            )
        result.append(replace(file, flows=kept, problems=_sorted(problems)))
    return result


def _paths_in(value: Any) -> set[Path]:
    if isinstance(value, Path):
        return {value}
    if isinstance(value, BaseModel):
        return referenced_paths(value)
    if isinstance(value, list | tuple | set | frozenset):
        return set().union(*map(_paths_in, value))
    if isinstance(value, dict):
        return set().union(*map(_paths_in, value.values()))
    return set()


def _sorted(problems: list[SpecProblem]) -> list[SpecProblem]:
    return sorted(problems, key=lambda problem: (problem.line, problem.column))


def _yaml_kind(data: Any) -> str:
    if isinstance(data, list):
        return "a sequence"
    return f"a scalar ({type(data).__name__})"
