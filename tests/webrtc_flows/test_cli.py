"""``rtcflow apply`` serves previews and WHIP ingest on the control API and prints URLs."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import textwrap
from pathlib import Path

import httpx

from rtcflow.protocols.webrtc import WhepClient

SPEC = """
    apiVersion: rtcflow/v1
    kind: Flow
    metadata: {name: show}
    spec:
      video: {width: 64, height: 48, fps: 30}
      source: {type: testsrc}
      steps: [{name: fx}]
      sinks: [{name: preview, type: preview}]
    ---
    apiVersion: rtcflow/v1
    kind: Flow
    metadata: {name: studio}
    spec:
      video: {width: 64, height: 48, fps: 30}
      source: {type: whip}
"""


async def test_apply_prints_the_urls_it_serves(tmp_path: Path) -> None:
    spec = tmp_path / "flows.yaml"
    spec.write_text(textwrap.dedent(SPEC))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "rtcflow.cli", "apply", str(spec), "--no-watch", "--duration", "60"),
        *("--api-port", "0"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        urls: dict[str, str] = {}
        async with asyncio.timeout(60):
            while len(urls) < 2:
                line = (await process.stdout.readline()).decode()
                assert line, "apply exited early"
                if match := re.match(r"(preview|WHIP ingest) of (\w+): (http://\S+)$", line):
                    urls[f"{match[1]} {match[2]}"] = match[3]
        assert set(urls) == {"preview show", "WHIP ingest studio"}
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/flows/show", urls["preview show"])
        assert urls["WHIP ingest studio"].endswith("/flows/studio/whip")
        async with httpx.AsyncClient() as http:
            page = await http.get(urls["preview show"])
        assert page.status_code == 200 and "<video" in page.text
        async with WhepClient(urls["preview show"] + "/whep", codec="vp8") as player:
            frame = await (await player.start()).next()
        assert (frame.width, frame.height) == (64, 48)
    finally:
        process.terminate()
        await process.wait()
