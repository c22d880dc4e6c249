"""FrameTrack pacing and latest-wins input, FrameReceiver draining, FrameBroadcaster."""

from __future__ import annotations

import asyncio

import pytest
from aiortc.mediastreams import MediaStreamError
from webrtc_testing import assert_two_colour, two_colour

from rtcflow.media.timing import VIDEO_CLOCK
from rtcflow.protocols.webrtc import FrameBroadcaster, FrameReceiver, FrameTrack, TrackEnded


async def test_track_stamps_ticks_on_the_rtp_clock_and_repeats_the_last_frame() -> None:
    track = FrameTrack(fps=30)
    track.put(two_colour())
    frames = [await track.recv() for _ in range(4)]
    assert [f.pts for f in frames] == [0, 3000, 6000, 9000]
    assert all(f.time_base == VIDEO_CLOCK for f in frames)
    assert (track.sent, track.repeated, track.dropped) == (4, 3, 0)
    assert frames[-1].to_ndarray(format="rgb24")[48, 32].tolist() == [200, 40, 90]


async def test_track_pts_are_exact_for_ntsc_rates() -> None:
    track = FrameTrack(fps=29.97)
    track.put(two_colour())
    assert [(await track.recv()).pts for _ in range(3)] == [0, 3003, 6006]


async def test_track_paces_itself_at_its_frame_rate() -> None:
    loop = asyncio.get_running_loop()
    track = FrameTrack(fps=20)
    track.put(two_colour())
    await track.recv()
    start = loop.time()
    for _ in range(4):
        await track.recv()
    assert loop.time() - start >= 4 / 20 - 0.005  # never early: aiortc has no pacer


async def test_newest_frame_wins_and_drops_are_counted() -> None:
    track = FrameTrack(fps=30)
    for value in (10, 20, 30):
        frame = two_colour()
        track.put(frame.with_data(frame.data.fill_(value)))
    sent = await track.recv()
    assert sent.to_ndarray(format="rgb24")[0, 0].tolist() == [30, 30, 30]
    assert track.dropped == 2


async def test_recv_waits_for_the_first_frame_and_stop_wakes_it() -> None:
    track = FrameTrack(fps=30)
    waiting = asyncio.create_task(track.recv())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    track.stop()
    with pytest.raises(MediaStreamError):
        await waiting
    track.put(two_colour())  # ignored once stopped
    with pytest.raises(MediaStreamError):
        await track.recv()


async def test_receiver_keeps_only_the_latest_frame() -> None:
    source = FrameTrack(fps=60)
    receiver = FrameReceiver(source)
    source.put(two_colour())
    await asyncio.sleep(0.3)  # nobody takes frames meanwhile
    received = receiver.received
    assert received >= 5
    assert receiver.dropped == received - 1
    frame = await receiver.next()
    assert frame.pts == (received - 1) * 1500  # the newest one
    assert frame.time_base == VIDEO_CLOCK
    assert_two_colour(frame)
    await receiver.close()
    source.stop()


async def test_receiver_ends_with_its_track() -> None:
    source = FrameTrack(fps=60)
    source.put(two_colour())
    receiver = FrameReceiver(source)
    taken = []
    async for frame in receiver:
        taken.append(frame)
        if len(taken) == 3:
            source.stop()
    assert 3 <= len(taken) <= 4  # a frame drained before the stop may still be taken
    assert receiver.ended
    with pytest.raises(TrackEnded):
        await receiver.next()


async def test_broadcaster_serves_each_player_the_latest_frame() -> None:
    broadcaster = FrameBroadcaster(fps=30)
    assert not broadcaster.live
    early = broadcaster.subscribe()
    first = two_colour(pts=0)
    broadcaster.publish(first)
    late = broadcaster.subscribe()  # starts from the latest frame
    assert broadcaster.live and broadcaster.players == 2
    for track in (early, late):
        assert (await track.recv()).to_ndarray(format="rgb24")[48, 100].tolist() == [20, 180, 60]
    second = first.with_data(first.data.clone().fill_(7))
    broadcaster.publish(second)
    assert (await early.recv()).to_ndarray(format="rgb24")[0, 0].tolist() == [7, 7, 7]
    early.stop()
    assert broadcaster.players == 1
    broadcaster.close()
    assert broadcaster.players == 0
    with pytest.raises(MediaStreamError):
        await late.recv()
