"""``feedapp simulate --viewer-kind`` / ``--catalog-size`` / ``--compare peers`` from the command line."""

from __future__ import annotations

import importlib.util
import json

from feedapp.cli import main

HAS_VW = importlib.util.find_spec("vowpalwabbit") is not None


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["simulate", "--viewers", "2", "--views", "25", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_viewer_kind_reports_each_ranker_with_random_as_chance(capsys):
    code, out, _ = run(capsys, "--viewer-kind", "short_lover", "--compare", "ts_topic", "--json")
    r = json.loads(out)
    assert code == 0 and r["viewer_kind"] == "short_lover" and r["catalog"]["clips"] == 64
    assert [p["ranker"] for p in r["policies"]] == ["foryou", "ts_topic"]
    assert r["chance"]["ranker"] == "random" and r["oracle"]["ranker"] == "oracle"


def test_viewer_kind_text_names_every_metric_and_the_chance_row(capsys):
    code, out, _ = run(capsys, "--viewer-kind", "mixed", "--compare", "lin_ts", "--catalog-size", "300", "--topics", "6",
                       "--creators", "30")
    assert code == 0
    assert "catalog of 300 clips (6 topics, 30 creators" in out
    assert "random (chance)" in out and "flagged exploration after view 50" in out and "lin_ts" in out


def test_compare_peers_stands_for_the_three_peers_and_a_missing_one_is_named(capsys):
    code, out, _ = run(capsys, "--viewer-kind", "one_topic", "--compare", "peers", "--json", "--views", "5")
    r = json.loads(out)
    names = [p["ranker"] for p in r["policies"]] + list(r["missing"])
    assert code == 0 and sorted(names) == ["foryou", "lin_ts", "ts_topic", "vw_cb"]
    assert ("vw_cb" in r["missing"]) == (not HAS_VW)


def test_generated_catalog_options_are_checked_in_words(capsys):
    code, _, err = run(capsys, "--topics", "5")
    assert code == 2 and "--topics sets the topics of a generated catalog: give --catalog-size too" in err
    code, _, err = run(capsys, "--catalog-size", "100", "--creators", "200")
    assert code == 2 and "number of creators must be 1 .. the catalog size (100), not 200" in err
    code, _, err = run(capsys, "--viewer-kind", "switcher", "--plot", "charts")
    assert code == 2 and "not available with --viewer-kind" in err


def test_switchers_that_cannot_switch_in_the_run_are_said(capsys):
    """Seen in a new-user trial: `--viewer-kind switcher --views 40` ran switchers that never switched
    (their switch is at view 50) and printed '-' for the recovery rows without a word."""
    code, out, err = run(capsys, "--viewer-kind", "switcher", "--compare", "random", "--views", "40")
    assert code == 0 and "views to recover a switch (median)" in out
    assert (
        "feedapp: note: the switchers change taste at view 50, after this run's 40 views, so none switches here (the "
        "switch rows stay '-'); give --switch-at VIEW below 40, or --views above 50\n") in err
    for args in (("--views", "40", "--switch-at", "20"), ("--views", "60")):  # it does switch: no note
        code, _, err = run(capsys, "--viewer-kind", "switcher", "--compare", "random", *args)
        assert code == 0 and "note" not in err
