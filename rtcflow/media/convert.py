"""The conversions between frame representations, each done once at its boundary.

- PyAV ``av.VideoFrame`` (any pixel format, any size) → ``VideoFrame``: one libswscale
  pass scales and converts to ``rgb24``; the cover-fit crop is a slice and the tensor
  shares the frame's memory (``torch.from_numpy`` over ``to_ndarray``, no copy).
- ``VideoFrame`` → ``av.VideoFrame`` ``rgb24``: wraps the tensor's memory
  (``from_numpy_buffer``); the encoder converts to YUV in its own swscale pass.
- ``VideoFrame`` at any size → the flow's size (``fitted``): frames from a remote peer
  (any size, changing mid-stream) are cover-fitted through the same libswscale pass.
- ``VideoFrame`` ↔ ComfyUI ``IMAGE``: float32 ``[1, H, W, 3]`` in 0..1 on the processing
  device, and back to uint8 with rounding (see ComfyUI's ``comfy/model_management`` and
  the ``IMAGE`` type in its node docs).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator

import av
import torch
from av.video.reformatter import VideoReformatter

from rtcflow.media.frame import VideoFrame
from rtcflow.media.geometry import cover_fit


def av_to_tensor(
    frame: av.VideoFrame,
    width: int | None = None,
    height: int | None = None,
    *,
    reformatter: VideoReformatter | None = None,
) -> torch.Tensor:
    """RGB uint8 ``[H, W, 3]`` CPU tensor, cover-fitted to ``width``x``height`` if given.

    Pass one ``reformatter`` for a whole stream so libswscale's context is reused.
    """
    if (width is None) != (height is None):
        raise ValueError("give both width and height, or neither")
    fit = cover_fit(frame.width, frame.height, width or frame.width, height or frame.height)
    if reformatter is None:
        reformatter = VideoReformatter()
    rgb = reformatter.reformat(
        frame,
        width=fit.scaled_width,
        height=fit.scaled_height,
        format="rgb24",
        interpolation="BILINEAR",
    )
    return fit.crop(torch.from_numpy(rgb.to_ndarray()))


def from_av(
    frame: av.VideoFrame,
    width: int | None = None,
    height: int | None = None,
    *,
    reformatter: VideoReformatter | None = None,
) -> VideoFrame:
    """A ``VideoFrame`` with the PyAV frame's pts and time base (both must be set)."""
    if frame.pts is None or frame.time_base is None:
        raise ValueError("the frame has no pts/time_base")
    data = av_to_tensor(frame, width, height, reformatter=reformatter)
    return VideoFrame(data=data, pts=frame.pts, time_base=frame.time_base)


def to_av(frame: VideoFrame) -> av.VideoFrame:
    """An ``rgb24`` PyAV frame over the tensor's memory (moved to the CPU if needed)."""
    data = frame.data
    if data.dtype != torch.uint8 or data.ndim != 3 or data.shape[2] != 3:
        raise ValueError(f"expected uint8 [H, W, 3], got {data.dtype} {list(data.shape)}")
    array = data.cpu().numpy()
    if array.strides[1:] != (3, 1):  # from_numpy_buffer needs contiguous rows
        array = array.copy()
    result = av.VideoFrame.from_numpy_buffer(array, format="rgb24")
    result.pts = frame.pts
    result.time_base = frame.time_base
    return result


def to_image(frame: VideoFrame, device: torch.device | str | None = None) -> torch.Tensor:
    """ComfyUI ``IMAGE``: float32 ``[1, H, W, 3]`` in 0..1 on ``device`` (default: the frame's)."""
    data = frame.data if device is None else frame.data.to(device, non_blocking=True)
    return data.unsqueeze(0).to(torch.float32).div_(255.0)


def from_image(image: torch.Tensor, like: VideoFrame) -> VideoFrame:
    """``like``'s timing with the pixels of ``image`` (``[1, H, W, 3]`` or ``[H, W, 3]``).

    Values are clamped to 0..1 and rounded to the nearest uint8; the result stays on
    ``image``'s device.
    """
    if image.ndim == 4 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an IMAGE [1, H, W, 3], got {list(image.shape)}")
    data = image.mul(255.0).round_().clamp_(0, 255).to(torch.uint8)
    return like.with_data(data)


async def fitted(
    frames: AsyncIterable[VideoFrame], width: int, height: int
) -> AsyncIterator[VideoFrame]:
    """``frames`` at ``width`` x ``height``: frames that fit pass through untouched, others
    are cover-fitted in libswscale on a worker thread (one reformatter for the stream)."""
    reformatter = VideoReformatter()

    def fit(frame: VideoFrame) -> VideoFrame:
        return from_av(to_av(frame), width, height, reformatter=reformatter)

    async for frame in frames:
        if (frame.width, frame.height) != (width, height):
            frame = await asyncio.to_thread(fit, frame)
        yield frame
