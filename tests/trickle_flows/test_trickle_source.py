"""The trickle source: decoding across segments, live semantics, bad input, reconnects."""

from __future__ import annotations

import asyncio
import os
import tracemalloc

import pytest

from rtcflow.protocols.trickle import TricklePublisher
from rtcflow.spec.models import VideoSpec
from tests.trickle_flows.trickle_flow_testing import (
    VIDEO,
    Reader,
    source,
    ts_segments,
    until,
)

pytestmark = pytest.mark.timeout(60)


async def publish(url: str, segments: list[bytes], **options) -> TricklePublisher:
    """Publish whole segments (in 4 KiB writes); the publisher is left open."""
    publisher = TricklePublisher(url, "video/MP2T", **options)
    for data in segments:
        async with publisher.segment() as segment:
            for start in range(0, len(data), 4096):
                await segment.write(data[start : start + 4096])
    return publisher


async def test_decodes_every_frame_across_segment_boundaries(server) -> None:
    url = f"{server.url}/in"
    publisher = await publish(url, ts_segments(40, gop=10))  # segments 0-3 in the ring
    reader = Reader(source(url, start_seq=0))
    try:
        await until(lambda: reader.source.stats.frames_decoded == 40)
        await reader.wait_for(lambda r: 39 in r.stamps)
    finally:
        await reader.close()
        await publisher.aclose()
    stats = reader.source.stats
    assert (stats.segments, stats.segments_malformed, stats.decode_errors) == (4, 0, 0)
    stamps = reader.stamps
    assert None not in stamps, "a frame decoded without its stamp (a glitch)"
    assert stamps == sorted(set(stamps)) and stamps[-1] == 39
    assert len(stamps) + stats.frames_dropped == 40  # latest wins: the rest was replaced


async def test_without_reconnect_the_end_of_the_channel_ends_the_source(server) -> None:
    url = f"{server.url}/in"
    publisher = await publish(url, ts_segments(10, gop=10))
    reader = Reader(source(url, start_seq=0, reconnect=False))
    await until(lambda: reader.source.stats.frames_decoded == 10)
    await publisher.aclose()
    await asyncio.wait_for(reader.task, 10)
    assert reader.source.status()["state"] == "ended"
    await reader.close()


async def test_waits_for_a_channel_and_for_a_new_publisher(server) -> None:
    url = f"{server.url}/late"
    reader = Reader(source(url))
    try:
        await until(lambda: "waiting for a publisher" in (reader.source.last_error or ""))
        first = await publish(url, ts_segments(10, gop=10))
        await reader.wait_for(lambda r: 9 in r.stamps)
        await first.aclose()  # deleted: a reconnecting source waits for the next one
        await until(lambda: reader.source.stats.subscriptions >= 2)
        second = await publish(url, ts_segments(10, gop=10, first=100))
        await reader.wait_for(lambda r: 109 in r.stamps)
        await second.aclose()
    finally:
        await reader.close()
    assert reader.source.stats.decode_errors == 0


async def test_frames_are_fitted_to_the_flow_geometry(server) -> None:
    url = f"{server.url}/in"
    wide = VideoSpec(width=320, height=160, fps=30)
    publisher = await publish(url, ts_segments(5, gop=5, video=wide))
    reader = Reader(source(url, video=VIDEO, start_seq=0))
    try:
        await reader.wait_for(lambda r: r.frames)
    finally:
        await reader.close()
        await publisher.aclose()
    assert reader.frames[0].data.shape == (VIDEO.height, VIDEO.width, 3)


async def test_a_malformed_segment_is_skipped_and_counted(server) -> None:
    url = f"{server.url}/in"
    good = ts_segments(20, gop=10)
    garbage = os.urandom(50_000)
    publisher = await publish(url, [good[0], garbage, good[1]])
    reader = Reader(source(url, start_seq=0))
    try:
        await reader.wait_for(lambda r: 19 in r.stamps)
    finally:
        await reader.close()
        await publisher.aclose()
    assert reader.source.stats.segments_malformed == 1
    assert reader.source.stats.frames_decoded == 20  # both good segments, whole


async def test_a_publisher_killed_mid_segment_and_its_successor(server) -> None:
    url = f"{server.url}/in"
    first, second = ts_segments(20, gop=10)
    reader = Reader(source(url, start_seq=0))
    _, writer = await asyncio.open_connection("127.0.0.1", server.port)
    head = first[: len(first) // 2]
    writer.write(b"POST /in/0 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
    writer.write(f"{len(head):x}\r\n".encode() + head + b"\r\n")
    await writer.drain()
    try:
        await reader.wait_for(lambda r: r.source.stats.frames_decoded > 0)
        writer.transport.abort()  # killed: no final chunk, the connection is reset
        successor = await publish(url, [second])  # continues at seq 1
        await reader.wait_for(lambda r: 19 in r.stamps)
        await successor.aclose()
    finally:
        await reader.close()
    stamps = [s for s in reader.stamps if s is not None]
    assert stamps[0] < 10 and stamps[-1] == 19  # frames of the cut segment, then the new one


async def test_memory_stays_bounded_while_an_oversized_segment_streams(server_process) -> None:
    await server_process.start()  # its own process: only this one's memory is measured
    url = f"{server_process.url}/big"
    total = 24 * 1024 * 1024
    null_packet = b"\x47\x1f\xff\x10" + b"\xff" * 184  # MPEG-TS stuffing (PID 0x1FFF)
    block = null_packet * 100  # 18.8 KB: the publisher queues at most 64 writes
    head, tail = ts_segments(20, gop=10)
    reader = Reader(source(url, start_seq=0))
    publisher = TricklePublisher(url, "video/MP2T", replay_limit=1024 * 1024)
    tracemalloc.start()
    try:
        async with publisher.segment() as segment:
            await segment.write(head)
            for _ in range(total // len(block)):
                await segment.write(block)
        sent = publisher.stats.bytes
        async with publisher.segment() as segment:
            await segment.write(tail)
        await reader.wait_for(lambda r: 19 in r.stamps)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        await publisher.aclose()
        await reader.close()
    assert reader.source.status()["bytes"] > sent > total * 0.99  # all of it went through
    assert peak < total / 4, f"peak {peak / 2**20:.1f} MiB of Python memory"
