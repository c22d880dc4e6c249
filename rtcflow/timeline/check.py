"""Checking a timeline's targets against the flow that runs it.

Whether ``dream.guidance_scale`` or ``fx.5.blur_radius`` exists, what it takes and whether
it can change live is known only to the steps (the workflow engine's input specs, the
Daydream hot/cold param classification). :func:`check_targets` asks a resolver callback
for each target and reports problems with their field path in the spec, so the spec
loader can point at file:line:col. Messages show strings only by kind: a value may be a
secret interpolated from the environment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from rtcflow.spec.errors import format_field_path
from rtcflow.spec.timeline import CueSpec, Easing, RandomValue, Target, TimelineSpec
from rtcflow.timeline.values import is_prompt

ParamType = Literal["int", "float", "string", "prompt", "boolean", "any"]
Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class ParamInfo:
    """What a target takes.

    ``prompt`` is a string or a weighted prompt list (a ramp crossfades it); ``string`` is
    a plain string (it cannot crossfade); ``any`` is not checked.
    """

    type: ParamType
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None


Resolver = Callable[[Target], "ParamInfo | str"]
"""Target → what it takes, or a message saying why it cannot be set (unknown, cold, …)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """A problem with a timeline at a field path (``loc``), as pydantic locates errors."""

    loc: Loc
    message: str

    @property
    def path(self) -> str:
        """``loc`` written the way spec errors show it: ``spec.timeline.cues[2].set['x.y']``."""
        return format_field_path(self.loc)

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


_TYPE_NAMES: dict[ParamType, str] = {
    "int": "an integer",
    "float": "a number",
    "string": "a string",
    "prompt": "a prompt (a string or [[prompt, weight], ...])",
    "boolean": "true or false",
    "any": "anything",
}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _describe(value: Any) -> str:
    """Numbers and booleans as written; other values by kind (a value may be a secret)."""
    if isinstance(value, bool | int | float):
        return repr(value).lower() if isinstance(value, bool) else repr(value)
    return (
        "a string"
        if isinstance(value, str)
        else "a list"
        if isinstance(value, list)
        else "an object"
    )


def _fits(info: ParamInfo, value: Any) -> bool:
    match info.type:
        case "int":
            return isinstance(value, int) and not isinstance(value, bool)
        case "float":
            return _is_number(value)
        case "string":
            return isinstance(value, str)
        case "prompt":
            return is_prompt(value)
        case "boolean":
            return isinstance(value, bool)
    return True


def _range_problem(target: Target, info: ParamInfo, low: float, high: float) -> str | None:
    if (info.minimum is not None and low < info.minimum) or (
        info.maximum is not None and high > info.maximum
    ):
        bounds = f"[{'' if info.minimum is None else info.minimum}, "
        bounds += f"{'' if info.maximum is None else info.maximum}]"
        shown = f"{low}" if low == high else f"{low}..{high}"
        return f"{shown} is outside {target}'s range {bounds}"
    return None


def _value_problem(target: Target, info: ParamInfo, value: Any) -> str | None:
    if info.type == "any":
        return None
    if isinstance(value, RandomValue):
        if info.type not in ("int", "float"):
            return f"{value} draws numbers; {target} takes {_TYPE_NAMES[info.type]}"
        if info.type == "int" and not value.integer:
            return f"{value} draws decimals; {target} takes an integer (use integer bounds)"
        return _range_problem(target, info, value.low, value.high)
    if not _fits(info, value):
        return f"{_describe(value)} is not {_TYPE_NAMES[info.type]}, which {target} takes"
    if info.choices is not None and value not in info.choices:
        return f"{target} must be one of {', '.join(map(repr, info.choices))}"
    return _range_problem(target, info, value, value) if _is_number(value) else None


def _ramp_problem(target: Target, info: ParamInfo, easing: Easing) -> str | None:
    if easing == "step" or info.type not in ("string", "boolean"):
        return None
    if info.type == "string":
        return (
            f"{target} takes a plain string, which cannot crossfade (only prompts can); "
            "use easing: step or no ramp"
        )
    return f"{target} is true or false and cannot ramp; use easing: step or no ramp"


def check_targets(
    spec: TimelineSpec, resolve: Resolver, *, loc: Loc = ("spec", "timeline")
) -> list[Problem]:
    """Every problem with the targets and values of ``spec``, at their field paths.

    ``resolve`` is asked once per target; ``loc`` is the timeline's own field path.
    """
    resolved: dict[Target, ParamInfo | str] = {}

    def info_of(text: str) -> ParamInfo | str:
        target = Target.parse(text)
        if target not in resolved:
            resolved[target] = resolve(target)
        return resolved[target]

    problems: list[Problem] = []
    for index, cue in enumerate(spec.cues):
        problems += _cue_problems(cue, (*loc, *spec.loc("cues", index)), info_of)
    for index, track in enumerate(spec.tracks):
        here = (*loc, *spec.loc("tracks", index))
        info = info_of(track.track)
        if isinstance(info, str):
            problems.append(Problem((*here, "track"), info))
            continue
        target = Target.parse(track.track)
        for key_index, key in enumerate(track.keys):
            key_loc = (*here, "keys", key_index)
            if message := _value_problem(target, info, key.value):
                problems.append(Problem((*key_loc, "value"), message))
            if key_index and (message := _ramp_problem(target, info, key.easing)):
                where = (*key_loc, "easing") if "easing" in key.model_fields_set else key_loc
                problems.append(Problem(where, message))
    return problems


def _cue_problems(
    cue: CueSpec, here: Loc, info_of: Callable[[str], ParamInfo | str]
) -> list[Problem]:
    problems: list[Problem] = []
    for text, value in cue.set.items():
        info = info_of(text)
        if isinstance(info, str):
            problems.append(Problem((*here, "set", text), info))
            continue
        target = Target.parse(text)
        if message := _value_problem(target, info, value):
            problems.append(Problem((*here, "set", text), message))
        if cue.ramp is not None and (message := _ramp_problem(target, info, cue.ramp.easing)):
            problems.append(Problem((*here, "ramp"), message))
    return problems
