"""ICE servers carried in ``Link`` headers (RFC 9725 section 4.6, RFC 8288).

A WHIP/WHEP server may announce STUN/TURN servers as::

    Link: <stun:stun.example.net>; rel="ice-server"
    Link: <turn:turn.example.net?transport=udp>; rel="ice-server";
          username="user"; credential="secret"; credential-type="password"
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from aiortc import RTCIceServer

__all__ = ["ice_servers_from_links", "ice_servers_to_links"]

# One link-value: "<uri>" followed by ";"-separated parameters (RFC 8288 section 3).
_LINK = re.compile(r'\s*<([^>]*)>((?:\s*;\s*[^;,=\s]+(?:\s*=\s*(?:"(?:[^"\\]|\\.)*"|[^;,\s]*))?)*)')
_PARAM = re.compile(r';\s*([^;,=\s]+)(?:\s*=\s*("(?:[^"\\]|\\.)*"|[^;,\s]*))?')
_SEPARATOR = re.compile(r"\s*,")


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _parse_links(header: str) -> Iterable[tuple[str, dict[str, str]]]:
    position = 0
    while position < len(header):
        match = _LINK.match(header, position)
        if match is None:
            return  # not a link-value: ignore the rest of this header, as RFC 8288 allows
        params = {name.lower(): _unquote(value or "") for name, value in _PARAM.findall(match[2])}
        yield match[1].strip(), params
        position = match.end()
        separator = _SEPARATOR.match(header, position)
        if separator is None:
            return
        position = separator.end()


def ice_servers_from_links(headers: Iterable[str]) -> list[RTCIceServer]:
    """The ``rel="ice-server"`` links among ``Link`` header values, as ICE servers."""
    servers = []
    for header in headers:
        for uri, params in _parse_links(header):
            if "ice-server" not in params.get("rel", "").split():
                continue
            servers.append(
                RTCIceServer(
                    urls=uri,
                    username=params.get("username"),
                    credential=params.get("credential"),
                )
            )
    return servers


def ice_servers_to_links(servers: Iterable[RTCIceServer]) -> list[str]:
    """One ``Link`` header value per ICE server URL."""
    links = []
    for server in servers:
        urls = [server.urls] if isinstance(server.urls, str) else list(server.urls)
        for url in urls:
            link = f'<{url}>; rel="ice-server"'
            if server.username is not None:
                link += f"; username={_quote(server.username)}"
            if server.credential is not None:
                link += f"; credential={_quote(server.credential)}"
                link += '; credential-type="password"'
            links.append(link)
    return links
