"""A timeline's curves as a PNG: every numeric target's value and every prompt's weight.

Drawn with matplotlib's object API on an Agg canvas (no pyplot, no global backend state),
so it runs headless and from any thread.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from rtcflow.spec.timeline import Target
from rtcflow.timeline.errors import TimelineError
from rtcflow.timeline.timeline import Timeline
from rtcflow.timeline.values import is_prompt

_JUMP = 1e-6  # a sample just before each change draws jumps as vertical edges


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _prompt_weights(value: Any) -> dict[str, float]:
    return {value: 1.0} if isinstance(value, str) else {text: w for text, w in value}


def _clock(seconds: float, _position: object = None) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}:{secs:02d}"


def plot_timeline(
    timeline: Timeline, path: str | Path, *, duration: float | None = None, samples: int = 600
) -> Path:
    """Plot every numeric target and every prompt target over [0, ``duration``] into a PNG.

    ``duration`` defaults to :meth:`Timeline.horizon`. Raises ``TimelineError`` when the
    timeline has nothing to plot.
    """
    span = timeline.horizon() if duration is None else duration
    changes = list(timeline.changes_between(-1.0, span))
    times = {span * i / (samples - 1) for i in range(samples)}
    for change in changes:
        times.update(t for t in (change.time - _JUMP, change.time, change.end) if 0 <= t <= span)
    grid = sorted(times)
    frames = [timeline.value_at(t) for t in grid]

    numeric: list[Target] = []
    prompts: list[Target] = []
    for target in timeline.targets:
        known = [values[target] for values in frames if target in values]
        if known and all(_is_number(value) for value in known):
            numeric.append(target)
        elif known and all(is_prompt(value) for value in known):
            prompts.append(target)
    if not numeric and not prompts:
        raise TimelineError("nothing to plot: the timeline sets no numeric or prompt targets")

    rows = len(numeric) + len(prompts)
    figure = Figure(figsize=(10, 1.2 + 2.0 * rows), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    for ax, target in zip(axes, numeric + prompts, strict=True):
        if target in numeric:
            ax.plot(grid, [values.get(target, math.nan) for values in frames], linewidth=1.6)
        else:
            texts = list(
                dict.fromkeys(
                    text
                    for values in frames
                    if target in values
                    for text in _prompt_weights(values[target])
                )
            )
            for text in texts:
                weights = [
                    _prompt_weights(values[target]).get(text, 0.0) if target in values else math.nan
                    for values in frames
                ]
                ax.plot(
                    grid, weights, linewidth=1.6, label=text if len(text) <= 40 else text[:39] + "…"
                )
            ax.set_ylim(-0.05, 1.05)
            ax.legend(loc="upper left", fontsize="small", framealpha=0.8)
        for change in changes:
            if change.target == target:
                ax.axvline(change.time, color="0.6", linestyle=":", linewidth=0.8)
        ax.set_title(str(target) + (" (prompt weights)" if target in prompts else ""), loc="left")
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("stream time (m:ss)")
    axes[-1].xaxis.set_major_locator(MaxNLocator(nbins=10, steps=[1, 2, 3, 6, 10]))
    axes[-1].xaxis.set_major_formatter(FuncFormatter(_clock))
    axes[-1].set_xlim(0, span)
    path = Path(path)
    figure.savefig(path, dpi=100)
    return path
