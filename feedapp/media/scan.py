"""Turn a folder of video files into a catalog: walk, probe (with the cache), attach metadata, explain rejects.

``load_folder`` never fails because of one bad clip: that clip becomes a ``Rejection`` with a reason.
It fails (``FolderError``) only when the folder itself cannot be used. A rescan of an unchanged folder
opens no video at all: every file's (path, size, mtime) hits the probe cache.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import sys
import unicodedata
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from feedapp.config import ConfigError
from feedapp.errors import visible
from feedapp.core.model import OTHER_VIDEO_EXTENSIONS, VIDEO_EXTENSIONS, Clip, Rejection, ScanResult
from feedapp.media.probe import ProbeError, ProbeInfo, probe
from feedapp.media.sidecar import (
    FIELDS,
    SIDECAR_NAMES,
    SidecarEntry,
    SidecarError,
    clean_topic,
    find_sidecar,
    load_sidecar,
    norm_relative,
)
from feedapp.store.cache import ProbeCache

Progress = Callable[[int, int], None]
CACHE_BATCH = 64  # probe results are saved in batches, so an interrupted first scan keeps most of its work


class FolderError(ConfigError):
    """The folder cannot be scanned at all (missing, not a folder, unreadable); the message says what to do."""


CONTENT_BYTES = 64 * 1024


def clip_id_for(relative: str, path: Path | None = None) -> str:
    """A short id from the path relative to the folder *and* the file's content (its size and first
    64 KiB), so moving the whole folder keeps every id, while two stimulus folders that both hold a
    ``01.mp4`` never share an id in one database (and merged lab files never mix their clips up)."""
    h = hashlib.sha1(relative.encode("utf-8"))
    if path is not None:
        try:
            with open(path, "rb") as f:
                h.update(b"\0" + str(os.fstat(f.fileno()).st_size).encode() + b"\0" + f.read(CONTENT_BYTES))
        except OSError:
            pass  # unreadable files are rejected by the probe anyway
    return h.hexdigest()[:12]


def pretty_title(stem: str) -> str:
    """'my_clip-01' -> 'My clip 01': file names made readable for the caption."""
    text = re.sub(r"[_\-.]+", " ", stem)
    text = re.sub(r"\s+", " ", text).strip()
    return (text[:1].upper() + text[1:]) if text else stem


def shown_path(path: str | Path) -> str:
    """A path as text that can be printed and stored: a name that is not UTF-8 (made on another system,
    e.g. Latin-1 'caf\\xe9.mp4') keeps its odd bytes as '\\xe9' instead of making every print fail."""
    return os.fsencode(str(path)).decode("utf-8", "backslashreplace")


def _not_utf8(path: str | Path) -> bool:
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:  # Python keeps undecodable bytes of a name as lone surrogates
        return True
    return False


def other_video_type(suffix: str) -> str:
    """Why a video file of a type feedapp does not play (``OTHER_VIDEO_EXTENSIONS``) is not played."""
    return (f"it is a {suffix} video, a type feedapp does not play (it plays {', '.join(VIDEO_EXTENSIONS)}); "
            f"convert it, e.g. ffmpeg -i clip{suffix} clip.mp4, and scan again")


NOT_UTF8 = ("its name is not UTF-8 text (it was probably made on another system, in another encoding); "
            "rename it (e.g. with convmv) and scan again")


def check_folder_name(folder: Path) -> None:
    """A folder whose path is not UTF-8 text cannot be played from (every clip in it would be rejected)."""
    if _not_utf8(folder):
        raise FolderError(f"the folder {shown_path(folder)} has a name that is not UTF-8 text (it was probably made on "
                          "another system, in another encoding); rename it (e.g. with convmv) and try again")


def _check_folder(folder: Path) -> None:
    check_folder_name(folder)
    if not folder.exists():
        raise FolderError(f"the folder {folder} does not exist; check the path (it is case-sensitive)")
    if not folder.is_dir():
        raise FolderError(f"{folder} is a file, not a folder; give the folder that holds the clips")
    try:
        with os.scandir(folder):
            pass
    except PermissionError:
        raise FolderError(f"the folder {folder} cannot be read (permission denied); check its permissions") from None
    except OSError as e:
        raise FolderError(f"the folder {folder} cannot be read ({e.strerror}); check the disk") from None


def find_videos(folder: Path) -> tuple[list[Path], int, list[Rejection]]:
    """(video files sorted by relative path, number of other files ignored, problems: unreadable
    subfolders, names that are not UTF-8, and video files of a type feedapp does not play).

    Hidden files and folders (names starting with '.') are skipped: they are system files (macOS '._x.mp4')
    or unfinished demo clips being written.
    """
    videos: list[Path] = []
    ignored = 0
    problems: list[Rejection] = []

    def on_error(err: OSError) -> None:
        problems.append(Rejection(shown_path(err.filename), "this folder cannot be read (permission denied); its clips were skipped"))

    for root, dirs, files in os.walk(folder, onerror=on_error):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(root) / name
            if path.suffix.lower() in VIDEO_EXTENSIONS:
                if _not_utf8(path):  # OpenCV crashes the whole process (SIGSEGV) on such a path; SQLite refuses it
                    problems.append(Rejection(shown_path(path), NOT_UTF8))
                else:
                    videos.append(path)
            elif path.suffix.lower() in OTHER_VIDEO_EXTENSIONS:  # a video all the same: 'ignored (not video)' misled
                problems.append(Rejection(shown_path(path), other_video_type(path.suffix.lower())))
            elif not (Path(root) == folder and name in SIDECAR_NAMES):
                ignored += 1
    videos.sort(key=lambda p: p.relative_to(folder).as_posix())
    return videos, ignored, problems


PROBE_NOTE_AFTER_S = 1.0  # a scan that takes longer says how far it is (a rescan hits the cache and stays quiet)


def probe_progress(stream, after: float | None = None, *, cached: bool = True) -> Progress:  # noqa: ANN001 - a text stream
    """``load_folder``'s progress as 'feedapp: probing clips 37/300 ...' once the scan has taken ``after``
    seconds: redrawn in place on a terminal (at most 10 times a second), a line per tenth in a log or pipe.
    A first start on a folder of a few hundred phone videos probes for minutes, and said nothing.
    ``after`` None: PROBE_NOTE_AFTER_S (read at the call, so a test may lower it). ``cached``: the results
    are kept in a database's probe cache (said in the line; ``lab validate`` keeps none)."""
    after = PROBE_NOTE_AFTER_S if after is None else after
    started = time.monotonic()
    state = {"drawn": 0.0, "tenth": -1, "shown": False}
    tty = bool(getattr(stream, "isatty", None) and stream.isatty())

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if not state["shown"] and (now - started < after or done == total):
            return
        text = f"feedapp: probing clips {done}/{total}" + (
            " (the first time only: the results are cached in the database)" if cached else "")
        if tty:
            if done == total or now - state["drawn"] >= 0.1:
                state["drawn"] = now
                print("\r" + text, end="\n" if done == total else "", file=stream, flush=True)
        elif done * 10 // total > state["tenth"]:
            state["tenth"] = done * 10 // total
            print(text, file=stream, flush=True)
        state["shown"] = True

    return show


