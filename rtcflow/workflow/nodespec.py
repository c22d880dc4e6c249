"""Node schemas: ComfyUI's node protocol read into typed specs, and the checks on them.

A ComfyUI node class declares ``INPUT_TYPES()`` (``required`` / ``optional`` / ``hidden``
maps of ``(TYPE, {options})``; a list instead of a type, or ``"COMBO"`` with an
``options`` list, is an enumeration), ``RETURN_TYPES``, ``FUNCTION``, and optionally
``OUTPUT_NODE``, ``IS_CHANGED``, ``VALIDATE_INPUTS``, ``INPUT_IS_LIST`` and
``OUTPUT_IS_LIST``. This module reads that once per class into a :class:`NodeSchema` and
implements ComfyUI's rules for link types (``comfy_execution/validation.py``: ``*``
matches anything, ``"A,B"`` is a union that matches when the sets overlap) and for
constants (type, ``min``/``max``, combo choices).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

#: Types whose constants are edited as widgets in ComfyUI's editor.
PRIMITIVE_TYPES = frozenset({"INT", "FLOAT", "STRING", "BOOLEAN"})
COMBO = "COMBO"
ANY_TYPE = "*"
#: ComfyUI data types that only ever arrive through a link, never as a constant.
LINK_ONLY_TYPES = frozenset(
    {
        "IMAGE",
        "MASK",
        "LATENT",
        "MODEL",
        "CLIP",
        "VAE",
        "CONDITIONING",
        "CONTROL_NET",
        "CLIP_VISION",
        "CLIP_VISION_OUTPUT",
        "STYLE_MODEL",
        "GLIGEN",
        "UPSCALE_MODEL",
        "AUDIO",
        "NOISE",
        "SAMPLER",
        "SIGMAS",
        "GUIDER",
    }
)
#: The frontend's "control after generate" choices stored after seed widgets.
SEED_CONTROL_VALUES = frozenset({"fixed", "increment", "decrement", "randomize"})
_SEED_INPUT_NAMES = frozenset({"seed", "noise_seed"})


class InputSpec(BaseModel):
    """One declared input of a node class.

    ``type`` is the ComfyUI type name (``INT``, ``FLOAT``, ``STRING``, ``BOOLEAN``,
    ``COMBO`` for enumerations with ``choices``, or a link type such as ``IMAGE``).
    """

    model_config = ConfigDict(frozen=True)

    name: str
    type: str
    required: bool
    default: Any = None
    min: int | float | None = None
    max: int | float | None = None
    step: int | float | None = None
    choices: tuple[Any, ...] | None = None
    force_input: bool = False
    control_after_generate: bool = False

    @property
    def is_widget(self) -> bool:
        """Whether ComfyUI's editor shows this input as a widget (a value in the UI format)."""
        return (self.type in PRIMITIVE_TYPES or self.type == COMBO) and not self.force_input

    @property
    def has_seed_control(self) -> bool:
        """Whether the editor stores a "control after generate" value after this widget."""
        return self.control_after_generate or (
            self.type == "INT" and self.name in _SEED_INPUT_NAMES
        )

    def describe(self) -> str:
        """A short description for error messages: type, range or choices, default."""
        parts = [self.type]
        if self.choices is not None:
            parts.append("one of " + ", ".join(repr(choice) for choice in self.choices))
        if self.min is not None or self.max is not None:
            parts.append(f"range {self.min}..{self.max}")
        if self.default is not None:
            parts.append(f"default {self.default!r}")
        return ", ".join(parts)

    def coerce(self, value: Any) -> Any:
        """Check a constant against this spec and return it in its canonical Python type.

        Raises ``ValueError`` with a message naming what was expected.
        """
        if self.type == COMBO:
            if self.choices is not None and value not in self.choices:
                shown = ", ".join(repr(choice) for choice in self.choices[:20])
                more = ", ..." if len(self.choices) > 20 else ""
                raise ValueError(f"value {value!r} is not one of: {shown}{more}")
            return value
        if self.type in LINK_ONLY_TYPES or self.force_input:
            raise ValueError(
                f"expects a link from a node that outputs {self.type}, got the constant {value!r}"
            )
        if self.type == "INT":
            value = _coerce_int(value)
        elif self.type == "FLOAT":
            value = _coerce_float(value)
        elif self.type == "STRING" and not isinstance(value, str):
            raise ValueError(f"expected a STRING, got {type(value).__name__} {value!r}")
        elif self.type == "BOOLEAN" and not isinstance(value, bool):
            raise ValueError(f"expected a BOOLEAN, got {type(value).__name__} {value!r}")
        if self.type in ("INT", "FLOAT"):
            if self.min is not None and value < self.min:
                raise ValueError(f"value {value} is below the minimum {self.min}")
            if self.max is not None and value > self.max:
                raise ValueError(f"value {value} is above the maximum {self.max}")
        return value


