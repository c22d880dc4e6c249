"""Pydantic models of a flow's ``spec.timeline``: cues, keyframe tracks, seed and loop.

A timeline is an object ``{seed, loop, cues, tracks}`` or, as a shorthand, a plain list of
cues. Times are offsets from the flow's start (``90s``, ``1m30s``, ``00:01:30``, or a number
of seconds); ``cron`` cues are wall-clock times in a named IANA time zone and are computed
by APScheduler 3.x's ``CronTrigger``. Targets are ``<step>.<param>`` (Daydream params, e.g.
``dream.controlnets[0].conditioning_scale``) or ``<step>.<node id>.<input>`` (workflow node
inputs, e.g. ``fx.5.blur_radius``); whether a target exists is checked against the flow by
``rtcflow.timeline.check_targets``.

This module holds the models and the small parsers their validators need; the scheduling
and value logic lives in ``rtcflow.timeline``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    GetJsonSchemaHandler,
    PlainSerializer,
    PrivateAttr,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, InitErrorDetails

from rtcflow.spec.base import SpecModel

Easing = Literal["step", "linear", "ease-in", "ease-out", "ease-in-out"]

# -- durations -------------------------------------------------------------------------

_NUMBER = r"\d+(?:\.\d+)?"
_SECONDS_RE = re.compile(rf"^{_NUMBER}$")
# Units in descending order, each at most once: 1h30m, 1m30s, 90s, 1.5s, 500ms.
_UNITS_RE = re.compile(
    rf"^(?:(?P<h>{_NUMBER})h)?(?:(?P<m>{_NUMBER})m(?!s))?(?:(?P<s>{_NUMBER})s)?"
    rf"(?:(?P<ms>{_NUMBER})ms)?$"
)
# Clock form: [HH:]MM:SS[.fff]
_CLOCK_RE = re.compile(rf"^(?:(?P<h>\d+):)?(?P<m>\d+):(?P<s>{_NUMBER})$")
DURATION_PATTERN = (
    rf"^\s*(?:{_NUMBER}|(?:{_NUMBER}h)?(?:{_NUMBER}m(?!s))?(?:{_NUMBER}s)?(?:{_NUMBER}ms)?"
    rf"|(?:\d+:)?\d+:{_NUMBER})\s*$"
)
_DURATION_HELP = (
    "use a number of seconds, units like 90s, 1m30s, 1h, 500ms, or a clock time like 00:01:30"
)
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(value: object) -> float:
    """Seconds from ``90``, ``1.5``, ``"90s"``, ``"1m30s"``, ``"1h"``, ``"500ms"``, ``"00:01:30"``.

    Raises ``ValueError`` with a message that shows the accepted forms.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"invalid duration {value!r}: {_DURATION_HELP}")
    if isinstance(value, str):
        text = value.strip()
        if _SECONDS_RE.match(text):
            seconds = float(text)
        elif text and (match := _UNITS_RE.match(text)):
            seconds = sum(
                float(amount) * _UNIT_SECONDS[unit]
                for unit, amount in match.groupdict().items()
                if amount is not None
            )
        elif match := _CLOCK_RE.match(text):
            hours, minutes, secs = match["h"], int(match["m"]), float(match["s"])
            if secs >= 60 or (hours is not None and minutes >= 60):
                raise ValueError(f"invalid duration {value!r}: minutes and seconds must be < 60")
            seconds = int(hours or 0) * 3600.0 + minutes * 60.0 + secs
        else:
            raise ValueError(f"invalid duration {value!r}: {_DURATION_HELP}")
    else:
        seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"invalid duration {value!r}: must be a finite, non-negative time")
    return seconds


def format_duration(seconds: float) -> str:
    """``90.0`` → ``"1m30s"``: the inverse of :func:`parse_duration`, for display."""
    if seconds == 0:
        return "0s"
    whole, fraction = divmod(round(seconds * 1000), 1000)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    if secs or fraction:
        text += f"{secs}.{fraction:03d}".rstrip("0").rstrip(".") + "s"
    return text


_DURATION_SCHEMA = {
    "anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": DURATION_PATTERN}],
    "description": "Seconds, or a string like 90s, 1m30s, 500ms, 00:01:30.",
}
Duration = Annotated[float, BeforeValidator(parse_duration), WithJsonSchema(_DURATION_SCHEMA)]
PositiveDuration = Annotated[Duration, Field(gt=0)]


# -- targets ---------------------------------------------------------------------------

_SEGMENT = r"[A-Za-z0-9_:-]+"
TARGET_PATTERN = rf"^({_SEGMENT})(\.{_SEGMENT}(?:\.{_SEGMENT}|\[\d+\])*)$"
_TARGET_RE = re.compile(TARGET_PATTERN)
_PATH_TOKEN_RE = re.compile(rf"\.({_SEGMENT})|\[(\d+)\]")


