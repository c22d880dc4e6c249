"""pytrickle as a peer: it pins dependencies that clash with ours, so it runs in its own
venv as a subprocess (``pytrickle_peer.py``). ``make test`` creates that venv::

    python3 -m venv .venv-pytrickle
    .venv-pytrickle/bin/pip install --no-deps pytrickle==0.1.6
    .venv-pytrickle/bin/pip install aiohttp

or point RTCFLOW_PYTRICKLE_PYTHON at an interpreter that has pytrickle.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
PEER = HERE / "pytrickle_peer.py"


def pytrickle_python() -> str:
    python = os.environ.get("RTCFLOW_PYTRICKLE_PYTHON", str(REPO / ".venv-pytrickle/bin/python"))
    if not Path(python).exists():
        message = (
            f"pytrickle interpreter {python} not found; create it with: python3 -m venv "
            ".venv-pytrickle && .venv-pytrickle/bin/pip install --no-deps pytrickle==0.1.6 "
            "&& .venv-pytrickle/bin/pip install aiohttp (or set RTCFLOW_PYTRICKLE_PYTHON)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return python


class Peer:
    """pytrickle_peer.py in the pytrickle venv; its log goes to a file (a pipe could fill)."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, *args: str) -> None:
        with self.log.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                pytrickle_python(), str(PEER), *args, stdin=asyncio.subprocess.PIPE, stderr=log
            )

    async def finish(self) -> None:
        """Close its stdin and wait; fails with its log if it failed."""
        assert self.process is not None
        self.process.stdin.close()
        await asyncio.wait_for(self.process.wait(), 20)
        assert self.process.returncode == 0, self.log.read_text()[-5000:]

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
