"""Fixtures shared by every test folder."""

from __future__ import annotations

import pytest

from rtcflow.spec.models import VideoSpec


@pytest.fixture
def video() -> VideoSpec:
    return VideoSpec(width=32, height=32, fps=30)
