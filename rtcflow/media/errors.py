"""The exceptions of the media layer.

Sources and sinks catch these and re-raise their own ``SourceError``/``SinkError`` with
the spec context (which file, which device); the message already names the input or
output that failed.
"""

from __future__ import annotations


class MediaError(Exception):
    """A media operation failed."""


class InputError(MediaError):
    """An input cannot be opened, demuxed or decoded (missing file or device, bad data)."""


class OutputError(MediaError):
    """A frame cannot be encoded or a packet cannot be written."""
