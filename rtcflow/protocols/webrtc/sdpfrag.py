"""Trickle ICE SDP fragments (``application/trickle-ice-sdpfrag``, RFC 8840 section 9).

A WHIP/WHEP client trickles candidates by PATCHing a fragment such as::

    a=ice-ufrag:EsAw
    a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1
    m=video 9 UDP/TLS/RTP/SAVPF 96
    a=mid:0
    a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host
    a=end-of-candidates
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiortc import RTCIceCandidate
from aiortc.sdp import candidate_from_sdp

__all__ = ["SdpFragment", "SdpFragmentError", "parse_sdpfrag"]


class SdpFragmentError(ValueError):
    """The body is not a valid trickle-ice-sdpfrag; the message names the line."""


@dataclass(frozen=True, slots=True)
class SdpFragment:
    """The ICE credentials, candidates and end-of-candidates flag of one fragment."""

    ice_ufrag: str | None = None
    ice_pwd: str | None = None
    candidates: list[RTCIceCandidate] = field(default_factory=list)
    end_of_candidates: bool = False


def parse_sdpfrag(text: str) -> SdpFragment:
    """Parse a fragment; candidates carry the ``mid`` and m-line index they follow."""
    ufrag = pwd = None
    candidates: list[RTCIceCandidate] = []
    end = False
    mline_index = -1
    mid: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("m="):
            mline_index += 1
            mid = None
        elif line.startswith("a=mid:"):
            mid = line[len("a=mid:") :]
        elif line.startswith("a=ice-ufrag:"):
            ufrag = line[len("a=ice-ufrag:") :]
        elif line.startswith("a=ice-pwd:"):
            pwd = line[len("a=ice-pwd:") :]
        elif line.startswith("a=candidate:"):
            try:
                candidate = candidate_from_sdp(line[len("a=candidate:") :])
            except (AssertionError, ValueError, IndexError) as exc:
                raise SdpFragmentError(f"line {number}: malformed candidate {line!r}") from exc
            candidate.sdpMid = mid
            candidate.sdpMLineIndex = max(mline_index, 0)
            candidates.append(candidate)
        elif line == "a=end-of-candidates":
            end = True
        elif line[:2] not in {"a=", "c=", "b="}:
            raise SdpFragmentError(f"line {number}: not an SDP fragment line: {line!r}")
    return SdpFragment(ufrag, pwd, candidates, end)
