"""One stream of frames fanned out to any number of WebRTC players."""

from __future__ import annotations

from rtcflow.media.frame import VideoFrame
from rtcflow.protocols.webrtc.tracks import FrameTrack

__all__ = ["FrameBroadcaster"]


class FrameBroadcaster:
    """Fans ``VideoFrame``s out to one :class:`FrameTrack` per player.

    ``publish()`` never blocks: each player's track keeps only its newest frame and
    paces itself at ``fps``, so a slow player drops frames without holding up the
    publisher or the other players. A new player starts from the latest frame.
    """

    def __init__(self, fps: float = 30.0) -> None:
        self.fps = fps
        self.latest: VideoFrame | None = None
        self.published = 0
        self._tracks: set[FrameTrack] = set()

    @property
    def live(self) -> bool:
        """Whether a frame has been published (players can be served)."""
        return self.latest is not None

    @property
    def players(self) -> int:
        """Tracks currently subscribed."""
        return len(self._tracks)

    def publish(self, frame: VideoFrame) -> None:
        """Hand ``frame`` to every player."""
        self.latest = frame
        self.published += 1
        for track in self._tracks:
            track.put(frame)

    def subscribe(self) -> FrameTrack:
        """A new player's track; it unsubscribes itself when stopped."""
        track = FrameTrack(self.fps)
        if self.latest is not None:
            track.put(self.latest)
        self._tracks.add(track)
        track.on("ended", lambda: self._tracks.discard(track))
        return track

    def close(self) -> None:
        """Stop every player's track."""
        for track in list(self._tracks):
            track.stop()
