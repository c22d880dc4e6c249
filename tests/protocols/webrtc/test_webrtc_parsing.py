"""Link ice-server headers (RFC 9725 section 4.6), sdpfrags (RFC 8840), Retry-After."""

from __future__ import annotations

import email.utils
import time

import pytest
from aiortc import RTCIceServer

from rtcflow.protocols.webrtc.ice_servers import ice_servers_from_links, ice_servers_to_links
from rtcflow.protocols.webrtc.sdpfrag import SdpFragmentError, parse_sdpfrag
from rtcflow.protocols.webrtc.signaling import parse_retry_after


def test_link_headers_give_ice_servers_with_credentials() -> None:
    headers = [
        '<stun:stun.example.net>; rel="ice-server", <https://example.net/x>; rel=preload',
        '<turn:turn.example.net?transport=udp>; rel="ice-server"; username="user";'
        ' credential="p;a,s\\"s"; credential-type="password"',
        "<stun:other.example.net:3478>;rel=ice-server",
    ]
    servers = ice_servers_from_links(headers)
    assert servers == [
        RTCIceServer(urls="stun:stun.example.net"),
        RTCIceServer(
            urls="turn:turn.example.net?transport=udp", username="user", credential='p;a,s"s'
        ),
        RTCIceServer(urls="stun:other.example.net:3478"),
    ]


def test_ice_servers_round_trip_through_link_headers() -> None:
    servers = [
        RTCIceServer(urls=["stun:a.example:3478", "stun:b.example"]),
        RTCIceServer(urls="turns:t.example", username='u"1', credential="c\\2"),
    ]
    links = ice_servers_to_links(servers)
    assert len(links) == 3
    assert ice_servers_from_links(links) == [
        RTCIceServer(urls="stun:a.example:3478"),
        RTCIceServer(urls="stun:b.example"),
        RTCIceServer(urls="turns:t.example", username='u"1', credential="c\\2"),
    ]


def test_garbage_link_header_is_ignored() -> None:
    assert ice_servers_from_links(["not a link", ""]) == []


FRAGMENT = """a=ice-ufrag:EsAw
a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1
m=video 9 UDP/TLS/RTP/SAVPF 96
a=mid:0
a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0
a=candidate:3471623853 1 udp 2122194687 198.51.100.2 61765 typ host generation 0
m=audio 9 UDP/TLS/RTP/SAVPF 111
a=mid:1
a=candidate:473322822 1 tcp 1518280447 192.0.2.1 9 typ host tcptype active
a=end-of-candidates
"""


def test_sdpfrag_candidates_carry_mid_and_mline_index() -> None:
    fragment = parse_sdpfrag(FRAGMENT)
    assert (fragment.ice_ufrag, fragment.ice_pwd) == ("EsAw", "P2uYro0UCOQ4zxjKXaWCBui1")
    assert fragment.end_of_candidates
    assert [(c.ip, c.port, c.sdpMid, c.sdpMLineIndex) for c in fragment.candidates] == [
        ("192.0.2.1", 61764, "0", 0),
        ("198.51.100.2", 61765, "0", 0),
        ("192.0.2.1", 9, "1", 1),
    ]
    assert fragment.candidates[2].protocol == "tcp"


def test_sdpfrag_without_candidates_is_empty() -> None:
    fragment = parse_sdpfrag("a=ice-ufrag:x\r\na=ice-pwd:y\r\n")
    assert fragment.candidates == [] and not fragment.end_of_candidates


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("m=video 9 RTP/AVP 0\na=mid:0\na=candidate:1 1 udp\n", "line 3"),
        ("a=ice-ufrag:x\nhello world\n", "line 2"),
    ],
)
def test_malformed_sdpfrag_names_the_line(text: str, line: str) -> None:
    with pytest.raises(SdpFragmentError, match=line):
        parse_sdpfrag(text)


def test_retry_after_seconds_and_http_dates() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    later = email.utils.formatdate(time.time() + 60, usegmt=True)
    assert 55 <= parse_retry_after(later) <= 60  # type: ignore[operator]
    earlier = email.utils.formatdate(time.time() - 60, usegmt=True)
    assert parse_retry_after(earlier) == 0.0


def test_signaling_errors_never_show_a_url_path():
    from rtcflow.protocols.webrtc.errors import SessionRejected

    url = "https://gw.example:8443/live/video-to-video/stk_SECRET/whip"
    error = SessionRejected("rejected", method="POST", url=url, status=403, body="no")
    assert "stk_SECRET" not in str(error)
    assert "https://gw.example:8443/…" in str(error) and error.url == url
