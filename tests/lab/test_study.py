"""Study files: parsing with line-accurate errors, `lab validate` exit codes, counterbalancing, seeds."""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from feedapp.lab.commands import run_assign_command, run_validate_command, validate
from feedapp.lab.study import (
    StudyError,
    balanced_latin_square_row,
    derive_seed,
    load_study,
    locate_fields,
    parse_study,
    random_condition_index,
)
from tests.clipgen import make_clip

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "study.toml"

BASE = """\
[study]
name = "s1"
catalog = "clips"

[limits]
minutes = 5

[conditions.A]
ranker = "foryou"
[conditions.A.params]
epsilon = 0.1

[conditions.B]
ranker = "random"
"""


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def problems(text: str) -> list:
    with pytest.raises(StudyError) as e:
        parse_study(text)
    return e.value.problems


# -- the example -------------------------------------------------------------------------------------
def test_example_study_is_valid(capsys):
    study = load_study(EXAMPLE)
    assert study.name == "foryou-vs-random"
    assert study.catalog == "demo"
    assert [(c.name, c.ranker) for c in study.conditions] == [("foryou", "foryou"), ("random", "random")]
    assert study.condition("foryou").params == {"epsilon": 0.1}
    assert study.limits.minutes == 10 and study.limits.views == 120 and study.limits.seconds == 600
    assert study.practice.clips == 3
    assert study.sha256 == hashlib.sha256(EXAMPLE.read_bytes()).hexdigest()
    assert run_validate_command(EXAMPLE) == 0
    out = capsys.readouterr().out
    assert "is valid" in out and "foryou (foryou), random (random)" in out
    code, result = validate(EXAMPLE)
    assert code == 0 and result["ok"]
    # the warm-up file names resolve to demo clip ids
    assert result["conditions"]["foryou"]["warmup_ids"] == ["demo0-ocean-1", "demo0-cats-1", "demo0-tech-1"]
    assert result["rankers_from"] == "feedapp.core.rankers.registry"


def test_validate_json_output(capsys):
    assert run_validate_command(EXAMPLE, as_json=True) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["study"] == "foryou-vs-random" and data["counterbalance"]["method"] == "latin_square"


# -- syntax and semantic errors with line and field --------------------------------------------------
def test_syntax_error_gives_line_and_column_and_exit_2(tmp_path, capsys):
    text = BASE.replace('ranker = "random"', 'ranker = "random')
    f = tmp_path / "s.toml"
    f.write_text(text)
    with pytest.raises(StudyError) as e:
        load_study(f)
    assert e.value.unreadable
    (p,) = e.value.problems
    assert p.line == line_of(text, 'ranker = "random') and p.column is not None
    assert run_validate_command(f) == 2
    err = capsys.readouterr().err
    assert f"{f}:{p.line}:" in err and "not valid TOML" in err


def test_missing_and_non_utf8_files_are_unreadable(tmp_path):
    assert run_validate_command(tmp_path / "nope.toml") == 2
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b'[study]\nname = "\xff"\n')
    code, result = validate(bad)
    assert code == 2 and result["problems"][0]["line"] == 2


