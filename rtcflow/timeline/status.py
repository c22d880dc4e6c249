"""What a running timeline reports: its position, every target's value, the next cue."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class CueStatus(BaseModel):
    """One change of the next cue: at ``at`` the target starts moving to ``value``."""

    model_config = ConfigDict(frozen=True)

    at: float = Field(description="Stream offset in seconds.")
    target: str
    value: Any
    ramp: float = Field(description="Seconds the move takes; 0 for an instant change.")
    source: str = Field(description="Where it is declared: cues[2], tracks[0].")


class TimelineStatus(BaseModel):
    """A timeline at one stream time."""

    model_config = ConfigDict(frozen=True)

    position: float = Field(description="Stream offset in seconds.")
    iteration: int | None = Field(None, description="Repetition of a looping timeline, from 0.")
    loop_position: float | None = Field(None, description="Offset inside the repetition.")
    values: dict[str, Any] = Field(description="Every target's current value.")
    next_cue: list[CueStatus] = Field(description="The changes at the next cue instant.")
