"""A standalone aiohttp server for WHIP/WHEP endpoints.

Endpoints can also be mounted into any ``aiohttp.web.Application`` with
``endpoint.add_routes(app.router, path)``; this class adds the runner, a 307 redirect
for testing clients (RFC 9725 section 4.1 lets servers redirect with 307 only), and
closing every session on shutdown.
"""

from __future__ import annotations

from aiohttp import web

from rtcflow.protocols.webrtc.endpoint import WebRTCEndpoint

__all__ = ["WebRTCServer"]


class WebRTCServer:
    """Serves endpoints on ``host:port`` (port 0 picks a free one).

    ::

        server = WebRTCServer()
        server.mount("/whip", WhipEndpoint(handle_publisher, token="secret"))
        base_url = await server.start()
        ...
        await server.close()
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.app = web.Application()
        self.endpoints: dict[str, WebRTCEndpoint] = {}
        self._runner: web.AppRunner | None = None

    def mount(self, path: str, endpoint: WebRTCEndpoint) -> None:
        """Serve ``endpoint`` at ``path`` (before :meth:`start`)."""
        endpoint.add_routes(self.app.router, path)
        self.endpoints[path] = endpoint

    def redirect(self, path: str, target: str) -> None:
        """Answer every request to ``path`` (and below it) with ``307`` to ``target``.

        ``target`` is a URL or an absolute path; a request below ``path`` keeps its
        remainder, so session URLs under a redirected endpoint keep working.
        """

        async def handle(request: web.Request) -> web.Response:
            rest = request.match_info.get("rest", "")
            location = target.rstrip("/") + (f"/{rest}" if rest else "")
            return web.Response(
                status=307,
                headers={
                    "Location": location,
                    "Access-Control-Allow-Origin": "*",
                    "Access-Control-Expose-Headers": "Location",
                },
            )

        base = path.rstrip("/")
        self.app.router.add_route("*", base or "/", handle)
        self.app.router.add_route("*", base + "/{rest:.+}", handle)

    @property
    def url(self) -> str:
        """``http://host:port`` once started."""
        if self._runner is None:
            raise RuntimeError("the server is not started")
        return f"http://{self.host}:{self.port}"

    async def start(self) -> str:
        """Listen; returns the base URL."""
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site.port
        return self.url

    async def close(self) -> None:
        """Close every session (peers see DTLS close), then stop listening."""
        for endpoint in self.endpoints.values():
            await endpoint.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
