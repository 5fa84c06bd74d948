"""Make the demo catalog: missing clips are encoded in worker processes, ready ones are reused.

Why this shape:
- the UI starts playing as soon as the first clip exists, so clips are handed over one by one
  (``on_clip``) in the plan's order of completion, and the plan puts short clips first;
- encoding is CPU-bound, so it runs in ``workers`` processes of a *spawn* pool (the UI process has
  Qt loaded; forking it is unsafe); ``workers=0`` encodes in the calling thread (tests, tiny runs);
- every clip is written under a hidden temp name and renamed when complete, and the sidecar is
  rewritten (atomically) after every clip, so a run killed at any moment leaves a consistent folder
  that the next launch completes;
- a clip is reused when the sidecar has the same entry (same seed, same plan), the file has the
  recorded size, and it probes with the planned frame count; anything else is made again.
"""

from __future__ import annotations

import base64
import json
import multiprocessing as mp
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from feedapp.core.model import Clip, Rejection, ScanResult
from feedapp.media.demo_plan import DemoItem, plan_demo
from feedapp.media.probe import ProbeError, ProbeInfo, probe
from feedapp.media.sidecar import write_sidecar_json

SIDECAR = "catalog.json"
FIRST_ALONE = True  # make the first missing clip before starting the others (see make_demo)
MEMO = ".probe-memo.json"  # probe results of the made clips, keyed by size and mtime: later launches open no video


def _clip(item: DemoItem, path: Path, info: ProbeInfo) -> Clip:
    return Clip(
        id=item.id,
        path=str(path),
        title=item.title,
        topics=(item.topic,),
        creator=item.creator,
        duration_ms=info.duration_ms,
        fps=info.fps,
        width=info.width,
        height=info.height,
        rotation=info.rotation,
        created=item.created,
        features=info.features,
        poster=info.poster,
    )


