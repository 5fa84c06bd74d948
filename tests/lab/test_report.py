"""`feedapp lab report`: the figures are checked against values computed independently from the rows."""

from __future__ import annotations

import json
import math
import sqlite3
from html.parser import HTMLParser

import numpy as np
import pytest

from feedapp.lab.commands import run_report_command
from feedapp.lab.data import session_ids, session_studies, studies
from feedapp.lab.report import profile_topics, session_figures, study_figures, write_report
from feedapp.lab.stats import mean_ci, t_quantile
from feedapp.store.sessions import open_for_reading
from tests.lab.conftest import write_study_log

PARTICIPANTS = ["P01", "P02", "P03", "P04", "P05", "P06"]  # odd -> random, even -> learn


@pytest.fixture()
def log(tmp_path, study):
    path = tmp_path / "feed.db"
    recs = write_study_log(path, study, PARTICIPANTS)
    return path, recs


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.script = ""
        self._in_script = False
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "script":
            self._in_script = True
        if tag == "table":
            self._table = a.get("class", "")
            self.tables[self._table] = []
        if tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        if tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._in_script:
            self.script += data
        if self._cell is not None:
            self._cell.append(data)


def parse(path) -> _Collect:
    p = _Collect()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def test_study_name_is_read_from_the_study_event(log):
    path, recs = log
    conn = open_for_reading(path)
    assert set(session_studies(conn).values()) == {"learn-vs-random"}
    assert studies(conn) == {"learn-vs-random": 6}
    learn = session_ids(conn, study="learn-vs-random", condition="learn")
    assert learn == [r.id for r in recs if r.record.condition == "learn"] and len(learn) == 3
    assert session_ids(conn, study="other") == []
    assert session_ids(conn, participant="P03") == [recs[2].id]
    from feedapp.lab.data import next_block

    assert next_block(conn, "learn-vs-random", "P03") == 1 and next_block(conn, "learn-vs-random", "P99") == 0


def test_session_figures_match_the_rows(log):
    path, recs = log
    conn = open_for_reading(path)
    sid = recs[1].id
    fig = session_figures(conn, sid)
    raw = sqlite3.connect(path)
    rows = raw.execute(
        "SELECT v.watch_ratio, v.skipped, v.dwell_ms, i.exploration, i.is_revisit, c.topics, i.position "
        "FROM impressions i JOIN views v ON v.impression_id = i.id JOIN clips c ON c.id = i.clip_id "
        "WHERE i.session_id = ? AND v.final = 1 ORDER BY i.position", [sid]).fetchall()
    wr = np.array([r[0] for r in rows])
    sk = np.array([r[1] for r in rows], dtype=float)
    dw = np.array([r[2] for r in rows])
    s = fig["summary"]
    assert s["views"] == len(rows) == 30 and s["impressions"] == 30
    assert s["watch_ratio"]["mean"] == pytest.approx(wr.mean())
    assert s["skip_rate"]["mean"] == pytest.approx(sk.mean())
    assert s["dwell_ms"]["mean"] == pytest.approx(dw.mean())
    # t interval over views, t(0.975, 29) = 2.045230 from tables
    half = 2.045230 * wr.std(ddof=1) / math.sqrt(len(wr))
    assert s["watch_ratio"]["ci_low"] == pytest.approx(wr.mean() - half, abs=1e-5)
    assert s["watch_ratio"]["ci_high"] == pytest.approx(wr.mean() + half, abs=1e-5)
    # histograms
    h = fig["histograms"]
    counts, _ = np.histogram(np.clip(dw / 1000, None, h["dwell_s"]["edges"][-1] - 1e-9), bins=h["dwell_s"]["edges"])
    assert h["dwell_s"]["counts"] == counts.tolist() and h["dwell_s"]["edges"][-1] >= dw.max() / 1000
    counts, _ = np.histogram(np.clip(wr, None, 1.95), bins=np.round(np.arange(21) * 0.1, 1))
    assert h["watch_ratio"]["counts"] == counts.tolist() and sum(counts) == 30
    # exploration share over ranker picks (revisits excluded)
    picks = [r for r in rows if not r[4]]
    assert fig["exploration"]["share"] == pytest.approx(sum(r[3] for r in picks) / len(picks))
    # rolling skip rate over the last 10 views
    roll = [sk[max(0, i - 9): i + 1].mean() for i in range(len(sk))]
    # unrounded (as the docs say of the JSON): the study's curve is the mean of these, rounded once
    assert fig["skip_over_time"]["rate"] == pytest.approx(roll, abs=1e-12)
    assert fig["skip_over_time"]["positions"] == [r[6] for r in rows]
    # topics served and preferred
    served = {}
    wr_by_topic = {}
    for r in rows:
        for t in set(json.loads(r[5])):
            served[t] = served.get(t, 0) + 1
            wr_by_topic.setdefault(t, []).append(r[0])
    for t, n in served.items():
        assert fig["topics"][t]["served"] == n
        assert fig["topics"][t]["served_share"] == pytest.approx(n / 30, abs=1e-6)
        assert fig["topics"][t]["mean_watch_ratio"] == pytest.approx(np.mean(wr_by_topic[t]), abs=1e-6)
    best = sorted(wr_by_topic, key=lambda t: (-np.mean(wr_by_topic[t]), -len(wr_by_topic[t]), t))[:3]
    assert fig["preferred_topics"] == best
    # P02 is in the learning condition and likes cats/cooking: the feed serves more of them later
    assert fig["session"]["condition"] == "learn" and set(best[:2]) == {"cats", "cooking"}
    assert fig["preferred_share"]["second_half"] > fig["preferred_share"]["first_half"]
    # profile forming: the series are the snapshots' own numbers
    snaps = raw.execute("SELECT after_position, profile FROM profile_snapshots WHERE session_id = ? "
                        "ORDER BY after_position", [sid]).fetchall()
    assert fig["profile"]["snapshots"] == len(snaps) == 30 and fig["profile"]["snapshots_unreadable"] == 0
    cats = [[pos, json.loads(p)["topics"]["cats"]] for pos, p in snaps if "cats" in json.loads(p)["topics"]]
    assert fig["profile"]["series"]["cats"] == cats
    assert fig["session"]["study"] == "learn-vs-random" and fig["session"]["assignment"]["participant_number"] == 2


