"""Timelines: scheduled parameter changes with keyframes, ramps, crossfades and cron.

Compile a :class:`~rtcflow.spec.timeline.TimelineSpec` into a :class:`Timeline` with the
targets' initial values and the flow's wall-clock origin; ask it for ``value_at(t)``,
``changes_between(t0, t1)``, ``next_cue(t)`` and ``status(t)``, or drive a
:class:`Playhead` frame by frame. :class:`UpdateThrottle` turns per-frame changes into at
most N coalesced updates per step and second (Daydream PATCHes); :func:`check_targets`
checks targets against the flow through a resolver; :func:`render_cue_table` and
:func:`plot_timeline` show a timeline.
"""

from rtcflow.timeline.check import ParamInfo, Problem, Resolver, check_targets
from rtcflow.timeline.easing import ease
from rtcflow.timeline.errors import TimelineError
from rtcflow.timeline.plot import plot_timeline
from rtcflow.timeline.status import CueStatus, TimelineStatus
from rtcflow.timeline.table import render_cue_table
from rtcflow.timeline.throttle import StepUpdate, UpdateThrottle
from rtcflow.timeline.timeline import Change, Playhead, Tick, Timeline
from rtcflow.timeline.values import UNSET, blend, crossfade, draw, set_path

__all__ = [
    "UNSET",
    "Change",
    "CueStatus",
    "ParamInfo",
    "Playhead",
    "Problem",
    "Resolver",
    "StepUpdate",
    "Tick",
    "Timeline",
    "TimelineError",
    "TimelineStatus",
    "UpdateThrottle",
    "blend",
    "check_targets",
    "crossfade",
    "draw",
    "ease",
    "plot_timeline",
    "render_cue_table",
    "set_path",
]
