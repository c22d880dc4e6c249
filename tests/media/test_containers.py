from __future__ import annotations

import io
import itertools
from fractions import Fraction
from pathlib import Path

import av
import pytest

from rtcflow.media import stamp
from rtcflow.media.codec import H264Encoder
from rtcflow.media.errors import InputError, OutputError
from rtcflow.media.frame import VideoFrame
from rtcflow.media.mux import Muxer
from rtcflow.media.reader import read_video
from rtcflow.sources.testsrc import TestPattern


def _write(target, format: str, count: int, size: int = 256, options=None) -> None:
    encoder = H264Encoder(size, size, 30, gop=10)
    muxer = Muxer(target, format=format, encoder=encoder, options=options)
    pattern = TestPattern(size, size)
    for n in range(count):
        muxer.mux(encoder.encode(VideoFrame(pattern.render(n), n, Fraction(1, 30))))
    muxer.mux(encoder.flush())
    muxer.close()


def test_mpegts_in_memory_round_trip():
    """The trickle path: MPEG-TS written to and read from file objects."""
    buffer = io.BytesIO()
    _write(buffer, "mpegts", 25)
    assert buffer.getvalue()[0] == 0x47  # TS sync byte (ISO/IEC 13818-1 §2.4.3.3)
    frames = list(read_video(io.BytesIO(buffer.getvalue()), 256, 256, format="mpegts"))
    assert [stamp.read(f.data) for f in frames] == list(range(25))
    assert frames[0].time_base == Fraction(1, 90_000)
    assert [f.pts for f in frames] == [n * 3000 for n in range(25)]  # counted from the first


def test_reader_scales_and_keeps_the_stream_time_base(tmp_path: Path):
    path = tmp_path / "clip.mkv"
    _write(path, "matroska", 5)
    frames = list(read_video(path, 64, 32))
    assert [tuple(f.data.shape) for f in frames] == [(32, 64, 3)] * 5
    assert frames[0].time_base == Fraction(1, 1000)  # Matroska's millisecond clock
    assert [f.pts for f in frames] == [0, 33, 67, 100, 133]


def test_pts_without_gaps_or_repeats_even_if_the_stream_has_them(tmp_path: Path):
    path = tmp_path / "dup.mkv"
    encoder = H264Encoder(64, 64, 30)
    muxer = Muxer(path, format="matroska", encoder=encoder)
    pattern = TestPattern(64, 64)
    for n in range(4):
        muxer.mux(encoder.encode(VideoFrame(pattern.render(n), n, Fraction(1, 30))))
    muxer.mux(encoder.flush())
    muxer.close()
    # rewrite with a duplicated timestamp: the reader still yields increasing pts
    with av.open(str(path)) as source, av.open(str(tmp_path / "bad.mkv"), "w") as target:
        stream = target.add_stream_from_template(source.streams.video[0])
        for index, packet in enumerate(source.demux(video=0)):
            if packet.size == 0:
                continue
            packet.pts = packet.dts = min(index, 2) * 33
            packet.stream = stream
            target.mux(packet)
    pts = [f.pts for f in read_video(tmp_path / "bad.mkv", 64, 64)]
    assert len(pts) == 4 and all(b > a for a, b in itertools.pairwise(pts))


def test_missing_input_names_the_path(tmp_path: Path):
    with pytest.raises(InputError, match=r"cannot open '.*nothing\.mp4'"):
        next(read_video(tmp_path / "nothing.mp4", 64, 64))


def test_undecodable_input_names_the_path(tmp_path: Path):
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 100)
    with pytest.raises(InputError, match=r"notes\.mp4"):
        next(read_video(path, 64, 64))


def test_audio_only_input_has_no_video(tmp_path: Path):
    path = tmp_path / "tone.wav"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame(format="s16", layout="mono", samples=800)
        frame.planes[0].update(bytes(1600))
        frame.sample_rate = 8000
        frame.pts = 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with pytest.raises(InputError, match=r"tone\.wav' has no video stream"):
        next(read_video(path, 64, 64))


def test_muxer_reports_unwritable_targets_when_created(tmp_path: Path):
    with pytest.raises(OutputError, match=r"cannot create .*missing/x\.mkv \(matroska\)"):
        Muxer(tmp_path / "missing" / "x.mkv", format="matroska", encoder=H264Encoder(64, 64, 30))
