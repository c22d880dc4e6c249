from __future__ import annotations

import av
import numpy as np
import pytest
import torch

from rtcflow.media.convert import av_to_tensor
from rtcflow.media.geometry import cover_fit


@pytest.mark.parametrize(
    ("source", "target", "scaled", "offset"),
    [
        ((1280, 720), (512, 512), (910, 512), (199, 0)),  # landscape: crop the sides
        ((720, 1280), (512, 512), (512, 910), (0, 199)),  # portrait: crop top and bottom
        ((256, 256), (512, 512), (512, 512), (0, 0)),  # same aspect: scale only
        ((640, 480), (640, 360), (640, 480), (0, 60)),  # same width: crop only
        ((100, 100), (64, 32), (64, 64), (0, 16)),
    ],
)
def test_cover_fit_scales_to_cover_and_centres_the_crop(source, target, scaled, offset):
    fit = cover_fit(*source, *target)
    assert (fit.scaled_width, fit.scaled_height) == scaled
    assert (fit.left, fit.top) == offset
    assert fit.scaled_width >= target[0] and fit.scaled_height >= target[1]
    # the aspect ratio is kept to within one pixel of rounding
    assert abs(fit.scaled_width / fit.scaled_height - source[0] / source[1]) < 2 / min(scaled)


def test_identity_fit_and_crop_slice():
    assert cover_fit(320, 240, 320, 240).is_identity
    assert not cover_fit(320, 240, 160, 160).is_identity
    fit = cover_fit(8, 4, 4, 4)  # no scaling, crop the middle four columns
    image = torch.arange(8)[None, :].expand(4, 8)
    assert fit.crop(image)[0].tolist() == [2, 3, 4, 5]


def test_cover_fit_rejects_empty_sizes():
    with pytest.raises(ValueError, match="positive"):
        cover_fit(0, 10, 10, 10)


def _banded(width: int, height: int) -> av.VideoFrame:
    """Red bands (3/16 of the width) at both sides, green between, a white square at the
    centre (yuv420p)."""
    band = width * 3 // 16
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[:, :band] = (255, 0, 0)
    rgb[:, band : width - band] = (0, 255, 0)
    rgb[:, width - band :] = (255, 0, 0)
    cy, cx, r = height // 2, width // 2, height // 8
    rgb[cy - r : cy + r, cx - r : cx + r] = 255
    return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")


def test_av_to_tensor_scales_in_swscale_and_crops_the_centre():
    # 1280x720 -> 360x360: scaled to 640x360 and 140 px cut from each side, which removes
    # the red bands (120 px each after scaling)
    tensor = av_to_tensor(_banded(1280, 720), 360, 360)
    assert tensor.shape == (360, 360, 3) and tensor.dtype == torch.uint8
    red = tensor[..., 0].to(torch.int32)
    green = tensor[..., 1].to(torch.int32)
    white = (red > 200) & (green > 200)
    assert not ((red > 100) & (green < 100)).any()  # no red left anywhere
    border = torch.cat([tensor[:, :100], tensor[:, -100:]], dim=1)
    assert (border[..., 1] > 200).all()
    rows, cols = torch.nonzero(white, as_tuple=True)
    assert abs(rows.float().mean().item() - 179.5) < 2  # the square is centred
    assert abs(cols.float().mean().item() - 179.5) < 2
    assert abs(int(white.sum()) - 90 * 90) < 2 * 90 * 4  # 180 px at half scale -> 90 px


def test_av_to_tensor_without_a_size_only_converts_and_shares_memory():
    rgb = np.random.default_rng(1).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    tensor = av_to_tensor(frame)
    assert torch.equal(tensor, torch.from_numpy(rgb))
    cropped = av_to_tensor(frame, 48, 48)
    assert torch.equal(cropped, torch.from_numpy(rgb[:, 8:56]))
    assert not cropped.is_contiguous()  # a view into the converted frame, not a copy