def _coerce_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected an INT, got {type(value).__name__} {value!r}")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"expected an INT, got the fractional number {value!r}")
        return int(value)
    return value


def _coerce_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a FLOAT, got {type(value).__name__} {value!r}")
    if math.isnan(value):
        raise ValueError("expected a FLOAT, got NaN")
    return float(value)


class NodeSchema(BaseModel):
    """What the engine needs to know about one node class, read once from its attributes."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    class_type: str
    node_class: type
    inputs: dict[str, InputSpec]
    hidden: dict[str, str]
    return_types: tuple[str, ...]
    function: str
    output_node: bool
    is_changed: Callable[..., Any] | None
    validate_inputs: Callable[..., Any] | None
    input_is_list: bool
    output_is_list: bool

    @classmethod
    def from_class(cls, class_type: str, node_class: type) -> NodeSchema:
        """Read a node class's protocol attributes; raises ``ValueError`` naming what is wrong."""
        try:
            declared = node_class.INPUT_TYPES()
        except Exception as exc:
            raise ValueError(f"INPUT_TYPES() raised {type(exc).__name__}: {exc}") from exc
        if not isinstance(declared, Mapping):
            raise ValueError(f"INPUT_TYPES() returned {type(declared).__name__}, not a dict")
        inputs: dict[str, InputSpec] = {}
        for section, required in (("required", True), ("optional", False)):
            for name, entry in (declared.get(section) or {}).items():
                inputs[name] = _input_spec(name, entry, required)
        hidden = {name: str(kind) for name, kind in (declared.get("hidden") or {}).items()}

        return_types = getattr(node_class, "RETURN_TYPES", None)
        if not isinstance(return_types, tuple | list):
            raise ValueError("RETURN_TYPES is missing or not a tuple")
        function = getattr(node_class, "FUNCTION", None)
        if not isinstance(function, str) or not callable(getattr(node_class, function, None)):
            raise ValueError(f"FUNCTION {function!r} does not name a method of the class")
        return cls(
            class_type=class_type,
            node_class=node_class,
            inputs=inputs,
            hidden=hidden,
            return_types=tuple(_type_name(t) for t in return_types),
            function=function,
            output_node=bool(getattr(node_class, "OUTPUT_NODE", False)),
            is_changed=getattr(node_class, "IS_CHANGED", None),
            validate_inputs=getattr(node_class, "VALIDATE_INPUTS", None),
            input_is_list=bool(getattr(node_class, "INPUT_IS_LIST", False)),
            output_is_list=any(getattr(node_class, "OUTPUT_IS_LIST", ()) or ()),
        )


def _type_name(declared: Any) -> str:
    """A RETURN_TYPES / input type as a plain string (a list is an enumeration: COMBO)."""
    if isinstance(declared, list | tuple):
        return COMBO
    return str(declared)


def _input_spec(name: str, entry: Any, required: bool) -> InputSpec:
    if isinstance(entry, str | list):
        entry = (entry,)
    if not isinstance(entry, tuple) or not entry:
        raise ValueError(f"input {name!r}: spec {entry!r} is not (TYPE, {{options}})")
    declared = entry[0]
    options = entry[1] if len(entry) > 1 and isinstance(entry[1], Mapping) else {}
    choices: tuple[Any, ...] | None = None
    if isinstance(declared, list | tuple):
        choices = tuple(declared)
    elif str(declared) == COMBO and "options" in options:
        choices = tuple(options["options"])
    return InputSpec(
        name=name,
        type=_type_name(declared),
        required=required,
        default=options.get("default"),
        min=options.get("min"),
        max=options.get("max"),
        step=options.get("step"),
        choices=choices,
        force_input=bool(options.get("forceInput", False)),
        control_after_generate=bool(options.get("control_after_generate", False)),
    )


def link_type_matches(output_type: str, spec: InputSpec) -> bool:
    """ComfyUI's link rule: ``*`` matches anything; unions match when they overlap."""
    if ANY_TYPE in (output_type, spec.type):
        return True
    received = {part.strip() for part in output_type.split(",")}
    accepted = {part.strip() for part in spec.type.split(",")}
    return not received.isdisjoint(accepted)
