"""Frame sinks: one module per ``type``, imported only when a flow uses it."""

from __future__ import annotations

import pkgutil

from rtcflow.sinks.base import Sink, SinkError
from rtcflow.spec.models import VideoSpec

#: spec ``type`` → "module:Class"
SINK_CLASSES: dict[str, str] = {
    "file": "rtcflow.sinks.file:FileSink",
    "whip": "rtcflow.sinks.whip:WhipSink",
    "preview": "rtcflow.sinks.preview:PreviewSink",
    "trickle": "rtcflow.sinks.trickle:TrickleSink",
}


def create_sink(spec, video: VideoSpec) -> Sink:
    """Instantiate the sink class registered for ``spec.type``."""
    return pkgutil.resolve_name(SINK_CLASSES[spec.type])(spec, video)


__all__ = ["SINK_CLASSES", "Sink", "SinkError", "create_sink"]
