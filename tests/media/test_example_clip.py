from __future__ import annotations

import importlib.util
from pathlib import Path

import av
import torch

from rtcflow.media import stamp
from rtcflow.media.reader import read_video

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "media"


def _make_clip_module():
    spec = importlib.util.spec_from_file_location("make_clip", EXAMPLES / "make_clip.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_clip_is_small_h264_and_what_the_script_draws():
    clip = EXAMPLES / "clip.mp4"
    assert clip.stat().st_size < 1_000_000
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 512, 512)
        assert stream.average_rate == 30
    frames = list(read_video(clip, 512, 512))
    assert len(frames) == 120  # 4 s at 30 fps
    assert [stamp.read(f.data) for f in frames] == list(range(120))
    assert abs(frames[-1].time - 119 / 30) < 1e-3
    make_clip = _make_clip_module()
    for n in (0, 75):
        drawn = make_clip.render(n).to(torch.int16)
        error = (frames[n].data.to(torch.int16) - drawn).abs().float().mean()
        assert error < 6.0, n
    assert not torch.equal(frames[0].data, frames[1].data)  # it moves
