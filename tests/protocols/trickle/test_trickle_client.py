"""TricklePublisher / TrickleSubscriber / JSON channels against a real server."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from trickle_testing import channel_of, eventually, free_port, readers

from rtcflow.protocols.trickle import (
    ChannelNotFoundError,
    RetryPolicy,
    TrickleConnectionError,
    TrickleJsonPublisher,
    TrickleJsonSubscriber,
    TricklePublisher,
    TrickleServer,
    TrickleStatusError,
    TrickleSubscriber,
)


def payload(seq: int, size: int = 3000) -> bytes:
    return (f"<segment {seq}>".encode() * size)[:size]


async def collect(subscriber: TrickleSubscriber, count: int) -> list[tuple[int, bytes]]:
    got = []
    async for segment in subscriber:
        got.append((segment.seq, await segment.read()))
        if len(got) == count:
            break
    return got


async def test_round_trip_in_order_with_exact_bytes(server):
    url = f"{server.url}/show"
    async with TricklePublisher(url) as publisher:
        await eventually(lambda: "show" in server.channels, "pre-connect creates the channel")
        async with TrickleSubscriber(url) as subscriber:
            reading = asyncio.create_task(collect(subscriber, 6))
            for seq in range(6):
                async with publisher.segment() as segment:
                    assert segment.seq == seq
                    data = payload(seq)
                    for start in range(0, len(data), 1000):
                        await segment.write(data[start : start + 1000])
            assert await reading == [(seq, payload(seq)) for seq in range(6)]
        assert publisher.stats.segments == 6
        assert publisher.stats.bytes == 6 * 3000
    assert "show" not in server.channels  # closing the publisher deleted the channel


async def test_segment_bytes_arrive_while_it_is_written_and_next_is_preconnected(server):
    url = f"{server.url}/live"
    async with TricklePublisher(url) as publisher, publisher.segment() as segment:
        await segment.write(b"head")
        channel = await channel_of(server, "live")
        # the publisher already connected the POST for seq 1
        await eventually(lambda: channel.find(1) is not None, "publisher pre-connect")
        async with TrickleSubscriber(url) as subscriber:
            segments = subscriber.segments()
            current = await anext(segments)
            chunks = current.aiter_bytes()
            assert (current.seq, await anext(chunks)) == (0, b"head")
            # the subscriber asks for seq 1 while seq 0 is still streaming
            await eventually(lambda: readers(channel, 1) == 1, "subscriber pre-connect")
            await segment.write(b"tail")
            assert await anext(chunks) == b"tail"
            await segments.aclose()


async def test_subscriber_starting_mid_segment_gets_it_from_the_start(server):
    url = f"{server.url}/gop"
    async with TricklePublisher(url) as publisher, TrickleSubscriber(url) as subscriber:
        segments = subscriber.segments()  # default start: -2, the current segment
        async with publisher.segment() as segment:
            await segment.write(b"keyframe ")
            channel = await channel_of(server, "gop")
            await eventually(lambda: channel.next_write == 1, "segment started")
            first = await anext(segments)
            await segment.write(b"deltas")
            await segment.write(b"")  # ignored
            reading = asyncio.create_task(first.read())
        assert (first.seq, await reading) == (0, b"keyframe deltas")
        await segments.aclose()


async def test_start_at_next_skips_the_current_segment(server):
    url = f"{server.url}/ch"
    async with TricklePublisher(url) as publisher:
        async with publisher.segment() as segment:
            await segment.write(b"current")
            channel = await channel_of(server, "ch")
            await eventually(lambda: channel.next_write == 1, "segment started")
            subscriber = TrickleSubscriber(url, start_seq=-1)
            reading = asyncio.create_task(collect(subscriber, 1))
            await eventually(lambda: readers(channel, 1) == 1, "waiting on 1")
        async with publisher.segment() as segment:
            await segment.write(b"next")
        assert await reading == [(1, b"next")]
        await subscriber.aclose()


async def test_subscriber_ends_when_the_channel_is_deleted(server):
    url = f"{server.url}/ch"
    publisher = TricklePublisher(url)
    await publisher.start()
    async with publisher.segment() as segment:
        await segment.write(b"only")
    async with TrickleSubscriber(url, start_seq=0) as subscriber:
        seen = []

        async def read_all() -> None:
            async for segment in subscriber:
                seen.append(await segment.read())

        reading = asyncio.create_task(read_all())
        await eventually(lambda: seen == [b"only"], "first segment")
        await publisher.aclose()
        await asyncio.wait_for(reading, 5)  # ended without an exception
    assert seen == [b"only"]


async def test_missing_channel_raises_a_clear_error(server):
    async with TrickleSubscriber(f"{server.url}/nope") as subscriber:
        with pytest.raises(ChannelNotFoundError, match=r"not found.*/nope"):
            await anext(subscriber.segments())


async def test_publisher_needs_an_existing_channel_when_creation_is_off():
    server = TrickleServer("127.0.0.1", 0, allow_create=False)
    await server.start()
    try:
        publisher = TricklePublisher(f"{server.url}/locked")
        await publisher.start()
        with pytest.raises(ChannelNotFoundError):
            async with publisher.segment() as segment:
                await segment.write(b"x")
        await publisher.aclose()
    finally:
        await server.stop()


async def test_publisher_continues_an_existing_channel_with_reset(server):
    url = f"{server.url}/ch"
    first = TricklePublisher(url)
    await first.start()
    for _ in range(3):
        async with first.segment() as segment:
            await segment.write(b"old")
    stale = first._pending  # pre-connected POST for seq 3, never written
    async with TrickleSubscriber(url, start_seq=2) as subscriber:
        segments = subscriber.segments()
        assert await (await anext(segments)).read() == b"old"
        # a publisher restarted elsewhere continues at the write position, with a reset
        async with TricklePublisher(url) as second:
            assert second.seq == 3
            async with second.segment() as segment:
                await segment.write(b"new")
            nxt = await anext(segments)
            assert (nxt.seq, await nxt.read()) == (3, b"new")
        await segments.aclose()
    await stale.cancel()
    await first._client.aclose()


async def test_oversized_segment_is_an_error_and_the_publisher_goes_on():
    server = TrickleServer("127.0.0.1", 0, max_segment_bytes=10_000)
    await server.start()
    try:
        async with TricklePublisher(f"{server.url}/big") as publisher:
            with pytest.raises(TrickleStatusError) as caught:
                async with publisher.segment() as segment:
                    for _ in range(10):
                        await segment.write(b"z" * 4096)
            assert caught.value.status == 413
            async with publisher.segment() as segment:
                await segment.write(b"small")
            assert server.channels["big"].find(1).chunks == [b"small"]
    finally:
        await server.stop()


async def test_retry_policy_is_bounded():
    policy = RetryPolicy(initial_delay=0.1, max_delay=0.3, multiplier=2, max_attempts=5)
    assert list(policy.delays()) == [0.1, 0.2, 0.3, 0.3]
    with pytest.raises(ValueError):
        RetryPolicy(initial_delay=0)


async def test_unreachable_server_gives_up_after_the_retry_budget():
    policy = RetryPolicy(initial_delay=0.01, max_attempts=3)
    subscriber = TrickleSubscriber(f"http://127.0.0.1:{free_port()}/ch", retry=policy)
    with pytest.raises(TrickleConnectionError, match="GET segment -2 kept failing"):
        await anext(subscriber.segments())
    assert subscriber.stats.retries == 2
    await subscriber.aclose()


async def test_json_channels_skip_keepalives_and_bad_messages(server, caplog):
    url = f"{server.url}/s-control"
    async with TrickleJsonPublisher(url, keepalive_interval=0.05) as publisher:
        channel = await channel_of(server, "s-control")
        async with TrickleJsonSubscriber(url) as subscriber:
            messages = aiter(subscriber)
            receiving = asyncio.create_task(anext(messages))
            # wait until keepalives went by; they must not be delivered
            await eventually(lambda: channel.next_write >= 3, "keepalives")
            assert not receiving.done()
            await publisher.publish({"prompt": "neon city", "seed": 7})
            assert await receiving == {"prompt": "neon city", "seed": 7}
            raw = publisher.publisher
            with caplog.at_level(logging.WARNING):
                async with raw.segment() as segment:
                    await segment.write(b"{not json")
                async with raw.segment() as segment:
                    await segment.write(json.dumps([1, 2]).encode())
                await publisher.publish({"ok": True})
                assert await anext(messages) == {"ok": True}
            assert "invalid JSON skipped" in caplog.text
            assert "expected a JSON object, got list" in caplog.text
