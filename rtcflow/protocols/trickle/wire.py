"""Wire constants of the trickle protocol (go-livepeer ``trickle/``; see ``trickle/README.md``).

Header names, the special sequence numbers and the non-standard status code, shared by the
client and the server so both speak exactly the same dialect.
"""

from __future__ import annotations

# Response headers.
SEQ_HEADER = "Lp-Trickle-Seq"  # the segment actually served / written
LATEST_HEADER = "Lp-Trickle-Latest"  # the channel's next write position
CLOSED_HEADER = "Lp-Trickle-Closed"  # present (value "terminated") once the channel closed
CLOSED_VALUE = "terminated"
# Request headers.
RESET_HEADER = "Lp-Trickle-Reset"  # publisher restarted: close older segments
EXPECT_CONTENT_HEADER = "Expect-Content"  # mime type on channel creation (POST /<ch>)

# Special sequence numbers accepted by GET (and -1 by POST).
SEQ_NEXT = -1  # the next segment to be written
SEQ_CURRENT = -2  # the segment being written now (or the next one if none started)

# "The channel exists but this segment does not": the segment fell out of the server's
# window or is too far ahead. The client jumps to the LATEST_HEADER position.
STATUS_SEGMENT_MISSING = 470

# How many segments a server keeps per channel (go-livepeer ``maxSegmentsPerStream``).
RING_SIZE = 5

DEFAULT_MIME_TYPE = "video/MP2T"


def parse_seq_header(value: str | None) -> int | None:
    """Parse an ``Lp-Trickle-Seq``/``Lp-Trickle-Latest`` value; ``None`` if absent or bad."""
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None
