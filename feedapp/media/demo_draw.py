"""Draw and encode one demo clip: a topic you recognise at a glance, moving, with a readable caption.

Encoding dominates the cost (mp4v, about 0.13 s per second of 540x960 here), so drawing is kept
cheap: the background (gradient, static scenery) and the caption band are rendered once per clip,
and each frame is a copy of the background plus a few OpenCV primitives for the moving motif, then
the caption band pasted in with one numpy slice.

Every topic has its own palette (BGR), motif and motion:
ocean: layered waves drifting sideways; sports: a ball bouncing on a pitch; cooking: a pan with
rising steam; cats: a cat face that bobs and blinks; tech: meshing gears turning; music: notes
floating up over pulsing equaliser bars; nature: swaying trees, drifting clouds and a sun;
art: brush strokes painting themselves over rotating shapes; space: twinkling stars, a ringed
planet and a moon in orbit; city: a skyline whose windows light up, with cars driving past;
weather: clouds drifting over slanting rain and rippling puddles; games: coloured blocks falling
into a stack under a score counter.
Each creator has an accent colour (caption stripe, @name) and a tempo, so creators are visible too.
"""

from __future__ import annotations

import math
import os
import random
from pathlib import Path

from feedapp.media._cv import cv2
import numpy as np

from feedapp.media.demo_plan import DemoItem

BAND_H = 200  # caption band at the top (the player draws its own caption at the bottom, as feeds do)
FONT = cv2.FONT_HERSHEY_DUPLEX

PALETTES: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {  # (top, bottom) BGR
    "ocean": ((235, 200, 120), (110, 50, 5)),
    "sports": ((70, 170, 60), (30, 110, 25)),
    "cooking": ((60, 130, 235), (20, 50, 150)),
    "cats": ((225, 200, 250), (170, 140, 230)),
    "tech": ((70, 35, 20), (25, 12, 8)),
    "music": ((170, 50, 140), (70, 15, 60)),
    "nature": ((240, 210, 150), (60, 150, 70)),
    "art": ((210, 240, 250), (170, 215, 235)),
    "space": ((45, 8, 20), (110, 30, 60)),
    "city": ((110, 120, 245), (120, 50, 90)),
    "weather": ((175, 170, 165), (105, 100, 95)),
    "games": ((50, 30, 100), (25, 15, 55)),
}
CREATOR_STYLE: dict[str, tuple[tuple[int, int, int], float]] = {  # accent BGR, tempo
    "mila": ((90, 90, 255), 1.0),
    "juno": ((255, 200, 60), 1.25),
    "theo": ((80, 220, 120), 0.8),
    "sasha": ((60, 200, 255), 1.1),
    "kai": ((255, 120, 220), 0.9),
    "noor": ((40, 160, 255), 1.15),
    "ravi": ((200, 255, 120), 0.85),
    "lena": ((180, 130, 255), 1.05),
}


def _gradient(w: int, h: int, top: tuple[int, int, int], bottom: tuple[int, int, int]) -> np.ndarray:
    ramp = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    col = (np.array(top, np.float32)[None, :] * (1 - ramp) + np.array(bottom, np.float32)[None, :] * ramp).astype(np.uint8)
    return np.repeat(col[:, None, :], w, axis=1)


def _caption_band(item: DemoItem, bg: np.ndarray, accent: tuple[int, int, int]) -> np.ndarray:
    """Dark band with '#topic  @creator' and the title; drawn once per clip."""
    w = item.width
    band = (bg[-BAND_H:].astype(np.float32) * 0.25).astype(np.uint8)
    band[-6:] = accent
    cv2.putText(band, f"#{item.topic}", (24, 62), FONT, 1.25, (255, 255, 255), 2, cv2.LINE_AA)
    (tw, _), _ = cv2.getTextSize(f"#{item.topic}", FONT, 1.25, 2)
    cv2.putText(band, f"@{item.creator}", (24 + tw + 28, 62), FONT, 1.1, accent, 2, cv2.LINE_AA)
    title = item.title
    scale = 1.0
    while cv2.getTextSize(title, FONT, scale, 2)[0][0] > w - 48 and scale > 0.5:
        scale -= 0.05
    cv2.putText(band, title, (24, 120), FONT, scale, (235, 235, 235), 2, cv2.LINE_AA)
    cv2.putText(band, f"demo clip  {item.duration_ms / 1000:.1f} s", (24, 165), cv2.FONT_HERSHEY_SIMPLEX, 0.65,
                (170, 170, 170), 1, cv2.LINE_AA)
    return band


