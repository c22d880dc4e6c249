"""Frames received over WebRTC, fitted to the flow's geometry.

A remote peer sends whatever size it likes (OBS 1280x720, a WHEP server its own output
size) and may change it mid-stream; sources deliver ``spec.video`` sizes. Frames that
already fit pass through untouched; others are cover-fitted in libswscale
(``rtcflow.media.convert``) on a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from av.video.reformatter import VideoReformatter

from rtcflow.media.convert import from_av, to_av
from rtcflow.media.frame import VideoFrame
from rtcflow.protocols.webrtc import FrameReceiver
from rtcflow.spec.models import VideoSpec

__all__ = ["fitted_frames"]


async def fitted_frames(receiver: FrameReceiver, video: VideoSpec) -> AsyncIterator[VideoFrame]:
    """The receiver's frames (latest wins) at ``video.width`` x ``video.height``."""
    reformatter = VideoReformatter()
    async for frame in receiver:
        if (frame.width, frame.height) != (video.width, video.height):
            frame = await asyncio.to_thread(_fit, frame, video, reformatter)
        yield frame


def _fit(frame: VideoFrame, video: VideoSpec, reformatter: VideoReformatter) -> VideoFrame:
    return from_av(to_av(frame), video.width, video.height, reformatter=reformatter)
