"""Patch real MP4 files (written by OpenCV) to make the awkward inputs phones and other tools produce.

OpenCV cannot write rotation metadata, audio-only files or codecs it cannot decode, so the tests
take a real mp4v file and change a few bytes of its box tree, exactly where other writers differ:
the track header's display matrix (rotation), the handler type (audio track), the sample entry's
fourcc and its decoder config box (codec).
"""

from __future__ import annotations

import struct
from pathlib import Path

ONE = 1 << 16
MATRICES = {  # tkhd (a, b, c, d) in 16.16 fixed point, as phones write them
    0: (ONE, 0, 0, ONE),
    90: (0, ONE, -ONE, 0),
    180: (-ONE, 0, 0, -ONE),
    270: (0, -ONE, ONE, 0),
}


def _boxes(data: bytes | bytearray, start: int, end: int):
    i = start
    while i + 8 <= end:
        size, typ = struct.unpack(">I4s", data[i : i + 8])
        hdr = 8
        if size == 1:
            size = struct.unpack(">Q", data[i + 8 : i + 16])[0]
            hdr = 16
        elif size == 0:
            size = end - i
        yield typ.decode("latin-1"), i, hdr, size
        i += size


def find_box(data: bytes | bytearray, path: list[str]) -> tuple[int, int, int]:
    """(offset, header length, size) of the first box along ``path`` (e.g. ['moov','trak','tkhd'])."""
    start, end = 0, len(data)
    found = None
    for name in path:
        found = next((b for b in _boxes(data, start, end) if b[0] == name), None)
        if found is None:
            raise ValueError(f"no {name} box along {path}")
        _, off, hdr, size = found
        start, end = off + hdr, off + size
    assert found is not None
    return found[1], found[2], found[3]


def set_rotation(path: Path, degrees: int) -> None:
    """Write a display matrix for ``degrees`` clockwise into the video track's tkhd box."""
    data = bytearray(Path(path).read_bytes())
    off, hdr, _ = find_box(data, ["moov", "trak", "tkhd"])
    version = data[off + hdr]
    m = off + hdr + 4 + (32 if version == 1 else 20) + 16
    a, b, c, d = MATRICES[degrees]
    data[m : m + 36] = struct.pack(">9i", a, b, 0, c, d, 0, 0, 0, 1 << 30)
    Path(path).write_bytes(bytes(data))


def set_codec(path: Path, fourcc: str, drop_decoder_config: bool = True) -> None:
    """Relabel the video sample entry as ``fourcc``; drop its esds box so FFmpeg cannot fall back to MPEG-4."""
    data = bytearray(Path(path).read_bytes())
    off, hdr, _ = find_box(data, ["moov", "trak", "mdia", "minf", "stbl", "stsd"])
    entry = off + hdr + 8
    data[entry + 4 : entry + 8] = fourcc.encode("latin-1")
    if drop_decoder_config:
        k = data.find(b"esds", entry)
        if k > 0:
            data[k : k + 4] = b"free"
    Path(path).write_bytes(bytes(data))


def set_handler(path: Path, handler: str) -> None:
    """Change the track's handler type, e.g. to 'soun': the file then holds an audio track only."""
    data = bytearray(Path(path).read_bytes())
    off, hdr, _ = find_box(data, ["moov", "trak", "mdia", "hdlr"])
    p = off + hdr + 8
    data[p : p + 4] = handler.encode("latin-1")
    Path(path).write_bytes(bytes(data))
