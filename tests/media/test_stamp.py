from __future__ import annotations

from fractions import Fraction

import pytest
import torch

from rtcflow.media import stamp
from rtcflow.media.codec import Decoder, H264Encoder
from rtcflow.media.convert import av_to_tensor
from rtcflow.media.frame import VideoFrame

VALUES = [0, 1, 2, 0x5A5A5A, 123_456, stamp.LIMIT - 1]


def _busy(size: int, seed: int) -> torch.Tensor:
    """Smooth colourful content (a plasma), the kind a stamp sits on in real video."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.randint(0, 256, (3, 8, 8), generator=generator).float()[None]
    smooth = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bicubic")
    return smooth[0].permute(1, 2, 0).clamp(0, 255).to(torch.uint8).contiguous()


@pytest.mark.parametrize("value", VALUES)
def test_read_back_exact_and_inverted(value):
    data = _busy(512, value % 97)
    stamp.draw(data, value)
    assert stamp.read(data) == value
    assert stamp.read(255 - data) == value


def test_survives_h264_at_512_and_inversion_on_either_side():
    encoder = H264Encoder(512, 512, 30, bitrate=1_000_000, gop=10)
    decoder = Decoder()
    decoded = []
    for n, value in enumerate(VALUES * 2):
        data = _busy(512, n)
        stamp.draw(data, value)
        if n >= len(VALUES):
            data = 255 - data  # inverted before encoding, as by a workflow step
        frame = VideoFrame(data, n, Fraction(1, 30))
        decoded += [av_to_tensor(f) for p in encoder.encode(frame) for f in decoder.decode(p)]
    decoded += [av_to_tensor(f) for p in encoder.flush() for f in decoder.decode(p)]
    decoded += [av_to_tensor(f) for f in decoder.flush()]
    assert [stamp.read(d) for d in decoded] == VALUES * 2
    assert [stamp.read(255 - d) for d in decoded] == VALUES * 2  # inverted after decoding


def test_frames_without_a_stamp_read_as_none():
    assert stamp.read(_busy(512, 1)) is None
    assert stamp.read(torch.full((512, 512, 3), 128, dtype=torch.uint8)) is None
    noise = torch.randint(0, 2, (512, 512, 3), generator=torch.Generator().manual_seed(4))
    assert stamp.read((noise * 255).to(torch.uint8)) is None


def test_a_corrupted_bit_fails_the_check():
    data = _busy(512, 2)
    stamp.draw(data, 1000)
    cell = 512 // stamp.CELLS
    data[:cell, 30 * cell : 31 * cell] = 255 - data[:cell, 30 * cell : 31 * cell]
    assert stamp.read(data) is None


def test_size_and_value_limits():
    assert stamp.fits(136, 4) and not stamp.fits(135, 100) and not stamp.fits(512, 10)
    with pytest.raises(ValueError, match="too small"):
        stamp.draw(torch.zeros(16, 16, 3, dtype=torch.uint8), 1)
    with pytest.raises(ValueError, match="outside"):
        stamp.draw(torch.zeros(64, 512, 3, dtype=torch.uint8), stamp.LIMIT)
    assert stamp.read(torch.zeros(16, 16, 3, dtype=torch.uint8)) is None


def test_stamp_occupies_only_the_top_strip():
    data = _busy(512, 3)
    before = data.clone()
    stamp.draw(data, 77)
    cell = 512 // stamp.CELLS
    assert torch.equal(data[cell:], before[cell:])
    assert torch.equal(data[:, stamp.CELLS * cell :], before[:, stamp.CELLS * cell :])
