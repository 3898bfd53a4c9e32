"""Draw Courier's two Teams icons with nothing but the standard library (zlib + struct PNG writer).

    python manifest/make_icons.py     # rewrites manifest/color.png (192x192) and manifest/outline.png (32x32)

color.png: a white paper plane on Courier's blue, full colour, opaque.
outline.png: the same plane in white on a transparent background, as Teams requires.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
BRAND = (0x25, 0x63, 0xEB)  # Courier blue; also the manifest's accentColor


def _png(width: int, height: int, pixels: list[list[tuple[int, int, int, int]]]) -> bytes:
    raw = b"".join(b"\x00" + b"".join(struct.pack("4B", *p) for p in row) for row in pixels)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def _inside(px: float, py: float, poly: list[tuple[float, float]]) -> bool:
    inside = False
    j = len(poly) - 1
    for i, (xi, yi) in enumerate(poly):
        xj, yj = poly[j]
        if (yi > py) != (yj > py) and px < (xj - xi) * (py - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def _coverage(x: int, y: int, polys: list[list[tuple[float, float]]], samples: int = 4) -> float:
    hits = 0
    for sy in range(samples):
        for sx in range(samples):
            px, py = x + (sx + 0.5) / samples, y + (sy + 0.5) / samples
            if any(_inside(px, py, p) for p in polys):
                hits += 1
    return hits / (samples * samples)


def _plane(size: int, margin: float) -> list[list[tuple[float, float]]]:
    s = size - 2 * margin

    def p(u: float, v: float) -> tuple[float, float]:
        return (margin + u * s, margin + v * s)

    # Two wings of a paper plane pointing up-right, with a fold gap between them.
    upper = [p(0.02, 0.45), p(0.98, 0.05), p(0.40, 0.60)]
    lower = [p(0.46, 0.64), p(0.98, 0.10), p(0.66, 0.95)]
    tail = [p(0.40, 0.66), p(0.52, 0.72), p(0.40, 0.90)]
    return [upper, lower, tail]


def color_icon(size: int = 192) -> bytes:
    polys = _plane(size, size * 0.2)
    rows = []
    for y in range(size):
        row = []
        for x in range(size):
            a = _coverage(x, y, polys)
            row.append((*tuple(round(c * (1 - a) + 255 * a) for c in BRAND), 255))  # type: ignore[arg-type]
        rows.append(row)
    return _png(size, size, rows)  # type: ignore[arg-type]


def outline_icon(size: int = 32) -> bytes:
    polys = _plane(size, 2)
    rows = [[(255, 255, 255, round(255 * _coverage(x, y, polys))) for x in range(size)] for y in range(size)]
    return _png(size, size, rows)


if __name__ == "__main__":
    (HERE / "color.png").write_bytes(color_icon())
    (HERE / "outline.png").write_bytes(outline_icon())
    print("wrote", HERE / "color.png", HERE / "outline.png")
