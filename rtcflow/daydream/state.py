"""A record on disk of the Daydream streams this process created, so none outlives a crash.

Remote streams are billed until deleted. A step deletes its stream when it stops, but a
process killed with SIGKILL (or a lost machine) cannot; so every stream is written down
the moment it is created and struck off once it is deleted:

- Each process keeps its own file ``<folder>/<pid>-<token>.json`` (the streams: id, API
  URL, the ``.env`` that held the key) beside ``<same name>.lock``, on which it holds an
  exclusive ``flock`` (via :mod:`filelock`) while the file lists anything. The kernel drops
  the lock when the process dies, however it dies.
- :func:`delete_orphans` (run when rtcflow starts) takes every file whose lock it can get:
  its owner is gone, so its streams are orphans. It deletes them at the API and removes
  the file; streams it cannot delete yet (API down, no key) stay listed for the next start.
  Files whose owner still runs (another rtcflow in the same folder) are left alone.

Files are replaced atomically (write, then ``os.replace``), so a crash mid-write leaves the
previous list. No API key is ever written: cleanup reads it again from the environment or
from the ``.env`` file the record names.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from dotenv import dotenv_values
from filelock import FileLock, Timeout
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from rtcflow.daydream.client import API_KEY_ENV, DaydreamClient
from rtcflow.daydream.errors import DaydreamError, DaydreamNotFound
from rtcflow.protocols.retry import RetryPolicy

__all__ = ["OrphanCleanup", "StreamLedger", "StreamRecord", "delete_orphans"]

logger = logging.getLogger(__name__)

#: The folder under the state dir (``.rtcflow`` by default) that holds the records.
LEDGER_FOLDER = "daydream-streams"
#: Cleanup gives up on one API after this long (the record stays for the next start).
CLEANUP_TIMEOUT = 20.0
_CLEANUP_RETRY = RetryPolicy(max_attempts=2, initial_delay=0.25, max_delay=1.0, max_retry_after=5.0)


class StreamRecord(BaseModel):
    """One created stream: enough to delete it later, and nothing secret."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    api_url: str
    dotenv_file: str | None = None
    step: str | None = None
    created_at: datetime


_RECORDS = TypeAdapter(list[StreamRecord])


def _read(path: Path) -> list[StreamRecord]:
    """The records of ``path``; an unreadable file is reported and read as empty."""
    try:
        return _RECORDS.validate_json(path.read_bytes())
    except FileNotFoundError:
        return []
    except (OSError, ValidationError) as exc:
        logger.error("cannot read Daydream stream records %s: %s", path, exc)
        return []


def _write(path: Path, records: list[StreamRecord]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(_RECORDS.dump_json(records, indent=2))
    os.replace(temporary, path)


class StreamLedger:
    """This process's list of live Daydream streams, in ``folder`` (created on first use)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        owner = f"{os.getpid()}-{secrets.token_hex(4)}"
        self.path = folder / f"{owner}.json"
        self._lock = FileLock(folder / f"{owner}.lock")
        self._records: dict[str, StreamRecord] = {}

    @property
    def records(self) -> list[StreamRecord]:
        return list(self._records.values())

    def add(
        self, stream_id: str, api_url: str, *, dotenv_file: Path | None, step: str | None
    ) -> None:
        """Write down a stream just created (before anything else can fail)."""
        if not self._records:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._lock.acquire()
        self._records[stream_id] = StreamRecord(
            id=stream_id,
            api_url=api_url,
            dotenv_file=str(dotenv_file) if dotenv_file else None,
            step=step,
            created_at=datetime.now(UTC),
        )
        _write(self.path, self.records)

    def remove(self, stream_id: str) -> None:
        """Strike off a deleted stream; the files go when nothing is left."""
        if self._records.pop(stream_id, None) is None:
            return
        if self._records:
            _write(self.path, self.records)
            return
        self.path.unlink(missing_ok=True)
        self._lock.release()
        Path(self._lock.lock_file).unlink(missing_ok=True)


@dataclass
class OrphanCleanup:
    """What :func:`delete_orphans` did: streams deleted, and those still recorded."""

    deleted: list[str] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)  # stream id -> why


def _api_key(record: StreamRecord, environ: Mapping[str, str]) -> str | None:
    """The key as a flow would find it: the environment first, then the record's ``.env``."""
    if key := environ.get(API_KEY_ENV):
        return key
    if record.dotenv_file and Path(record.dotenv_file).is_file():
        return dotenv_values(record.dotenv_file, interpolate=False).get(API_KEY_ENV)
    return None


async def _delete(record: StreamRecord, environ: Mapping[str, str]) -> str | None:
    """Delete one orphan; ``None`` when done (or already gone), else why not."""
    key = _api_key(record, environ)
    if not key:
        return f"no API key ({API_KEY_ENV} is not set)"
    try:
        async with asyncio.timeout(CLEANUP_TIMEOUT):
            async with DaydreamClient(
                key, api_url=record.api_url, retry=_CLEANUP_RETRY, timeout=10.0
            ) as client:
                await client.delete_stream(record.id)
    except DaydreamNotFound:
        return None
    except (DaydreamError, TimeoutError) as exc:
        return str(exc) or type(exc).__name__
    return None


async def delete_orphans(folder: Path, environ: Mapping[str, str] | None = None) -> OrphanCleanup:
    """Delete the streams recorded in ``folder`` by processes that are gone.

    ``environ`` (default ``os.environ``) gives ``DAYDREAM_API_KEY``. Never raises for a
    stream it cannot delete: that stream stays recorded and is listed in ``kept``.
    """
    result = OrphanCleanup()
    if not folder.is_dir():
        return result
    variables = os.environ if environ is None else environ
    for path in sorted(folder.glob("*.json")):
        lock = FileLock(path.with_suffix(".lock"), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            continue  # its owner runs
        try:
            kept = []
            for record in _read(path):
                reason = await _delete(record, variables)
                if reason is None:
                    result.deleted.append(record.id)
                    logger.warning(
                        "deleted Daydream stream %s at %s, left behind by a process that "
                        "stopped without deleting it",
                        record.id,
                        record.api_url,
                    )
                else:
                    kept.append(record)
                    result.kept[record.id] = reason
                    logger.error(
                        "Daydream stream %s at %s was left behind and cannot be deleted yet "
                        "(%s); it stays in %s for the next start",
                        record.id,
                        record.api_url,
                        reason,
                        path,
                    )
            if kept:
                _write(path, kept)
            else:
                path.unlink(missing_ok=True)
        finally:
            lock.release()
            if not path.exists():
                Path(lock.lock_file).unlink(missing_ok=True)
    return result