@dataclass(frozen=True, slots=True)
class Target:
    """A parameter a timeline changes: a step name and a path inside that step.

    ``dream.controlnets[0].conditioning_scale`` → ``Target("dream", ("controlnets", 0,
    "conditioning_scale"))``; ``fx.5.blur_radius`` → ``Target("fx", ("5", "blur_radius"))``.
    Dotted segments are keys (strings), bracketed ones are list indices (ints).
    """

    step: str
    path: tuple[str | int, ...]

    @staticmethod
    @lru_cache(maxsize=1024)
    def parse(text: str) -> Target:
        """Parse ``<step>.<param>[...]``; raises ``ValueError`` naming the expected form."""
        match = _TARGET_RE.match(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(
                f"invalid target {text!r}: expected <step>.<param> (dream.prompt, "
                "dream.controlnets[0].conditioning_scale) or <step>.<node id>.<input> "
                "(fx.5.blur_radius)"
            )
        path = tuple(key if key else int(index) for key, index in _PATH_TOKEN_RE.findall(match[2]))
        return Target(match[1], path)

    def __str__(self) -> str:
        return self.step + "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in self.path
        )


def _check_target(text: str) -> str:
    Target.parse(text)
    return text


TargetKey = Annotated[
    str,
    AfterValidator(_check_target),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": TARGET_PATTERN,
            "description": "<step>.<param> or <step>.<node id>.<input>",
        }
    ),
]


# -- values ----------------------------------------------------------------------------

_RANDOM_NUMBER = r"[-+]?\d+(?:\.\d+)?"
_RANDOM_RE = re.compile(
    rf"^random(?:\(\s*(?P<low>{_RANDOM_NUMBER})\s*,\s*(?P<high>{_RANDOM_NUMBER})\s*\))?$"
)
SEED_MAX = 2**32 - 1


@dataclass(frozen=True, slots=True)
class RandomValue:
    """``random`` (an integer seed in [0, 2**32-1]) or ``random(a, b)``.

    ``random(a, b)`` with two integers draws an integer in [a, b]; with any decimal it draws
    a float in [a, b). Draws are reproducible: see ``rtcflow.timeline.draw``.
    """

    low: float
    high: float
    integer: bool
    text: str = field(compare=False)

    @staticmethod
    def parse(text: str) -> RandomValue | None:
        """The random value ``text`` spells, ``None`` for any other string."""
        stripped = text.strip()
        match = _RANDOM_RE.match(stripped)
        if match is None:
            if stripped.startswith("random("):
                raise ValueError(
                    f"invalid random value {text!r}: use random (a seed) or random(a, b)"
                )
            return None
        if match["low"] is None:
            return RandomValue(0, SEED_MAX, True, "random")
        integer = "." not in match["low"] + match["high"]
        convert = int if integer else float
        low, high = convert(match["low"]), convert(match["high"])
        if low > high:
            raise ValueError(f"invalid random value {text!r}: needs a <= b")
        return RandomValue(low, high, integer, stripped)

    def __str__(self) -> str:
        return self.text


def _check_plain(value: Any) -> Any:
    """Reject what no parameter takes: null, NaN and infinities, anywhere in ``value``."""
    if value is None:
        raise ValueError("a value is required (null sets nothing)")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value} is not a finite number")
    if isinstance(value, list):
        for item in value:
            _check_plain(item)
    elif isinstance(value, dict):
        for item in value.values():
            _check_plain(item)
    return value


def _parse_set_value(value: Any) -> Any:
    if isinstance(value, str) and (drawn := RandomValue.parse(value)) is not None:
        return drawn
    return _check_plain(value)


def _parse_key_value(value: Any) -> Any:
    if isinstance(value, str) and RandomValue.parse(value) is not None:
        raise ValueError("keyframe values are fixed; random values belong in cues")
    return _check_plain(value)


def _dump_value(value: Any) -> Any:
    return str(value) if isinstance(value, RandomValue) else value


_VALUE_SCHEMA = {
    "description": "A number, string, boolean, list or object; in cues also random or random(a, b)."
}
SetValue = Annotated[
    Any,
    BeforeValidator(_parse_set_value),
    PlainSerializer(_dump_value),
    WithJsonSchema(_VALUE_SCHEMA),
]
KeyValue = Annotated[Any, BeforeValidator(_parse_key_value), WithJsonSchema(_VALUE_SCHEMA)]


# -- models ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _OrDuration:
    """JSON Schema marker: the field also accepts a bare duration (its "before" validator
    turns the shorthand into the model), so editors must accept it too."""

    def __get_pydantic_json_schema__(
        self, core: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"anyOf": [_DURATION_SCHEMA, handler(core)]}


