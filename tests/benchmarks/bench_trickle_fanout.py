"""Trickle fan-out benchmark: one 2 Mbit/s channel to 100 subscribers on loopback.

A ``TrickleServer`` runs in its own process (so only its work is counted). A publisher
sends a 2 Mbit/s stream (30 writes per second, a new segment every 2 s, like one GOP of
MPEG-TS per segment) for ``--seconds``; subscribers start at seq 0 and read everything.

Figures for the server process, over the publishing period: CPU share (CPU time / wall
time) and peak resident memory. Per subscriber: bytes received against bytes published
and 470 jumps (whether anyone fell behind), and how long after the publisher's last write
the last subscriber got the last byte. The baseline, measured in the same run, is the
same stream to one subscriber; ``*_ratio`` fields are fan-out / baseline, and
``cpu_per_subscriber_ratio`` is the CPU each extra subscriber adds, relative to the whole
single-subscriber cost.

Run: ``python -m tests.benchmarks.bench_trickle_fanout [--seconds 10] [--subscribers 100]``;
the JSON goes to ``bench-results/trickle_fanout.json``. Linux only (reads ``/proc``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rtcflow.protocols.trickle import TricklePublisher, TrickleSubscriber

RESULTS = Path("bench-results")
BITRATE = 2_000_000  # bits per second
WRITES_PER_SECOND = 30  # one write per video frame
SEGMENT_SECONDS = 2.0  # one GOP per segment


class ServerProcess:
    """``run_trickle_server`` in a child process, with its CPU and memory from /proc."""

    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        code = (
            "import asyncio; from rtcflow.protocols.trickle import run_trickle_server; "
            f"asyncio.run(run_trickle_server('127.0.0.1', {self.port}))"
        )
        self.process = subprocess.Popen([sys.executable, "-c", code])

    async def wait_ready(self) -> None:
        for _ in range(400):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.025)
            else:
                writer.close()
                return
        raise RuntimeError("trickle server did not start")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime+stime

    def peak_rss_mib(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM in /proc status")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def measure(subscribers: int, seconds: float) -> dict[str, Any]:
    server = ServerProcess()
    try:
        await server.wait_ready()
        url = f"http://127.0.0.1:{server.port}/bench"
        write_size = BITRATE // 8 // WRITES_PER_SECOND
        writes_per_segment = round(SEGMENT_SECONDS * WRITES_PER_SECOND)
        total_writes = round(seconds * WRITES_PER_SECOND)
        chunk = os.urandom(write_size)
        loop = asyncio.get_running_loop()
        last_byte_at = [0.0] * subscribers

        async def subscribe(index: int, subscriber: TrickleSubscriber) -> None:
            async for segment in subscriber:
                async for _ in segment.aiter_bytes():
                    last_byte_at[index] = loop.time()

        async with TricklePublisher(url) as publisher:
            readers = [TrickleSubscriber(url, start_seq=0) for _ in range(subscribers)]
            # the publisher's pre-connected POST creates the channel; let it land first
            await asyncio.sleep(0.2)
            tasks = [asyncio.create_task(subscribe(i, r)) for i, r in enumerate(readers)]
            await asyncio.sleep(0.5)  # subscribers connect and wait for segment 0
            cpu_start, started = server.cpu_seconds(), time.perf_counter()
            written = 0
            while written < total_writes:
                async with publisher.segment() as segment:
                    for _ in range(min(writes_per_segment, total_writes - written)):
                        await asyncio.sleep(
                            max(0.0, started + written / WRITES_PER_SECOND - time.perf_counter())
                        )
                        await segment.write(chunk)
                        written += 1
                    last_write_at = loop.time()
            await asyncio.sleep(0.5)  # let subscribers drain before the channel is deleted
            wall = time.perf_counter() - started
            cpu = server.cpu_seconds() - cpu_start
            peak_rss = server.peak_rss_mib()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)  # the DELETE ends them
        for reader in readers:
            await reader.aclose()
    finally:
        server.stop()

    published = publisher.stats.bytes
    behind = [r for r in readers if r.stats.bytes != published or r.stats.jumps]
    return {
        "subscribers": subscribers,
        "seconds": round(wall, 2),
        "published_bytes": published,
        "segments": publisher.stats.segments,
        "server_cpu_share": round(cpu / wall, 4),
        "server_peak_rss_mib": round(peak_rss, 1),
        "subscribers_behind": len(behind),
        "jumps_470": sum(r.stats.jumps for r in readers),
        "min_received_bytes": min(r.stats.bytes for r in readers),
        "max_last_byte_lag_ms": round(max(t - last_write_at for t in last_byte_at) * 1000, 1),
    }


def run(seconds: float = 10.0, subscribers: int = 100) -> dict[str, Any]:
    """Measure the baseline (1 subscriber) then the fan-out; returns figures and ratios."""
    baseline = asyncio.run(measure(1, seconds))
    fanout = asyncio.run(measure(subscribers, seconds))
    extra = subscribers - 1
    cpu_added = fanout["server_cpu_share"] - baseline["server_cpu_share"]
    return {
        "bitrate_bps": BITRATE,
        "baseline": baseline,
        "fanout": fanout,
        "cpu_ratio": round(fanout["server_cpu_share"] / baseline["server_cpu_share"], 2),
        "memory_ratio": round(fanout["server_peak_rss_mib"] / baseline["server_peak_rss_mib"], 2),
        "cpu_per_subscriber_ratio": round(cpu_added / extra / baseline["server_cpu_share"], 3)
        if extra
        else None,
        "anyone_fell_behind": bool(fanout["subscribers_behind"] or fanout["jumps_470"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--subscribers", type=int, default=100)
    args = parser.parse_args()
    result = run(args.seconds, args.subscribers)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "trickle_fanout.json"
    path.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print(f"saved to {path}")


if __name__ == "__main__":
    main()
