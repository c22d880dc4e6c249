"""Rate-limited, coalesced updates for targets that are expensive to change.

A Daydream stream is changed by ``PATCH /v1/streams/{id}`` with the changed params (see the
Daydream notes: clients debounce bursts instead of patching per frame). During a ramp a
playhead changes values on every frame; :class:`UpdateThrottle` lets at most ``rate``
updates per second through for each step, each carrying the newest value of every target
of that step that changed since the last one, so the final value of a ramp always goes out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rtcflow.spec.timeline import Target
from rtcflow.timeline.values import set_path

_TOLERANCE = 1e-9  # frame times are sums of floats


@dataclass(frozen=True, slots=True)
class StepUpdate:
    """The coalesced changes of one step's targets: one update (one PATCH body)."""

    step: str
    values: dict[Target, Any]

    def params(self, base: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The changed top-level params, with every new value set into them.

        ``base`` is the step's current params; it is needed for paths into lists or objects
        (``controlnets[0].conditioning_scale`` sends the whole ``controlnets`` list).
        """
        merged: dict[str, Any] = dict(base or {})
        for target, value in self.values.items():
            merged = set_path(merged, target.path, value)
        changed = dict.fromkeys(target.path[0] for target in self.values)
        return {str(key): merged[key] for key in changed}


class UpdateThrottle:
    """Lets at most ``rate`` updates per second through for each step, coalescing the rest.

    Call :meth:`push` on every tick (also with no changes: held values go out once their
    step's interval has passed). The first change after a quiet interval goes out at once.
    Times are stream seconds, so the clock is whatever the caller passes.
    """

    def __init__(self, rate: float = 4.0) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.interval = 1.0 / rate
        self._pending: dict[str, dict[Target, Any]] = {}
        self._sent: dict[str, float] = {}

    def push(self, t: float, changed: Mapping[Target, Any]) -> list[StepUpdate]:
        """Take the values that changed at ``t``; return the updates due now."""
        for target, value in changed.items():
            self._pending.setdefault(target.step, {})[target] = value
        due = [
            step
            for step in self._pending
            if step not in self._sent or t - self._sent[step] >= self.interval - _TOLERANCE
        ]
        return self._send(t, due)

    def flush(self, t: float) -> list[StepUpdate]:
        """Every held update, now (when stopping or replacing the timeline)."""
        return self._send(t, list(self._pending))

    def next_due(self) -> float | None:
        """When the earliest held update may go out; ``None`` when nothing is held."""
        return min(
            (self._sent[step] + self.interval for step in self._pending if step in self._sent),
            default=None,
        )

    def _send(self, t: float, steps: list[str]) -> list[StepUpdate]:
        for step in steps:
            self._sent[step] = t
        return [StepUpdate(step, self._pending.pop(step)) for step in steps]