@pytest.mark.parametrize(
    "old,new,field,needle,words",
    [
        ('minutes = 5', 'minutes = -5', "limits.minutes", "minutes = -5", "above 0"),
        ('minutes = 5', 'minutes = "5"', "limits.minutes", 'minutes = "5"', "must be a number, not text"),
        ('minutes = 5', 'minutes = 5\nview = 3', "limits.view", "view = 3", "did you mean 'views'"),
        ('ranker = "random"', 'ranker = "randum"', "conditions.B.ranker", 'ranker = "randum"', "did you mean 'random'"),
        ('epsilon = 0.1', 'epsilon = 3', "conditions.A.params.epsilon", "epsilon = 3", "between 0 and 1"),
        ('epsilon = 0.1', 'epsilon = 0.1\nepsilom = 1', "conditions.A.params.epsilom", "epsilom", "no parameter"),
        # a number in quotes passed the range check (float("0.1")) and was recorded as text in sessions.ranker_params
        ('epsilon = 0.1', 'epsilon = "0.1"', "conditions.A.params.epsilon", 'epsilon = "0.1"',
         "must be a number, not text ('0.1')"),
        ('catalog = "clips"', 'catalog = "clips"\nskip_threshold_ms = -1', "study.skip_threshold_ms",
         "skip_threshold_ms", "between 0 and 600,000 ms, not -1"),
        # issue 15 item 2: numbers the recorder's SQLite INTEGER (64-bit) cannot hold are refused here, not at Start
        ('catalog = "clips"', 'catalog = "clips"\nskip_threshold_ms = 99999999999999999999', "study.skip_threshold_ms",
         "skip_threshold_ms", "between 0 and 600,000 ms"),
        ('catalog = "clips"', 'catalog = "clips"\nseed = 99999999999999999999', "study.seed", "seed =",
         "between 0 and 9,223,372,036,854,775,807, not 99999999999999999999"),
        ('catalog = "clips"', 'catalog = "clips"\nseed = 9223372036854775808', "study.seed", "seed =", "64-bit"),
        ('catalog = "clips"', 'catalog = "clips"\nseed = -1', "study.seed", "seed =", "between 0 and"),
        ('catalog = "clips"', 'catalog = "clips"\n[counterbalance]\nmethod = "random"\nseed = -3',
         "counterbalance.seed", "seed = -3", "between 0 and"),
        # issue 15 item 11: a Qt timer counts at most 2^31-1 ms (35,791 minutes); a session is at most a day
        ('minutes = 5', 'minutes = 35792', "limits.minutes", "minutes = 35792", "at most 1,440 minutes"),
        ('minutes = 5', 'minutes = 1440.5', "limits.minutes", "minutes = 1440.5", "24 hours"),
        ('minutes = 5', 'minutes = 5\nviews = 100001', "limits.views", "views = 100001", "between 1 and 100,000"),
        ('catalog = "clips"', 'catalog = "clips"\n[practice]\nclips = 1000000', "practice.clips", "clips = 1000000",
         "between 0 and 1,000"),
        ('epsilon = 0.1', 'epsilon = 1' + '0' * 400, "conditions.A.params.epsilon", "epsilon = 1",
         "between 0 and 1, not a number that large"),
        ('catalog = "clips"', 'catalog = "clips"\nskip_threshold_ms = true', "study.skip_threshold_ms",
         "skip_threshold_ms", "whole number, not true/false"),
        ('[conditions.B]\nranker = "random"', '[conditions.B]\nrankr = "random"', "conditions.B.rankr", "rankr",
         "unknown key"),
        ('[limits]', '[limit]', "limit", "[limit]", "did you mean 'limits'"),
        ('catalog = "clips"', 'catalog = "clips"\n[counterbalance]\nmethod = "latin"', "counterbalance.method",
         'method = "latin"', "latin_square"),
        ('catalog = "clips"', 'catalog = "clips"\n[counterbalance]\nmethod = "random"', "counterbalance.seed",
         'method = "random"', "needs a seed"),
    ],
)
def test_semantic_errors_name_line_and_field(old, new, field, needle, words):
    text = BASE.replace(old, new, 1)
    assert text != BASE
    found = {p.field: p for p in problems(text)}
    assert field in found, found
    p = found[field]
    assert p.line == line_of(text, needle), (p, text)
    assert words in p.message


def test_empty_and_missing_conditions():
    text = BASE.split("[conditions.A]")[0]
    (p,) = problems(text)
    assert p.field == "conditions" and "no conditions" in p.message
    text2 = "conditions = {}\n" + text
    (p,) = problems(text2)
    assert p.field == "conditions" and p.line == line_of(text2, "conditions = {}") and "empty" in p.message


def test_missing_name_points_at_the_study_table():
    text = BASE.replace('name = "s1"\n', "")
    (p,) = problems(text)
    assert p.field == "study.name" and p.line == 1 and "missing" in p.message


def test_all_problems_are_reported_at_once_in_line_order():
    text = BASE.replace("minutes = 5", "minutes = 0").replace('"random"', '"nope"').replace("0.1", "-1")
    found = problems(text)
    assert [p.field for p in found] == ["limits.minutes", "conditions.A.params.epsilon", "conditions.B.ranker"]
    assert [p.line for p in found] == sorted(p.line for p in found)


