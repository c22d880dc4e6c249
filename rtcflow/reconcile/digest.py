"""Content digests of a flow's components: a spec's text *and* the files it references.

A component is "changed" when its digest changes, so editing a workflow JSON file or a
custom-node folder changes its step exactly as editing the spec would.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from rtcflow.spec.loader import referenced_paths
from rtcflow.spec.models import Flow

_SKIP_DIRS = {"__pycache__", ".git", "node_modules"}


def _hash_path(digest: hashlib._Hash, path: Path) -> None:
    digest.update(str(path).encode())
    if path.is_file():
        digest.update(path.read_bytes())
    elif path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file() and not _SKIP_DIRS.intersection(child.parts):
                digest.update(str(child.relative_to(path)).encode())
                digest.update(child.read_bytes())


def component_digest(model: BaseModel) -> str:
    """SHA-256 (hex, 16 chars) of the model's JSON and the files it reads."""
    digest = hashlib.sha256(model.model_dump_json().encode())
    for path in sorted(referenced_paths(model)):
        _hash_path(digest, path)
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class FlowDigests:
    """Per-component digests of one flow; what the diff compares."""

    video: str
    source: str
    steps: tuple[tuple[str, str], ...]  # (name, digest) in chain order
    sinks: tuple[tuple[str, str], ...]
    settings: str  # flow-level fields that need a restart (warm-up, ...)

    @property
    def flow(self) -> str:
        """One digest for the whole flow (shown in status)."""
        return hashlib.sha256(repr(self).encode()).hexdigest()[:16]


def flow_digests(flow: Flow) -> FlowDigests:
    body = flow.spec
    settings = body.model_dump(mode="json", exclude={"video", "source", "steps", "sinks"})
    return FlowDigests(
        video=component_digest(body.video),
        source=component_digest(body.source),
        steps=tuple((s.name, component_digest(s)) for s in body.steps),
        sinks=tuple((s.name, component_digest(s)) for s in body.sinks),
        settings=hashlib.sha256(repr(sorted(settings.items())).encode()).hexdigest()[:16],
    )
