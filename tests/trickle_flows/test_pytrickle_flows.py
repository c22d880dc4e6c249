"""Interop at flow level with pytrickle, the trickle client of ComfyStream workers.

pytrickle's publisher feeds our trickle source, and pytrickle's subscriber reads our trickle
sink, through our server. pytrickle runs in its own venv (see
``tests/interop/pytrickle/test_pytrickle_interop.py``; ``make`` creates it).
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.interop.pytrickle.pytrickle_testing import Peer
from tests.trickle_flows.trickle_flow_testing import (
    Reader,
    decode_segment,
    feed,
    sink,
    source,
    stamp_of,
    ts_segments,
    until,
)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def peer(tmp_path: Path) -> AsyncIterator[Peer]:
    peer = Peer(tmp_path / "peer.log")
    yield peer
    await peer.kill()


async def test_pytrickle_publisher_to_our_trickle_source(server, peer, tmp_path: Path) -> None:
    segments = ts_segments(30, gop=10)
    segments_file = tmp_path / "segments.json"
    segments_file.write_text(json.dumps([base64.b64encode(s).decode() for s in segments]))
    url = f"{server.url}/from-pytrickle"
    await peer.start("publish", url, str(segments_file))
    reader = Reader(source(url, start_seq=0))
    try:
        await until(lambda: reader.source.stats.frames_decoded == 30)
        await reader.wait_for(lambda r: 29 in r.stamps)
    finally:
        await reader.close()
    await peer.finish()
    stats = reader.source.stats
    assert (stats.segments, stats.segments_malformed, stats.decode_errors) == (3, 0, 0)
    stamps = reader.stamps
    assert None not in stamps and stamps == sorted(set(stamps))


async def test_our_trickle_sink_to_pytrickle_subscriber(server, peer, tmp_path: Path) -> None:
    url = f"{server.url}/to-pytrickle"
    output = tmp_path / "received.jsonl"
    out = sink(url, gop=10)
    await out.open()  # pre-connects segment 0, which creates the channel
    await until(lambda: "to-pytrickle" in server.channels)
    channel = server.channels["to-pytrickle"]
    await peer.start("subscribe", url, str(output))
    await until(lambda: (s := channel.find(0)) is not None and s.readers > 0)
    await feed(out, range(30))
    await until(lambda: (s := channel.find(3)) is not None and s.readers > 0)  # read 0-2
    await out.close()  # deletes the channel: pytrickle sees the end of the stream
    await peer.finish()
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line["seq"] for line in lines] == [0, 1, 2]
    for index, line in enumerate(lines):
        frames = decode_segment(base64.b64decode(line["data"]))
        assert frames[0].key_frame
        assert [stamp_of(frame) for frame in frames] == list(range(index * 10, index * 10 + 10))