def _read_sidecar(dest: Path) -> dict[str, dict[str, Any]]:
    """Existing records by file name; a missing or damaged sidecar just means nothing is reused."""
    try:
        data = json.loads((dest / SIDECAR).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # RecursionError: nested thousands of levels deep
        return {}
    if not isinstance(data, list):
        return {}
    return {r["file"]: r for r in data if isinstance(r, dict) and isinstance(r.get("file"), str)}


def _read_memo(dest: Path) -> dict[str, Any]:
    try:
        data = json.loads((dest / MEMO).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # RecursionError: nested thousands of levels deep
        return {}
    return data if isinstance(data, dict) else {}


def _memo_entry(path: Path, info: ProbeInfo) -> dict[str, Any]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "info": info.to_dict(),
            "poster": base64.b64encode(info.poster).decode("ascii")}


def _reusable(item: DemoItem, path: Path, record: dict[str, Any] | None, memo: dict[str, Any]) -> ProbeInfo | None:
    """The clip's probe info when the existing file is the planned clip, complete; else None (remake it)."""
    if record is None or not path.is_file():
        return None
    if {k: record.get(k) for k in item.record()} != item.record():
        return None
    st = path.stat()
    if record.get("bytes") != st.st_size:
        return None
    entry = memo.get(item.file)
    if isinstance(entry, dict) and entry.get("size") == st.st_size and entry.get("mtime_ns") == st.st_mtime_ns:
        try:
            info = ProbeInfo.from_dict(entry["info"], base64.b64decode(entry.get("poster", "")))
        except (KeyError, TypeError, ValueError):
            info = None
        if info is not None and info.frame_count == item.frames:
            return info
    try:
        info = probe(path)
    except ProbeError:
        return None
    return info if info.frame_count == item.frames else None


def _make_one(item: DemoItem, dest: str) -> tuple[int, int, ProbeInfo | None, str]:
    """Worker: encode one clip and probe it. Returns (index, bytes, info, error); never raises."""
    from feedapp.media.demo_draw import render_clip

    path = Path(dest) / item.file
    try:
        size = render_clip(item, path)
        return item.index, size, probe(path, decoder_threads=1), ""
    except ProbeError as e:
        return item.index, 0, None, f"the new clip does not probe: {e.reason}"
    except Exception as e:  # reported as a rejection, the other clips go on
        return item.index, 0, None, f"{type(e).__name__}: {e}"


def _make_one_packed(args: tuple[DemoItem, str]) -> tuple[int, int, ProbeInfo | None, str]:
    """The clips after the first: made in the background (``_background_priority``)."""
    _background_priority()
    return _make_one(*args)


_BACKGROUND = 10  # nice increment of an encoding worker once the first clip is made


def _background_priority() -> None:
    """In an encoding worker, before each clip after the first: yield the CPU to the player (nice
    +10, once). Making all the demo clips keeps both cores busy for minutes while the viewer already
    watches; the window and its video decoding come first, the encoders take what is left. The first
    clip, which the viewer waits for, is made at normal priority."""
    global _BACKGROUND
    if not _BACKGROUND:
        return
    try:
        os.nice(_BACKGROUND)
    except (OSError, AttributeError):  # no nice() here: encode at normal priority
        pass
    _BACKGROUND = 0


DEMO_SEED = 0  # the demo catalog that `feedapp demo` and a lab study's "demo" catalog play (make-demo --seed: another)


def demo_folder(dest: str | os.PathLike) -> Path:
    """``dest``, made if missing; OSError with one line a person can act on if it cannot be made."""
    dest = Path(dest)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OSError(f"cannot create the demo folder {dest} ({e.strerror}); choose another with --clips") from None
    return dest


def make_demo(
    dest: Path,
    seed: int = 0,
    workers: int = 2,
    on_clip: Callable[[Clip], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    *,
    limit: int | None = None,
    stop: threading.Event | None = None,
) -> ScanResult:
    """Make the missing demo clips in ``dest`` and return the probed catalog (in plan order).

    ``on_clip`` and ``on_progress(done, total)`` are called from this thread. ``limit`` makes only the
    first N clips of the plan (tests). Setting ``stop`` ends the run early: pending clips are dropped,
    worker processes are terminated, and what is ready is returned.
    """
    dest = demo_folder(dest)
    plan = plan_demo(seed)[: limit if limit is not None else None]
    total = len(plan)
    old = _read_sidecar(dest)
    memo = _read_memo(dest)
    ready: dict[int, Clip] = {}
    sizes: dict[int, int] = {}
    failed: dict[int, str] = {}
    new_memo: dict[str, Any] = {}

    def save_sidecar() -> None:
        records = []
        for item in plan:
            if item.index in ready:
                records.append({**item.record(), "bytes": sizes[item.index]})
        write_sidecar_json(dest / SIDECAR, records)
        tmp = dest / f"{MEMO}.tmp"
        tmp.write_text(json.dumps(new_memo), encoding="utf-8")
        tmp.replace(dest / MEMO)

    def deliver(item: DemoItem, info: ProbeInfo, size: int) -> None:
        ready[item.index] = _clip(item, dest / item.file, info)
        sizes[item.index] = size
        new_memo[item.file] = _memo_entry(dest / item.file, info)
        if on_clip:
            on_clip(ready[item.index])
        if on_progress:
            on_progress(len(ready) + len(failed), total)

    todo: list[DemoItem] = []
    for item in plan:
        if stop is not None and stop.is_set():
            break
        path = dest / item.file
        info = _reusable(item, path, old.get(item.file), memo)
        if info is None:
            todo.append(item)
        else:
            deliver(item, info, path.stat().st_size)
    if todo or memo.keys() != new_memo.keys():
        save_sidecar()  # drop entries for clips about to be remade; remember fresh probes

    by_index = {item.index: item for item in plan}

    def collect(result: tuple[int, int, ProbeInfo | None, str]) -> None:
        index, size, info, error = result
        if info is None:
            failed[index] = error
            if on_progress:
                on_progress(len(ready) + len(failed), total)
        else:
            deliver(by_index[index], info, size)
            save_sidecar()

    if todo and workers <= 0:
        for item in todo:
            if stop is not None and stop.is_set():
                break
            collect(_make_one(item, str(dest)))
    elif todo:
        # The first clip is made alone (the other workers are still starting up meanwhile), so it gets a
        # whole core: the viewer waits for this one only. Then the rest share the workers. Making the first
        # clip in this process instead was measured slower: three encoders fighting for 2 cores.
        pool = mp.get_context("spawn").Pool(processes=min(workers, len(todo)))
        try:
            if FIRST_ALONE:
                collect(pool.apply(_make_one, (todo[0], str(dest))))
                todo = todo[1:] if not (stop is not None and stop.is_set()) else []
            results = pool.imap_unordered(_make_one_packed, [(item, str(dest)) for item in todo], chunksize=1)
            for result in results:
                collect(result)
                if stop is not None and stop.is_set():
                    break
        finally:
            pool.terminate()
            pool.join()
    for part in dest.glob(".*.part.mp4"):  # leftovers of a stopped or killed run
        part.unlink(missing_ok=True)

    accepted = tuple(ready[i] for i in sorted(ready))
    rejected = tuple(Rejection(str(dest / by_index[i].file), failed[i]) for i in sorted(failed))
    return ScanResult(accepted=accepted, rejected=rejected)


def run_make_demo_command(dest: Path, seed: int = 0) -> int:
    """``feedapp make-demo``: make or check the demo clips with a progress line; 0 when all are ready."""
    dest = Path(dest)
    started = time.monotonic()
    tty = sys.stderr.isatty()
    first: list[float] = []

    def clip_ready(clip: Clip) -> None:
        if not first:
            first.append(time.monotonic() - started)

    def progress(done: int, total: int) -> None:
        line = f"demo clips ready: {done}/{total}  ({time.monotonic() - started:.1f} s)"
        if tty:
            print("\r" + line, end="" if done < total else "\n", file=sys.stderr, flush=True)
        elif done == total or done % 8 == 0:
            print(line, file=sys.stderr, flush=True)

    try:
        result = make_demo(dest, seed=seed, workers=2, on_clip=clip_ready, on_progress=progress)
    except OSError as e:
        print(f"feedapp: {e}", file=sys.stderr)
        return 2
    minutes = sum(c.duration_ms for c in result.accepted) / 60000
    print(
        f"{len(result.accepted)} demo clips ready in {dest} ({minutes:.1f} min of video), "
        f"first after {first[0] if first else 0:.1f} s, all after {time.monotonic() - started:.1f} s."
    )
    for r in result.rejected:
        print(f"feedapp: could not make {r.path}: {r.reason}", file=sys.stderr)
    return 0 if not result.rejected else 1
