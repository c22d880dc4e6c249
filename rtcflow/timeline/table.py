"""The cue table: every change a timeline schedules over a span, as printable text."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.table import Table

from rtcflow.spec.timeline import format_duration
from rtcflow.timeline.timeline import Change, Timeline


def format_offset(seconds: float) -> str:
    """``90.5`` → ``"0:01:30.500"``."""
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}:{minutes:02d}:{secs:06.3f}"


def _value(value: Any, width: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


def _ramp(change: Change) -> str:
    if not change.ramp:
        return ""
    return f"{format_duration(change.ramp)} {change.easing}"


def render_cue_table(
    timeline: Timeline, *, duration: float | None = None, limit: int = 200, width: int = 120
) -> str:
    """The changes in [0, ``duration``] (default: :meth:`Timeline.horizon`) as a text table.

    Random values show as drawn; with an origin, a column gives each change's wall-clock
    time in the origin's time zone. At most ``limit`` rows.
    """
    span = timeline.horizon() if duration is None else duration
    spec = timeline.spec
    table = Table(
        title="timeline",
        caption=f"seed {spec.seed}"
        + (f" · loop {format_duration(spec.loop)}" if spec.loop else "")
        + f" · 0s to {format_duration(span)}",
    )
    table.add_column("time", justify="right")
    if timeline.origin is not None:
        table.add_column("wall clock")
    for name in ("source", "target", "value", "ramp"):
        table.add_column(name)
    for shown, change in enumerate(timeline.changes_between(-1.0, span)):
        if shown == limit:
            table.add_row("…", *[""] * (len(table.columns) - 1))
            break
        row = [format_offset(change.time)]
        if timeline.origin is not None:
            wall = timeline.origin + timedelta(seconds=change.time)
            row.append(wall.astimezone(timeline.origin.tzinfo).strftime("%Y-%m-%d %H:%M:%S %Z"))
        row += [change.source, str(change.target), _value(change.value), _ramp(change)]
        table.add_row(*row)
    console = Console(file=io.StringIO(), width=width, color_system=None, highlight=False)
    console.print(table)
    return console.file.getvalue()
