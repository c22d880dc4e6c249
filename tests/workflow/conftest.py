"""Fixtures for the workflow engine tests: a registry with the test node pack loaded."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from rtcflow.workflow import NodeRegistry

from .helpers import TESTPACK


@pytest.fixture
def registry() -> NodeRegistry:
    """Built-ins plus a freshly imported test pack (so its call counters start at 0)."""
    registry = NodeRegistry.with_builtins()
    registry.load_custom_nodes(TESTPACK)
    return registry


@pytest.fixture
def isolated_imports() -> Iterator[None]:
    """Undo the sys.path and sys.modules changes that loading a workspace makes."""
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        del sys.modules[name]
