from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
import torch

from rtcflow.media import convert
from rtcflow.media.frame import VideoFrame


def _frame(width: int = 32, height: int = 24, seed: int = 0) -> VideoFrame:
    generator = torch.Generator().manual_seed(seed)
    data = torch.randint(0, 256, (height, width, 3), dtype=torch.uint8, generator=generator)
    return VideoFrame(data=data, pts=7, time_base=Fraction(1, 30))


def test_image_round_trip_is_exact():
    frame = _frame()
    image = convert.to_image(frame)
    assert image.shape == (1, 24, 32, 3) and image.dtype == torch.float32
    assert float(image.min()) >= 0.0 and float(image.max()) <= 1.0
    back = convert.from_image(image, like=frame)
    assert torch.equal(back.data, frame.data)
    assert (back.pts, back.time_base) == (frame.pts, frame.time_base)


def test_to_image_moves_to_the_device():
    image = convert.to_image(_frame(), device="meta")
    assert image.device.type == "meta" and image.shape == (1, 24, 32, 3)


def test_from_image_rounds_and_clamps():
    frame = _frame(2, 1)
    image = torch.tensor([[[[0.6 / 255, 0.4 / 255, 1.6 / 255], [-0.2, 1.3, 254.6 / 255]]]])
    data = convert.from_image(image, like=frame).data
    assert data.dtype == torch.uint8
    assert data.tolist() == [[[1, 0, 2], [0, 255, 255]]]
    # an inverted image (ComfyUI ImageInvert) is exact in uint8
    inverted = convert.from_image(1.0 - convert.to_image(frame), like=frame).data
    assert torch.equal(inverted, 255 - frame.data)


def test_from_image_rejects_batches_and_bad_shapes():
    frame = _frame()
    with pytest.raises(ValueError, match=r"\[2, 24, 32, 3\]"):
        convert.from_image(torch.zeros(2, 24, 32, 3), like=frame)
    with pytest.raises(ValueError, match="IMAGE"):
        convert.from_image(torch.zeros(1, 24, 32, 4), like=frame)


def test_av_round_trip_keeps_pixels_and_timing():
    frame = _frame()
    as_av = convert.to_av(frame)
    assert (as_av.format.name, as_av.width, as_av.height) == ("rgb24", 32, 24)
    assert (as_av.pts, as_av.time_base) == (7, Fraction(1, 30))
    back = convert.from_av(as_av)
    assert torch.equal(back.data, frame.data)
    assert (back.pts, back.time_base) == (7, Fraction(1, 30))


def test_to_av_wraps_the_tensor_memory_and_handles_crops():
    frame = _frame()
    as_av = convert.to_av(frame)
    frame.data[0, 0] = torch.tensor([1, 2, 3], dtype=torch.uint8)
    assert as_av.to_ndarray()[0, 0].tolist() == [1, 2, 3]  # no copy was made
    cropped = frame.with_data(frame.data[4:20, 8:24])  # rows still contiguous
    assert np.array_equal(convert.to_av(cropped).to_ndarray(), cropped.data.numpy())
    strided = frame.with_data(frame.data[:, ::2])  # columns strided: copied once
    assert np.array_equal(convert.to_av(strided).to_ndarray(), strided.data.numpy())


def test_to_av_rejects_non_rgb_tensors():
    with pytest.raises(ValueError, match="uint8"):
        convert.to_av(VideoFrame(torch.zeros(4, 4, 3), 0, Fraction(1, 30)))
    with pytest.raises(ValueError, match=r"\[4, 4\]"):
        convert.to_av(VideoFrame(torch.zeros(4, 4, dtype=torch.uint8), 0, Fraction(1, 30)))


def test_from_av_needs_timestamps():
    bare = av.VideoFrame(16, 16, "rgb24")
    with pytest.raises(ValueError, match="pts"):
        convert.from_av(bare)


async def test_fitted_passes_fitting_frames_and_cover_fits_the_others():
    def frame(width: int, height: int, pts: int) -> VideoFrame:
        data = torch.zeros((height, width, 3), dtype=torch.uint8)
        data[:, : width // 4] = 255  # a white band on the left quarter
        return VideoFrame(data, pts, Fraction(1, 30))

    async def frames():
        yield frame(64, 32, 0)  # wider: scaled to height 32, left and right cropped
        yield frame(32, 32, 1)  # already fits

    out = [f async for f in convert.fitted(frames(), 32, 32)]
    assert [tuple(f.data.shape) for f in out] == [(32, 32, 3), (32, 32, 3)]
    assert [f.pts for f in out] == [0, 1]
    # 64x32 → cover-fit keeps the middle 32 columns: the left-quarter band is cropped away
    assert out[0].data[:, :, 0].float().mean() < 10
    assert out[1].data[:, :8, 0].float().mean() > 245
