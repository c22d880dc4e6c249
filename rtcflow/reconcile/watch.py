"""Re-reconcile whenever a spec file, or a file a spec references, changes."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from watchfiles import awatch

from rtcflow.reconcile.reconciler import Reconciler

log = logging.getLogger(__name__)


def _roots(paths: set[Path]) -> set[Path]:
    """Folders to watch: a folder itself, or a file's parent (editors save by rename)."""
    roots = {p if p.is_dir() else p.parent for p in paths}
    return {r for r in roots if r.exists() and not any(o in r.parents for o in roots)}


def _relevant(changed: Path, watched: set[Path]) -> bool:
    return changed in watched or any(p in changed.parents for p in watched if p.is_dir())


async def watch(reconciler: Reconciler, stop: asyncio.Event) -> None:
    """Reconcile on every relevant change until ``stop`` is set.

    The set of watched files is recomputed after each reconcile, because an edited spec
    may reference new files.
    """
    while not stop.is_set():
        watched = reconciler.watched_paths()
        roots = _roots(watched)
        if not roots:
            await stop.wait()
            return
        async for changes in awatch(*roots, stop_event=stop, debounce=200, step=50):
            paths = [Path(p) for _, p in changes]
            if any(_relevant(p.resolve(), watched) for p in paths):
                log.info("change detected: %s", ", ".join(sorted({p.name for p in paths})))
                await reconciler.reconcile()
                break
