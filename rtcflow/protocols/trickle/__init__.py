"""Trickle: Livepeer's segmented publish/subscribe protocol over HTTP (client and server).

See go-livepeer ``trickle/`` for the reference implementation; ``wire`` lists the headers
and special values both sides share.
"""

from __future__ import annotations

from rtcflow.protocols.retry import RetryPolicy
from rtcflow.protocols.trickle.errors import (
    ChannelNotFoundError,
    TrickleConnectionError,
    TrickleError,
    TrickleStatusError,
)
from rtcflow.protocols.trickle.json_channel import TrickleJsonPublisher, TrickleJsonSubscriber
from rtcflow.protocols.trickle.publisher import PublisherStats, SegmentWriter, TricklePublisher
from rtcflow.protocols.trickle.server import TrickleServer, run_trickle_server
from rtcflow.protocols.trickle.subscriber import (
    SubscriberStats,
    TrickleSegment,
    TrickleSubscriber,
)
from rtcflow.protocols.trickle.wire import SEQ_CURRENT, SEQ_NEXT

__all__ = [
    "SEQ_CURRENT",
    "SEQ_NEXT",
    "ChannelNotFoundError",
    "PublisherStats",
    "RetryPolicy",
    "SegmentWriter",
    "SubscriberStats",
    "TrickleConnectionError",
    "TrickleError",
    "TrickleJsonPublisher",
    "TrickleJsonSubscriber",
    "TricklePublisher",
    "TrickleSegment",
    "TrickleServer",
    "TrickleStatusError",
    "TrickleSubscriber",
    "run_trickle_server",
]