def test_locate_fields_handles_dotted_quoted_inline_and_multiline():
    text = '[a]\nx.y = 1\n"q k" = 2\ns = """\nfake = 3\n"""\nt = { u = 1, v = 2 }\n[b.c]\nz = 0\n'
    found = locate_fields(text)
    assert found[("a", "x", "y")] == 2 and found[("a", "q k")] == 3 and found[("a", "s")] == 4
    assert ("a", "fake") not in found
    assert found[("a", "t", "v")] == 7 and found[("b", "c", "z")] == 9 and found[("b",)] == 8


def test_warnings_do_not_fail():
    study = parse_study(BASE.replace("[limits]\nminutes = 5\n", ""))
    assert [w.field for w in study.warnings] == ["limits"]


# -- the catalog it names ---------------------------------------------------------------------------
def test_missing_catalog_folder_is_reported(tmp_path, capsys):
    f = tmp_path / "s.toml"
    f.write_text(BASE)
    assert run_validate_command(f) == 1
    err = capsys.readouterr().err
    assert f"{f}:{line_of(BASE, 'catalog')}: study.catalog:" in err and "does not exist" in err


def test_real_catalog_bad_clip_and_warmups(tmp_path, clip_dir, capsys):
    folder = tmp_path / "clips"
    shutil.copytree(clip_dir, folder)
    (folder / "cats" / "broken.mp4").write_bytes(b"this is not a video" * 100)
    text = BASE.replace('ranker = "random"', 'ranker = "random"\nwarmup = ["clip 0.mp4", "cooking/clip 1.mp4", "nope.mp4"]')
    f = tmp_path / "s.toml"
    f.write_text(text)
    code, result = validate(f)
    assert code == 1
    msgs = {(p["field"], p["line"]): p["message"] for p in result["problems"]}
    assert any("broken.mp4 will not play" in m for (fld, _), m in msgs.items() if fld == "study.catalog")
    warm = [(ln, m) for (fld, ln), m in msgs.items() if fld == "conditions.B.warmup"]
    assert len(warm) == 1 and "'nope.mp4' is not a clip" in warm[0][1] and warm[0][0] == line_of(text, "warmup")
    assert result["catalog"]["clips"] == 6
    assert len(result["conditions"]["B"]["warmup_ids"]) == 2
    # the same folder without the broken clip and the unknown warm-up is valid
    (folder / "cats" / "broken.mp4").unlink()
    f.write_text(text.replace(', "nope.mp4"', ""))
    assert run_validate_command(f) == 0
    assert "with 6 clips" in capsys.readouterr().out


def test_demo_catalog_made_is_scanned(tmp_path, clip_dir):
    # a demo folder missing the plan's files: checked against the plan, with a warning
    study = load_study(EXAMPLE)
    from feedapp.lab.study import check_catalog

    cat = check_catalog(study, EXAMPLE.read_text(), demo_dir=tmp_path / "nodemo")
    assert cat.clips == 288 and [p.severity for p in cat.problems] == ["warning"]  # the plan's size
    bad = parse_study(EXAMPLE.read_text().replace('"tech-1.mp4"]', '"tech-99.mp4"]', 1))
    cat = check_catalog(bad, EXAMPLE.read_text(), demo_dir=tmp_path / "nodemo")
    errors = [p for p in cat.problems if p.severity == "error"]
    assert len(errors) == 1 and errors[0].field == "conditions.foryou.warmup" and "tech-99.mp4" in errors[0].message


# -- counterbalancing and seeds ---------------------------------------------------------------------
def test_latin_square_between_is_number_mod_k():
    study = parse_study(BASE)
    got = {p: study.assign(p).condition.name for p in ("P00", "P01", "P02", "P07", "s3-010")}
    assert got == {"P00": "A", "P01": "B", "P02": "A", "P07": "B", "s3-010": "A"}
    with pytest.raises(ValueError, match="has no number"):
        study.assign("anna")
    a = study.assign("anna", override="B")
    assert a.condition.name == "B" and a.overridden
    assert not study.assign("P01").overridden
    with pytest.raises(ValueError, match="no condition 'C'"):
        study.assign("P01", override="C")


