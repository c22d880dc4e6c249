"""The cue table as text and the curves as a PNG."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from PIL import Image

from rtcflow.spec.timeline import TimelineSpec
from rtcflow.timeline import Timeline, TimelineError, plot_timeline, render_cue_table

SPEC = {
    "seed": 7,
    "cues": [
        {
            "at": "30s",
            "set": {"dream.prompt": "neon city"},
            "ramp": {"duration": "5s", "easing": "ease-in-out"},
        },
        {"every": "2m", "set": {"dream.seed": "random"}},
        {
            "cron": "0 21 * * *",
            "timezone": "Europe/Berlin",
            "set": {"dream.guidance_scale": 3.0},
            "ramp": "30s",
        },
    ],
    "tracks": [
        {
            "track": "fx.5.blur_radius",
            "keys": [
                {"at": 0, "value": 0.0},
                {"at": "20s", "value": 4.0, "easing": "ease-out"},
                {"at": "1m", "value": 1.0},
            ],
        }
    ],
}
ORIGIN = datetime(2025, 6, 1, 20, 58, 0, tzinfo=ZoneInfo("Europe/Berlin"))


def show() -> Timeline:
    return Timeline(
        TimelineSpec.model_validate(SPEC),
        initial={"dream.prompt": "a sunset", "dream.guidance_scale": 1.0, "dream.seed": 42},
        origin=ORIGIN,
    )


def test_cue_table_lists_every_change_in_time_order() -> None:
    timeline = show()
    text = render_cue_table(timeline, duration=300)
    rows = [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in text.splitlines()
        if "│" in line
    ]
    seeds = [c.value for c in timeline.changes_between(-1, 300) if str(c.target) == "dream.seed"]
    assert rows == [
        [
            "0:00:00.000",
            "2025-06-01 20:58:00 CEST",
            "tracks[0]",
            "fx.5.blur_radius",
            "4.0",
            "20s ease-out",
        ],
        [
            "0:00:20.000",
            "2025-06-01 20:58:20 CEST",
            "tracks[0]",
            "fx.5.blur_radius",
            "1.0",
            "40s linear",
        ],
        [
            "0:00:30.000",
            "2025-06-01 20:58:30 CEST",
            "cues[0]",
            "dream.prompt",
            "neon city",
            "5s ease-in-out",
        ],
        ["0:02:00.000", "2025-06-01 21:00:00 CEST", "cues[1]", "dream.seed", str(seeds[0]), ""],
        [
            "0:02:00.000",
            "2025-06-01 21:00:00 CEST",
            "cues[2]",
            "dream.guidance_scale",
            "3.0",
            "30s linear",
        ],
        ["0:04:00.000", "2025-06-01 21:02:00 CEST", "cues[1]", "dream.seed", str(seeds[1]), ""],
    ]
    assert seeds[0] != seeds[1]
    assert "seed 7" in text and "0s to 5m" in text


def test_cue_table_stops_at_the_limit() -> None:
    timeline = Timeline(TimelineSpec.model_validate([{"every": 1, "set": {"a.b": 1}}]))
    rows = [
        line
        for line in render_cue_table(timeline, duration=100, limit=5).splitlines()
        if "│" in line
    ]
    assert len(rows) == 6 and rows[-1].split("│")[1].strip() == "…"


def test_plot_is_a_readable_png(tmp_path: Path) -> None:
    path = plot_timeline(show(), tmp_path / "show.png", duration=300)
    assert path.stat().st_size > 20_000
    with Image.open(path) as image:
        assert image.format == "PNG"
        width, height = image.size
        pixels = np.asarray(image.convert("L"), dtype=np.float32)
    assert width >= 800 and height >= 600, "four stacked panels"
    assert pixels.std() > 10, "not a blank image"


def test_plot_needs_something_numeric(tmp_path: Path) -> None:
    timeline = Timeline(TimelineSpec.model_validate([{"at": 1, "set": {"fx.1.enabled": True}}]))
    with pytest.raises(TimelineError, match="nothing to plot"):
        plot_timeline(timeline, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
