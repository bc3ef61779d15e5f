"""The demo's pictures: small flat PNG scenes drawn here, so previews never show a broken image.

Regenerate (byte for byte the same) with `python -m mailer.content.demo_images`; the files ship
in the package under content/data/images and the web app serves them at DEMO_IMAGE_PATH.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import Path

IMAGE_DIR = Path(__file__).parent / "data" / "images"
WIDTH, HEIGHT = 480, 270

# sky, ground, accent per section: muted colours that read as "a photo goes here"
PALETTES = {
    "Politics": ((203, 219, 236), (86, 98, 122), (232, 190, 110)),
    "Sport": ((196, 226, 245), (72, 140, 84), (245, 245, 240)),
    "Business": ((222, 226, 232), (70, 78, 92), (120, 170, 210)),
    "Culture": ((242, 221, 214), (120, 72, 96), (250, 208, 120)),
    "Local": ((214, 232, 222), (104, 122, 88), (240, 200, 120)),
    "Science": ((214, 214, 240), (56, 64, 110), (160, 220, 200)),
}
DEFAULT_PALETTE = PALETTES["Local"]

Colour = tuple[int, int, int]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(rows: list[bytes]) -> bytes:
    """An 8-bit RGB PNG of the given pixel rows (no filtering: flat colours compress well)."""
    header = struct.pack(">IIBBBBB", WIDTH, HEIGHT, 8, 2, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def scene(slug: str, section: str) -> bytes:
    """A skyline under a sun, shaped by the slug so that each article's picture differs."""
    sky, ground, accent = PALETTES.get(section, DEFAULT_PALETTE)
    seed = hashlib.sha256(slug.encode()).digest()
    horizon = HEIGHT * 2 // 3
    sun_x, sun_y, sun_r = 60 + seed[0] % 360, 40 + seed[1] % 50, 22 + seed[2] % 16
    blocks = []  # (left, right, top) of each building on the horizon
    left = 0
    for n in range(3, 3 + 12):
        width = 24 + seed[n] % 40
        top = horizon - 30 - seed[n + 12] % 110
        blocks.append((left, left + width, top))
        left += width + seed[n] % 12
    rows = []
    for y in range(HEIGHT):
        row = bytearray(bytes(sky) * WIDTH) if y < horizon else bytearray(bytes(ground) * WIDTH)
        if y < horizon:
            dy = y - sun_y
            if abs(dy) < sun_r:
                half = int((sun_r * sun_r - dy * dy) ** 0.5)
                x0, x1 = max(sun_x - half, 0), min(sun_x + half, WIDTH)
                row[3 * x0 : 3 * x1] = bytes(accent) * (x1 - x0)
            for x0, x1, top in blocks:  # the skyline stands in front of the sun
                if y >= top and x0 < WIDTH:
                    row[3 * x0 : 3 * min(x1, WIDTH)] = bytes(ground) * (min(x1, WIDTH) - x0)
        rows.append(bytes(row))
    return png(rows)


def write_all(rows: list[dict], folder: Path = IMAGE_DIR) -> list[Path]:
    """One picture per demo article that has alt text; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for row in rows:
        if row.get("image_alt"):
            path = folder / f"{row['slug']}.png"
            path.write_bytes(scene(row["slug"], row["section"]))
            written.append(path)
    return written


if __name__ == "__main__":
    from mailer.content.demo import demo_rows

    for path in write_all(demo_rows()):
        print(path)
