"""Easing curves: how a ramp or keyframe segment moves from 0 to 1.

The cubic curves are the usual ``easeInCubic``/``easeOutCubic``/``easeInOutCubic``
(https://easings.net); ``step`` holds the old value until the end, then jumps.
"""

from __future__ import annotations

from collections.abc import Callable

from rtcflow.spec.timeline import Easing


def _step(x: float) -> float:
    return 1.0 if x >= 1.0 else 0.0


def _linear(x: float) -> float:
    return x


def _ease_in(x: float) -> float:
    return x * x * x


def _ease_out(x: float) -> float:
    return 1.0 - (1.0 - x) ** 3


def _ease_in_out(x: float) -> float:
    return 4.0 * x * x * x if x < 0.5 else 1.0 - (2.0 - 2.0 * x) ** 3 / 2.0


EASINGS: dict[Easing, Callable[[float], float]] = {
    "step": _step,
    "linear": _linear,
    "ease-in": _ease_in,
    "ease-out": _ease_out,
    "ease-in-out": _ease_in_out,
}


def ease(easing: Easing, x: float) -> float:
    """The weight of the new value at progress ``x`` (clamped to [0, 1]) along ``easing``."""
    return EASINGS[easing](min(1.0, max(0.0, x)))
