#!/usr/bin/env python3
"""Renders a terminal capture with ANSI colours (`tmux capture-pane -e -p`) to a PNG.

Used for the README's screenshot of the console (assets/console.png):

    tmux capture-pane -e -p -t SESSION > capture.ans
    python3 tools/ansi_to_png.py capture.ans assets/console.png

It understands the SGR codes a terminal capture holds: reset, bold, dim, italic/underline
(ignored), reverse, the 16 colours (30-37, 90-97, 40-47, 100-107), 256 colours (38;5;N) and
true colour (38;2;R;G;B). Each cell is drawn with DejaVu Sans Mono on a dark background.
Needs Pillow (`pip install pillow`).
"""

import argparse
import re
import sys

from PIL import Image, ImageDraw, ImageFont

FONT_DIR = "/usr/share/fonts/truetype/dejavu/"
BACKGROUND = (24, 26, 33)
FOREGROUND = (215, 218, 224)
# The 16 base colours (a dark theme close to common terminal defaults).
BASE16 = [
    (40, 42, 54), (224, 88, 88), (106, 200, 120), (229, 192, 90),
    (98, 144, 232), (198, 120, 221), (86, 182, 194), (200, 204, 212),
    (110, 116, 130), (255, 118, 118), (140, 230, 150), (250, 215, 120),
    (130, 170, 255), (220, 150, 240), (120, 215, 225), (245, 246, 250),
]
SGR = re.compile(r"\x1b\[([0-9;:]*)m")
OTHER_ESCAPE = re.compile(r"\x1b(\[[0-9;?]*[A-Za-ln-z]|\][^\x07]*\x07|[()][0-9A-B])")


def colour256(n):
    """The xterm 256-colour palette: 16 base, a 6x6x6 cube, 24 greys."""
    if n < 16:
        return BASE16[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    grey = 8 + (n - 232) * 10
    return (grey, grey, grey)


class Style:
    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = None
        self.bg = None
        self.bold = False
        self.dim = False
        self.reverse = False

    def copy(self):
        other = Style()
        other.__dict__.update(self.__dict__)
        return other

    def apply(self, params):
        codes = [int(p) if p else 0 for p in re.split("[;:]", params)] if params else [0]
        i = 0
        while i < len(codes):
            code = codes[i]
            if code == 0:
                self.reset()
            elif code == 1:
                self.bold = True
            elif code == 2:
                self.dim = True
            elif code == 22:
                self.bold = self.dim = False
            elif code == 7:
                self.reverse = True
            elif code == 27:
                self.reverse = False
            elif 30 <= code <= 37:
                self.fg = BASE16[code - 30]
            elif 90 <= code <= 97:
                self.fg = BASE16[code - 90 + 8]
            elif 40 <= code <= 47:
                self.bg = BASE16[code - 40]
            elif 100 <= code <= 107:
                self.bg = BASE16[code - 100 + 8]
            elif code == 39:
                self.fg = None
            elif code == 49:
                self.bg = None
            elif code in (38, 48) and i + 1 < len(codes):
                if codes[i + 1] == 5 and i + 2 < len(codes):
                    colour = colour256(codes[i + 2])
                    i += 2
                elif codes[i + 1] == 2 and i + 4 < len(codes):
                    colour = tuple(codes[i + 2:i + 5])
                    i += 4
                else:
                    colour = None
                    i += 1
                if code == 38:
                    self.fg = colour
                else:
                    self.bg = colour
            i += 1

    def colours(self):
        fg = self.fg or FOREGROUND
        bg = self.bg or BACKGROUND
        if self.bold and self.fg in BASE16[:8]:
            fg = BASE16[BASE16.index(self.fg) + 8]
        if self.dim:
            fg = tuple((c + b) // 2 for c, b in zip(fg, BACKGROUND))
        if self.reverse:
            fg, bg = bg, fg
        return fg, bg


def parse(text):
    """Lines of (character, style) cells."""
    rows = []
    style = Style()
    for line in text.rstrip("\n").split("\n"):
        cells = []
        position = 0
        line = OTHER_ESCAPE.sub("", line)
        for match in SGR.finditer(line):
            for char in line[position:match.start()]:
                cells.append((char, style.copy()))
            style.apply(match.group(1))
            position = match.end()
        for char in line[position:]:
            cells.append((char, style.copy()))
        rows.append(cells)
    return rows


def render(rows, columns, size):
    regular = ImageFont.truetype(FONT_DIR + "DejaVuSansMono.ttf", size)
    bold = ImageFont.truetype(FONT_DIR + "DejaVuSansMono-Bold.ttf", size)
    ascent, descent = regular.getmetrics()
    cell_w = round(regular.getlength("M"))
    cell_h = ascent + descent + 1
    pad = cell_w
    width = max(columns, max((len(r) for r in rows), default=0))
    image = Image.new("RGB", (width * cell_w + 2 * pad, len(rows) * cell_h + 2 * pad), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for y, cells in enumerate(rows):
        for x, (char, style) in enumerate(cells):
            fg, bg = style.colours()
            left, top = pad + x * cell_w, pad + y * cell_h
            if bg != BACKGROUND:
                draw.rectangle([left, top, left + cell_w - 1, top + cell_h - 1], fill=bg)
            if char.strip():
                draw.text((left, top), char, font=bold if style.bold else regular, fill=fg)
    return image


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture", help="the ANSI text (`tmux capture-pane -e -p`), - for stdin")
    parser.add_argument("output", help="the PNG to write")
    parser.add_argument("--columns", type=int, default=160, help="terminal width in cells")
    parser.add_argument("--font-size", type=int, default=14)
    args = parser.parse_args()
    text = sys.stdin.read() if args.capture == "-" else open(args.capture, encoding="utf-8").read()
    render(parse(text), args.columns, args.font_size).save(args.output, optimize=True)


if __name__ == "__main__":
    main()
