#!/usr/bin/env python3
"""Draws Parley's app icons with the standard library only (zlib + struct).

Outputs, next to this script:
  icon-192.png, icon-512.png   rounded-square icon ("any" purpose)
  icon-maskable-512.png        full-bleed background, artwork inside the
                               central 80 % safe zone ("maskable" purpose)
  icon.svg                     the same artwork as a vector

The mark is a white speech bubble with a teal "P" on a teal gradient. Shapes
are signed distance functions in a 64x64 design space, so every size is
rendered exactly (anti-aliased by distance) from one description; the SVG is
written from the same numbers. Run: python3 make_icons.py
"""

import math
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))

# Design space is 64x64 units.
TOP = (0x13, 0xA3, 0x94)  # gradient start (top)
BOTTOM = (0x0B, 0x73, 0x68)  # gradient end (bottom)
LETTER = (0x0F, 0x8F, 0x82)
WHITE = (0xFF, 0xFF, 0xFF)
CORNER = 16.0  # background corner radius of the "any" icon

BUBBLE = dict(cx=32.0, cy=31.0, rx=21.0, ry=19.0)
TAIL = [(13.0, 52.0), (17.5, 41.5), (25.0, 48.0)]
# The "P": stem, bowl (rect + half disc), hole (rect + half disc).
STEM = (24.5, 20.0, 29.3, 42.0)  # x0, y0, x1, y1
BOWL_RECT = (24.5, 20.0, 33.0, 34.8)
BOWL_C = (33.0, 27.4)
BOWL_R = 7.4
HOLE_RECT = (29.3, 24.0, 33.0, 30.8)
HOLE_R = 3.4


def sd_box(px, py, box):
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    hx, hy = (x1 - x0) / 2, (y1 - y0) / 2
    dx, dy = abs(px - cx) - hx, abs(py - cy) - hy
    outside = math.hypot(max(dx, 0.0), max(dy, 0.0))
    return outside + min(max(dx, dy), 0.0)


def sd_round_box(px, py, size, radius):
    h = size / 2
    dx = abs(px - h) - (h - radius)
    dy = abs(py - h) - (h - radius)
    return math.hypot(max(dx, 0.0), max(dy, 0.0)) + min(max(dx, dy), 0.0) - radius


def sd_circle(px, py, c, r):
    return math.hypot(px - c[0], py - c[1]) - r


def sd_ellipse(px, py, e):
    # Scaled-circle approximation: exact on the axes, close enough elsewhere
    # for one pixel of anti-aliasing.
    nx, ny = (px - e["cx"]) / e["rx"], (py - e["cy"]) / e["ry"]
    return (math.hypot(nx, ny) - 1.0) * min(e["rx"], e["ry"])


def sd_triangle(px, py, tri):
    (ax, ay), (bx, by), (cx, cy) = tri
    edges = [(ax, ay, bx, by), (bx, by, cx, cy), (cx, cy, ax, ay)]
    dist = float("inf")
    signs = []
    for x0, y0, x1, y1 in edges:
        ex, ey = x1 - x0, y1 - y0
        wx, wy = px - x0, py - y0
        t = max(0.0, min(1.0, (wx * ex + wy * ey) / (ex * ex + ey * ey)))
        dist = min(dist, math.hypot(wx - ex * t, wy - ey * t))
        signs.append(ex * wy - ey * wx)
    inside = all(s >= 0 for s in signs) or all(s <= 0 for s in signs)
    return -dist if inside else dist


def sd_bubble(px, py):
    return min(sd_ellipse(px, py, BUBBLE), sd_triangle(px, py, TAIL))


def sd_letter(px, py):
    # Each disc's left half lies inside its rectangle, so whole discs give the
    # same shape as half discs, without a seam where the two parts meet.
    outer = min(sd_box(px, py, STEM), sd_box(px, py, BOWL_RECT), sd_circle(px, py, BOWL_C, BOWL_R))
    hole = min(sd_box(px, py, HOLE_RECT), sd_circle(px, py, BOWL_C, HOLE_R))
    return max(outer, -hole)


def mix(a, b, t):
    return tuple(a[i] + (b[i] - a[i]) * t for i in range(3))


def coverage(distance_units, px_per_unit):
    return max(0.0, min(1.0, 0.5 - distance_units * px_per_unit))


def render(size, maskable):
    """RGBA rows. Maskable icons fill the square and shrink the artwork so it
    stays inside the safe circle (radius 40 % of the size)."""
    unit = size / 64.0
    art_scale = 0.82 if maskable else 1.0
    rows = []
    for y in range(size):
        row = bytearray()
        for x in range(size):
            # Design-space coordinates of the pixel centre.
            ux, uy = (x + 0.5) / unit, (y + 0.5) / unit
            bg_alpha = 1.0 if maskable else coverage(sd_round_box(ux, uy, 64.0, CORNER), unit)
            colour = mix(TOP, BOTTOM, uy / 64.0)
            # Artwork coordinates, scaled about the centre.
            ax = 32.0 + (ux - 32.0) / art_scale
            ay = 32.0 + (uy - 32.0) / art_scale
            art_unit = unit * art_scale
            bubble = coverage(sd_bubble(ax, ay), art_unit)
            colour = mix(colour, WHITE, bubble)
            letter = coverage(sd_letter(ax, ay), art_unit)
            colour = mix(colour, LETTER, letter)
            row += bytes(int(round(c)) for c in colour)
            row.append(int(round(bg_alpha * 255)))
        rows.append(bytes(row))
    return rows


def png(size, rows):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 per row
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def hex_colour(rgb):
    return "#%02x%02x%02x" % rgb


def svg():
    def n(v):
        return f"{round(v, 3):g}"

    s, h, c = STEM, HOLE_RECT, BOWL_C
    letter = (
        f"M{n(s[0])} {n(s[1])}H{n(c[0])}A{n(BOWL_R)} {n(BOWL_R)} 0 0 1 {n(c[0])} {n(c[1] + BOWL_R)}"
        f"H{n(s[2])}V{n(s[3])}H{n(s[0])}Z"
        f"M{n(h[0])} {n(h[1])}H{n(c[0])}A{n(HOLE_R)} {n(HOLE_R)} 0 0 1 {n(c[0])} {n(c[1] + HOLE_R)}"
        f"H{n(h[0])}Z"
    )
    tail = " ".join(f"{n(x)} {n(y)}" for x, y in TAIL)
    b = BUBBLE
    return f"""<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">
  <defs>
    <linearGradient id="bg" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="{hex_colour(TOP)}"/>
      <stop offset="1" stop-color="{hex_colour(BOTTOM)}"/>
    </linearGradient>
  </defs>
  <rect width="64" height="64" rx="{CORNER:g}" fill="url(#bg)"/>
  <ellipse cx="{b['cx']:g}" cy="{b['cy']:g}" rx="{b['rx']:g}" ry="{b['ry']:g}" fill="#fff"/>
  <path d="M{tail}Z" fill="#fff"/>
  <path d="{letter}" fill="{hex_colour(LETTER)}" fill-rule="evenodd"/>
</svg>
"""


def main():
    outputs = [
        ("icon-192.png", 192, False),
        ("icon-512.png", 512, False),
        ("icon-maskable-512.png", 512, True),
    ]
    for name, size, maskable in outputs:
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(png(size, render(size, maskable)))
        print("wrote", name)
    with open(os.path.join(HERE, "icon.svg"), "w", encoding="utf-8") as f:
        f.write(svg())
    print("wrote icon.svg")


if __name__ == "__main__":
    main()
