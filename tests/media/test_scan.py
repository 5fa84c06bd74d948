"""Scanning real folders: metadata rules, sidecars, bad files, folder errors, the probe cache and the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from feedapp.media.probe import videos_opened
from feedapp.media.scan import FolderError, clip_id_for, load_folder, pretty_title, run_scan_command
from feedapp.store.cache import ProbeCache
from feedapp.store.db import open_db
from tests.clipgen import make_clip

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def mixed(tmp_path: Path) -> Path:
    """Two good clips in topic folders, one at the top, bad files, and files that are not videos."""
    root = tmp_path / "Study A"
    make_clip(root / "Cats" / "sleepy_cat-01.mp4", seconds=1.0)
    make_clip(root / "cooking" / "café 猫 clip.MP4", seconds=1.5, size=(426, 240))
    make_clip(root / "intro.mp4", seconds=1.0)
    (root / "broken").mkdir()
    (root / "broken" / "empty.mp4").write_bytes(b"")
    (root / "broken" / "readme.mp4").write_text("not a video\n" * 20)
    (root / "notes.txt").write_text("hello")
    (root / "cover.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    (root / ".hidden.mp4").write_bytes(b"")  # hidden: skipped
    return root


def test_folder_rules_topics_titles_creators_and_order(mixed: Path) -> None:
    result = load_folder(mixed)
    by_rel = {Path(c.path).relative_to(mixed).as_posix(): c for c in result.accepted}
    assert list(by_rel) == ["Cats/sleepy_cat-01.mp4", "cooking/café 猫 clip.MP4", "intro.mp4"]  # sorted
    cat = by_rel["Cats/sleepy_cat-01.mp4"]
    assert cat.topics == ("cats",) and cat.title == "Sleepy cat 01" and cat.creator == "unknown"
    assert by_rel["intro.mp4"].topics == ("study a",)  # files directly in DIR: the folder's own name
    assert by_rel["cooking/café 猫 clip.MP4"].orientation == "landscape"
    assert cat.id == clip_id_for("Cats/sleepy_cat-01.mp4", Path(cat.path)) and len(cat.id) == 12
    assert sorted(Path(r.path).name for r in result.rejected) == ["empty.mp4", "readme.mp4"]
    reasons = {Path(r.path).name: r.reason for r in result.rejected}
    assert "empty" in reasons["empty.mp4"] and "text file" in reasons["readme.mp4"]


def test_ids_are_stable_when_the_folder_moves(mixed: Path, tmp_path: Path) -> None:
    first = load_folder(mixed)
    moved = shutil.copytree(mixed, tmp_path / "elsewhere" / "copy")
    second = load_folder(moved)
    assert [c.id for c in first.accepted] == [c.id for c in second.accepted]
    assert len({c.id for c in first.accepted}) == len(first.accepted)


def test_json_sidecar_sets_metadata(tmp_path: Path) -> None:
    make_clip(tmp_path / "a" / "one.mp4", seconds=1.0)
    make_clip(tmp_path / "two.mp4", seconds=1.0)
    (tmp_path / "catalog.json").write_text(
        json.dumps([
            {"file": "a/one.mp4", "id": "clip-1", "title": "First one", "topics": ["#Ocean", "calm"], "creator": "@mila",
             "created": "2024-05-01"},
            {"file": "./two.mp4", "topics": "sports; fun"},
            {"file": "missing.mp4", "title": "not on disk: ignored"},
        ]),
        encoding="utf-8",
    )
    result = load_folder(tmp_path)
    one, two = result.accepted
    assert (one.id, one.title, one.topics, one.creator, one.created) == ("clip-1", "First one", ("ocean", "calm"), "mila", "2024-05-01")
    assert (two.topics, two.title, two.creator) == (("sports", "fun"), "Two", "unknown")
    assert not result.rejected


def test_csv_sidecar_sets_metadata(tmp_path: Path) -> None:
    make_clip(tmp_path / "x.mp4", seconds=1.0)
    (tmp_path / "catalog.csv").write_text("file,title,topics,creator,created\nx.mp4,Ex,cats;art,juno,2025-01-02\n", encoding="utf-8")
    (clip,) = load_folder(tmp_path).accepted
    assert (clip.title, clip.topics, clip.creator, clip.created) == ("Ex", ("cats", "art"), "juno", "2025-01-02")


def test_a_csv_cell_with_a_line_break_keeps_it(tmp_path: Path) -> None:
    """A title typed over two lines in a spreadsheet (Alt+Enter; saved as a quoted cell with CRLF) read
    'Line oneline two': the sidecar was split into lines before the CSV reader saw it. U+2028 likewise."""
    make_clip(tmp_path / "a.mp4", seconds=0.5, size=(64, 112), fps=10)
    make_clip(tmp_path / "b.mp4", seconds=0.5, size=(64, 112), fps=10)
    (tmp_path / "catalog.csv").write_bytes('file,title,topics\r\na.mp4,"Line one\r\nline two",cats\r\n'
                                           'b.mp4,"x\u2028y",dogs\r\n'.encode())
    assert [c.title for c in load_folder(tmp_path).accepted] == ["Line one\nline two", "x\u2028y"]


def test_broken_sidecar_is_a_clear_folder_error(tmp_path: Path) -> None:
    make_clip(tmp_path / "x.mp4", seconds=1.0)
    (tmp_path / "catalog.json").write_text('[{"file": "x.mp4",}]', encoding="utf-8")
    with pytest.raises(FolderError, match=r"catalog.json is not valid JSON \(line 1"):
        load_folder(tmp_path)


def test_duplicate_sidecar_ids_reject_the_second_clip(tmp_path: Path) -> None:
    make_clip(tmp_path / "a.mp4", seconds=1.0)
    make_clip(tmp_path / "b.mp4", seconds=1.0)
    (tmp_path / "catalog.json").write_text(json.dumps([{"file": "a.mp4", "id": "same"}, {"file": "b.mp4", "id": "same"}]))
    result = load_folder(tmp_path)
    assert [c.id for c in result.accepted] == ["same"]
    assert "already used by a.mp4" in result.rejected[0].reason


def test_a_file_described_twice_in_the_sidecar_is_not_played_with_either_entry(tmp_path: Path) -> None:
    """A row pasted twice and edited apart: the last entry won in silence (a.mp4 played as 'Dup', art by Cy,
    the first row's title and topics lost without a word). Now the clip is rejected naming both entries."""
    make_clip(tmp_path / "a.mp4", seconds=1.0, size=(64, 112), fps=10)
    make_clip(tmp_path / "b.mp4", seconds=1.0, size=(64, 112), fps=10)
    (tmp_path / "catalog.csv").write_bytes("\ufefffile,title,topics,creator\r\na.mp4,First,cats,Ann\r\n"
                                           "b.mp4,Second,cats,Bob\r\n./a.mp4,Dup,art,Cy\r\n".encode())
    result = load_folder(tmp_path)
    assert [(c.title, c.creator) for c in result.accepted] == [("Second", "Bob")]
    assert [(Path(r.path).name, r.reason) for r in result.rejected] == [
        ("a.mp4", "catalog.csv describes it 2 times (line 2, line 4), so its title and topics are unclear; "
                  "keep one of those entries")]
    (tmp_path / "catalog.csv").unlink()
    (tmp_path / "catalog.json").write_text(json.dumps([{"file": "a.mp4", "title": "One"}, {"file": "a.mp4"}]))
    assert "catalog.json describes it 2 times (entry 1, entry 2)" in load_folder(tmp_path).rejected[0].reason


def test_missing_folder_and_file_instead_of_folder(tmp_path: Path) -> None:
    with pytest.raises(FolderError, match="does not exist"):
        load_folder(tmp_path / "nope")
    f = tmp_path / "file.mp4"
    f.write_bytes(b"x")
    with pytest.raises(FolderError, match="is a file, not a folder"):
        load_folder(f)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any folder")
def test_unreadable_folder(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        with pytest.raises(FolderError, match="permission denied"):
            load_folder(locked)
    finally:
        locked.chmod(0o755)


def test_empty_folder_gives_an_empty_result(tmp_path: Path) -> None:
    result = load_folder(tmp_path)
    assert result.accepted == () and result.rejected == ()


def test_folder_with_only_bad_files_rejects_each(tmp_path: Path) -> None:
    (tmp_path / "a.mp4").write_bytes(b"")
    (tmp_path / "b.mov").write_text("text")
    full = make_clip(tmp_path / "c.mp4", seconds=2.0).read_bytes()
    (tmp_path / "c.mp4").write_bytes(full[:1000])
    result = load_folder(tmp_path)
    assert result.accepted == () and len(result.rejected) == 3


def test_clip_dir_fixture_scans(clip_dir: Path) -> None:
    result = load_folder(clip_dir)
    assert len(result.accepted) == 6 and not result.rejected
    assert {c.topics for c in result.accepted} == {("cats",), ("cooking",)}


def test_rescan_of_unchanged_folder_opens_no_video_and_changed_file_is_probed_again(tmp_path: Path) -> None:
    folder = tmp_path / "clips"
    for i in range(4):
        make_clip(folder / f"c{i}.mp4", seconds=1.0, label=str(i))
    (folder / "bad.mp4").write_bytes(b"")
    db_path = tmp_path / "feed.db"
    before = videos_opened()
    first = load_folder(folder, cache=ProbeCache(open_db(db_path)))
    assert videos_opened() - before == 4  # the empty file is rejected from its bytes, no open

    before = videos_opened()
    again = load_folder(folder, cache=ProbeCache(open_db(db_path)))  # a fresh cache object: read from SQLite
    assert videos_opened() - before == 0
    assert again == first  # same clips (posters compared separately: not part of equality)
    assert [c.poster for c in again.accepted] == [c.poster for c in first.accepted]
    assert again.rejected == first.rejected

    make_clip(folder / "c2.mp4", seconds=2.0, label="new")  # changed size and mtime
    before = videos_opened()
    third = load_folder(folder, cache=ProbeCache(open_db(db_path)))
    assert videos_opened() - before == 1
    assert [c.duration_ms for c in third.accepted] == [1000, 1000, 2000, 1000]


def test_progress_is_reported_for_every_file(clip_dir: Path) -> None:
    seen: list[tuple[int, int]] = []
    load_folder(clip_dir, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (6, 6) and [d for d, _ in seen] == list(range(1, 7))


def test_scan_command_table_json_and_exit_codes(mixed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "scan.db"
    assert run_scan_command(mixed, db_path=db, as_json=False, use_cache=True) == 0
    out = capsys.readouterr().out
    assert "Accepted (3):" in out and "Rejected (2):" in out and "landscape" in out
    assert "broken/empty.mp4" in out and "2 other files ignored" in out

    assert run_scan_command(mixed, db_path=db, as_json=True, use_cache=True) == 0
    data = json.loads(capsys.readouterr().out)
    assert [a["file"] for a in data["accepted"]][0] == "Cats/sleepy_cat-01.mp4"
    assert data["rejected"][0]["reason"] and data["ignored_files"] == 2

    assert run_scan_command(tmp_path / "missing", db_path=db, as_json=False, use_cache=True) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not exist" in err[0]


def test_video_files_of_types_feedapp_does_not_play_are_named_with_how_to_convert_them(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a camcorder's .MTS, an old phone's .3gp, a .mpg were counted as '3 other files ignored (not video)', and a
    # folder of only such clips was 'no videos in this folder': the researcher was told their clips are not video
    root = tmp_path / "clips"
    make_clip(root / "cats" / "ok.mp4", seconds=1.0)
    for name in ("cats/camcorder.MTS", "cats/old phone.3gp", "dogs/tape.mpg"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"\x00" * 64)  # never opened: the type alone decides
    (root / "notes.txt").write_text("hello")
    assert run_scan_command(root, db_path=tmp_path / "scan.db", as_json=False, use_cache=True) == 0
    out = capsys.readouterr().out
    assert "Accepted (1):" in out and "Rejected (3):" in out and "1 other file ignored (not video)" in out, out
    assert "cats/camcorder.MTS  it is a .mts video, a type feedapp does not play (it plays .mp4, .mov, .m4v, .webm, " \
           ".mkv, .avi); convert it, e.g. ffmpeg -i clip.mts clip.mp4, and scan again" in out
    assert "old phone.3gp" in out and "dogs/tape.mpg" in out
    only = tmp_path / "only"
    only.mkdir()
    (only / "a.wmv").write_bytes(b"\x00")
    result = load_folder(only)
    assert result.accepted == () and [Path(r.path).name for r in result.rejected] == ["a.wmv"]


def test_scan_through_the_real_command_line(mixed: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "feedapp", "scan", str(mixed), "--db", str(tmp_path / "cli.db"), "--json"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert len(json.loads(run.stdout)["accepted"]) == 3
    assert "moov" not in run.stderr  # FFmpeg's own chatter is kept out of the report
    missing = subprocess.run([sys.executable, "-m", "feedapp", "scan", str(tmp_path / "nope")],
                             capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "does not exist" in missing.stderr


def test_pretty_title() -> None:
    assert pretty_title("my_clip--01.final") == "My clip 01 final"
    assert pretty_title("café 猫 clip") == "Café 猫 clip"


def test_sidecar_matches_names_whatever_their_unicode_form(tmp_path: Path) -> None:
    import unicodedata

    decomposed = unicodedata.normalize("NFD", "café.mp4")  # how macOS stores the name
    make_clip(tmp_path / decomposed, seconds=1.0)
    (tmp_path / "catalog.json").write_text(json.dumps([{"file": "café.mp4", "title": "Coffee"}], ensure_ascii=False), encoding="utf-8")
    (clip,) = load_folder(tmp_path).accepted
    assert clip.title == "Coffee" and clip.id == clip_id_for("café.mp4", Path(clip.path))


def test_scan_command_notes_sidecar_entries_without_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_clip(tmp_path / "a.mp4", seconds=1.0)
    (tmp_path / "catalog.csv").write_text("file,title\na.mp4,A\nlost.mp4,Lost\n", encoding="utf-8")
    assert run_scan_command(tmp_path, db_path=None, as_json=False, use_cache=False) == 0
    err = capsys.readouterr().err
    assert "catalog.csv lists 1 file not found in the folder (lost.mp4)" in err


def test_a_cache_row_from_another_version_is_probed_again(tmp_path: Path) -> None:
    path = make_clip(tmp_path / "clips" / "a.mp4", seconds=1.0)
    st = path.stat()
    cache = ProbeCache(open_db(tmp_path / "feed.db"))
    cache.put_many([(str(path), st.st_size, st.st_mtime_ns, True, {"duration_ms": 1}, b"")])  # fields missing
    before = videos_opened()
    (clip,) = load_folder(tmp_path / "clips", cache=cache).accepted
    assert videos_opened() - before == 1 and clip.duration_ms == 1000


def test_same_names_in_two_stimulus_folders_get_different_ids(tmp_path):
    """Two folders that both hold 01.mp4 must not share clip ids in one database."""
    a = make_clip(tmp_path / "A" / "x" / "01.mp4", seconds=1.0, colour=(200, 40, 40))
    b = make_clip(tmp_path / "B" / "x" / "01.mp4", seconds=1.0, colour=(40, 200, 40))
    ida = load_folder(tmp_path / "A").accepted[0].id
    idb = load_folder(tmp_path / "B").accepted[0].id
    assert ida != idb
    moved = tmp_path / "moved"
    (tmp_path / "A").rename(moved)
    assert load_folder(moved).accepted[0].id == ida  # moving the folder keeps the id
    assert a.name == b.name


def test_a_file_name_that_is_not_utf8_is_rejected_not_a_crash(tmp_path: Path) -> None:
    """A Latin-1 name ('caf\\xe9.mp4', made on another system) reached OpenCV, which killed the whole
    scan (and the app) with SIGSEGV; it is now one rejection, the other clips play, and a folder whose own
    name is not UTF-8 is one line."""
    folder = tmp_path / "clips"
    make_clip(folder / "good.mp4", seconds=0.5, size=(64, 112), fps=10)
    shutil.copy(folder / "good.mp4", os.fsdecode(bytes(folder) + b"/caf\xe9.mp4"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "feedapp", "scan", str(folder), "--json", "--no-cache"],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert [c["file"] for c in report["accepted"]] == ["good.mp4"]
    assert report["rejected"] == [{"file": "caf\\xe9.mp4", "reason": "its name is not UTF-8 text (it was probably made on "
                                   "another system, in another encoding); rename it (e.g. with convmv) and scan again"}]
    odd = Path(os.fsdecode(bytes(tmp_path) + b"/vid\xe9os"))
    shutil.copytree(folder, odd)
    with pytest.raises(FolderError, match=r"^the folder .*/vid\\xe9os has a name that is not UTF-8 text"):
        load_folder(odd)


def test_play_says_how_far_a_long_first_scan_is(tmp_path: Path) -> None:
    """`feedapp play` on a folder of 300 phone videos probed for minutes before its first line (0.5 s a
    1080p clip on this machine) without a word. Past PROBE_NOTE_AFTER_S it now counts the clips: a line per
    tenth in a log or pipe, redrawn in place on a terminal; a rescan (all cached) says nothing."""
    import io

    from feedapp.ui.app import _scan_folder

    for i in range(3):
        make_clip(tmp_path / "clips" / f"c{i}.mp4", seconds=0.5, size=(64, 112), fps=10)
    db = open_db(tmp_path / "feed.db")
    log = io.StringIO()
    assert len(_scan_folder(tmp_path / "clips", db, stream=log, progress_after=0.0).accepted) == 3
    note = "(the first time only: the results are cached in the database)"
    assert log.getvalue().splitlines() == [f"feedapp: probing clips {n}/3 {note}" for n in (1, 2, 3)]

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    (tmp_path / "clips" / "c3.mp4").write_bytes((tmp_path / "clips" / "c0.mp4").read_bytes())
    tty = Terminal()
    _scan_folder(tmp_path / "clips", db, stream=tty, progress_after=0.0)
    assert tty.getvalue().startswith("\rfeedapp: probing clips ") and tty.getvalue().endswith(f"\rfeedapp: probing clips 4/4 {note}\n")
    quiet = io.StringIO()
    _scan_folder(tmp_path / "clips", db, stream=quiet)  # every clip cached: done at once
    assert quiet.getvalue() == ""


def test_a_file_name_with_a_newline_stays_on_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """'new\\nline.mp4' plays, but split scan's table (and a rejection's one line) in two."""
    make_clip(tmp_path / "new\nline.mp4", seconds=0.5, size=(64, 112), fps=10)
    (tmp_path / "bad\tone.mp4").write_bytes(b"")
    assert run_scan_command(tmp_path, db_path=None, as_json=False, use_cache=False) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out if ".mp4" in line] == ["new\\nline.mp4", "bad\\tone.mp4"]


def test_scan_names_sidecar_fields_it_does_not_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A typo'd field ('tittle') or a JSON key in another case ('Topics') was dropped without a word: the
    clip played under its file name and folder topic, and nothing said why."""
    make_clip(tmp_path / "a.mp4", seconds=0.5, size=(64, 112), fps=10)
    (tmp_path / "catalog.json").write_text(json.dumps([{"file": "a.mp4", "tittle": "X", "Topics": ["cats"], "topic": "dogs"}]))
    assert run_scan_command(tmp_path, db_path=None, as_json=False, use_cache=False) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert notes == ["note: catalog.json has fields feedapp does not read, ignored: 'Topics', 'tittle'; "
                     "the fields are file, id, title, topics, creator, created"]
    (tmp_path / "catalog.json").write_text(json.dumps([{"file": "a.mp4", "title": "X"}]))
    assert run_scan_command(tmp_path, db_path=None, as_json=False, use_cache=False) == 0
    assert "note:" not in capsys.readouterr().err
