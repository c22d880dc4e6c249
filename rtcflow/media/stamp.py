"""A frame number written into the pixels, readable after H.264 and after inversion.

The stamp is a strip of ``CELLS`` square blocks along the top edge of the frame:

    [white][black][24 value bits, MSB first][8 check bits]

A bit is a white (1) or black (0) block. The marker pair gives both the polarity and
the threshold: if the first marker is darker than the second the frame was inverted
and every bit flips. Blocks are ``width // CELLS`` pixels wide and only their inner
half is sampled, so lossy compression that smears block edges does not matter. The
check byte (the low byte of CRC-32 over the value) rejects frames without a stamp.
"""

from __future__ import annotations

import zlib

import torch

VALUE_BITS = 24
CHECK_BITS = 8
CELLS = 2 + VALUE_BITS + CHECK_BITS
#: Values are in ``range(LIMIT)``; callers wrap counters with ``% LIMIT``.
LIMIT = 1 << VALUE_BITS
MIN_CELL = 4
_MIN_CONTRAST = 64.0


def fits(width: int, height: int) -> bool:
    """Whether a ``width``x``height`` frame is large enough to carry a stamp."""
    cell = width // CELLS
    return cell >= MIN_CELL and height >= cell


def _check(value: int) -> int:
    return zlib.crc32(value.to_bytes(3, "big")) & 0xFF


def _bits(value: int) -> list[int]:
    word = (value << CHECK_BITS) | _check(value)
    total = VALUE_BITS + CHECK_BITS
    return [1, 0] + [(word >> (total - 1 - i)) & 1 for i in range(total)]


def draw(data: torch.Tensor, value: int) -> None:
    """Write ``value`` into the top strip of ``data`` (uint8 ``[H, W, 3]``, in place)."""
    height, width = int(data.shape[0]), int(data.shape[1])
    if not fits(width, height):
        raise ValueError(f"a {width}x{height} frame is too small for a stamp")
    if not 0 <= value < LIMIT:
        raise ValueError(f"stamp value {value} is outside 0..{LIMIT - 1}")
    cell = width // CELLS
    levels = torch.tensor(_bits(value), dtype=torch.uint8, device=data.device) * 255
    row = levels.repeat_interleave(cell)  # [CELLS * cell]
    data[:cell, : CELLS * cell, :] = row[None, :, None]


def read(data: torch.Tensor) -> int | None:
    """The stamped value of ``data`` (uint8 ``[H, W, 3]``), or ``None`` if it has none."""
    height, width = int(data.shape[0]), int(data.shape[1])
    if not fits(width, height):
        return None
    cell = width // CELLS
    inner = slice(cell // 4, cell - cell // 4)
    strip = data[:cell, : CELLS * cell, :].reshape(cell, CELLS, cell, 3)
    levels = strip[inner, :, inner, :].to(torch.float32).mean(dim=(0, 2, 3)).tolist()
    high, low = levels[0], levels[1]
    if abs(high - low) < _MIN_CONTRAST:
        return None
    threshold = (high + low) / 2
    inverted = high < low
    word = 0
    for level in levels[2:]:
        word = (word << 1) | int((level > threshold) != inverted)
    value, check = word >> CHECK_BITS, word & 0xFF
    return value if _check(value) == check else None
