"""Easing curves: endpoints, monotonicity and midpoints."""

from __future__ import annotations

import itertools
from typing import get_args

import pytest

from rtcflow.spec.timeline import Easing
from rtcflow.timeline import ease

MIDPOINTS = {"step": 0.0, "linear": 0.5, "ease-in": 0.125, "ease-out": 0.875, "ease-in-out": 0.5}


def test_every_declared_easing_has_a_curve() -> None:
    assert set(get_args(Easing)) == set(MIDPOINTS)


@pytest.mark.parametrize("easing", list(MIDPOINTS))
def test_curves_run_from_0_to_1_monotonically(easing: Easing) -> None:
    assert ease(easing, 0.0) == 0.0
    assert ease(easing, 1.0) == 1.0
    samples = [ease(easing, i / 200) for i in range(201)]
    assert all(a <= b for a, b in itertools.pairwise(samples))
    assert ease(easing, 0.5) == pytest.approx(MIDPOINTS[easing])


@pytest.mark.parametrize("easing", list(MIDPOINTS))
def test_progress_outside_0_1_is_clamped(easing: Easing) -> None:
    assert ease(easing, -0.5) == 0.0
    assert ease(easing, 1.5) == 1.0


def test_shapes() -> None:
    assert ease("step", 0.999) == 0.0
    # ease-in starts slow and ends fast, ease-out the reverse; ease-in-out is symmetric.
    assert ease("ease-in", 0.25) < 0.25 < ease("ease-out", 0.25)
    assert ease("ease-in-out", 0.25) == pytest.approx(1 - ease("ease-in-out", 0.75))
    assert ease("ease-in-out", 0.25) < 0.25
