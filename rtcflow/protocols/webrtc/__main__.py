"""A standalone WHIP ingest server that drains what publishers send.

``python -m rtcflow.protocols.webrtc --port 8889 --path /whip`` prints one JSON line
``{"url": ...}`` once listening, then one line per ended session with its frame count.
For trying publishers (OBS, ``WhipClient``) against a real server on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal

from rtcflow.protocols.webrtc.endpoint import ServerSession
from rtcflow.protocols.webrtc.server import WebRTCServer
from rtcflow.protocols.webrtc.whip_endpoint import WhipEndpoint


def _print(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


async def _drain(session: ServerSession) -> None:
    assert session.receiver is not None
    async for _ in session.receiver:
        pass
    _print(session=session.id, frames=session.receiver.received)


async def serve(host: str, port: int, path: str, token: str | None) -> None:
    server = WebRTCServer(host, port)
    server.mount(path, WhipEndpoint(_drain, token=token))
    _print(url=await server.start() + path)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await server.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m rtcflow.protocols.webrtc")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--path", default="/whip")
    parser.add_argument("--token", default=None, help="required Bearer token")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, args.path, args.token))


if __name__ == "__main__":
    main()
