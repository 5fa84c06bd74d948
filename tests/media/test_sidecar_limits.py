"""Issue 15 item 15: sidecars that are nested 100,000 levels deep, hold a 5 MB title, or wrong-typed fields.

Each is reproduced through the real commands (``scan``, ``play``, ``lab validate``) on real clips: a
sidecar that cannot be read at all is one error line; an entry that breaks a limit rejects its clip,
with the sidecar, the entry and the field named, and the other clips still play.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from feedapp.media.scan import FolderError, load_folder
from feedapp.media.sidecar import LIMITS, MAX_TOPICS, SidecarError, load_sidecar
from tests.clipgen import make_clip
from tests.test_input_validation import assert_refused, cli, session_rows


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "clips"
    make_clip(root / "cats" / "a.mp4", seconds=1.0)
    make_clip(root / "art" / "b.mp4", seconds=1.0)
    return root


def rejections(folder: Path) -> dict[str, str]:
    result = load_folder(folder)
    return {Path(r.path).relative_to(folder).as_posix(): r.reason for r in result.rejected}


def study(tmp_path: Path, folder: Path) -> Path:
    f = tmp_path / "study.toml"
    f.write_text(f'[study]\nname = "s"\ncatalog = "{folder.as_posix()}"\n[limits]\nviews = 3\n'
                 '[conditions.A]\nranker = "random"\n')
    return f


@pytest.mark.parametrize("name,text", [
    ("catalog.json", "[" * 100_000 + "]" * 100_000),
    ("catalog.json", '{"clips": ' + '{"a": ' * 100_000 + "1" + "}" * 100_001),
])
def test_a_sidecar_nested_100000_levels_is_one_error_in_scan_play_and_lab_validate(tmp_path, folder, name, text):
    (folder / name).write_text(text)
    with pytest.raises(FolderError, match="nested too deeply to be a sidecar"):
        load_folder(folder)
    db = tmp_path / "feed.db"
    assert_refused(*cli("scan", str(folder), "--db", str(db)), "catalog.json is nested too deeply", "fix it or remove")
    assert_refused(*cli("play", str(folder), "--db", str(db)), "nested too deeply")
    assert session_rows(db) == 0
    code, err = cli("lab", "validate", str(study(tmp_path, folder)))
    assert code == 1 and "Traceback" not in err and "study.catalog: " in err and "nested too deeply" in err


def test_a_sidecar_nested_just_below_the_recursion_limit_is_a_format_error(folder):
    (folder / "catalog.json").write_text("[" * 900 + "]" * 900)  # parses: the format's shape refuses it
    with pytest.raises(FolderError, match="entry 1 is not an object"):
        load_folder(folder)


def test_a_5mb_title_rejects_its_clip_at_once_and_the_rest_plays(tmp_path, folder):
    (folder / "catalog.json").write_text(json.dumps([
        {"file": "cats/a.mp4", "title": "x" * 5_000_000},
        {"file": "art/b.mp4", "title": "A painting"},
    ]))
    t0 = time.monotonic()
    result = load_folder(folder)
    assert time.monotonic() - t0 < 3.0
    assert [c.title for c in result.accepted] == ["A painting"]
    (r,) = result.rejected
    assert r.reason == f"catalog.json entry 1: title is 5,000,000 characters long (at most {LIMITS['title']}); fix the entry"
    code, err = cli("lab", "validate", str(study(tmp_path, folder)))
    assert code == 1 and "study.catalog: clip cats/a.mp4 will not play: catalog.json entry 1: title is 5,000,000" in err


def test_a_5mb_title_in_csv_is_one_error_naming_the_line(tmp_path, folder):
    (folder / "catalog.csv").write_text("file,title\nart/b.mp4,ok\ncats/a.mp4," + "x" * 5_000_000 + "\n")
    code, err = cli("scan", str(folder), "--db", str(tmp_path / "feed.db"))
    assert_refused(code, err, "catalog.csv line 3 cannot be read as CSV", "field larger than field limit")


@pytest.mark.parametrize("entry,reason", [
    ({"topics": [{"a": 2}]}, "topics must be words (text), not an object"),
    ({"topics": {"a": 2}}, "topics must be a list of words or text separated by ';', not an object"),
    ({"topics": [["cats"]]}, "topics must be words (text), not a list"),
    ({"topics": [f"t{i}" for i in range(MAX_TOPICS + 1)]}, f"topics lists {MAX_TOPICS + 1} topics (at most {MAX_TOPICS})"),
    ({"topics": ["y" * 51]}, "topic 'yyyyyyyyyyyyyyyyyyyy'... is 51 characters long (at most 50)"),
    ({"title": ["a", "b"]}, "title must be text, not a list"),
    ({"title": True}, "title must be text, not true/false"),
    ({"creator": 3.5}, "creator must be text, not a number"),
    ({"created": {"y": 2024}}, "created must be text, not an object"),
    ({"id": [1]}, "id must be text, not a list"),
    ({"id": "i" * 201}, "id is 201 characters long (at most 200)"),
    ({"creator": "c" * 101, "title": 7}, "creator is 101 characters long (at most 100); title must be text, not a number"),
])
def test_wrong_typed_or_oversized_fields_reject_the_clip_with_the_field_named(folder, entry, reason):
    (folder / "catalog.json").write_text(json.dumps([{"file": "cats/a.mp4", **entry}, {"file": "art/b.mp4"}]))
    assert rejections(folder) == {"cats/a.mp4": f"catalog.json entry 1: {reason}; fix the entry"}


def test_fields_within_the_limits_are_kept_as_given(folder):
    (folder / "catalog.json").write_text(json.dumps([
        {"file": "cats/a.mp4", "id": 17, "title": "t" * LIMITS["title"], "topics": "#Cats; naps",
         "creator": "@" + "c" * (LIMITS["creator"] - 1), "created": "2024-05-01"},
    ]))
    (clip,) = [c for c in load_folder(folder).accepted if c.path.endswith("a.mp4")]
    assert (clip.id, clip.title, clip.topics, clip.creator, clip.created) == (
        "17", "t" * 300, ("cats", "naps"), "c" * 99, "2024-05-01")


def test_a_file_field_that_is_not_text_is_an_error_for_the_whole_sidecar(folder):
    (folder / "catalog.json").write_text(json.dumps([{"file": ["cats/a.mp4"]}]))
    with pytest.raises(SidecarError, match=r"entry 1: file must be text, not a list"):
        load_sidecar(folder)


def test_csv_rows_with_extra_cells_and_long_titles(folder):
    (folder / "catalog.csv").write_text("file,title\ncats/a.mp4," + "x" * 400 + "\nart/b.mp4,fine,extra,cells\n")
    assert rejections(folder) == {"cats/a.mp4": "catalog.csv line 2: title is 400 characters long (at most 300); fix the entry"}
