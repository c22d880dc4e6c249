"""The frame type every source, step and sink exchanges."""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction

import torch


@dataclass(frozen=True, slots=True)
class VideoFrame:
    """One decoded video frame.

    ``data`` is an RGB ``uint8`` tensor shaped ``[height, width, 3]`` on the processing
    device; ``pts`` counts ``time_base`` units from the start of the stream.
    """

    data: torch.Tensor
    pts: int
    time_base: Fraction

    @property
    def time(self) -> float:
        """Presentation time in seconds."""
        return float(self.pts * self.time_base)

    @property
    def width(self) -> int:
        return int(self.data.shape[1])

    @property
    def height(self) -> int:
        return int(self.data.shape[0])

    def with_data(self, data: torch.Tensor) -> VideoFrame:
        """The same timing with new pixels."""
        return replace(self, data=data)

    def with_pts(self, pts: int, time_base: Fraction) -> VideoFrame:
        """The same pixels restamped."""
        return replace(self, pts=pts, time_base=time_base)