def test_study_figures_per_condition_with_session_level_intervals(log, study):
    path, recs = log
    study_sha = study.sha256
    conn = open_for_reading(path)
    fig = study_figures(conn, "learn-vs-random")
    raw = sqlite3.connect(path)
    t2 = 4.302653  # t(0.975, 2) from tables: 3 sessions per condition
    for cond in ("learn", "random"):
        per = raw.execute(
            "SELECT AVG(v.watch_ratio), AVG(v.skipped), AVG(v.dwell_ms) FROM views v JOIN sessions s ON s.id = v.session_id "
            "WHERE s.condition = ? AND v.final = 1 GROUP BY s.id", [cond]).fetchall()
        c = fig["conditions"][cond]
        assert c["sessions"] == len(per) == 3 and c["participants"] == 3 and c["views"] == 90
        for k, m in enumerate(("watch_ratio", "skip_rate", "dwell_ms")):
            xs = np.array([p[k] for p in per])
            half = t2 * xs.std(ddof=1) / math.sqrt(3)
            st = c["per_session"][m]
            assert st["mean"] == pytest.approx(xs.mean())
            lo = max(0.0, xs.mean() - half)
            hi = min(1.0, xs.mean() + half) if m == "skip_rate" else xs.mean() + half
            assert st["ci_low"] == pytest.approx(lo, rel=1e-6, abs=1e-6) and st["ci_high"] == pytest.approx(hi, rel=1e-6)
        pooled = raw.execute("SELECT AVG(v.watch_ratio), COUNT(*) FROM views v JOIN sessions s ON s.id = v.session_id "
                             "WHERE s.condition = ? AND v.final = 1", [cond]).fetchone()
        assert c["pooled_views"]["watch_ratio"] == pytest.approx(pooled[0], abs=1e-6) and c["pooled_views"]["n"] == 90
        # skip rate over time: at each position, the mean over sessions of the share of skips among the last 10
        # views, rounded once (each session's rates were rounded to 6 places before the mean: 1/3 came out 0.333334)
        curves = []
        for (sid,) in raw.execute("SELECT id FROM sessions WHERE condition = ? ORDER BY started_utc", [cond]):
            sk = [r[0] for r in raw.execute("SELECT v.skipped FROM views v JOIN impressions i ON i.id = v.impression_id "
                                            "WHERE v.session_id = ? AND v.final = 1 ORDER BY i.position", [sid])]
            curves.append([sum(sk[max(0, i - 9): i + 1]) / len(sk[max(0, i - 9): i + 1]) for i in range(len(sk))])
        expected = [round(sum(c_[i] for c_ in curves) / len(curves), 6) for i in range(30)]
        assert c["skip_over_time"] == expected
    # the learning condition keeps people watching longer in this simulated study
    assert fig["conditions"]["learn"]["per_session"]["watch_ratio"]["mean"] > \
        fig["conditions"]["random"]["per_session"]["watch_ratio"]["mean"]
    assert [s["participant"] for s in fig["sessions"]] == PARTICIPANTS
    assert fig["study_files"] == [study_sha] and fig["overridden"] == 0


