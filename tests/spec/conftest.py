"""Helpers for spec tests: spec files written into ``tmp_path``."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

WriteSpec = Callable[..., Path]


@pytest.fixture
def write_spec(tmp_path: Path) -> WriteSpec:
    """``write_spec(text, name="show.yaml")``: the dedented ``text`` as a file in ``tmp_path``
    (folders in ``name`` are created)."""

    def write(text: str, name: str = "show.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """A media file for file sources (the spec only checks that it exists)."""
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"")
    return path
