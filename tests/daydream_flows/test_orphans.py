"""Streams left by a crash are deleted at the next start; a running process's are not."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from rtcflow.daydream import DaydreamClient, parse_params
from rtcflow.daydream.emulator import DaydreamEmulator
from rtcflow.daydream.state import LEDGER_FOLDER, StreamLedger, delete_orphans
from tests.daydream_flows.daydream_testing import (
    API_KEY,
    SD_TURBO,
    DaydreamFlows,
    flow_yaml,
    requests,
    until,
)

SUNSET = {"prompt": "a sunset"}

CRASH = """
import os, sys
from pathlib import Path
from rtcflow.daydream.state import StreamLedger
folder, stream_id, api_url, dotenv = sys.argv[1:]
StreamLedger(Path(folder)).add(stream_id, api_url, dotenv_file=Path(dotenv), step="dream")
os._exit(1)  # no cleanup of any kind
"""


async def record_and_crash(folder: Path, stream_id: str, api_url: str, dotenv: Path) -> None:
    """A process records a stream, then dies without deleting it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CRASH, str(folder), stream_id, api_url, str(dotenv)
    )
    assert await process.wait() == 1


async def test_a_stream_left_by_a_killed_apply_is_deleted_at_the_next_start(
    tmp_path: Path, emulator: DaydreamEmulator, clip: Path
) -> None:
    assert emulator.url is not None
    spec = tmp_path / "flows.yaml"
    spec.write_text(flow_yaml(clip, SUNSET))
    state_dir = tmp_path / ".rtcflow"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "rtcflow.cli", "apply", str(spec), "--no-watch", "--state-dir", str(state_dir)),
        cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "DAYDREAM_API_KEY": API_KEY, "DAYDREAM_API_URL": emulator.url},
    )
    try:
        (orphan,) = await until(lambda: list(emulator.streams), timeout=60)
        (record,) = await until(lambda: list((state_dir / LEDGER_FOLDER).glob("*.json")))
        assert orphan in record.read_text() and API_KEY not in record.read_text()
    finally:
        process.send_signal(signal.SIGKILL)
        await process.wait()
    assert list(emulator.streams) == [orphan]  # nothing deleted it: it is billed until...

    flows = DaydreamFlows(tmp_path, emulator.url)  # ...the next start, same state dir
    try:
        await flows.apply(flow_yaml(clip, SUNSET))
        (deleted,) = requests(emulator, "DELETE")
        assert deleted.query == {"id": orphan}
        (current,) = emulator.streams
        assert current != orphan and flows.ledger_ids() == {current}
    finally:
        await flows.stop()
    assert emulator.streams == {}


async def test_a_running_process_keeps_its_streams(
    tmp_path: Path, emulator: DaydreamEmulator
) -> None:
    assert emulator.url is not None
    async with DaydreamClient(API_KEY, api_url=emulator.url) as client:
        stream = await client.create_stream(parse_params({"model_id": SD_TURBO}))
    folder = tmp_path / LEDGER_FOLDER
    live = StreamLedger(folder)  # holds its lock, as a running rtcflow does
    live.add(stream.id, emulator.url, dotenv_file=None, step="dream")

    cleanup = await delete_orphans(folder, {"DAYDREAM_API_KEY": API_KEY})
    assert cleanup.deleted == [] and stream.id in emulator.streams
    live.remove(stream.id)
    assert list(folder.iterdir()) == []


async def test_an_orphan_that_cannot_be_deleted_yet_stays_recorded(
    tmp_path: Path, emulator: DaydreamEmulator
) -> None:
    assert emulator.url is not None
    async with DaydreamClient(API_KEY, api_url=emulator.url) as client:
        stream = await client.create_stream(parse_params({"model_id": SD_TURBO}))
    folder = tmp_path / LEDGER_FOLDER
    dotenv = tmp_path / ".env"
    await record_and_crash(folder, stream.id, emulator.url, dotenv)

    cleanup = await delete_orphans(folder, {})
    assert cleanup.deleted == [] and "DAYDREAM_API_KEY" in cleanup.kept[stream.id]
    assert stream.id in emulator.streams

    dotenv.write_text(f"DAYDREAM_API_KEY={API_KEY}\n")  # the key the flow used, from .env
    cleanup = await delete_orphans(folder, {})
    assert cleanup.deleted == [stream.id] and emulator.streams == {}
    assert list(folder.iterdir()) == []
