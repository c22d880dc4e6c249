"""Flows with trickle sources and sinks, from YAML: processing, server restarts, the CLI."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import av
import pytest

from rtcflow.cli import build_parser
from tests.trickle_flows.trickle_flow_testing import (
    BACKGROUND,
    VIDEO,
    Reader,
    SpecFlows,
    centre,
    feed,
    free_port,
    sink,
    source,
)

pytestmark = pytest.mark.timeout(90)


def relay(base: str) -> str:
    """A flow: trickle ``in`` → inversion → trickle ``out``."""
    return f"""
        apiVersion: rtcflow/v1
        kind: Flow
        metadata: {{name: relay}}
        spec:
          video: {{width: {VIDEO.width}, height: {VIDEO.height}, fps: 30}}
          source: {{type: trickle, url: "{base}/in"}}
          steps: [{{name: invert}}]
          sinks: [{{name: out, type: trickle, url: "{base}/out", gop: 15}}]
    """


async def test_trickle_in_invert_trickle_out(server, tmp_path: Path) -> None:
    flows = await SpecFlows(tmp_path, relay(server.url)).start()
    publisher = sink(f"{server.url}/in", gop=15)
    await publisher.open()
    feeding = asyncio.create_task(feed(publisher, range(10_000)))
    reader = Reader(source(f"{server.url}/out"))
    try:
        await reader.wait_for(lambda r: len({s for s in r.stamps if s is not None}) >= 30)
        status = flows.status("relay")
    finally:
        feeding.cancel()
        await reader.close()
        await flows.stop()
        await publisher.close()
    assert abs(centre(reader.frames[-1]) - (255 - BACKGROUND)) < 12  # inverted
    stamps = [s for s in reader.stamps if s is not None]
    assert stamps == sorted(stamps)  # in order through decode, invert, encode, decode
    assert status["source"]["state"] == "receiving" and status["source"]["decode_errors"] == 0
    assert status["sinks"]["out"]["segments"] >= 1 and status["sinks"]["out"]["failures"] == 0


@pytest.mark.slow
async def test_a_server_restart_while_the_flow_runs(server_process, tmp_path: Path) -> None:
    await server_process.start()
    base = server_process.url
    flows = await SpecFlows(tmp_path, relay(base)).start()
    publisher = sink(f"{base}/in", gop=15)
    await publisher.open()
    feeding = asyncio.create_task(feed(publisher, range(10_000)))
    reader = Reader(source(f"{base}/out"))
    try:
        await reader.wait_for(lambda r: len(r.frames) >= 15)
        server_process.kill()  # every channel is gone with it
        killed_at = max(s for s in reader.stamps if s is not None)
        await asyncio.sleep(0.3)
        await server_process.start()  # a fresh process that knows no channels
        # The test's publisher and the flow's sink re-post with Lp-Trickle-Reset, which
        # creates the channels again; the flow's source and the reader reconnect.
        await reader.wait_for(lambda r: any(s and s > killed_at + 45 for s in r.stamps), 40)
        status = flows.status("relay")
    finally:
        feeding.cancel()
        await reader.close()
        await flows.stop()
        await publisher.close()
    assert status["phase"] == "Running"
    assert status["source"]["retries"] + status["source"]["subscriptions"] > 1  # reconnected
    assert status["sinks"]["out"]["retries"] + status["sinks"]["out"]["failures"] >= 1


@pytest.mark.slow
def test_apply_with_the_embedded_trickle_server(tmp_path: Path) -> None:
    port = free_port()
    spec = tmp_path / "trickle.yaml"
    spec.write_text(
        textwrap.dedent(
            f"""
            apiVersion: rtcflow/v1
            kind: Flow
            metadata: {{name: publish}}
            spec:
              video: {{width: 160, height: 128, fps: 30}}
              source: {{type: testsrc}}
              steps: [{{name: invert}}]
              sinks: [{{name: channel, type: trickle, url: "http://127.0.0.1:{port}/demo"}}]
            ---
            apiVersion: rtcflow/v1
            kind: Flow
            metadata: {{name: record}}
            spec:
              video: {{width: 160, height: 128, fps: 30}}
              source: {{type: trickle, url: "http://127.0.0.1:{port}/demo"}}
              sinks: [{{name: file, type: file, path: record.mkv}}]
            """
        )
    )
    command = [sys.executable, "-m", "rtcflow.cli", "--log-level", "WARNING", "apply"]
    result = subprocess.run(
        [*command, str(spec), "--trickle-server", str(port), "--duration", "4", "--no-watch"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"trickle server: http://127.0.0.1:{port}" in result.stdout
    with av.open(str(tmp_path / "record.mkv")) as container:
        frames = list(container.decode(video=0))
    assert len(frames) > 30 and (frames[0].width, frames[0].height) == (160, 128)


def test_trickle_server_option_rejects_a_bad_address(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["apply", "specs", "--trickle-server", "localhost:http"])
    assert exit_info.value.code == 2
    assert "expected [HOST:]PORT, got 'localhost:http'" in capsys.readouterr().err
    args = build_parser().parse_args(["apply", "specs", "--trickle-server", "3389"])
    assert args.trickle_server == ("127.0.0.1", 3389)