class MakerMemo:
    """Probe results the demo maker kept beside its clips (``.probe-memo.json``, keyed by size and mtime as the
    database's cache is), looked up before ``fallback``. Without it a scan of the demo folder (``lab validate``,
    ``lab run``, ``play``) opened all 288 clips again, about 30 s on 2 cores, on every ``lab validate``."""

    def __init__(self, folder: Path, memo: dict[str, Any], fallback: Any = None) -> None:
        self.folder, self.memo, self.fallback = folder, memo, fallback

    @classmethod
    def wrap(cls, folder: Path, cache: Any) -> Any:
        from feedapp.media.demo import MEMO, _read_memo

        memo = _read_memo(folder) if (folder / MEMO).is_file() else {}
        return cls(folder, memo, cache) if memo else cache

    def get(self, path: str, size: int, mtime_ns: int) -> tuple[bool, dict[str, Any], bytes] | None:
        try:
            entry = self.memo.get(Path(path).relative_to(self.folder).as_posix())
        except ValueError:
            entry = None
        if isinstance(entry, dict) and entry.get("size") == size and entry.get("mtime_ns") == mtime_ns:
            try:
                hit = True, dict(entry["info"]), base64.b64decode(entry.get("poster", ""), validate=True)
            except (KeyError, TypeError, ValueError, binascii.Error):
                hit = None
            if hit is not None and _usable(hit):
                return hit
        return self.fallback.get(path, size, mtime_ns) if self.fallback is not None else None

    def put_many(self, entries: list[tuple[str, int, int, bool, dict[str, Any], bytes]]) -> None:
        if self.fallback is not None:
            self.fallback.put_many(entries)


