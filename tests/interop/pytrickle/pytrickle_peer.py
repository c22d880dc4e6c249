"""A pytrickle peer for the interop tests; runs under the separate pytrickle venv.

    python pytrickle_peer.py publish   URL SEGMENTS_JSON   # publish, then wait for stdin EOF
    python pytrickle_peer.py subscribe URL OUTPUT          # until the end of the stream

SEGMENTS_JSON is a file with a JSON list of base64 segments. ``subscribe`` writes one JSON
line per segment to OUTPUT: {"seq": n, "data": base64}. The exit status is 1 if pytrickle reported
an error through its error callback.

pytrickle is installed without its heavy dependencies (torch, av, opencv); its package
``__init__`` imports them all, so only the protocol modules (which need aiohttp alone) are
loaded here, under a bare package module.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import logging
import sys
import types


def load_pytrickle() -> tuple[type, type]:
    spec = importlib.util.find_spec("pytrickle")
    if spec is None or spec.submodule_search_locations is None:
        raise SystemExit("pytrickle is not installed in this interpreter")
    package = types.ModuleType("pytrickle")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["pytrickle"] = package
    from pytrickle.publisher import TricklePublisher
    from pytrickle.subscriber import TrickleSubscriber

    return TricklePublisher, TrickleSubscriber


errors: list[str] = []


async def on_error(kind: str, exc: Exception | None) -> None:
    errors.append(f"{kind}: {exc}")


async def publish(url: str, segments_file: str) -> None:
    publisher_class, _ = load_pytrickle()
    with open(segments_file) as f:
        segments = [base64.b64decode(item) for item in json.load(f)]
    publisher = publisher_class(url, "video/MP2T", error_callback=on_error)
    await publisher.start()
    for data in segments:
        async with await publisher.next() as segment:
            for start in range(0, len(data), 4096):
                await segment.write(data[start : start + 4096])
        # Pace like a live encoder (a segment per GOP): pytrickle's next() pre-connects the
        # following seq in a background task, and a back-to-back next() that runs before it
        # posts a second segment to the same seq.
        await asyncio.sleep(0.1)
    # pytrickle finishes its POSTs in background tasks that close() cancels: wait until
    # the test has read everything (it closes our stdin).
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await publisher.close()


async def subscribe(url: str, output: str) -> None:
    _, subscriber_class = load_pytrickle()
    subscriber = subscriber_class(url, start_seq=-2, error_callback=on_error)
    await subscriber.start()
    with open(output, "w") as out:
        while (segment := await subscriber.next()) is not None:
            data = bytearray()
            while chunk := await segment.read():
                data += chunk
            line = {"seq": segment.seq(), "data": base64.b64encode(bytes(data)).decode()}
            out.write(json.dumps(line) + "\n")
    await subscriber.close()


def main() -> None:
    mode, url, *rest = sys.argv[1:]
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)  # shown when a test fails
    asyncio.run(publish(url, *rest) if mode == "publish" else subscribe(url, *rest))
    if errors:
        print("pytrickle errors: " + "; ".join(errors), file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
