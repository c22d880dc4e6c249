from __future__ import annotations

from fractions import Fraction

import av
import pytest
import torch

from rtcflow.media import stamp
from rtcflow.media.codec import Decoder, H264Encoder
from rtcflow.media.convert import av_to_tensor
from rtcflow.media.errors import InputError, OutputError
from rtcflow.media.frame import VideoFrame
from rtcflow.sources.testsrc import TestPattern

THIRTIETH = Fraction(1, 30)


def _nal_types(packet: av.Packet) -> list[int]:
    """NAL unit types of an Annex B packet (ITU-T H.264 §7.3.1, B.1)."""
    data = bytes(packet)
    types = []
    start = data.find(b"\x00\x00\x01")
    while start != -1:
        types.append(data[start + 3] & 0x1F)
        start = data.find(b"\x00\x00\x01", start + 3)
    return types


def _encode(encoder: H264Encoder, frames: list[VideoFrame]) -> list[av.Packet]:
    packets = [packet for frame in frames for packet in encoder.encode(frame)]
    return packets + encoder.flush()


def _pattern_frames(count: int, size: int = 512) -> list[VideoFrame]:
    pattern = TestPattern(size, size)
    return [VideoFrame(pattern.render(n), n, THIRTIETH) for n in range(count)]


def test_round_trip_keeps_pixels_order_and_timing():
    frames = _pattern_frames(20)
    packets = _encode(H264Encoder(512, 512, 30), frames)
    decoder = Decoder()
    decoded = [f for p in packets for f in decoder.decode(p)] + decoder.flush()
    assert len(decoded) == 20
    for original, frame in zip(frames, decoded, strict=True):
        pixels = av_to_tensor(frame)
        error = (pixels.to(torch.int16) - original.data.to(torch.int16)).abs().float().mean()
        assert error < 4.0
        assert stamp.read(pixels) == original.pts
        assert frame.pts == original.pts * 3000  # 1/30 s in the 90 kHz clock


@pytest.mark.parametrize("colour", [(200, 40, 90), (16, 16, 16), (250, 250, 250)])
def test_solid_colours_survive_within_codec_tolerance(colour):
    data = torch.tensor(colour, dtype=torch.uint8).expand(64, 64, 3).contiguous()
    frames = [VideoFrame(data, n, THIRTIETH) for n in range(3)]
    decoder = Decoder()
    decoded = [f for p in _encode(H264Encoder(64, 64, 30), frames) for f in decoder.decode(p)]
    for frame in decoded + decoder.flush():
        pixels = av_to_tensor(frame).to(torch.int16)
        assert (pixels - torch.tensor(colour, dtype=torch.int16)).abs().max() <= 4


def test_fixed_gop_with_an_idr_and_parameter_sets_at_every_start():
    packets = _encode(H264Encoder(128, 128, 30, gop=7), _pattern_frames(30, 128))
    assert len(packets) == 30
    keyframes = [i for i, p in enumerate(packets) if p.is_keyframe]
    assert keyframes == [0, 7, 14, 21, 28]
    for index, packet in enumerate(packets):
        types = _nal_types(packet)
        if index in keyframes:
            assert {7, 8, 5} <= set(types)  # SPS, PPS, IDR slice: decodable on its own
        else:
            assert 5 not in types and 7 not in types
    # no B-frames: output order is input order and dts equals pts
    assert [p.pts for p in packets] == [n * 3000 for n in range(30)]
    assert all(p.dts == p.pts for p in packets)
    assert all(p.duration == 3000 and p.time_base == Fraction(1, 90_000) for p in packets)


def test_a_later_gop_decodes_without_the_earlier_ones():
    packets = _encode(H264Encoder(256, 256, 30, gop=5), _pattern_frames(12, 256))
    decoder = Decoder()
    decoded = [f for p in packets[5:] for f in decoder.decode(p)] + decoder.flush()
    assert [stamp.read(av_to_tensor(f)) for f in decoded] == list(range(5, 12))


@pytest.mark.parametrize(("profile", "profile_idc"), [("baseline", 66), ("main", 77)])
def test_profile_is_written_into_the_sps(profile, profile_idc):
    packet = _encode(H264Encoder(64, 64, 30, profile=profile, level="3.1"), _pattern_frames(1, 64))[
        0
    ]
    data = bytes(packet)
    sps = data[data.find(b"\x00\x00\x01\x67") + 4 :]
    assert sps[0] == profile_idc
    assert sps[2] == 31  # level_idc
    if profile == "baseline":
        assert sps[1] & 0x40  # constraint_set1_flag: Constrained Baseline


def test_bitrate_controls_the_size():
    generator = torch.Generator().manual_seed(3)
    frames = [
        VideoFrame(
            torch.randint(0, 256, (128, 128, 3), dtype=torch.uint8, generator=generator),
            n,
            THIRTIETH,
        )
        for n in range(15)
    ]
    small = sum(p.size for p in _encode(H264Encoder(128, 128, 30, bitrate=100_000), frames))
    large = sum(p.size for p in _encode(H264Encoder(128, 128, 30, bitrate=2_000_000), frames))
    assert large > 3 * small


def test_pts_are_converted_between_time_bases():
    encoder = H264Encoder(64, 64, 30, time_base=Fraction(1, 1000))
    data = torch.zeros(64, 64, 3, dtype=torch.uint8)
    packets = [
        p for n in range(3) for p in encoder.encode(VideoFrame(data, n * 3000, Fraction(1, 90_000)))
    ]
    assert [p.pts for p in packets] == [0, 33, 67]
    assert encoder.frame_duration == 33


def test_pts_must_increase():
    encoder = H264Encoder(64, 64, 30)
    data = torch.zeros(64, 64, 3, dtype=torch.uint8)
    encoder.encode(VideoFrame(data, 5, THIRTIETH))
    with pytest.raises(OutputError, match="pts must increase"):
        encoder.encode(VideoFrame(data, 5, THIRTIETH))


def test_frame_size_must_match():
    encoder = H264Encoder(64, 64, 30)
    with pytest.raises(OutputError, match="32x64"):
        encoder.encode(VideoFrame(torch.zeros(64, 32, 3, dtype=torch.uint8), 0, THIRTIETH))


def test_bad_encoder_options_are_reported():
    with pytest.raises(OutputError, match="libx264"):
        H264Encoder(64, 64, 30, preset="no-such-preset")


def test_decode_bytes_accepts_any_chunking():
    packets = _encode(H264Encoder(256, 256, 30, gop=4), _pattern_frames(10, 256))
    stream = b"".join(bytes(p) for p in packets)
    decoder = Decoder()
    decoded = []
    for start in range(0, len(stream), 777):
        decoded += decoder.decode_bytes(stream[start : start + 777])
    decoded += decoder.flush()
    assert [stamp.read(av_to_tensor(f)) for f in decoded] == list(range(10))


def test_garbage_is_an_input_error():
    decoder = Decoder()
    with pytest.raises(InputError, match="h264"):
        decoder.decode(av.Packet(b"\x00\x00\x01\x65" + b"\xff" * 64))
        decoder.flush()
