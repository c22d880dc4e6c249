"""What `rtcflow` reports about each flow: conditions, digests, counters and events."""

from __future__ import annotations

import subprocess
import time
from collections import deque
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field


class Event(BaseModel):
    """One thing that happened to a flow (started, sink restarted, spec rejected...)."""

    time: float = Field(default_factory=time.time)
    flow: str
    reason: str
    message: str


class EventLog:
    """The most recent events, oldest first, bounded."""

    def __init__(self, size: int = 200) -> None:
        self._events: deque[Event] = deque(maxlen=size)
        self.listeners: list[Any] = []

    def record(self, flow: str, reason: str, message: str) -> Event:
        event = Event(flow=flow, reason=reason, message=message)
        self._events.append(event)
        for listener in self.listeners:
            listener(event)
        return event

    def for_flow(self, flow: str, limit: int = 20) -> list[Event]:
        return [e for e in self._events if e.flow == flow][-limit:]

    def all(self) -> list[Event]:
        return list(self._events)


class Conditions(BaseModel):
    ready: bool = False
    reconciling: bool = False
    degraded: bool = False


class FlowStatus(BaseModel):
    """The status of one flow: desired vs running, conditions, counters and events."""

    name: str
    file: str | None = None
    revision: str | None = None
    phase: str
    conditions: Conditions
    desired_digest: str | None = None
    running_digest: str | None = None
    spec_problems: list[str] = []
    apply_error: str | None = None
    graph: dict[str, Any] = {}
    events: list[Event] = []


def git_revision(path: Path) -> str | None:
    """Short commit of the last change to ``path`` (``+dirty`` when edited since), if in git."""
    try:
        out = subprocess.run(
            ["git", "log", "-1", "--format=%h", "--", path.name],
            cwd=path.parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        if not out:
            return None
        dirty = subprocess.run(
            ["git", "diff", "--quiet", "HEAD", "--", path.name],
            cwd=path.parent,
            capture_output=True,
            timeout=5,
        ).returncode
        return out + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None
