"""Frame sources: one module per ``type``, imported only when a flow uses it."""

from __future__ import annotations

import importlib

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
    module, _, cls = SOURCE_CLASSES[spec.type].partition(":")
    return getattr(importlib.import_module(module), cls)(spec, video)


__all__ = ["SOURCE_CLASSES", "Source", "SourceError", "create_source"]