def _probe_one(path: Path, decoder_threads: int = 0) -> tuple[bool, dict[str, Any], bytes]:
    try:
        info = probe(path, decoder_threads=decoder_threads)
    except ProbeError as e:
        return False, {"reason": e.reason}, b""
    except Exception as e:  # a decoder crash must not stop the scan of the other files
        return False, {"reason": f"probing failed unexpectedly ({type(e).__name__}: {e})"}, b""
    return True, info.to_dict(), info.poster


def _usable(hit: tuple[bool, dict[str, Any], bytes]) -> bool:
    """A cache row written by another feedapp version may lack fields: then the file is probed again."""
    ok, info, poster = hit
    if not ok:
        return isinstance(info.get("reason"), str)
    try:
        ProbeInfo.from_dict(info, poster)
    except (KeyError, TypeError, ValueError):
        return False
    return True


def _clip(path: Path, relative: str, folder: Path, info: ProbeInfo, meta: SidecarEntry | None) -> Clip:
    parent = path.parent
    topic = clean_topic(parent.name if parent != folder else folder.resolve().name) or "clips"
    return Clip(
        id=(meta.id if meta and meta.id else clip_id_for(relative, path)),
        path=str(path),
        title=(meta.title if meta and meta.title else pretty_title(path.stem)),
        topics=(meta.topics if meta and meta.topics else (topic,)),
        creator=(meta.creator if meta and meta.creator else "unknown"),
        duration_ms=info.duration_ms,
        fps=info.fps,
        width=info.width,
        height=info.height,
        rotation=info.rotation,
        created=(meta.created if meta and meta.created else ""),
        features=info.features,
        poster=info.poster,
    )


def load_folder(
    folder: str | Path,
    cache: ProbeCache | None = None,
    progress: Progress | None = None,
    *,
    workers: int = 2,
) -> ScanResult:
    """Scan ``folder`` recursively into accepted clips and rejections (sorted by relative path).

    ``progress(done, total)`` is called from this thread after each file. ``workers`` threads probe
    uncached files (OpenCV decodes without holding the GIL, so threads use both cores).
    """
    folder = Path(folder).absolute()
    _check_folder(folder)
    cache = MakerMemo.wrap(folder, cache)
    try:
        sidecar = load_sidecar(folder)
    except SidecarError as e:  # callers handle one error type for "this folder cannot be used"
        raise FolderError(str(e)) from e
    videos, _ignored, problems = find_videos(folder)
    total = len(videos)
    results: dict[Path, tuple[bool, dict[str, Any], bytes]] = {}
    misses: list[tuple[Path, int, int]] = []
    stamps: dict[str, tuple[int, int]] = {}  # what was probed (the cache's key)
    done = 0
    for path in videos:
        try:
            st = path.stat()
        except OSError as e:
            results[path] = (False, {"reason": f"the file cannot be read ({e.strerror})"}, b"")
            done += 1
            if progress:
                progress(done, total)
            continue
        stamps[str(path)] = (st.st_size, st.st_mtime_ns)
        hit = cache.get(str(path), st.st_size, st.st_mtime_ns) if cache is not None else None
        if hit is not None and _usable(hit):
            results[path] = hit
            done += 1
            if progress:
                progress(done, total)
        else:
            misses.append((path, st.st_size, st.st_mtime_ns))

    pending: list[tuple[str, int, int, bool, dict[str, Any], bytes]] = []
    if misses:
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="probe") as pool:
            threads = 1 if workers > 1 else 0  # parallel files beat parallel slices of one small file
            for (path, size, mtime), result in zip(misses, pool.map(lambda m: _probe_one(m[0], threads), misses)):
                results[path] = result
                done += 1
                if progress:
                    progress(done, total)
                if cache is not None:
                    pending.append((str(path), size, mtime, *result))
                    if len(pending) >= CACHE_BATCH:
                        cache.put_many(pending)
                        pending = []
    if cache is not None:
        cache.put_many(pending)

    accepted: list[Clip] = []
    rejected: list[Rejection] = list(problems)
    seen_ids: dict[str, str] = {}
    for path in videos:
        ok, info, poster = results[path]
        relative = norm_relative(path.relative_to(folder).as_posix())
        if not ok:
            rejected.append(Rejection(str(path), str(info.get("reason", "it could not be probed"))))
            continue
        meta = sidecar.get(relative)
        if meta is not None and meta.problem:  # a field breaks a limit (sidecar.LIMITS), or two entries describe it
            rejected.append(Rejection(str(path), meta.problem))
            continue
        clip = _clip(path, relative, folder, ProbeInfo.from_dict(info, poster), meta)
        if clip.id in seen_ids:
            rejected.append(
                Rejection(str(path), f"its id '{clip.id}' is already used by {seen_ids[clip.id]}; give each clip its own id in the sidecar")
            )
            continue
        seen_ids[clip.id] = relative
        accepted.append(clip)
    return ScanResult(accepted=tuple(accepted), rejected=tuple(rejected),
                      stamps={c.path: stamps[c.path] for c in accepted if c.path in stamps})


