"""A lab session whose database stops being writable mid-session, for real: a full disk (a 4 MB tmpfs
filled up), a disk the kernel turns read-only (an ext4 image mounted with errors=remount-ro, then an
error triggered through /sys/fs/ext4), and an I/O error (the WAL file made immutable with chattr +i).

Before: the failure went only to the terminal, the participant kept swiping, and the last line said
"written to ..." while the file held 8 of 81 views. Now the session stops at once with a screen the
participant can read (no technical words), the experimenter gets what failed, what is safe in the file
(read back from it) and what to do, and the final summary counts what really is in the file.

Needs root (mount, losetup, chattr); skipped otherwise.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from feedapp.store.check import check
from feedapp.store.log import written_counts
from tests.disk_faults import FullDisk, IOError_, ReadOnlyDisk
from tests.ui.test_lab_ui import events, lab_session, make_study, rows, start_feed, wait_arrivals

TECHNICAL = ("disk", "database", "error", "sqlite", "full", "write", "file", "i/o", "read-only", "failed")


@pytest.fixture(params=[FullDisk, ReadOnlyDisk, IOError_], ids=["full", "read-only", "io-error"])
def fault(request, tmp_path):
    f = request.param(tmp_path)
    yield f
    f.cleanup()


def start_lab(qtbot, ui_clips, tmp_path, db: Path):
    from feedapp.ui.app import open_event_log, start_qt

    start_qt()
    holder: list = []
    log = open_event_log(db, lambda kind, message: holder[0].on_log_status(kind, message))
    lab = lab_session(make_study(ui_clips, tmp_path, views=50), ui_clips, log, participant="P02")
    holder.append(lab)
    start_feed(qtbot, lab)
    return lab, log


def test_a_write_failure_stops_the_lab_session_with_a_participant_safe_screen(qtbot, ui_clips, tmp_path, fault, capfd):
    db = fault.dir / "feed.db"
    lab, log = start_lab(qtbot, ui_clips, tmp_path, db)
    run = lab.main_run
    for n in (1, 2, 3):
        wait_arrivals(qtbot, run, n)
        qtbot.wait(150)
        if n < 3:
            qtbot.keyClick(run.view, Qt.Key.Key_Down)
    assert log.flush(timeout=5)
    fault.inject()
    qtbot.keyClick(run.view, Qt.Key.Key_Down)  # closes the third view: its record cannot be written
    qtbot.waitUntil(lambda: lab.call_page is not None and lab.call_page.isVisible(), timeout=8000)

    # the participant: the session has stopped, a screen without technical words, swiping does nothing
    page = lab.call_page
    assert lab.window.stack.currentWidget() is page and page.button is None
    text = (page.title.text() + " " + page.body.text()).lower()
    assert "call the experimenter" in text
    assert not [w for w in TECHNICAL if w in text], text
    assert not run.running and run.reason == "error"
    position, closed = run.recorder.position, run.recorder.views_closed
    for _ in range(3):
        qtbot.keyClick(run.view, Qt.Key.Key_Down)
        qtbot.wait(100)
    assert (run.recorder.position, run.recorder.views_closed) == (position, closed)
    # two views closed before the fault, the third by the Down press, a fourth if the session's end came
    # after the next clip had settled (the end closes the open view)
    assert closed in (3, 4)

    # the experimenter: what failed, what is safe in the file (as read back from it), what to do
    report = lab.operator_report()
    err = capfd.readouterr().err
    assert "RECORDING FAILED" in err and "RECORDING FAILED" in report
    assert fault.words in report.splitlines()[0].lower()  # what failed, in SQLite's and the system's words
    safe = re.search(r"session \w{8} with (\d+) of its (\d+) closed views", report)
    assert safe, report
    in_file = written_counts(db, run.recorder.id)
    assert in_file is not None and int(safe.group(1)) == in_file["views"] == 2 and int(safe.group(2)) == closed
    held = re.search(r"Held in memory, not written: (\d+) record", report)
    assert held and int(held.group(1)) == log.unwritten > 0
    assert "What to do" in report and "feedapp check" in report
    lab.request_operator()  # no PIN in this study: the menu opens, the same report on top
    assert lab.operator_dialog.notice is not None and "RECORDING FAILED" in lab.operator_dialog.notice.text()
    assert "abort" not in lab.operator_dialog.action_buttons  # the session has already ended
    lab.operator_dialog.reject()

    if fault.recoverable:  # the disk comes back before the app closes: everything held is written
        fault.release()
        qtbot.waitUntil(lambda: log.unwritten == 0 and lab.write_failure is None, timeout=4 * log.RETRY_FAILED_S * 1000)
        report = lab.operator_report()
        assert "works again" in report and "Nothing is held in memory" in report
        assert f"with {closed} of its {closed} closed views" in report and "its end is recorded" in report
        lab.close(force=True)
        assert log.close()
        (reason,), = rows(db, "SELECT end_reason FROM sessions")
        assert reason == "error"
        assert rows(db, "SELECT COUNT(*) FROM views WHERE final = 1")[0][0] == closed
        (failed,) = events(db, run.recorder.id)["recording_failed"]
        assert fault.words in failed["message"].lower()
        conn = sqlite3.connect(db)
        assert check(conn)["ok"], check(conn)["violations"]
        conn.close()
    else:  # it never comes back: the summary says exactly what is in the file, and not "written"
        from feedapp.ui.app import written_summary

        lab.close(force=True)
        assert not log.close(timeout=1)
        complete, line = written_summary(log, run.recorder, db, run.reason)
        assert not complete
        assert "written to" not in line and f"all {closed}" not in line
        assert f"holds only {written_counts(db, run.recorder.id)['views']} of them" in line, line
        assert "holds only 2 of them and the session's end is not recorded" in line
        assert f"{log.unwritten} record(s) could not be written" in line
