"""Values: interpolation, prompt crossfades, reproducible random draws, setting paths."""

from __future__ import annotations

import pytest

from rtcflow.spec.timeline import RandomValue, Target
from rtcflow.timeline import UNSET, TimelineError, blend, crossfade, draw, set_path

SEED = Target("dream", ("seed",))


def test_numbers_interpolate_and_integers_stay_integers() -> None:
    assert blend(1.0, 3.0, 0.25) == pytest.approx(1.5)
    assert blend(10, 50, 0.5) == 30 and isinstance(blend(10, 50, 0.5), int)
    assert blend(10, 11, 0.4) == 10 and blend(10, 11, 0.6) == 11
    assert blend(2, 4.0, 0.5) == pytest.approx(3.0)
    assert blend(1.0, 3.0, 0.0) == 1.0 and blend(1.0, 3.0, 1.0) == 3.0


def test_prompts_crossfade_as_weighted_lists() -> None:
    assert blend("a sunset", "neon city", 0.25) == [["a sunset", 0.75], ["neon city", 0.25]]
    assert blend("a sunset", "neon city", 0.0) == "a sunset"
    assert blend("a sunset", "neon city", 1.0) == "neon city"


def test_crossfading_from_a_fade_scales_and_merges() -> None:
    halfway = crossfade("a", "b", 0.5)
    assert crossfade(halfway, "c", 0.5) == [["a", 0.25], ["b", 0.25], ["c", 0.5]]
    # Fading back to a prompt that is already in the mix merges its weight.
    assert crossfade(halfway, "a", 0.5) == [["a", 0.75], ["b", 0.25]]
    weights = crossfade([["x", 0.7], ["y", 0.3]], "z", 0.1)
    assert sum(w for _, w in weights) == pytest.approx(1.0)


def test_values_that_cannot_move_gradually_change_at_the_end() -> None:
    assert blend(False, True, 0.99) is False
    assert blend(False, True, 1.0) is True
    assert blend([1, 2], [3, 4], 0.5) == [1, 2]
    assert blend("text", 4, 0.5) == "text"


def test_an_unknown_start_jumps_to_the_new_value() -> None:
    assert blend(UNSET, 2.0, 0.1) == 2.0
    assert blend(UNSET, "neon", 0.1) == "neon"


def test_draws_are_a_pure_function_of_seed_cue_occurrence_and_target() -> None:
    seed_value = RandomValue.parse("random")
    assert seed_value is not None
    first = [draw(7, 2, k, SEED, seed_value) for k in range(50)]
    assert first == [draw(7, 2, k, SEED, seed_value) for k in range(50)]
    assert list(reversed(first)) == [draw(7, 2, k, SEED, seed_value) for k in reversed(range(50))]
    assert len(set(first)) == 50, "each occurrence draws anew"
    assert draw(8, 2, 0, SEED, seed_value) != first[0]
    assert draw(7, 3, 0, SEED, seed_value) != first[0]
    assert draw(7, 2, 0, Target("dream", ("other",)), seed_value) != first[0]
    assert all(isinstance(v, int) and 0 <= v <= 2**32 - 1 for v in first)


def test_draws_stay_in_their_range() -> None:
    ints = RandomValue.parse("random(1, 3)")
    floats = RandomValue.parse("random(0.5, 0.75)")
    assert ints is not None and floats is not None
    drawn = {draw(0, 0, k, SEED, ints) for k in range(200)}
    assert drawn == {1, 2, 3}
    decimals = [draw(0, 0, k, SEED, floats) for k in range(200)]
    assert all(0.5 <= v < 0.75 for v in decimals) and len(set(decimals)) == 200


def test_set_path_copies_along_the_path() -> None:
    params = {
        "prompt": "a",
        "controlnets": [{"conditioning_scale": 0.5}, {"conditioning_scale": 0.2}],
    }
    updated = set_path(params, ("controlnets", 1, "conditioning_scale"), 0.9)
    assert updated["controlnets"][1] == {"conditioning_scale": 0.9}
    assert updated["controlnets"][0] is params["controlnets"][0]
    assert params["controlnets"][1]["conditioning_scale"] == 0.2, "the original is untouched"
    assert set_path({}, ("5", "blur_radius"), 3) == {"5": {"blur_radius": 3}}
    with pytest.raises(TimelineError, match=r"\[2\]: no such list item"):
        set_path(params, ("controlnets", 2, "conditioning_scale"), 1.0)
    with pytest.raises(TimelineError, match=r"\.x: 'a' is not an object"):
        set_path(params, ("prompt", "x"), 1.0)
