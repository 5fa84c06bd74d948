"""Look at a file's first bytes and, for MP4/MOV, its box tree, to explain *why* OpenCV cannot open it.

OpenCV only says "could not open". A researcher needs to know whether the file is empty, is text,
is audio, was cut off while copying, or uses a codec this machine cannot decode. Reading a few
box headers answers that without decoding anything, in well under a millisecond.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

# Containers we recognise by their first bytes. Only the ISO-BMFF family is parsed further.
_AUDIO_MAGIC = {b"ID3": "MP3 audio", b"fLaC": "FLAC audio", b"OggS": "Ogg (usually audio)", b"#!AMR": "AMR audio"}


@dataclass(frozen=True)
class ContainerInfo:
    """What the bytes say. ``kind`` is one of: empty, text, audio, image, mp4, matroska, avi, unknown."""

    kind: str
    detail: str = ""  # e.g. "WAV audio", "PNG image"
    truncated: bool = False  # a top-level box runs past the end of the file, or no moov box
    handlers: tuple[str, ...] = ()  # per track: 'vide', 'soun', ...
    video_codecs: tuple[str, ...] = ()  # sample-entry fourccs of the video tracks
    rotation: int | None = None  # from the first video track's tkhd matrix, clockwise degrees


def _boxes(data: bytes, start: int, end: int):
    """Yield (type, offset, header_len, size) for each box in data[start:end]; size may overrun end."""
    i = start
    while i + 8 <= end:
        size, typ = struct.unpack(">I4s", data[i : i + 8])
        hdr = 8
        if size == 1:
            if i + 16 > end:
                return
            size = struct.unpack(">Q", data[i + 8 : i + 16])[0]
            hdr = 16
        elif size == 0:
            size = end - i
        if size < hdr:
            return
        yield typ.decode("latin-1"), i, hdr, size
        i += size


def _children(data: bytes, box: tuple[str, int, int, int], name: str) -> list[tuple[str, int, int, int]]:
    _, off, hdr, size = box
    end = min(off + size, len(data))
    return [b for b in _boxes(data, off + hdr, end) if b[0] == name]


def _matrix_rotation(a: int, b: int, c: int, d: int) -> int | None:
    """Clockwise display rotation for a tkhd matrix (16.16 fixed point), as FFmpeg and phones use it."""
    one = 1 << 16
    table = {(one, 0, 0, one): 0, (0, one, -one, 0): 90, (-one, 0, 0, -one): 180, (0, -one, one, 0): 270}
    return table.get((a, b, c, d))


def _looks_like_text(head: bytes) -> bool:
    if not head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        # a multi-byte character cut at the end of the sample is still text
        try:
            head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return False
    printable = sum(1 for ch in head if ch >= 32 or ch in (9, 10, 13))
    return printable / len(head) > 0.97


def inspect(path: str | Path, max_moov_bytes: int = 8 << 20) -> ContainerInfo:
    """Classify a file by its bytes; for MP4/MOV list its tracks and whether it is cut off."""
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        return ContainerInfo("empty")
    with path.open("rb") as f:
        head = f.read(4096)
        if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            return ContainerInfo("audio", "WAV audio")
        if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
            return ContainerInfo("avi")
        if head[:4] == b"\x1a\x45\xdf\xa3":
            return ContainerInfo("matroska")
        for magic, what in _AUDIO_MAGIC.items():
            if head.startswith(magic):
                return ContainerInfo("audio", what)
        if head[:2] == b"\xff\xfb" or head[:2] == b"\xff\xf3":
            return ContainerInfo("audio", "MP3 audio")
        if head[:8] == b"\x89PNG\r\n\x1a\n":
            return ContainerInfo("image", "PNG image")
        if head[:3] == b"\xff\xd8\xff":
            return ContainerInfo("image", "JPEG image")
        if head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
            return _inspect_mp4(f, size, max_moov_bytes)
        if _looks_like_text(head):
            return ContainerInfo("text")
    return ContainerInfo("unknown")


def _inspect_mp4(f, size: int, max_moov_bytes: int) -> ContainerInfo:
    """Walk top-level boxes by seeking (mdat is never read), then parse moov for tracks."""
    truncated = False
    moov: bytes | None = None
    pos = 0
    while pos + 8 <= size:
        f.seek(pos)
        hdr = f.read(16)
        box_size, typ = struct.unpack(">I4s", hdr[:8])
        if box_size == 1 and len(hdr) >= 16:
            box_size = struct.unpack(">Q", hdr[8:16])[0]
        elif box_size == 0:
            box_size = size - pos
        if box_size < 8:
            break
        if pos + box_size > size:
            truncated = True
        if typ == b"moov" and box_size <= max_moov_bytes:
            f.seek(pos)
            moov = f.read(box_size)
        pos += box_size
    if moov is None:
        return ContainerInfo("mp4", truncated=True)
    handlers: list[str] = []
    codecs: list[str] = []
    rotation: int | None = None
    top = next(_boxes(moov, 0, len(moov)))
    for trak in _children(moov, top, "trak"):
        handler = ""
        for mdia in _children(moov, trak, "mdia"):
            for hdlr in _children(moov, mdia, "hdlr"):
                o = hdlr[1] + hdlr[2]
                handler = moov[o + 8 : o + 12].decode("latin-1")
            if handler == "vide":
                for minf in _children(moov, mdia, "minf"):
                    for stbl in _children(moov, minf, "stbl"):
                        for stsd in _children(moov, stbl, "stsd"):
                            o = stsd[1] + stsd[2] + 8
                            codecs.append(moov[o + 4 : o + 8].decode("latin-1"))
        handlers.append(handler)
        if handler == "vide" and rotation is None:
            for tkhd in _children(moov, trak, "tkhd"):
                o = tkhd[1] + tkhd[2]
                version = moov[o]
                m = o + 4 + (32 if version == 1 else 20) + 16
                a, b, _, c, d = struct.unpack(">5i", moov[m : m + 20])
                rotation = _matrix_rotation(a, b, c, d)
    return ContainerInfo("mp4", truncated=truncated, handlers=tuple(handlers), video_codecs=tuple(codecs), rotation=rotation)