#: (size, modification time in ns) of each scanned clip file, by path, as the scan probed it (``ScanResult.stamps``,
#: added by the composition root: ``remember_scanned``; the player asks ``changed_since_scan``). A file that differs when a player loads it was
#: replaced or edited while the app ran: its duration and features are not the ones recorded for the clip.
_SCANNED: dict[str, tuple[int, int]] = {}


def remember_scanned(stamps: Mapping[str, tuple[int, int]]) -> None:
    """Players check these clip files against what the scan probed (``SlotPlayer.load``)."""
    _SCANNED.update(stamps)


def changed_since_scan(clip: Clip) -> str | None:
    """Why ``clip``'s file is not the one the scan probed (replaced, edited), or None (unchanged, never
    scanned, or gone: a missing file is the player's own error)."""
    stamp = _SCANNED.get(clip.path)
    if stamp is None:
        return None
    try:
        st = os.stat(clip.path)
    except OSError:
        return None
    if (st.st_size, st.st_mtime_ns) == stamp:
        return None
    size = f"{st.st_size:,} bytes, {stamp[0]:,} when it was scanned" if st.st_size != stamp[0] else "same size, newer date"
    return (f"the file was replaced or changed after it was scanned ({size}), so its length and looks are not the "
            "ones recorded for it; start feedapp again to scan it anew")


# -- command line --------------------------------------------------------------------------------
def _rel(path: str, folder: Path) -> str:
    try:
        return Path(path).relative_to(folder).as_posix()
    except ValueError:
        return path


