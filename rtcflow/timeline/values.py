"""Values a timeline produces: interpolation, prompt crossfades, reproducible random draws.

A prompt crossfade is Daydream's weighted prompt list ``[[old, 1-w], [new, w]]`` (the
``prompt`` param of pipeline ``streamdiffusion``, blended by ``prompt_interpolation_method``);
crossfading from a list that is itself mid-fade scales and merges its entries.
"""

from __future__ import annotations

import enum
import hashlib
import math
from collections.abc import Mapping
from typing import Any

from rtcflow.spec.timeline import RandomValue, Target
from rtcflow.timeline.errors import TimelineError


class Unset(enum.Enum):
    """The value of a target whose value is not known (no initial value, not yet set)."""

    UNSET = "unset"


UNSET = Unset.UNSET
WeightedPrompts = list[list[Any]]  # [[prompt: str, weight: float], ...]


def draw(seed: int, cue: int, occurrence: int, target: Target, value: RandomValue) -> int | float:
    """The value ``random``/``random(a, b)`` takes at one cue occurrence.

    A pure function of (timeline seed, cue index, occurrence, target): never of wall time or
    of the order in which values are asked for.
    """
    key = f"{seed}:{cue}:{occurrence}:{target}".encode()
    unit = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest()) / 2.0**64
    if value.integer:
        return int(value.low) + math.floor(unit * (int(value.high) - int(value.low) + 1))
    return value.low + unit * (value.high - value.low)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_prompt(value: Any) -> bool:
    """A prompt: a string, or a weighted list ``[[str, number], ...]``."""
    return isinstance(value, str) or (
        isinstance(value, list)
        and bool(value)
        and all(
            isinstance(item, list | tuple)
            and len(item) == 2
            and isinstance(item[0], str)
            and _is_number(item[1])
            for item in value
        )
    )


def interpolable(start: Any, end: Any) -> bool:
    """Whether a ramp from ``start`` to ``end`` moves gradually (else the value jumps)."""
    return (_is_number(start) and _is_number(end)) or (is_prompt(start) and is_prompt(end))


def _weighted(prompt: str | WeightedPrompts) -> WeightedPrompts:
    return [[prompt, 1.0]] if isinstance(prompt, str) else [list(item) for item in prompt]


def crossfade(start: str | WeightedPrompts, end: str | WeightedPrompts, w: float) -> Any:
    """``start`` faded out and ``end`` faded in by weight ``w`` in [0, 1]."""
    merged: dict[str, float] = {}
    for prompts, scale in ((_weighted(start), 1.0 - w), (_weighted(end), w)):
        for text, weight in prompts:
            merged[text] = merged.get(text, 0.0) + weight * scale
    return [[text, weight] for text, weight in merged.items() if weight > 0.0]


def blend(start: Any, end: Any, w: float) -> Any:
    """The value ``w`` of the way from ``start`` to ``end``.

    Numbers interpolate (two integers give an integer) and prompts crossfade; anything
    else holds ``start`` until ``w`` reaches 1, as with ``easing: step``. From an unknown
    start the value is ``end`` at once.
    """
    if start is UNSET or w >= 1.0:
        return end
    if w <= 0.0 or not interpolable(start, end):
        return start
    if is_prompt(start):
        return crossfade(start, end, w)
    value = start + (end - start) * w
    return round(value) if isinstance(start, int) and isinstance(end, int) else value


def set_path(container: Any, path: tuple[str | int, ...], value: Any) -> Any:
    """A copy of ``container`` with ``value`` at ``path`` (copies only along the path).

    Missing keys are created as objects; list indices must exist.
    """
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(head, int):
        if not isinstance(container, list) or not -len(container) <= head < len(container):
            raise TimelineError(f"[{head}]: no such list item in {container!r}")
        copy: Any = list(container)
    else:
        if container is not None and not isinstance(container, Mapping):
            raise TimelineError(f".{head}: {container!r} is not an object")
        copy = dict(container or {})
    copy[head] = set_path(copy[head] if isinstance(head, int) else copy.get(head), rest, value)
    return copy