class RampSpec(SpecModel):
    """How a cue's values move to their new value: over ``duration``, shaped by ``easing``.

    Numbers interpolate (integers stay integers); a string is crossfaded as Daydream's
    weighted prompt list ``[[old, 1-w], [new, w]]``; other values change at the end.
    """

    duration: PositiveDuration
    easing: Easing = "linear"


class CueSpec(SpecModel):
    """Set targets at an offset (``at``), periodically (``every``) or by ``cron``."""

    at: Duration | None = Field(None, description="Offset from the flow's start.")
    every: PositiveDuration | None = Field(None, description="Interval between occurrences.")
    start: Duration | None = Field(
        None, description="First occurrence of an 'every' cue; one interval in when unset."
    )
    until: Duration | None = Field(
        None, description="Last possible occurrence of an 'every' cue (inclusive)."
    )
    cron: str | None = Field(
        None,
        description="Five crontab fields (minute hour day month weekday); weekdays by name.",
    )
    timezone: str | None = Field(None, description="IANA time zone of a cron cue.")
    set: dict[TargetKey, SetValue] = Field(..., min_length=1)
    ramp: Annotated[RampSpec | None, _OrDuration()] = Field(
        None, description="A duration, or {duration, easing}."
    )

    @field_validator("ramp", mode="before")
    @classmethod
    def _ramp_shorthand(cls, value: Any) -> Any:
        if value is None or isinstance(value, dict | RampSpec):
            return value
        return {"duration": parse_duration(value)}

    @field_validator("cron")
    @classmethod
    def _cron_fields(cls, value: str | None) -> str | None:
        if value is None:
            return None
        fields = value.split()
        # APScheduler 3 numbers weekdays from Monday, crontab from Sunday: names only.
        if len(fields) == 5 and re.search(r"\d", fields[4]):
            raise ValueError(
                f"cron {value!r}: write weekdays as names (mon-fri, sat,sun); numbers "
                "mean different days in crontab and in APScheduler"
            )
        trigger = CronTrigger.from_crontab(value, timezone="UTC")
        if trigger.get_next_fire_time(None, datetime(2000, 1, 1, tzinfo=UTC)) is None:
            raise ValueError(f"cron {value!r} never fires")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    f"unknown time zone {value!r} (use e.g. Europe/Berlin, UTC)"
                ) from None
        return value

    @model_validator(mode="after")
    def _one_schedule(self) -> CueSpec:
        given = [name for name in ("at", "every", "cron") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "a cue needs exactly one of 'at', 'every' or 'cron'"
                + (f" (got {', '.join(given)})" if given else "")
            )
        if self.every is None and (self.start is not None or self.until is not None):
            raise ValueError("'start' and 'until' belong to 'every' cues")
        if self.start is not None and self.until is not None and self.until < self.start:
            raise ValueError("'until' is before 'start'")
        if (self.cron is None) != (self.timezone is None):
            raise ValueError(
                "a cron cue needs a 'timezone' (e.g. Europe/Berlin, UTC)"
                if self.cron is not None
                else "'timezone' belongs to cron cues"
            )
        return self

    @property
    def first(self) -> float | None:
        """Offset of the first occurrence of an ``at`` or ``every`` cue."""
        if self.every is not None:
            return self.every if self.start is None else self.start
        return self.at


class KeySpec(SpecModel):
    """A keyframe: ``value`` at ``at``; ``easing`` shapes the move from the previous key."""

    at: Duration
    value: KeyValue
    easing: Easing = "linear"


class TrackSpec(SpecModel):
    """A keyframe track: the target follows its keys, interpolating between them.

    Before the first key the target keeps its value; after the last key it holds it.
    """

    track: TargetKey
    keys: list[KeySpec] = Field(..., min_length=1)

    @field_validator("keys")
    @classmethod
    def _in_time_order(cls, keys: list[KeySpec]) -> list[KeySpec]:
        for index in range(1, len(keys)):
            if keys[index].at <= keys[index - 1].at:
                raise ValueError(
                    f"keys must be in time order: keys[{index}].at "
                    f"({format_duration(keys[index].at)}) is not after keys[{index - 1}].at "
                    f"({format_duration(keys[index - 1].at)})"
                )
        return keys


Part = Literal["cues", "tracks"]


def _is_track(item: Any) -> bool:
    return isinstance(item, dict) and "track" in item


def _list_loc(
    positions: dict[Part, list[int]], loc: tuple[str | int, ...]
) -> tuple[str | int, ...]:
    """``("tracks", 0, "keys")`` → ``(3, "keys")``: the location in the list shorthand."""
    part, index, *rest = loc
    return (positions[cast(Part, part)][cast(int, index)], *rest)