def _width(text: str) -> int:
    """Terminal columns: CJK characters take two, so the table stays aligned for names like '猫.mp4'."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, right: bool = False) -> str:
    fill = " " * max(0, width - _width(text))
    return fill + text if right else text + fill


def _table(result: ScanResult, folder: Path, ignored: int) -> str:
    lines = []
    if result.accepted:
        rows = [
            (
                visible(_rel(c.path, folder)),
                f"{c.duration_ms / 1000:.1f} s",
                f"{c.fps:g}",
                f"{c.width}x{c.height}",
                c.orientation,
                f"{c.rotation}°",
                ", ".join(c.topics),
            )
            for c in result.accepted
        ]
        head = ("file", "duration", "fps", "size", "orientation", "rotation", "topics")
        widths = [max(_width(h), *(_width(r[i]) for r in rows)) for i, h in enumerate(head)]

        def fmt(cells: tuple[str, ...]) -> str:
            return "  " + "  ".join(_pad(c, w, right=i in (1, 2, 3, 5)) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

        lines.append(f"Accepted ({len(result.accepted)}):")
        lines.append(fmt(head))
        lines.extend(fmt(r) for r in rows)
    if result.rejected:
        if lines:
            lines.append("")
        lines.append(f"Rejected ({len(result.rejected)}):")
        width = max(_width(visible(_rel(r.path, folder))) for r in result.rejected)
        lines.extend(f"  {_pad(visible(_rel(r.path, folder)), width)}  {r.reason}" for r in result.rejected)
    if lines:
        lines.append("")
    total = sum(c.duration_ms for c in result.accepted) / 1000
    lines.append(
        f"{len(result.accepted)} accepted ({total / 60:.1f} min in all), {len(result.rejected)} rejected"
        + (f", {ignored} other file{'s' if ignored != 1 else ''} ignored (not video)" if ignored else "")
        + "."
    )
    return "\n".join(lines)


def _as_json(result: ScanResult, folder: Path, ignored: int) -> str:
    return json.dumps(
        {
            "folder": str(folder),
            "accepted": [
                {
                    "id": c.id,
                    "file": _rel(c.path, folder),
                    "title": c.title,
                    "topics": list(c.topics),
                    "creator": c.creator,
                    "created": c.created,
                    "duration_ms": c.duration_ms,
                    "fps": c.fps,
                    "width": c.width,
                    "height": c.height,
                    "orientation": c.orientation,
                    "rotation": c.rotation,
                }
                for c in result.accepted
            ],
            "rejected": [{"file": _rel(r.path, folder), "reason": r.reason} for r in result.rejected],
            "ignored_files": ignored,
        },
        indent=2,
        ensure_ascii=False,
    )


def run_scan_command(folder: Path, db_path: Path | None, as_json: bool, use_cache: bool) -> int:
    """``feedapp scan DIR``: 0 when the scan ran (whatever it found), 2 when the folder or database is unusable."""
    from feedapp.store.db import StoreError, open_db

    folder = Path(folder).absolute()
    started = time.monotonic()
    tty = sys.stderr.isatty()

    def show(done: int, total: int) -> None:
        if tty and (done == total or time.monotonic() - show.last > 0.1):  # type: ignore[attr-defined]
            show.last = time.monotonic()  # type: ignore[attr-defined]
            print(f"\rprobed {done}/{total}", end="", file=sys.stderr, flush=True)

    show.last = 0.0  # type: ignore[attr-defined]
    try:
        _check_folder(folder)
        cache = None
        if use_cache and db_path is not None:
            cache = ProbeCache(open_db(db_path))
        result = load_folder(folder, cache=cache, progress=show)
        videos, ignored, _ = find_videos(folder)
        on_disk = {norm_relative(v.relative_to(folder).as_posix()) for v in videos}
        described = load_sidecar(folder)
        unmatched = sorted(set(described) - on_disk)
    except (FolderError, ConfigError, StoreError) as e:
        if tty:
            print(file=sys.stderr)
        print(f"feedapp: {e}", file=sys.stderr)
        return 2
    n = len(result.accepted) + len(result.rejected)
    print(("\r" if tty else "") + f"probed {n} file{'s' if n != 1 else ''} in {time.monotonic() - started:.1f} s", file=sys.stderr)
    print(_as_json(result, folder, ignored) if as_json else _table(result, folder, ignored))
    if unmatched:
        sidecar = find_sidecar(folder)
        shown = ", ".join(unmatched[:5]) + (", ..." if len(unmatched) > 5 else "")
        print(f"note: {sidecar.name if sidecar else 'the sidecar'} lists {len(unmatched)} file"
              f"{'s' if len(unmatched) != 1 else ''} not found in the folder ({shown}); check the paths", file=sys.stderr)
    if described.unknown:
        sidecar = find_sidecar(folder)
        names = ", ".join(repr(k) for k in described.unknown)
        print(f"note: {sidecar.name if sidecar else 'the sidecar'} has field{'s' if len(described.unknown) != 1 else ''} "
              f"feedapp does not read, ignored: {names}; the fields are {', '.join(FIELDS)}", file=sys.stderr)
    return 0
