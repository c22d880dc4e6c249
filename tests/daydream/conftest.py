"""A real emulator on loopback and a client pointed at it."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from rtcflow.daydream import DaydreamClient, RetryPolicy
from rtcflow.daydream.emulator import DaydreamEmulator

#: A fresh key per run, so a leak shows up as this exact text.
API_KEY = "dd_test_" + secrets.token_hex(16)
#: Short waits keep retry tests quick; Retry-After answers still set the wait.
FAST_RETRY = RetryPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.02, max_retry_after=5)


@pytest.fixture
def api_key() -> str:
    return API_KEY


@pytest.fixture
async def emulator() -> AsyncIterator[DaydreamEmulator]:
    async with DaydreamEmulator(api_key=API_KEY) as running:
        yield running


@pytest.fixture
async def client(emulator: DaydreamEmulator) -> AsyncIterator[DaydreamClient]:
    assert emulator.url is not None
    async with DaydreamClient(API_KEY, api_url=emulator.url, retry=FAST_RETRY) as opened:
        yield opened
