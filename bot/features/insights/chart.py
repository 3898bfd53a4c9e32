"""A small bar chart as a PNG data URI, drawn without any imaging library (Adaptive Card images accept data URIs).

The card always carries the same numbers as text as well (the chart's alt text and a monospace table), so it reads
in every client, including those that do not show images.
"""

from __future__ import annotations

import base64
import struct
import zlib

BAR = (0x62, 0x64, 0xA7, 0xFF)  # Teams purple
EMPTY = (0xE8, 0xE8, 0xF0, 0xFF)
CLEAR = (0x00, 0x00, 0x00, 0x00)


def _png(width: int, height: int, rows: list[bytes]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 per row
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def bar_chart(values: list[int], *, width: int = 280, height: int = 72, gap: int = 8) -> str:
    """Bars for ``values`` (left to right), as ``data:image/png;base64,...``."""
    count = max(1, len(values))
    bar_width = max(2, (width - gap * (count - 1)) // count)
    peak = max(values) if values and max(values) > 0 else 1
    heights = [round((height - 2) * v / peak) for v in values]
    rows: list[bytes] = []
    for y in range(height):
        level = height - y  # 1 at the bottom row
        row = bytearray()
        for x in range(width):
            slot, offset = divmod(x, bar_width + gap)
            if slot < count and offset < bar_width:
                filled = heights[slot] >= level or (level == 1)  # a hairline for empty days
                row.extend(BAR if filled and heights[slot] >= level else EMPTY if level == 1 else CLEAR)
            else:
                row.extend(CLEAR)
        rows.append(bytes(row))
    return "data:image/png;base64," + base64.b64encode(_png(width, height, rows)).decode("ascii")