class TimelineSpec(SpecModel):
    """Scheduled parameter changes of one flow.

    ``loop`` repeats the offset-based part (``at``, ``every``, tracks) every ``loop``;
    values carry over from one repetition to the next. ``seed`` makes ``random`` values
    reproducible. A plain list is a timeline of cues and tracks (items with ``track``).
    """

    seed: int = Field(0, description="Seed of the random values drawn by cues.")
    loop: PositiveDuration | None = Field(
        None, description="Repeat the offset-based cues and tracks with this period."
    )
    cues: list[CueSpec] = Field(default_factory=list)
    tracks: list[TrackSpec] = Field(default_factory=list)

    # For the list shorthand: each cue's and track's index in the list.
    _positions: dict[Part, list[int]] | None = PrivateAttr(None)

    @model_validator(mode="wrap")
    @classmethod
    def _validate(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> TimelineSpec:
        """Accept the list shorthand (its errors keep the list's indices); cross-check."""
        positions: dict[Part, list[int]] | None = None
        if isinstance(data, list):
            positions = {
                "cues": [i for i, item in enumerate(data) if not _is_track(item)],
                "tracks": [i for i, item in enumerate(data) if _is_track(item)],
            }
            data = {part: [data[i] for i in at] for part, at in positions.items()}
        try:
            model = handler(data)
        except ValidationError as exc:
            if positions is None:
                raise
            raise ValidationError.from_exception_data(
                exc.title,
                [
                    InitErrorDetails(
                        type=error["type"],
                        loc=_list_loc(positions, error["loc"]),
                        input=error["input"],
                        ctx=error.get("ctx", {}),
                    )
                    for error in exc.errors()
                ],
            ) from None
        model._positions = positions
        problems = model._conflicts()
        if problems:
            raise ValidationError.from_exception_data(
                cls.__name__,
                [
                    InitErrorDetails(type="value_error", loc=loc, input=value, ctx={"error": text})
                    for loc, value, text in problems
                ],
            )
        return model

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler.resolve_ref_schema(handler(core_schema))
        return {
            "anyOf": [
                dict(schema),
                {
                    "type": "array",
                    "items": {
                        "anyOf": [
                            schema["properties"]["cues"]["items"],
                            schema["properties"]["tracks"]["items"],
                        ]
                    },
                },
            ]
        }

    def _conflicts(self) -> list[tuple[tuple[str | int, ...], Any, str]]:
        """Cross-field problems as (field path, value, message)."""
        problems: list[tuple[tuple[str | int, ...], Any, str]] = []
        tracked: dict[str, int] = {}
        for index, track in enumerate(self.tracks):
            if track.track in tracked:
                problems.append(
                    (
                        (*self.loc("tracks", index), "track"),
                        track.track,
                        f"{track.track} already has a track "
                        f"({self.label('tracks', tracked[track.track])})",
                    )
                )
            tracked.setdefault(track.track, index)
        for index, cue in enumerate(self.cues):
            for target in cue.set:
                if target in tracked:
                    problems.append(
                        (
                            (*self.loc("cues", index), "set", target),
                            cue.set[target],
                            f"{target} follows a keyframe track "
                            f"({self.label('tracks', tracked[target])}); cues cannot also set it",
                        )
                    )
        if self.loop is None:
            return problems
        loop = format_duration(self.loop)
        for index, cue in enumerate(self.cues):
            first = cue.first
            if first is not None and first >= self.loop:
                name = "at" if cue.at is not None else "every" if cue.start is None else "start"
                problems.append(
                    (
                        (*self.loc("cues", index), name),
                        getattr(cue, name),
                        f"first occurrence at {format_duration(first)} is not inside the loop "
                        f"({loop})",
                    )
                )
        for index, track in enumerate(self.tracks):
            for key_index, key in enumerate(track.keys):
                last = key_index == len(track.keys) - 1 and key_index > 0
                if key.at > self.loop or (key.at == self.loop and not last):
                    problems.append(
                        (
                            (*self.loc("tracks", index), "keys", key_index, "at"),
                            key.at,
                            f"key at {format_duration(key.at)} is not inside the loop ({loop}); "
                            "only a last key may sit at the loop's end",
                        )
                    )
        return problems

    def loc(self, part: Part, index: int) -> tuple[str | int, ...]:
        """The field path of ``cues[index]`` or ``tracks[index]`` inside the timeline.

        ``(part, index)``, or ``(position,)`` for the list shorthand.
        """
        return (part, index) if self._positions is None else (self._positions[part][index],)

    def label(self, part: Part, index: int) -> str:
        """How messages name ``cues[index]`` or ``tracks[index]``: ``cues[2]``, or ``[2]``."""
        return "".join(f"[{p}]" if isinstance(p, int) else p for p in self.loc(part, index))