def test_html_pages_show_the_figures_and_are_self_contained(log, tmp_path, capsys):
    path, recs = log
    out = tmp_path / "report"
    assert run_report_command(path, None, "learn-vs-random", out) == 0
    assert "report written" in capsys.readouterr().out
    page = out / "study-learn-vs-random.html"
    p = parse(page)
    figures = json.loads(p.script)
    assert figures == json.loads((out / "study-learn-vs-random.json").read_text())
    text = page.read_text()
    assert "<svg" in text and "src=" not in text and "<link" not in text and "http://" not in text.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    conds = p.tables["conditions"]
    assert conds[0][:5] == ["condition", "ranker", "sessions", "participants", "views"]
    by_name = {row[0]: row for row in conds[1:]}
    for name, c in figures["conditions"].items():
        row = by_name[name]
        assert row[2] == str(c["sessions"]) and row[4] == str(c["views"])
        ci = c["per_session"]["watch_ratio"]  # mean and its interval in one cell: no wide columns that wrap
        assert row[5] == f"{ci['mean']:.3f}{ci['ci_low']:.3f} – {ci['ci_high']:.3f}"
        dwell = c["per_session"]["dwell_ms"]  # ms as whole numbers
        assert row[7] == f"{round(dwell['mean'])}{dwell['ci_low']:.0f} – {dwell['ci_high']:.0f}"
        assert row[8].startswith(f"{c['exploration_share']:.3f}") and f"of {c['ranker_picks']} ranker picks" in row[8]
    assert len(conds[0]) == 9
    assert "table{border-collapse:collapse" in text and ".wide{" in text
    # one page per session, linked from the study page
    links = [a["href"] for tag, a in p.tags if tag == "a"]
    assert sorted(links) == sorted(f"session-{r.id[:8]}.html" for r in recs)
    sp = parse(out / links[0])
    sfig = json.loads(sp.script)
    summary = {row[0]: row for row in sp.tables["summary"][1:]}
    assert summary["mean watch ratio"][2] == f"{sfig['summary']['watch_ratio']['mean']:.3f}"
    assert summary["skip rate"][1] == str(sfig["summary"]["views"])
    assert summary["mean dwell (ms)"][2] == str(round(sfig["summary"]["dwell_ms"]["mean"]))  # 5403, not 5403.385
    topics = {row[0]: row for row in sp.tables["topics"][1:]}
    assert set(topics) == set(sfig["topics"])
    assert sum(1 for tag, _ in sp.tags if tag == "svg") == 4  # profile, dwell, watch ratio, skip rate


def test_single_session_report_and_errors(log, tmp_path, capsys):
    path, recs = log
    out = tmp_path / "one"
    assert run_report_command(path, recs[0].id[:8], None, out) == 0
    assert (out / f"session-{recs[0].id[:8]}.html").exists()
    assert run_report_command(path, None, "nope", out) == 1
    assert "learn-vs-random (6 sessions)" in capsys.readouterr().err
    assert run_report_command(path, "zzzz", None, out) == 2
    assert run_report_command(tmp_path / "missing.db", "a", None, out) == 2


def test_profile_snapshot_shapes_are_read_defensively():
    assert profile_topics('{"topics": {"a": 0.5}, "creators": {"x": 1}}') == {"a": 0.5}
    assert profile_topics({"topic_affinity": {"a": 1, "b": True}}) == {"a": 1.0}
    assert profile_topics({"a": 0.25, "b": -1}) == {"a": 0.25, "b": -1.0}
    assert profile_topics({"creators": {"x": 1}}) is None
    assert profile_topics("not json") is None and profile_topics([1, 2]) is None


def test_stats_helpers():
    assert t_quantile(0.975, 10) == pytest.approx(2.228139, abs=1e-6)
    assert t_quantile(0.975, 1) == pytest.approx(12.706205, abs=1e-6)
    assert t_quantile(0.025, 5) == pytest.approx(-2.570582, abs=1e-6)
    r = mean_ci([1, 2, 3, 4, 5])
    assert r["mean"] == 3 and r["ci_low"] == pytest.approx(3 - 2.776445 * math.sqrt(2.5) / math.sqrt(5), abs=1e-5)
    assert mean_ci([1])["ci_low"] is None and mean_ci([])["mean"] is None
    assert mean_ci([0, 0, 1], bounds=(0, 1))["ci_low"] == 0.0


