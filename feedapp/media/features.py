"""Visual features of a clip from a handful of sampled frames: cheap, fixed-length, always finite.

Rankers use these as a content description that needs no labels: colour (what a clip looks like),
brightness and saturation (mood), motion (calm or busy). They are computed from small copies of
the few frames probing samples anyway, so they add about a millisecond to a probe.

Order of the vector (``FEATURE_NAMES``):
  0-11  hue_00 .. hue_11: saturation-weighted hue histogram, 12 bins of 30 degrees starting at red,
        summing to 1; pixels with saturation under 0.1 do not vote (their hue is noise), so a black and
        white clip gets all zeros;
  12    brightness: mean HSV value, 0 (black) .. 1 (white);
  13    saturation: mean HSV saturation, 0 (grey) .. 1 (pure colour);
  14    motion: mean absolute difference between consecutive frames (grey, 0..1) at the sample points,
        0 for a still picture; typical footage is 0.01-0.1.
"""

from __future__ import annotations

from collections.abc import Sequence

from feedapp.media._cv import cv2
import numpy as np

HUE_BINS = 12
FEATURE_NAMES: tuple[str, ...] = tuple(f"hue_{i:02d}" for i in range(HUE_BINS)) + ("brightness", "saturation", "motion")
MIN_SATURATION = 0.1  # pixels greyer than this do not vote for a hue
FEATURE_WIDTH = 96  # frames are shrunk to this width before anything is measured


def shrink(frame: np.ndarray, width: int = FEATURE_WIDTH) -> np.ndarray:
    """A small copy of a BGR frame (aspect kept): features do not need more pixels than this."""
    h, w = frame.shape[:2]
    if w <= width:
        return frame
    return cv2.resize(frame, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)


def compute_features(frames: Sequence[np.ndarray], pairs: Sequence[tuple[np.ndarray, np.ndarray]] = ()) -> tuple[float, ...]:
    """Features from sampled BGR ``frames`` (colour) and consecutive ``pairs`` (motion), in FEATURE_NAMES order.

    Frames may be any size (they are shrunk); an empty input gives an all-zero vector, never NaN.
    """
    small = [shrink(f) for f in frames if f is not None and f.size]
    hist = np.zeros(HUE_BINS, np.float64)
    brightness = saturation = 0.0
    if small:
        hsv = [cv2.cvtColor(f, cv2.COLOR_BGR2HSV) for f in small]
        hue = np.concatenate([h[..., 0].ravel() for h in hsv]).astype(np.float64)  # 0..179 in OpenCV
        sat = np.concatenate([h[..., 1].ravel() for h in hsv]).astype(np.float64) / 255.0
        val = np.concatenate([h[..., 2].ravel() for h in hsv]).astype(np.float64) / 255.0
        bins = np.minimum((hue * HUE_BINS / 180.0).astype(np.int64), HUE_BINS - 1)
        weights = np.where(sat >= MIN_SATURATION, sat, 0.0)  # hue of near-grey pixels is compression noise
        hist = np.bincount(bins, weights=weights, minlength=HUE_BINS)
        total = hist.sum()
        hist = hist / total if total > 1e-9 else np.zeros(HUE_BINS)
        brightness = float(val.mean())
        saturation = float(sat.mean())
    diffs = []
    for a, b in pairs:
        if a is None or b is None or a.shape != b.shape:
            continue
        ga = cv2.cvtColor(shrink(a), cv2.COLOR_BGR2GRAY)
        gb = cv2.cvtColor(shrink(b), cv2.COLOR_BGR2GRAY)
        diffs.append(float(cv2.absdiff(ga, gb).mean()) / 255.0)
    motion = float(np.mean(diffs)) if diffs else 0.0
    vec = [*hist.tolist(), brightness, saturation, motion]
    return tuple(round(float(v), 6) if np.isfinite(v) else 0.0 for v in vec)