class Scene:
    """Static background plus per-frame drawing for one topic; parameters come from the clip's variant."""

    def __init__(self, item: DemoItem) -> None:
        self.item = item
        self.w, self.h = item.width, item.height - BAND_H
        self.rng = random.Random(item.variant)
        self.accent, tempo = CREATOR_STYLE.get(item.creator, ((255, 255, 255), 1.0))
        self.speed = tempo * self.rng.uniform(0.8, 1.25)
        self.phase = self.rng.uniform(0, 2 * math.pi)
        top, bottom = PALETTES[item.topic]
        self.bg = _gradient(item.width, item.height, top, bottom)
        getattr(self, f"setup_{item.topic}")()
        self.band = _caption_band(item, self.bg, self.accent)
        self.canvas: np.ndarray | None = None  # for motifs that accumulate (art)

    # -- ocean ------------------------------------------------------------------------------------
    def setup_ocean(self) -> None:
        cv2.circle(self.bg, (int(self.w * 0.75), int(self.h * 0.18)), 50, (120, 230, 255), -1, cv2.LINE_AA)
        self.xs = np.arange(0, self.w + 20, 20, dtype=np.float32)

    def draw_ocean(self, f: np.ndarray, t: float) -> None:
        colours = [(200, 150, 40), (170, 110, 20), (140, 80, 10)]
        for layer, colour in enumerate(colours):
            base = self.h * (0.42 + 0.17 * layer)
            amp = 22 + 8 * layer
            k = 2 * math.pi / (260 - 50 * layer)
            shift = t * self.speed * (60 + 35 * layer) * (1 if layer % 2 == 0 else -1)
            ys = base + amp * np.sin(k * (self.xs + shift) + self.phase + layer)
            pts = np.concatenate([np.stack([self.xs, ys], 1), [[self.w, self.h], [0, self.h]]]).astype(np.int32)
            cv2.fillPoly(f, [pts], colour, cv2.LINE_AA)
            cv2.polylines(f, [pts[:-2]], False, (250, 240, 230), 3, cv2.LINE_AA)

    # -- sports -----------------------------------------------------------------------------------
    def setup_sports(self) -> None:
        w, h = self.w, self.h
        for i in range(0, h, 90):
            self.bg[i : i + 45, :w] = (self.bg[i : i + 45, :w].astype(np.int16) + 12).clip(0, 255).astype(np.uint8)
        cv2.rectangle(self.bg, (30, 60), (w - 30, h - 30), (240, 240, 240), 3)
        cv2.line(self.bg, (30, h // 2), (w - 30, h // 2), (240, 240, 240), 3)
        cv2.circle(self.bg, (w // 2, h // 2), 80, (240, 240, 240), 3, cv2.LINE_AA)
        self.ground = h - 80

    def draw_sports(self, f: np.ndarray, t: float) -> None:
        period = 1.1 / self.speed
        u = ((t / period) + self.phase) % 1.0
        height = 4 * u * (1 - u)  # parabola per bounce
        x = int(self.w / 2 + (self.w / 2 - 80) * math.sin(t * 0.9 * self.speed + self.phase))
        y = int(self.ground - 50 - height * (self.h * 0.55))
        shadow = int(40 - 20 * height)
        cv2.ellipse(f, (x, self.ground), (shadow, 10), 0, 0, 360, (20, 60, 20), -1, cv2.LINE_AA)
        squash = 1.0 - 0.25 * max(0.0, 0.15 - height) / 0.15
        cv2.ellipse(f, (x, y), (50, int(50 * squash)), 0, 0, 360, (0, 140, 255), -1, cv2.LINE_AA)
        cv2.ellipse(f, (x, y), (50, int(50 * squash)), 0, 0, 360, (20, 20, 20), 3, cv2.LINE_AA)
        cv2.line(f, (x - 50, y), (x + 50, y), (20, 20, 20), 2, cv2.LINE_AA)

    # -- cooking ----------------------------------------------------------------------------------
    def setup_cooking(self) -> None:
        cx, cy = self.w // 2, int(self.h * 0.72)
        self.pan = (cx, cy)
        cv2.line(self.bg, (cx + 150, cy), (cx + 260, cy - 30), (40, 40, 40), 22, cv2.LINE_AA)
        cv2.ellipse(self.bg, (cx, cy), (170, 60), 0, 0, 360, (50, 50, 55), -1, cv2.LINE_AA)
        cv2.ellipse(self.bg, (cx, cy - 8), (150, 45), 0, 0, 360, (30, 30, 35), -1, cv2.LINE_AA)
        self.bits = [(self.rng.randint(-110, 110), self.rng.randint(-25, 15), self.rng.choice([(60, 200, 250), (40, 160, 60), (50, 60, 220)])) for _ in range(9)]

    def draw_cooking(self, f: np.ndarray, t: float) -> None:
        cx, cy = self.pan
        for i, (dx, dy, colour) in enumerate(self.bits):
            jump = int(6 * abs(math.sin(t * 6 * self.speed + i)))
            cv2.circle(f, (cx + dx, cy - 8 + dy - jump), 11, colour, -1, cv2.LINE_AA)
        for s in range(4):
            x0 = cx - 90 + s * 60
            pts = []
            for j in range(14):
                rise = ((t * 70 * self.speed + j * 22 + s * 40) % 330)
                y = cy - 70 - rise
                x = x0 + 18 * math.sin(rise / 35 + s + self.phase)
                pts.append((x, y))
            pts.sort(key=lambda p: p[1])
            cv2.polylines(f, [np.array(pts, np.int32)], False, (235, 235, 245), 5, cv2.LINE_AA)

    # -- cats -------------------------------------------------------------------------------------
    def setup_cats(self) -> None:
        self.fur = self.rng.choice([(80, 140, 230), (120, 120, 125), (40, 40, 45), (200, 200, 205)])
        for _ in range(14):
            x, y = self.rng.randrange(self.w), self.rng.randrange(self.h)
            cv2.circle(self.bg, (x, y), 7, (235, 215, 250), -1, cv2.LINE_AA)  # paw-print dots

    def draw_cats(self, f: np.ndarray, t: float) -> None:
        cx = int(self.w / 2 + 30 * math.sin(t * 0.8 * self.speed + self.phase))
        cy = int(self.h * 0.5 + 25 * math.sin(t * 1.6 * self.speed))
        r = 150
        fur = self.fur
        ears = [np.array([(cx - 140, cy - 40), (cx - 110, cy - 200), (cx - 30, cy - 130)], np.int32),
                np.array([(cx + 140, cy - 40), (cx + 110, cy - 200), (cx + 30, cy - 130)], np.int32)]
        cv2.fillPoly(f, ears, fur, cv2.LINE_AA)
        cv2.circle(f, (cx, cy), r, fur, -1, cv2.LINE_AA)
        blink = (t * self.speed + self.phase) % 3.0 < 0.18
        for ex in (cx - 55, cx + 55):
            if blink:
                cv2.line(f, (ex - 25, cy - 30), (ex + 25, cy - 30), (30, 30, 30), 5, cv2.LINE_AA)
            else:
                cv2.ellipse(f, (ex, cy - 30), (26, 32), 0, 0, 360, (90, 200, 120), -1, cv2.LINE_AA)
                look = int(8 * math.sin(t * 1.3))
                cv2.ellipse(f, (ex + look, cy - 30), (8, 26), 0, 0, 360, (20, 20, 20), -1, cv2.LINE_AA)
        cv2.fillPoly(f, [np.array([(cx - 16, cy + 20), (cx + 16, cy + 20), (cx, cy + 38)], np.int32)], (150, 120, 240), cv2.LINE_AA)
        for side in (-1, 1):
            for k in (-1, 0, 1):
                cv2.line(f, (cx + side * 40, cy + 40 + k * 14), (cx + side * 180, cy + 30 + k * 30), (250, 250, 250), 2, cv2.LINE_AA)

    # -- tech -------------------------------------------------------------------------------------
    def setup_tech(self) -> None:
        for x in range(0, self.w, 45):
            cv2.line(self.bg, (x, 0), (x, self.h), (90, 55, 35), 1)
        for y in range(0, self.h, 45):
            cv2.line(self.bg, (0, y), (self.w, y), (90, 55, 35), 1)
        self.gears = [((170, int(self.h * 0.38)), 120, 12, (230, 200, 40)), ((372, int(self.h * 0.38) + 72), 90, 9, (80, 220, 250)),
                      ((300, int(self.h * 0.72)), 70, 7, (200, 120, 255))]

    def _gear(self, f: np.ndarray, centre: tuple[int, int], r: int, teeth: int, angle: float, colour) -> None:
        pts = []
        for i in range(teeth * 4):
            a = angle + i * math.pi * 2 / (teeth * 4)
            rr = r + 18 if (i % 4) in (1, 2) else r
            pts.append((centre[0] + rr * math.cos(a), centre[1] + rr * math.sin(a)))
        cv2.fillPoly(f, [np.array(pts, np.int32)], colour, cv2.LINE_AA)
        cv2.circle(f, centre, r // 3, (40, 20, 12), -1, cv2.LINE_AA)
        cv2.line(f, centre, (int(centre[0] + r * 0.8 * math.cos(angle)), int(centre[1] + r * 0.8 * math.sin(angle))), (40, 20, 12), 8, cv2.LINE_AA)

    def draw_tech(self, f: np.ndarray, t: float) -> None:
        base = t * 1.2 * self.speed + self.phase
        for i, (centre, r, teeth, colour) in enumerate(self.gears):
            direction = 1 if i % 2 == 0 else -1
            self._gear(f, centre, r, teeth, direction * base * 12 / teeth, colour)

    # -- music ------------------------------------------------------------------------------------
    def setup_music(self) -> None:
        for i in range(5):
            y = 90 + i * 22
            cv2.line(self.bg, (0, y), (self.w, y), (200, 120, 190), 2)
        self.notes = [(self.rng.randrange(40, self.w - 80), self.rng.uniform(0, 1), self.rng.choice([(60, 230, 255), (255, 255, 255), (120, 255, 200)])) for _ in range(6)]

    def draw_music(self, f: np.ndarray, t: float) -> None:
        bars = 9
        bw = self.w // bars
        for i in range(bars):
            level = 0.5 + 0.5 * math.sin(t * 5 * self.speed + i * 0.9 + self.phase) * math.sin(t * 1.7 + i)
            top = int(self.h - 30 - level * 220)
            cv2.rectangle(f, (i * bw + 6, top), ((i + 1) * bw - 6, self.h - 30), (80, 200 + 5 * i, 255 - 12 * i), -1)
        for x, offset, colour in self.notes:
            u = (offset + t * 0.12 * self.speed) % 1.0
            y = int(self.h - 280 - u * (self.h - 380))
            xx = int(x + 20 * math.sin(u * 9 + offset * 6))
            cv2.ellipse(f, (xx, y), (22, 16), -25, 0, 360, colour, -1, cv2.LINE_AA)
            cv2.line(f, (xx + 19, y - 4), (xx + 19, y - 80), colour, 5, cv2.LINE_AA)
            cv2.line(f, (xx + 19, y - 80), (xx + 45, y - 55), colour, 5, cv2.LINE_AA)

    # -- nature -----------------------------------------------------------------------------------
    def setup_nature(self) -> None:
        hill = np.array([(0, int(self.h * 0.62))] + [(x, int(self.h * 0.6 - 40 * math.sin(x / 90 + self.phase))) for x in range(0, self.w + 30, 30)]
                        + [(self.w, self.h), (0, self.h)], np.int32)
        cv2.fillPoly(self.bg, [hill], (50, 140, 60), cv2.LINE_AA)
        self.trees = [(self.rng.randrange(40, self.w - 40), int(self.h * self.rng.uniform(0.66, 0.95)), self.rng.uniform(0.7, 1.3)) for _ in range(7)]
        self.trees.sort(key=lambda tr: tr[1])

    def draw_nature(self, f: np.ndarray, t: float) -> None:
        sx = int((t * 12 * self.speed + self.w * 0.2) % (self.w + 200)) - 100
        cv2.circle(f, (sx, int(self.h * 0.15)), 45, (90, 220, 255), -1, cv2.LINE_AA)
        for i in range(3):
            cx = int((t * (25 + 10 * i) * self.speed + i * 220 + self.phase * 50) % (self.w + 300)) - 150
            cy = 120 + i * 90
            for dx, r in ((-40, 30), (0, 42), (40, 32)):
                cv2.circle(f, (cx + dx, cy), r, (250, 250, 250), -1, cv2.LINE_AA)
        for x, y, s in self.trees:
            sway = 14 * s * math.sin(t * 1.5 * self.speed + x / 50)
            cv2.rectangle(f, (x - int(8 * s), y - int(40 * s)), (x + int(8 * s), y), (30, 60, 90), -1)
            for k in range(3):
                top = y - int((60 + 45 * k) * s)
                w = int((70 - 15 * k) * s)
                tri = np.array([(x - w + sway * k / 3, top + 60 * s), (x + w + sway * k / 3, top + 60 * s), (x + sway * (k + 1) / 3, top - 25 * s)], np.int32)
                cv2.fillPoly(f, [tri], (30, 110 + 20 * k, 40), cv2.LINE_AA)

    # -- art --------------------------------------------------------------------------------------
    def setup_art(self) -> None:
        self.strokes = []
        for _ in range(40):
            x0, y0 = self.rng.randrange(self.w), self.rng.randrange(self.h)
            a = self.rng.uniform(0, math.pi)
            length = self.rng.randrange(60, 220)
            colour = self.rng.choice([(60, 60, 220), (220, 140, 40), (60, 200, 240), (140, 60, 160), (80, 170, 60), (30, 30, 30)])
            self.strokes.append((x0, y0, a, length, colour, self.rng.randrange(8, 26)))

    def draw_art(self, f: np.ndarray, t: float) -> None:
        if self.canvas is None:
            self.canvas = self.bg[: self.h].copy()
            self.painted = 0
        rate = 2.2 * self.speed
        due = min(len(self.strokes), int(t * rate) + 1)
        while self.painted < due:  # strokes accumulate on a canvas that persists across frames
            x0, y0, a, length, colour, width = self.strokes[self.painted]
            x1, y1 = int(x0 + length * math.cos(a)), int(y0 + length * math.sin(a))
            cv2.line(self.canvas, (x0, y0), (x1, y1), colour, width, cv2.LINE_AA)
            self.painted += 1
            if self.painted == len(self.strokes):  # start a fresh sheet
                self.canvas = self.bg[: self.h].copy()
                self.painted = 0
                due -= len(self.strokes)
        f[: self.h] = self.canvas
        ang = t * 40 * self.speed
        box = cv2.boxPoints(((self.w / 2, self.h * 0.45), (180, 180), ang)).astype(np.int32)
        cv2.polylines(f, [box], True, (40, 40, 40), 6, cv2.LINE_AA)
        r = int(70 + 20 * math.sin(t * 2 * self.speed))
        cv2.circle(f, (int(self.w / 2), int(self.h * 0.45)), r, self.accent, 6, cv2.LINE_AA)

    # -- space ------------------------------------------------------------------------------------
    def setup_space(self) -> None:
        self.stars = [(self.rng.randrange(self.w), self.rng.randrange(self.h), self.rng.uniform(0, 6.3),
                       self.rng.choice([1, 2, 3])) for _ in range(70)]
        self.planet = (int(self.w * self.rng.uniform(0.35, 0.65)), int(self.h * 0.5))
        self.planet_colour = self.rng.choice([(80, 150, 230), (200, 170, 90), (120, 200, 160)])

    def draw_space(self, f: np.ndarray, t: float) -> None:
        for x, y, ph, r in self.stars:
            light = int(150 + 105 * math.sin(t * 3 * self.speed + ph))
            cv2.circle(f, (x, y), r, (light, light, light), -1, cv2.LINE_AA)
        px, py = self.planet
        a = t * 0.9 * self.speed + self.phase
        moon = (int(px + 200 * math.cos(a)), int(py + 70 * math.sin(a)))
        behind = math.sin(a) < 0
        if behind:
            cv2.circle(f, moon, 24, (215, 215, 225), -1, cv2.LINE_AA)
        cv2.circle(f, (px, py), 110, self.planet_colour, -1, cv2.LINE_AA)
        cv2.ellipse(f, (px, py), (170, 36), -12, 0, 360, (230, 230, 240), 6, cv2.LINE_AA)
        if not behind:
            cv2.circle(f, moon, 24, (215, 215, 225), -1, cv2.LINE_AA)

    # -- city -------------------------------------------------------------------------------------
    def setup_city(self) -> None:
        self.windows = []
        x = 0
        ground = int(self.h * 0.82)
        while x < self.w:
            bw, bh = self.rng.randrange(60, 120), self.rng.randrange(150, 420)
            cv2.rectangle(self.bg, (x, ground - bh), (x + bw - 4, ground), (50, 35, 40), -1)
            for wy in range(ground - bh + 16, ground - 20, 32):
                for wx in range(x + 10, x + bw - 20, 22):
                    self.windows.append((wx, wy, self.rng.uniform(0, 1)))
            x += bw
        cv2.rectangle(self.bg, (0, ground), (self.w, self.h), (60, 60, 60), -1)
        for lx in range(0, self.w, 60):
            cv2.line(self.bg, (lx, ground + 45), (lx + 30, ground + 45), (200, 200, 200), 4)
        self.ground = ground

    def draw_city(self, f: np.ndarray, t: float) -> None:
        lit_share = 0.35 + 0.3 * math.sin(t * 0.5 * self.speed + self.phase)
        for wx, wy, u in self.windows:
            if (u + t * 0.07 * self.speed) % 1.0 < lit_share:
                cv2.rectangle(f, (wx, wy), (wx + 12, wy + 16), (120, 220, 255), -1)
        for lane, (colour, v) in enumerate(((self.accent, 160), ((60, 60, 230), -120))):
            x = int((t * v * self.speed + lane * 250) % (self.w + 200)) - 100
            y = self.ground + 20 + 50 * lane
            cv2.rectangle(f, (x - 50, y - 18), (x + 50, y + 12), colour, -1, cv2.LINE_AA)
            cv2.rectangle(f, (x - 28, y - 36), (x + 28, y - 18), colour, -1, cv2.LINE_AA)
            for wheel in (-30, 30):
                cv2.circle(f, (x + wheel, y + 14), 10, (20, 20, 20), -1, cv2.LINE_AA)

    # -- weather ----------------------------------------------------------------------------------
    def setup_weather(self) -> None:
        ground = int(self.h * 0.85)
        cv2.rectangle(self.bg, (0, ground), (self.w, self.h), (80, 75, 70), -1)
        self.drops = [(self.rng.randrange(self.w + 200), self.rng.uniform(0, 1)) for _ in range(90)]
        self.puddles = [(self.rng.randrange(40, self.w - 40), ground + self.rng.randrange(20, self.h - ground - 10),
                         self.rng.uniform(0, 1)) for _ in range(5)]
        self.ground = ground

    def draw_weather(self, f: np.ndarray, t: float) -> None:
        fall = self.ground
        for x0, u in self.drops:
            y = int(((u + t * 0.9 * self.speed) % 1.0) * fall)
            x = int(x0 - y * 0.25)
            cv2.line(f, (x, y), (x - 6, y + 26), (235, 225, 215), 2, cv2.LINE_AA)
        for x, y, u in self.puddles:
            r = ((u + t * 1.2 * self.speed) % 1.0)
            cv2.ellipse(f, (x, y), (int(10 + 50 * r), int(3 + 12 * r)), 0, 0, 360, (200, 195, 190), 2, cv2.LINE_AA)
        for i in range(3):
            cx = int((t * (18 + 8 * i) * self.speed + i * 200 + self.phase * 40) % (self.w + 300)) - 150
            cy = 70 + i * 70
            for dx, r in ((-60, 45), (-10, 60), (45, 48), (90, 35)):
                cv2.circle(f, (cx + dx, cy), r, (125 - 12 * i, 120 - 12 * i, 118 - 12 * i), -1, cv2.LINE_AA)

    # -- games ------------------------------------------------------------------------------------
    def setup_games(self) -> None:
        self.cell = 45
        cols = self.w // self.cell
        for x in range(0, cols * self.cell + 1, self.cell):
            cv2.line(self.bg, (x, 60), (x, self.h), (70, 70, 60), 1)
        colours = [(60, 60, 230), (60, 200, 240), (80, 200, 80), (230, 160, 50), (200, 80, 200), (240, 240, 80)]
        self.pieces = [(self.rng.randrange(cols - 1), self.rng.choice(colours)) for _ in range(60)]
        self.cols = cols

    def draw_games(self, f: np.ndarray, t: float) -> None:
        c = self.cell
        rate = 1.3 * self.speed  # pieces per second
        done = int(t * rate)
        heights = [0] * self.cols
        settled = done % 40  # the stack empties every 40 pieces ("line clear")
        for i in range(settled):
            col, colour = self.pieces[(done - settled + i) % len(self.pieces)]
            for dc in (0, 1):
                y = self.h - c * (heights[col + dc] + 1)
                cv2.rectangle(f, ((col + dc) * c + 2, y + 2), ((col + dc + 1) * c - 2, y + c - 2), colour, -1)
            top = max(heights[col], heights[col + 1]) + 1
            heights[col] = heights[col + 1] = top
        col, colour = self.pieces[done % len(self.pieces)]
        landing = self.h - c * (max(heights[col], heights[col + 1]) + 1)
        y = int(60 + (t * rate - done) * (landing - 60))
        for dc in (0, 1):
            cv2.rectangle(f, ((col + dc) * c + 2, y + 2), ((col + dc + 1) * c - 2, y + c - 2), colour, -1)
        cv2.putText(f, f"SCORE {done * 100:05d}", (24, 44), FONT, 1.0, (240, 240, 240), 2, cv2.LINE_AA)

    # -- one frame --------------------------------------------------------------------------------
    def frame(self, i: int) -> np.ndarray:
        t = i / self.item.fps
        scene = self.bg.copy()
        getattr(self, f"draw_{self.item.topic}")(scene, t)
        f = np.empty_like(scene)
        f[:BAND_H] = self.band
        f[BAND_H:] = scene[: self.h]
        progress = int(self.item.width * (i + 1) / self.item.frames)
        f[-5:, :progress] = self.accent  # how far into the clip: makes loops visible
        return f


def render_clip(item: DemoItem, dest: Path) -> int:
    """Encode ``item`` to ``dest`` via a hidden temp file and an atomic rename; return its size in bytes.

    A killed run leaves only '.<name>.part.mp4' (hidden, ignored by scans, overwritten next time),
    never a half-written clip under the real name.
    """
    dest = Path(dest)
    tmp = dest.with_name(f".{dest.stem}.part{dest.suffix}")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), item.fps, (item.width, item.height))
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write video files to {dest.parent}; check that the folder is writable")
    try:
        scene = Scene(item)
        for i in range(item.frames):
            writer.write(scene.frame(i))
    finally:
        writer.release()
    os.replace(tmp, dest)
    return dest.stat().st_size
