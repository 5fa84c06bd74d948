"""A log in a folder that cannot be written (a read-only share, a USB stick, another user's folder).

Seen in a new-user trial: `feedapp sessions`, `check`, `export`, `replay`, `lab report`, `lab export`
and `merge` (its sources) all said "cannot read study.db (SQLite: unable to open database file)" of
a file they could read: SQLite opens a write-ahead-log file read-only only beside a -shm file it can
make, and the folder could not take one. Without a -wal file holding changes, the file is all there
is, so it is read as it is; with one, the message says what to do."""

from __future__ import annotations

import os
import subprocess

import pytest

from feedapp.store.commands import run_check_command, run_export_command, run_merge_command, run_sessions_command
from feedapp.store.db import StoreError
from feedapp.store.sessions import open_for_reading
from tests.store.test_sessions import write_log


def _lock(folder) -> bool:
    """Make ``folder`` refuse new files (root writes anywhere a mode allows: the immutable attribute)."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return True
    return subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0


def _unlock(folder) -> None:
    if os.geteuid() != 0:
        folder.chmod(0o755)
    else:
        subprocess.run(["chattr", "-i", str(folder)], capture_output=True)


@pytest.fixture()
def share(tmp_path):
    folder = tmp_path / "share"
    folder.mkdir()
    path = folder / "feed.db"
    (rec,) = write_log(path, [dict(n_views=6, participant="P01", end="quit")])
    assert not (folder / "feed.db-wal").exists() and not (folder / "feed.db-shm").exists()
    if not _lock(folder):
        pytest.skip("no folder can be made read-only here (chattr +i is not supported)")
    try:
        yield path, rec.id
    finally:
        _unlock(folder)


def test_the_reading_commands_read_a_log_in_a_read_only_folder(share, tmp_path, capsys):
    path, sid = share
    conn = open_for_reading(path)
    assert conn.execute("SELECT COUNT(*) FROM views WHERE final = 1").fetchone()[0] == 6
    conn.close()
    assert run_sessions_command(path) == 0
    assert sid[:8] in capsys.readouterr().out
    assert run_check_command(path) == 0
    assert "every invariant holds" in capsys.readouterr().out
    assert run_export_command(path, None, True, "csv", tmp_path / "out") == 0
    assert len((tmp_path / "out" / "views.csv").read_text(encoding="utf-8").splitlines()) == 1 + 6
    assert run_merge_command([path], tmp_path / "study.db") == 0  # a source on a read-only stick
    conn = open_for_reading(tmp_path / "study.db")
    assert conn.execute("SELECT COUNT(*) FROM views").fetchone()[0] == 6
    conn.close()
    assert sorted(p.name for p in path.parent.iterdir()) == ["feed.db"]  # nothing made beside it


def test_changes_left_in_a_wal_file_are_said_not_skipped(share):
    """A -wal file beside it may hold committed rows the file itself lacks: reading the file alone
    would miss them, so it is refused with what to do."""
    path, _ = share
    _unlock(path.parent)
    (path.parent / "feed.db-wal").write_bytes(b"\0" * 32)  # (its content is not read: it is there)
    _lock(path.parent)
    with pytest.raises(StoreError, match="feed.db-wal beside it holds changes not yet in the file.*copy both files"):
        open_for_reading(path)


def test_a_folder_this_user_may_not_write_is_read_too(tmp_path):
    """Seen in a new-user trial: study.db in a folder with mode 555 (another user's folder; a disk mounted
    read-only answers the same way) was refused with 'cannot read study.db: it is read-only (SQLite:
    attempt to write a readonly database); make it writable' although the file was writable: without a
    -shm file SQLite said 'readonly' there, where an immutable folder makes it say 'unable to open'. As
    root the folder's mode is no obstacle, so the reader runs without the capability that overrides it."""
    import shutil
    import sys

    folder = tmp_path / "share"
    folder.mkdir()
    path = folder / "feed.db"
    (rec,) = write_log(path, [dict(n_views=6, participant="P01", end="quit")])
    assert not (folder / "feed.db-shm").exists()
    folder.chmod(0o555)
    try:
        prefix: list[str] = []
        if os.geteuid() == 0:
            if shutil.which("setpriv") is None:
                pytest.skip("setpriv is needed to read as root without overriding the folder's mode")
            prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search",
                      "--inh-caps=-dac_override,-dac_read_search", "--"]
        code = ("import sys\nfrom feedapp.store.sessions import open_for_reading\n"
                "c = open_for_reading(sys.argv[1])\n"
                "print(c.execute('SELECT COUNT(*) FROM views WHERE final = 1').fetchone()[0])")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        done = subprocess.run([*prefix, sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                              env=env, timeout=60)
        if done.returncode != 0 and "Operation not permitted" in done.stderr and prefix:
            pytest.skip("setpriv cannot drop capabilities here")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "6"
        assert sorted(p.name for p in folder.iterdir()) == ["feed.db"]  # nothing made beside it
        # a change (lab withdraw) cannot be made there: the message names the folder, not the writable file
        code = ("import sys\nfrom feedapp.lab.commands import run_withdraw_command\n"
                "raise SystemExit(run_withdraw_command(sys.argv[1], 'P01', yes=True))")
        done = subprocess.run([*prefix, sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                              env=env, timeout=60)
        assert done.returncode == 2, done.stderr
        assert f"its folder {folder} cannot be written" in done.stderr and "make it writable" not in done.stderr
    finally:
        folder.chmod(0o755)
