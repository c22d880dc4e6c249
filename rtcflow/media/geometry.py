"""Cover-fit geometry: scale a picture to cover the target size, then crop the centre.

This is CSS ``object-fit: cover``: the aspect ratio is kept, nothing is letterboxed, and
the overflow on one axis is cut evenly from both sides. The scaling itself runs in
libswscale (see ``convert.av_to_tensor``); the crop is a slice, so it costs no copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

_Sliceable = TypeVar("_Sliceable")


@dataclass(frozen=True, slots=True)
class CoverFit:
    """Where a ``width``x``height`` crop lies in the picture scaled to cover it."""

    scaled_width: int
    scaled_height: int
    left: int
    top: int
    width: int
    height: int

    def crop(self, image: _Sliceable) -> _Sliceable:
        """Slice the crop out of a scaled ``[height, width, ...]`` array or tensor."""
        return image[self.top : self.top + self.height, self.left : self.left + self.width]  # type: ignore[index]

    @property
    def is_identity(self) -> bool:
        """True when the source already has the target size (no scale, no crop)."""
        return (self.scaled_width, self.scaled_height) == (self.width, self.height)


def cover_fit(source_width: int, source_height: int, width: int, height: int) -> CoverFit:
    """Scale ``source`` uniformly to cover ``width``x``height`` and centre the crop."""
    if min(source_width, source_height, width, height) <= 0:
        raise ValueError(
            f"sizes must be positive: {source_width}x{source_height} -> {width}x{height}"
        )
    scale = max(width / source_width, height / source_height)
    scaled_width = max(width, round(source_width * scale))
    scaled_height = max(height, round(source_height * scale))
    return CoverFit(
        scaled_width=scaled_width,
        scaled_height=scaled_height,
        left=(scaled_width - width) // 2,
        top=(scaled_height - height) // 2,
        width=width,
        height=height,
    )
