"""Frame sources: one module per ``type``, imported only when a flow uses it."""

from __future__ import annotations

import pkgutil

from rtcflow.sources.base import Source, SourceError
from rtcflow.spec.models import VideoSpec

#: spec ``type`` → "module:Class"
SOURCE_CLASSES: dict[str, str] = {
    "file": "rtcflow.sources.file:FileSource",
    "testsrc": "rtcflow.sources.testsrc:TestSource",
    "webcam": "rtcflow.sources.webcam:WebcamSource",
    "whep": "rtcflow.sources.whep:WhepSource",
    "whip": "rtcflow.sources.whip_ingest:WhipIngestSource",
    "trickle": "rtcflow.sources.trickle:TrickleSource",
}


def create_source(spec, video: VideoSpec) -> Source:
    """Instantiate the source class registered for ``spec.type``."""
    return pkgutil.resolve_name(SOURCE_CLASSES[spec.type])(spec, video)


__all__ = ["SOURCE_CLASSES", "Source", "SourceError", "create_source"]
