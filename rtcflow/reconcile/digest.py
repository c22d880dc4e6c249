"""Content digests of a flow's components: a spec's text *and* the files it references.

A component is "changed" when its digest changes, so editing a workflow JSON file or a
custom-node folder changes its step exactly as editing the spec would.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

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


def _secret_values(value: Any) -> Iterator[str]:
    """Every ``SecretStr`` value inside ``value``, in field order."""
    if isinstance(value, SecretStr):
        yield value.get_secret_value()
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _secret_values(getattr(value, name))
    elif isinstance(value, dict):
        for item in value.values():
            yield from _secret_values(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _secret_values(item)


def component_digest(model: BaseModel) -> str:
    """SHA-256 (hex, 16 chars) of the model's JSON, its secrets and the files it reads.

    A ``SecretStr`` dumps as ``**********``, so each secret's own hash is added: a changed
    token is a changed component.
    """
    digest = hashlib.sha256(model.model_dump_json().encode())
    for secret in _secret_values(model):
        digest.update(hashlib.sha256(secret.encode()).digest())
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
    timeline: str = ""  # applied in place, keeping the timeline's origin
    timeline_restart: str = ""  # the restart token: a change restarts the timeline

    @property
    def flow(self) -> str:
        """One digest for the whole flow (shown in status)."""
        return hashlib.sha256(repr(self).encode()).hexdigest()[:16]


def flow_digests(flow: Flow) -> FlowDigests:
    body = flow.spec
    settings = body.model_dump(
        mode="json", exclude={"video", "source", "steps", "sinks", "timeline"}
    )
    timeline = body.timeline.model_dump_json(exclude={"restart"})
    return FlowDigests(
        video=component_digest(body.video),
        source=component_digest(body.source),
        steps=tuple((s.name, component_digest(s)) for s in body.steps),
        sinks=tuple((s.name, component_digest(s)) for s in body.sinks),
        settings=hashlib.sha256(repr(sorted(settings.items())).encode()).hexdigest()[:16],
        timeline=hashlib.sha256(timeline.encode()).hexdigest()[:16],
        timeline_restart=repr(body.timeline.restart),
    )
