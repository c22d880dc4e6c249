"""Demux and decode the first video stream of anything FFmpeg can open.

Files, capture devices (``format="v4l2"``, ``"avfoundation"``, ``"dshow"``), filter
graphs (``format="lavfi"``) and file objects (an MPEG-TS segment) all go through
``av.open(target, format=..., options=...)``. Frames come out cover-fitted to the
requested size with the stream's own timestamps, counted from the first frame.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
import av.error
from av.video.reformatter import VideoReformatter

from rtcflow.media.convert import av_to_tensor
from rtcflow.media.errors import InputError
from rtcflow.media.frame import VideoFrame

Target = str | Path | BinaryIO


def describe(target: Target, format: str | None = None) -> str:
    """How errors name an input: ``'clip.mp4'`` or ``'/dev/video0' (v4l2)``."""
    name = repr(str(target)) if isinstance(target, str | Path) else "stream"
    return f"{name} ({format})" if format else name


def read_video(
    target: Target,
    width: int,
    height: int,
    *,
    format: str | None = None,
    options: Mapping[str, str] | None = None,
    thread_type: str = "AUTO",
) -> Iterator[VideoFrame]:
    """Yield the frames of ``target``'s first video stream, cover-fitted to the size.

    Each frame keeps the stream's time base; pts count from the first frame and always
    increase. Raises ``InputError`` naming the input when it cannot be opened, has no
    video, or fails to decode. ``thread_type`` is FFmpeg's decoder threading
    (``"AUTO"`` decodes fastest, ``"SLICE"`` adds no frame of delay).
    """
    name = describe(target, format)
    try:
        container = av.open(target, mode="r", format=format, options=dict(options or {}))
    except (av.error.FFmpegError, OSError) as error:
        raise InputError(f"cannot open {name}: {error}") from error
    try:
        if not container.streams.video:
            raise InputError(f"{name} has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = thread_type
        time_base = stream.time_base or Fraction(1, 90_000)
        rate = stream.average_rate or stream.guessed_rate or Fraction(30)
        fallback_step = max(1, round(1 / (rate * time_base)))
        reformatter = VideoReformatter()
        first: int | None = None
        last = -fallback_step
        for frame in container.decode(stream):
            if frame.pts is None:
                pts = last + fallback_step
            else:
                if first is None:
                    first = frame.pts
                pts = frame.pts - first
            pts = max(pts, last + 1)
            last = pts
            data = av_to_tensor(frame, width, height, reformatter=reformatter)
            yield VideoFrame(data=data, pts=pts, time_base=time_base)
    except av.error.FFmpegError as error:
        raise InputError(f"cannot decode {name}: {error}") from error
    finally:
        container.close()
