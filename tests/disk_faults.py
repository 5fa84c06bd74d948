"""Real disk faults for the write-failure tests (root only; each skips its test when it cannot be made):
a full disk (a 4 MB tmpfs filled up), a disk the kernel turns read-only (an ext4 image mounted with
errors=remount-ro, then an error triggered through /sys/fs/ext4), an I/O error (the WAL file made
immutable with chattr +i). Each has ``dir`` (where the database goes), ``inject()``, ``release()`` when
it can be undone (``recoverable``), ``words`` (what the writer's message says) and ``cleanup()``.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from pathlib import Path

import pytest


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True)


def _root_tools(*tools: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small disk")
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")


class FullDisk:
    """A 4 MB tmpfs; inject fills it with a file, release deletes that file."""

    name, words, recoverable = "full", "is full", True

    def __init__(self, root: Path) -> None:
        _root_tools("mount", "umount")
        self.dir = root / "disk"
        self.dir.mkdir()
        r = _run("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(self.dir))
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs: {r.stderr.strip()}")
        self.filler = self.dir / "filler"

    def inject(self) -> None:
        try:
            with open(self.filler, "wb") as f:
                while True:
                    f.write(b"\0" * 4096)
                    f.flush()
        except OSError as e:
            assert e.errno == errno.ENOSPC

    def release(self) -> None:
        self.filler.unlink()

    def cleanup(self) -> None:
        _run("umount", "-l", str(self.dir))


class ReadOnlyDisk:
    """An ext4 image mounted with errors=remount-ro; inject triggers a file-system error, after which the
    kernel refuses every write (as when a failing drive is remounted read-only). Not recoverable."""

    name, words, recoverable = "read-only", "disk i/o error", False

    def __init__(self, root: Path) -> None:
        _root_tools("mount", "umount", "mkfs.ext4")
        img, self.dir = root / "disk.img", root / "disk"
        self.dir.mkdir()
        with open(img, "wb") as f:
            f.truncate(16 * 1024 * 1024)
        if _run("mkfs.ext4", "-q", str(img)).returncode != 0:
            pytest.skip("mkfs.ext4 failed")
        r = _run("mount", "-o", "loop,errors=remount-ro", str(img), str(self.dir))
        if r.returncode != 0:
            pytest.skip(f"cannot mount a loop device: {r.stderr.strip()}")
        dev = _run("findmnt", "-n", "-o", "SOURCE", str(self.dir)).stdout.strip()
        self.trigger = Path("/sys/fs/ext4") / Path(dev).name / "trigger_fs_error"
        if not self.trigger.exists():
            self.cleanup()
            pytest.skip("this kernel has no /sys/fs/ext4/*/trigger_fs_error")

    def inject(self) -> None:
        self.trigger.write_text("feedapp test: the drive fails\n")

    def cleanup(self) -> None:
        _run("umount", "-l", str(self.dir))


class IOError_:
    """The WAL file made immutable (chattr +i): the next write fails with an I/O error; chattr -i heals it."""

    name, words, recoverable = "I/O error", "disk i/o error", True

    def __init__(self, root: Path) -> None:
        _root_tools("chattr")
        self.dir = root / "disk"
        self.dir.mkdir()

    def inject(self) -> None:
        wal = self.dir / "feed.db-wal"
        assert wal.exists()
        r = _run("chattr", "+i", str(wal))
        if r.returncode != 0:
            pytest.skip(f"chattr +i is not supported here: {r.stderr.strip()}")

    def release(self) -> None:
        _run("chattr", "-i", str(self.dir / "feed.db-wal"))

    def cleanup(self) -> None:
        self.release()
