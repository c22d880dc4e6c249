"""A real browser plays the preview page: headless Chromium, driven over CDP.

A WHIP publisher sends a solid colour into a flow that inverts it; Chromium opens the
flow's preview page, whose player must advance ``currentTime`` and show the inverted
colour in a screenshot of the video element.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from PIL import Image

from rtcflow.protocols.webrtc import FrameTrack, WhipClient
from tests.webrtc_flows.chromium import Page, open_page, require_chromium
from tests.webrtc_flows.flows_testing import close_to, inverted, solid_feeder, until

COLOUR = (200, 40, 90)
WIDTH, HEIGHT = 160, 120

INGEST_INVERT_PREVIEW = f"""
    apiVersion: rtcflow/v1
    kind: Flow
    metadata: {{name: live}}
    spec:
      video: {{width: {WIDTH}, height: {HEIGHT}, fps: 30}}
      source: {{type: whip}}
      steps: [{{name: invert}}]
      sinks: [{{name: preview, type: preview}}]
"""

CURRENT_TIME = "document.getElementById('video')?.currentTime ?? 0"
VIDEO_RECT = """(() => {
  const r = document.getElementById('video').getBoundingClientRect();
  return {x: r.x, y: r.y, width: r.width, height: r.height};
})()"""


async def current_time_above(page: Page, minimum: float, timeout: float = 30.0) -> float:
    """Wait until the video element's ``currentTime`` exceeds ``minimum``; return it."""
    async with asyncio.timeout(timeout):
        while (value := float(await page.evaluate(CURRENT_TIME))) <= minimum:
            await asyncio.sleep(0.2)
    return value


async def test_chromium_plays_the_inverted_output(run_flows, tmp_path: Path) -> None:
    require_chromium()
    flows = await run_flows(INGEST_INVERT_PREVIEW)
    track = FrameTrack(fps=30)
    async with (
        WhipClient(f"{flows.url}/flows/live/whip", codec="vp8") as publisher,
        solid_feeder(track, COLOUR, WIDTH, HEIGHT),
    ):
        await publisher.start(track)
        await until(lambda: flows.status("live")["sinks"]["preview"]["frames_published"] > 0)
        async with open_page(f"{flows.url}/flows/live", tmp_path / "profile") as page:
            playing = await current_time_above(page, 0.5)
            assert await current_time_above(page, playing + 1.0) > playing  # it advances
            rect = await page.evaluate(VIDEO_RECT)
            assert (rect["width"], rect["height"]) == (WIDTH, HEIGHT)
            png = await page.screenshot(rect)
            (tmp_path / "preview.png").write_bytes(png)
            (tmp_path / "page.png").write_bytes(await page.screenshot(None))
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == (WIDTH, HEIGHT)
    for x, y in (
        (WIDTH // 4, HEIGHT // 4),
        (WIDTH // 2, HEIGHT // 2),
        (3 * WIDTH // 4, 3 * HEIGHT // 4),
    ):
        pixel = list(image.getpixel((x, y)))
        assert close_to(pixel, inverted(COLOUR)), (x, y, pixel)