@pytest.mark.parametrize("k", [2, 3, 4, 5, 6])
def test_balanced_latin_square_properties(k):
    rows = k if k % 2 == 0 else 2 * k
    square = [balanced_latin_square_row(k, r) for r in range(rows)]
    for row in square:
        assert sorted(row) == list(range(k))  # each row is an order of all conditions
    for col in range(k):  # each condition equally often in each position
        assert Counter(row[col] for row in square) == Counter({c: rows // k for c in range(k)})
    pairs = Counter((row[j], row[j + 1]) for row in square for j in range(k - 1))
    expected = 1 if k % 2 == 0 else 2  # every ordered pair adjacent equally often
    assert set(pairs) == {(a, b) for a, b in itertools.permutations(range(k), 2)}
    assert set(pairs.values()) == {expected}
    assert balanced_latin_square_row(k, rows + 1) == square[1]


def test_within_design_orders_and_blocks():
    text = BASE.replace("[limits]", '[counterbalance]\ndesign = "within"\n\n[limits]') + '[conditions.C]\nranker = "popular"\n'
    study = parse_study(text)
    a0, a1, a2 = (study.assign("P04", block=b) for b in range(3))
    assert a0.order == a1.order == tuple(study.condition_names[i] for i in balanced_latin_square_row(3, 4))
    assert [a0.condition.name, a1.condition.name, a2.condition.name] == list(a0.order)
    assert len({a0.seed, a1.seed, a2.seed}) == 3 and a0.seed == derive_seed("s1", "P04")
    with pytest.raises(ValueError, match="block must be between 0 and 2"):
        study.assign("P04", block=3)


def test_random_assignment_is_balanced_per_block_and_reproducible():
    text = BASE.replace("[limits]", '[counterbalance]\nmethod = "random"\nseed = 99\n\n[limits]') + \
        '[conditions.C]\nranker = "popular"\n'
    study = parse_study(text)
    got = [study.assign(f"P{n:02d}").condition.name for n in range(30)]
    for b in range(10):  # each run of k=3 consecutive numbers gets every condition once
        assert sorted(got[3 * b: 3 * b + 3]) == ["A", "B", "C"]
    assert got == [parse_study(text).assign(f"P{n:02d}").condition.name for n in range(30)]
    other = parse_study(text.replace("seed = 99", "seed = 100"))
    assert got != [other.assign(f"P{n:02d}").condition.name for n in range(30)]
    assert random_condition_index(99, "anna", 3) == random_condition_index(99, "anna", 3)
    assert study.assign("anna").condition.name in ("A", "B", "C")  # ids without digits are drawn


def test_seed_derivation_is_stable_sha256():
    expected = int.from_bytes(hashlib.sha256("feedapp-lab\x1fs1\x1fP07".encode()).digest()[:8], "big") & ((1 << 63) - 1)
    study = parse_study(BASE)
    assert study.assign("P07").seed == expected == derive_seed("s1", "P07")
    assert study.assign("P08").seed != expected
    assert parse_study(BASE.replace('name = "s1"', 'name = "s2"')).assign("P07").seed != expected
    fixed = parse_study(BASE.replace('catalog = "clips"', 'catalog = "clips"\nseed = 5'))
    assert fixed.assign("P07").seed == fixed.assign("P08").seed == 5


def test_session_kwargs_match_the_recorder():
    a = parse_study(BASE).assign("P02")
    kw = a.session_kwargs(3000)
    # every condition gets the study's repeat rule (default: no clip repeats while an unseen one remains)
    assert kw == {"mode": "lab", "ranker": "foryou", "ranker_params": {"repeat_gap": 100_000, "epsilon": 0.1}, "seed": a.seed,
                  "participant": "P02", "condition": "A", "skip_threshold_ms": 3000, "study": "s1"}
    ev = a.study_event("abc")
    assert ev["study"] == "s1" and ev["study_sha256"] == "abc" and ev["overridden"] is False


def test_participant_pattern(tmp_path, capsys):
    study = parse_study(BASE.replace('catalog = "clips"', 'catalog = "clips"\nparticipant_pattern = "P[0-9]{2}"'))
    assert study.check_participant("P07") is None
    assert "does not match" in study.check_participant("X07")
    assert "spaces" in study.check_participant(" P07")
    f = tmp_path / "s.toml"
    f.write_text(BASE)
    assert run_assign_command(f, ["P01", "P02", "anna"]) == 1
    out = capsys.readouterr()
    assert out.out.splitlines()[0].startswith("P01: B (random), seed ")
    assert "anna" in out.err


def test_override_skips_the_number_but_not_the_pattern():
    study = parse_study(BASE.replace('catalog = "clips"', 'catalog = "clips"\nparticipant_pattern = "[A-Z].*"'))
    assert study.assign("Anna", override="A").condition.name == "A"
    with pytest.raises(ValueError, match="does not match"):
        study.assign("anna", override="A")


def test_resolve_clip_names_for_the_ui(clip_dir):
    from feedapp.lab.study import resolve_clip_names
    from feedapp.media.scan import load_folder

    clips = load_folder(clip_dir).accepted
    found, bad = resolve_clip_names(["clip 2.mp4", "cooking/clip 1.mp4", clips[0].id, "x.mp4"], clips, clip_dir)
    assert [Path(c.path).name for c in found] == ["clip 2.mp4", "clip 1.mp4", Path(clips[0].path).name]
    assert len(bad) == 1 and "'x.mp4' is not a clip" in bad[0]


def test_locate_fields_skips_multiline_arrays():
    text = 'a = [\n  [1, 2],\n  "x = 1",\n]\nb = 2\n[t]\nc = {x = [1,\n 2]}\nd = 1\n'
    found = locate_fields(text)
    assert found == {("a",): 1, ("b",): 5, ("t",): 6, ("t", "c"): 7, ("t", "c", "x"): 7, ("t", "d"): 9}


def test_practice_clips_leave_out_warmups_and_are_the_same_for_everyone(clip_dir):
    from feedapp.media.scan import load_folder

    clips = load_folder(clip_dir).accepted
    text = BASE.replace("[conditions.A]", '[practice]\nclips = 3\n\n[conditions.A]').replace(
        'ranker = "random"', 'ranker = "random"\nwarmup = ["clip 0.mp4", "clip 1.mp4"]')
    study = parse_study(text)
    picked = study.practice_clips(clips, clip_dir)
    assert len(picked) == 3 and len({c.id for c in picked}) == 3
    assert not {Path(c.path).name for c in picked} & {"clip 0.mp4", "clip 1.mp4"}
    assert [c.id for c in parse_study(text).practice_clips(list(reversed(clips)), clip_dir)] == [c.id for c in picked]
    named = parse_study(text.replace("clips = 3", 'use = ["clip 5.mp4"]'))
    assert named.practice.clips == 1 and [Path(c.path).name for c in named.practice_clips(clips, clip_dir)] == ["clip 5.mp4"]


def test_no_condition_repeats_a_clip_while_unseen_clips_remain():
    """Conditions differ only in ranking: the study's repeat rule goes to every ranker (issue 14)."""
    from feedapp.core.catalog import Catalog
    from feedapp.core.engine import FeedEngine
    from feedapp.core.model import View
    from tests.lab.conftest import CLIPS

    study = parse_study(BASE.replace('[conditions.B]', '[conditions.C]\nranker = "random"\n\n[conditions.B]'))
    for name in study.condition_names:
        a = study.assign("P01", name)
        assert a.params["repeat_gap"] == 100_000
        engine = FeedEngine(Catalog(list(CLIPS)), a.condition.ranker, seed=a.seed, params=a.params)
        served = []
        for _ in range(len(CLIPS) + 4):
            clip = engine.next()
            served.append(clip.id)
            engine.finish(View(clip.id, dwell_ms=1000, play_ms=1000, loops=0, skipped=True))
        assert len(set(served[: len(CLIPS)])) == len(CLIPS), name  # every clip once before any comes back
        assert served[len(CLIPS)] in served[: len(CLIPS)]  # then the feed goes on
    # the study may say otherwise, for every condition, and a condition's own params win
    study = parse_study(BASE.replace('name = "s1"', 'name = "s1"\nrepeat_gap = 5'))
    assert all(study.assign("P01", n).params["repeat_gap"] == 5 for n in study.condition_names)
    bad = "\n".join(p.describe() for p in problems(BASE.replace('name = "s1"', 'name = "s1"\nrepeat_gap = 0')))
    assert "study.repeat_gap: must be between 1 and 100,000" in bad


def test_fields_and_questionnaire_are_parsed_and_their_mistakes_located():
    good = BASE + """
[[fields]]
name = "age"
type = "number"
whole = true
min = 18
max = 99

[[fields]]
name = "group"
type = "choice"
choices = ["a", "b"]

[[questionnaire]]
id = "fun"
type = "likert"
text = "It was fun."
points = 7
labels = ["no", "yes"]
"""
    s = parse_study(good)
    age, group = s.fields
    assert (age.label, age.type, age.whole, age.min, age.max, age.required) == ("age", "number", True, 18, 99, True)
    assert age.check("33") == (33, None) and age.check("33.5")[1] == "age: must be a whole number, not 33.5"
    assert age.check("")[1] == "age: required" and group.check("c")[1] == "group: choose one of a, b"
    (q,) = s.questionnaire
    assert (q.id, q.points, q.labels, q.required) == ("fun", 7, ("no", "yes"), True)
    bad = good.replace('type = "choice"', 'type = "choise"').replace("points = 7", "points = 1").replace(
        'name = "age"', 'name = "the age"')
    found = {p.field: (p.message, p.line) for p in problems(bad)}
    assert found["fields.1.type"][0].startswith("must be one of text, choice, number, not 'choise'; did you mean 'choice'?")
    assert found["fields.1.type"][1] == line_of(bad, 'type = "choise"')
    assert found["questionnaire.0.points"] == ("a Likert item has 2 to 11 points, not 1", line_of(bad, "points = 1"))
    assert "short name" in found["fields.0.name"][0]
    assert "must be a list of tables" in problems('fields = "age"\n' + BASE)[0].message


def test_clips_folder_is_absolute_when_the_study_and_clips_are_given_relative(tmp_path, monkeypatch):
    # `feedapp lab study.toml` from the study's folder recorded clips_folder "../stim" in the lab_session event:
    # relative to wherever the app was started, which the data does not say
    (tmp_path / "lab").mkdir()
    monkeypatch.chdir(tmp_path / "lab")
    s = parse_study(BASE.replace('catalog = "clips"', 'catalog = "../stim"'), Path("study.toml"))
    assert s.clips_folder().is_absolute() and s.clips_folder().resolve() == tmp_path / "stim"
    assert s.clips_folder("other") == tmp_path / "lab" / "other"  # --clips DIR, relative to where the app started


def test_validate_and_run_resolve_the_same_clips_folder(tmp_path):
    from feedapp.config import default_demo_dir

    text = BASE.replace('catalog = "clips"', 'catalog = "demo"')
    path = tmp_path / "study.toml"
    path.write_text(text)
    assert parse_study(text, path).clips_folder() == Path(default_demo_dir())
    path.write_text(text.replace('catalog = "demo"', 'catalog = "demo"\nclips = "my-demo"'))
    s = parse_study(path.read_text(), path)
    assert s.clips_folder() == tmp_path / "my-demo"
    assert s.clips_folder(tmp_path / "other") == tmp_path / "other"  # --clips wins, for validate and run alike
    from feedapp.lab.commands import validate

    code, result = validate(path, demo_dir=tmp_path / "other")
    assert result["catalog"]["folder"] == str(tmp_path / "other") and "not made yet in " + str(tmp_path / "other") in \
        result["catalog"]["note"]


def test_a_long_first_check_of_the_catalog_says_how_far_it_is(tmp_path, clip_dir, capsys, monkeypatch):
    """`lab validate` and `lab run` on a stimulus folder never probed probed every clip in silence (minutes
    for a few hundred phone videos) before their first line. Past PROBE_NOTE_AFTER_S they count the clips."""
    import feedapp.media.scan as scan

    folder = tmp_path / "clips"
    shutil.copytree(clip_dir, folder)
    f = tmp_path / "s.toml"
    f.write_text(BASE)
    monkeypatch.setattr(scan, "PROBE_NOTE_AFTER_S", 0.0)
    run_validate_command(f)
    err = capsys.readouterr().err.splitlines()
    assert [line for line in err if "probing clips" in line][-1] == "feedapp: probing clips 6/6"  # validate keeps no cache
