"""A real emulator (REST and WebRTC media on loopback) and flows reconciled against it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rtcflow.daydream.emulator import DaydreamEmulator, WebRTCMedia
from tests.daydream_flows.daydream_testing import API_KEY, DaydreamFlows, write_solid_clip


@pytest.fixture
def media() -> WebRTCMedia:
    return WebRTCMedia()


@pytest.fixture
async def emulator(media: WebRTCMedia) -> AsyncIterator[DaydreamEmulator]:
    async with DaydreamEmulator(api_key=API_KEY, media=media) as running:
        yield running


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return write_solid_clip(tmp_path / "grey.mp4")


@pytest.fixture
async def flows(tmp_path: Path, emulator: DaydreamEmulator) -> AsyncIterator[DaydreamFlows]:
    assert emulator.url is not None
    running = DaydreamFlows(tmp_path, emulator.url)
    yield running
    await running.stop()
