"""The trickle sink: one self-contained MPEG-TS segment per GOP, written frame by frame."""

from __future__ import annotations

import pytest
import torch

from rtcflow.media import stamp
from rtcflow.media.frame import VideoFrame
from rtcflow.protocols.trickle import TrickleServer
from rtcflow.sinks.trickle import TrickleSink
from tests.trickle_flows.trickle_flow_testing import (
    decode_segment,
    feed,
    sink,
    stamp_of,
    stamped,
    until,
)

pytestmark = pytest.mark.timeout(60)


def noisy(index: int, out: TrickleSink) -> VideoFrame:
    """A stamped frame of random pixels (expensive to encode)."""
    frame = stamped(index, out.video)
    generator = torch.Generator().manual_seed(index)
    noise = torch.randint(0, 256, frame.data.shape, dtype=torch.uint8, generator=generator)
    noise[: frame.width // stamp.CELLS] = frame.data[: frame.width // stamp.CELLS]
    return frame.with_data(noise)


def held(server: TrickleServer, channel: str, seq: int) -> bytes:
    """The bytes the server holds for segment ``seq``."""
    return b"".join(server.channels[channel].find(seq).chunks)


async def test_segments_start_with_a_keyframe_and_carry_every_frame(server) -> None:
    out = sink(f"{server.url}/out", gop=10)
    await out.open()
    await feed(out, range(35), fps=300)
    await until(lambda: (s := server.channels["out"].find(3)) is not None and s.size > 0)
    await until(lambda: len(decode_segment(held(server, "out", 3))) == 5)
    segments = [held(server, "out", seq) for seq in range(4)]
    await out.close()
    assert out.status()["segments"] == 4  # one per GOP of 10: 10 + 10 + 10 + 5 frames
    for seq, data in enumerate(segments):
        frames = decode_segment(data)  # each on its own: PAT/PMT, SPS/PPS and an IDR first
        assert frames[0].key_frame, f"segment {seq} does not start with a keyframe"
        assert [stamp_of(f) for f in frames] == list(range(seq * 10, min(seq * 10 + 10, 35)))


async def test_each_frame_is_in_the_segment_as_soon_as_it_is_written(server) -> None:
    out = sink(f"{server.url}/out", gop=30)
    await out.open()
    await feed(out, range(3))  # a GOP is 30 frames: segment 0 stays open
    await until(lambda: "out" in server.channels and server.channels["out"].find(0) is not None)
    # The sink streams its POST: the server has each frame before the segment ends.
    await until(lambda: len(decode_segment(held(server, "out", 0))) == 3)
    assert not server.channels["out"].find(0).closed
    await out.close()


async def test_bitrate_is_configurable(server) -> None:
    sizes = {}
    for bitrate in (200_000, 4_000_000):
        out = sink(f"{server.url}/rate-{bitrate}", gop=10, bitrate=bitrate)
        await out.open()
        for index in range(20):
            await out.write(noisy(index, out))
        await out.close()
        sizes[bitrate] = out.status()["bytes"]
    assert sizes[200_000] * 3 < sizes[4_000_000]


async def test_a_refused_segment_is_counted_and_the_next_gop_goes_on() -> None:
    server = TrickleServer("127.0.0.1", 0, max_segment_bytes=40_000)
    await server.start()
    try:
        out = sink(f"{server.url}/out", gop=10, bitrate=8_000_000)
        await out.open()
        await feed(out, range(10), fps=300)  # GOP 0: flat frames, small
        for index in range(10, 20):  # GOP 1: noise, far over 40 kB: the server says 413
            await out.write(noisy(index, out))
        await feed(out, range(20, 30), fps=300)  # GOP 2: small again
        await out.write(stamped(30, out.video))  # starts GOP 3, ending segment 2
        await until(lambda: server.channels["out"].find(2).closed)
        after = decode_segment(held(server, "out", 2))
        status = out.status()
        await out.close()
    finally:
        await server.stop()
    assert status["segments_rejected"] == 1 and "413" in status["last_rejection"]
    assert [stamp_of(frame) for frame in after] == list(range(20, 30))


async def test_closing_deletes_the_channel(server) -> None:
    out = sink(f"{server.url}/out", gop=5)
    await out.open()
    await feed(out, range(12), fps=300)
    await until(lambda: "out" in server.channels)
    await out.close()
    assert "out" not in server.channels
    assert out.status()["state"] == "closed"