def test_a_session_continued_after_a_crash_is_linked_both_ways(tmp_path):
    from feedapp.core.session import SessionRecorder
    from feedapp.lab.report import _end, render_session
    from feedapp.store.log import EventLog

    db = tmp_path / "feed.db"
    log = EventLog(db)
    kw = {"app_version": "t", "mode": "lab", "ranker": "random", "participant": "P09", "condition": "x"}
    crashed = SessionRecorder(log, **kw)
    crashed.end("recovered_after_crash")
    cont = SessionRecorder(log, **kw)
    cont.event("continues_session", session_id=crashed.id, views=0, elapsed_ms=0.0)
    cont.end("quit")
    other = SessionRecorder(log, **kw)
    other.end("quit")
    assert log.close()
    conn = open_for_reading(db)
    a, b, c = (session_figures(conn, s.id)["session"] for s in (crashed, cont, other))
    assert (a["continues"], a["continued_in"]) == (None, cont.id)
    assert (b["continues"], b["continued_in"]) == (crashed.id, None)
    assert (c["continues"], c["continued_in"]) == (None, None)
    page = render_session(session_figures(conn, cont.id))
    assert "<td>continues session</td>" in page and crashed.id in page
    assert _end(a) == f"recovered_after_crash (continued in {cont.id[:8]})" and _end(c) == "quit"


def test_a_within_subjects_session_continued_after_a_crash_stays_in_its_block(tmp_path, study):
    """Seen in a new-user trial: P01's first block crashed and was continued; the start dialog offered the
    continuation as block 1 ("chosen by hand: the study assigns 'learn' (recorded as an override)", another
    seed), and the participant's real second block then counted as block 2, past the last one."""
    from feedapp.core.session import SessionRecorder
    from feedapp.lab.data import next_block
    from feedapp.lab.study import parse_study
    from feedapp.store.log import EventLog
    from feedapp.ui.lab import load_continuation, session_block
    from tests.lab.conftest import STUDY_TEXT, record_lab_session

    within = parse_study(STUDY_TEXT.replace('method = "latin_square"', 'method = "latin_square"\ndesign = "within"'))
    db = tmp_path / "feed.db"
    log = EventLog(db)
    crashed = record_lab_session(log, within, "P01", n_views=3, end="recovered_after_crash")  # block 0
    assert log.flush()
    conn = open_for_reading(db)
    cont = load_continuation(conn, crashed.id)
    assert cont.block == 0 and session_block(conn, within, "P01", cont) == 0
    a = within.assign("P01", block=session_block(conn, within, "P01", cont))  # what the start dialog assigns
    assert a.condition.name == cont.condition and a.seed == crashed.record.seed  # no override, the same seed
    first = a
    conn.close()
    linked = SessionRecorder(log, app_version="t", **a.session_kwargs(within.skip_threshold_ms))
    linked.event("study", **a.study_event(within.sha256))
    linked.event("continues_session", session_id=crashed.id, views=3, elapsed_ms=0.0)
    linked.end("finished")
    assert log.close()
    conn = open_for_reading(db)
    # the crashed session and its continuation are one block: the next session is block 1, the other condition
    assert next_block(conn, within.name, "P01") == 1 == session_block(conn, within, "P01")
    assert within.assign("P01", block=1).condition.name != first.condition.name
    assert session_block(conn, study, "P01") == 0  # between subjects: always block 0


def test_a_session_whose_condition_left_the_study_file_is_not_continued(tmp_path, study):
    """Seen in a new-user trial: the condition 'rand' renamed 'random' in the study file after a crash;
    Continue opened the start dialog on the file's first condition, locked ('learn (foryou)', recorded as an
    override), so the continuation would have run another ranker than the session it continued."""
    from feedapp.lab.study import parse_study
    from feedapp.store.log import EventLog
    from feedapp.ui.lab import continuation_problem, load_continuation
    from tests.lab.conftest import STUDY_TEXT, record_lab_session

    db = tmp_path / "feed.db"
    log = EventLog(db)
    crashed = record_lab_session(log, study, "P01", n_views=3, end="recovered_after_crash")  # condition random
    assert log.close()
    conn = open_for_reading(db)
    cont = load_continuation(conn, crashed.id)
    assert cont.condition == "random" and continuation_problem(study, cont, None) is None
    renamed = parse_study(STUDY_TEXT.replace("[conditions.random]", "[conditions.uniform]"))
    problem = continuation_problem(renamed, cont, None)
    assert problem is not None and "ran condition 'random', which the study file no longer has (it has: learn, " \
        "uniform), so it cannot be continued" in problem and "start a new session for P01" in problem
    assert "not --condition 'learn'" in continuation_problem(study, cont, "learn")
    assert continuation_problem(study, cont, "random") is None
