"""A real-codec corpus made with the ffmpeg command-line tool: what researchers bring from phones and screens.

OpenCV can only write mp4v and MJPEG; phones record H.264 or HEVC with AAC, often with a rotation
tag, and screen and browser recordings are VP9/Opus WebM or Matroska with a variable frame rate. Each
clip here is made by ffmpeg from the same known picture, so tests can tell by pixels whether it is
upright and letterboxed:

- the picture, as it should be *displayed*: a red band over the top quarter, blue below, a white
  square in the top-left corner, and a small green square moving along the bottom (frames differ);
- a rotated clip stores that picture turned a quarter counter-clockwise and carries a 90 degree
  display rotation, like a phone held upright;
- variable-frame-rate clips drop four frames of every ten (``-fps_mode vfr``): their nominal rate
  times their length overstates the number of frames, which is what fooled the probe.

``make_corpus(dest)`` makes every clip (skipping files already there); ``scripts/setup.sh --test``
installs ffmpeg (Debian's package). Tests get the corpus from the session-scoped ``corpus`` fixture
(tests/conftest.py), made once per test session in pytest's temporary folder.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

RED_RGB = (220, 40, 40)
BLUE_RGB = (40, 80, 220)


@dataclass(frozen=True)
class CorpusClip:
    name: str  # file name
    video: list[str]  # ffmpeg encoder options for the video stream
    size: tuple[int, int]  # display size (width, height), after rotation
    seconds: float = 2.0
    audio: list[str] | None = None  # ffmpeg encoder options for a sine tone, or None for no audio track
    rotation: int = 0  # clockwise display rotation tagged on the file
    vfr: bool = False
    fps: int = 30

    @property
    def pixels(self) -> int:
        return self.size[0] * self.size[1]


H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
HEVC = ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error", "-tag:v", "hvc1", "-pix_fmt", "yuv420p"]
VP9 = ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-row-mt", "1", "-b:v", "1M", "-pix_fmt", "yuv420p"]
MPEG4 = ["-c:v", "mpeg4", "-q:v", "5"]
MJPEG = ["-c:v", "mjpeg", "-q:v", "5", "-pix_fmt", "yuvj420p"]
AAC = ["-c:a", "aac", "-b:a", "96k"]
OPUS = ["-c:a", "libopus", "-b:a", "64k"]


def corpus_spec(seconds: float = 2.0, uhd_seconds: float = 1.0, uhd_codec: list[str] | None = None) -> list[CorpusClip]:
    """The clips: every codec and shape named in issue 12, short so the test suite stays fast."""
    s = seconds
    return [
        CorpusClip("h264_aac_720p.mp4", H264, (720, 1280), s, AAC),
        CorpusClip("h264_1080p_landscape.mp4", H264, (1920, 1080), s, AAC),
        CorpusClip("hevc_1080p_portrait.mp4", HEVC, (1080, 1920), s, AAC),
        CorpusClip("vp9_opus_720p.webm", VP9, (720, 1280), s, OPUS),
        CorpusClip("mpeg4_540p.mp4", MPEG4, (540, 960), s),
        CorpusClip("mjpeg_540p.avi", MJPEG, (540, 960), s),
        CorpusClip("uhd_2160x3840_portrait.mp4", uhd_codec or H264, (2160, 3840), uhd_seconds, AAC),
        CorpusClip("h264_rotated_phone.mp4", H264, (720, 1280), s, AAC, rotation=90),
        CorpusClip("vfr_h264.mkv", H264, (640, 360), max(s, 4.0), AAC, vfr=True),
        CorpusClip("vfr_vp9_opus.webm", VP9, (640, 360), max(s, 4.0), OPUS, vfr=True),
        CorpusClip("vfr_h264.mp4", H264, (640, 360), max(s, 4.0), AAC, vfr=True),
    ]


def ffmpeg_path() -> str | None:
    return shutil.which("ffmpeg")


def _picture_filter(clip: CorpusClip) -> str:
    """lavfi graph drawing the known picture at the display size, stored turned for a rotation tag."""
    w, h = clip.size
    sq = max(8, min(w, h) // 8)
    mover = max(8, min(w, h) // 10)
    red = "0x%02X%02X%02X" % RED_RGB
    blue = "0x%02X%02X%02X" % BLUE_RGB
    graph = (
        f"color=c={blue}:s={w}x{h}:r={clip.fps}:d={clip.seconds},"
        f"drawbox=x=0:y=0:w=iw:h=ih/4:color={red}:t=fill,"
        f"drawbox=x=0:y=0:w={sq}:h={sq}:color=white:t=fill[bg];"
        f"color=c=0x28C828:s={mover}x{mover}:r={clip.fps}:d={clip.seconds}[m];"
        f"[bg][m]overlay=x='mod(t*{w // 2},W-w)':y=H-h-{mover // 2}:shortest=1"
    )
    if clip.vfr:
        graph += ",select='not(between(mod(n\\,10)\\,3\\,6))'"
    # stored turned a quarter counter-clockwise: the 90 degree clockwise display rotation makes it upright
    turns = {0: "", 90: ",transpose=2", 180: ",transpose=2,transpose=2", 270: ",transpose=1"}
    graph += turns[clip.rotation % 360]
    return graph + "[v]"


def make_clip_with_ffmpeg(clip: CorpusClip, dest: Path) -> Path:
    """Encode one corpus clip into ``dest`` (a folder); returns its path. Raises RuntimeError with ffmpeg's words."""
    exe = ffmpeg_path()
    if exe is None:
        raise RuntimeError("ffmpeg is not installed (scripts/setup.sh --test installs it)")
    path = dest / clip.name
    if path.exists():
        return path
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [exe, "-hide_banner", "-loglevel", "error", "-y", "-filter_complex", _picture_filter(clip)]
    maps = ["-map", "[v]"]
    if clip.audio is not None:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={clip.seconds}"]
        maps += ["-map", "0:a"]
    cmd += maps + clip.video
    if clip.audio is not None:
        cmd += clip.audio
    if clip.vfr:
        cmd += ["-fps_mode", "vfr"]
    cmd += ["-threads", "2", "-t", str(clip.seconds), str(path.with_suffix(".part" + path.suffix))]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"ffmpeg could not make {clip.name}: {r.stderr.strip()[-400:]}")
    part = path.with_suffix(".part" + path.suffix)
    if clip.rotation:
        # ffmpeg 5.1 (Debian 12) has no option for a display matrix: write it into the track header as phones do
        from tests.media.mp4tools import set_rotation

        set_rotation(part, clip.rotation)
    part.rename(path)
    return path


def make_corpus(dest: Path, specs: list[CorpusClip] | None = None) -> dict[str, Path]:
    """Make every corpus clip in ``dest``; returns {file name: path}."""
    return {c.name: make_clip_with_ffmpeg(c, dest) for c in (specs or corpus_spec())}
