"""Give big video buffers back to the system when they are freed, so memory stays flat over hundreds of swipes.

Decoders allocate frame pools per clip: about 12 MB a frame for a 2160x3840 clip, a few MB for 1080p,
less for small clips, each pool freed when the slot is recycled. glibc serves large requests with
mmap only below a threshold it raises by itself after each large free, after which such buffers come
from the heap, where clips of other sizes fragment it: measured here, resident memory then climbed
541 -> 827 MB over 100 swipes of the real-codec corpus. With the threshold fixed at 1 MiB (and a
couple of arenas for the many decoder threads) each frame buffer is its own mapping, returned on
free: 293 -> 352 -> 248 MB over the same swipes (benchmarks/real_clips.py, docs/benchmarks.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameters (malloc.h)
M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 1 << 20
ARENA_MAX = 2

_done = False


def return_big_buffers() -> bool:
    """Fix glibc's mmap threshold and arena count for this process (True if done; no-op elsewhere)."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt tuning)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(mallopt(M_ARENA_MAX, ARENA_MAX))
    _done = ok
    return ok
