"""Issue 14: ranker picks only in exploration shares, preferred topics need views, data ready to analyse
(per-participant files, codebook, affinities in long format, questionnaire), typed loading by the codebook."""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

from feedapp.core.records import QuestionnaireAnswer
from feedapp.core.session import SessionRecorder
from feedapp.lab.commands import run_export_command, run_report_command
from feedapp.lab.report import MIN_TOPIC_VIEWS, session_figures, study_figures
from feedapp.lab.study import STUDY_EVENT, parse_study
from feedapp.store import codebook
from feedapp.store.log import EventLog
from feedapp.store.sessions import open_for_reading
from tests.lab.conftest import CLIPS, MS, STUDY_TEXT

ROOT = Path(__file__).resolve().parents[2]


def record(log: EventLog, study, participant: str, t0: int, *, fields=None, answers=(), refused=False):
    """A lab session: the condition's 2 warm-up clips (policy warmup), then 8 ranker picks, every one an
    exploration pick (as the random ranker logs them); ocean is shown once (in the warm-up)."""
    a = study.assign(participant)
    now = [t0]
    rec = SessionRecorder(log, app_version="test", clock=lambda: now[0], catalog_size=len(CLIPS),
                          fields=fields or {}, **a.session_kwargs(study.skip_threshold_ms))
    log.clips_known(CLIPS)
    rec.event(STUDY_EVENT, t0, **a.study_event(study.sha256))
    if refused:
        rec.event("consent", t0 + MS, given=False)
        rec.end("consent_refused", t0 + 2 * MS)
        return rec
    by_id = {c.id: c for c in CLIPS}
    order = [by_id[w] for w in a.condition.warmup] + [c for c in CLIPS if c.id not in a.condition.warmup][:8]
    t = t0 + 10 * MS
    for i, clip in enumerate(order):
        warm = i < len(a.condition.warmup)
        rec.arrive(clip, reached_by="start" if i == 0 else "swipe_next", is_revisit=False, settled_ns=t,
                   input_ns=t, policy="warmup" if warm else a.condition.ranker, score=None if warm else 0.1,
                   propensity=1.0 if warm else 0.1, exploration=not warm)
        t += (clip.duration_ms if "cats" in clip.topics else 800) * MS
        rec.leave("swipe_next", t)
        rec.profile_snapshot({"topics": {clip.topics[0]: 0.1 * (i + 1), "misc": -0.05}, "views": i + 1}, t + MS)
        t += 100 * MS
    rec.end("finished", t)
    for pos, (item, answer, value) in enumerate(answers):
        log.questionnaire_answer(QuestionnaireAnswer(rec.id, item, pos, "likert" if value else "text", f"{item}?",
                                                     answer, value, t + 5 * MS, rec.utc(t + 5 * MS)))
    return rec


def make_log(path: Path):
    study = parse_study(STUDY_TEXT.replace('catalog = "demo"', 'catalog = "demo"\nclips = "nowhere"'))
    log = EventLog(path)
    recs = [record(log, study, "P01", 10**15, fields={"age": 31}, answers=[("fun", "4", 4.0), ("note", "ok", None)]),
            record(log, study, "P02", 2 * 10**15, fields={"age": 45}, answers=[("fun", "2", 2.0), ("note", None, None)]),
            record(log, study, "P03", 3 * 10**15, refused=True)]
    assert log.close()
    return study, recs


def test_exploration_share_counts_ranker_picks_only_and_preferred_topics_need_views(tmp_path):
    study, recs = make_log(tmp_path / "feed.db")
    conn = open_for_reading(tmp_path / "feed.db")
    fig = session_figures(conn, recs[0].id)
    assert fig["exploration"] == {"scripted": 2, "picks": 8, "exploration_picks": 8, "share": 1.0}  # not 8/10
    # the warm-up's one view of cats-0 and tech-1 does not make them preferred; topics need MIN_TOPIC_VIEWS
    assert all(fig["topics"][t]["ranker_views"] >= MIN_TOPIC_VIEWS for t in fig["preferred_topics"])
    assert fig["topics"]["tech"]["views"] >= 1 and fig["topics"]["tech"]["ranker_views"] < MIN_TOPIC_VIEWS
    assert "tech" not in fig["preferred_topics"]
    sfig = study_figures(conn, study.name)
    conn.close()
    assert sfig["consent_refused"] == 1 and sorted(s["participant"] for s in sfig["sessions"]) == ["P01", "P02"]
    cond = sfig["conditions"]["random"]
    assert cond["exploration_share"] == 1.0 and cond["scripted_slots"] == 2
    assert cond["questionnaire"]["fun"]["likert"]["mean"] == 4.0  # P01 (random); P02 is in learn
    out = tmp_path / "report"
    assert run_report_command(tmp_path / "feed.db", None, study.name, out) == 0
    page = (out / f"study-{study.name}.html").read_text()
    assert "Consent refused: 1" in page and "<h2>Questionnaire</h2>" in page
    session_page = (out / f"session-{recs[0].id[:8]}.html").read_text()
    assert f"at least {MIN_TOPIC_VIEWS} closed views the ranker chose" in session_page
    assert "the 2 warm-up slots the study fixed" in session_page and "start dialog: age" in session_page
    assert not re.search(r">\d+\.\d{3}</td>", session_page.split("Summary")[1].split("</table>")[0].split(
        "mean dwell (ms)")[1])  # the dwell mean as a whole number of ms


def load_typed(path: Path, book: dict[str, dict[str, str]], table: str) -> list[dict]:
    """Read an exported CSV with the codebook's types (what an analyst does with dtype=...)."""
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == list(book[table]), (path, table)
        out = []
        for row in reader:
            typed = {}
            for col, text in row.items():
                kind = book[table][col]
                typed[col] = None if text == "" else codebook.TYPES[kind](text)
            out.append(typed)
    return out


def test_lab_export_writes_per_participant_files_a_codebook_and_long_affinities(tmp_path, capsys):
    study, recs = make_log(tmp_path / "feed.db")
    out = tmp_path / "export"
    assert run_export_command(tmp_path / "feed.db", out, study=study.name) == 0
    day = recs[0].record.started_utc[:10]
    names = sorted(p.name for p in out.iterdir())
    assert f"P01_learn-vs-random_{day}.csv" in names and f"P02_learn-vs-random_{day}.csv" in names
    assert f"P03_learn-vs-random_{day}.csv" in names  # the refusal: a file with no views
    assert {"codebook.csv", "affinities.csv", "questionnaire.csv", "view_log.csv", "manifest.json"} <= set(names)
    with open(out / "codebook.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    book: dict[str, dict[str, str]] = {}
    for r in rows:
        assert r["meaning"] and r["type"] in codebook.TYPES, r
        book.setdefault(r["table"], {})[r["column"]] = r["type"]
    loaded = {}
    for name in names:
        if name.endswith(".csv") and name != "codebook.csv":
            table = "view_log" if name.startswith("P0") else name[:-4]
            loaded[name] = load_typed(out / name, book, table)
    mine = loaded[f"P01_learn-vs-random_{day}.csv"]
    assert len(mine) == 10 and {r["participant"] for r in mine} == {"P01"} and {r["mode"] for r in mine} == {"lab"}
    assert mine[0]["since_start_ms"] == 10.0 and all(isinstance(r["dwell_ms"], float) for r in mine)
    assert loaded[f"P03_learn-vs-random_{day}.csv"] == []
    aff = loaded["affinities.csv"]
    first = [r for r in aff if r["session_id"] == recs[0].id][0]
    assert len(aff) == 2 * 20 and first == {"session_id": recs[0].id, "after_position": 0, "topic": "cats",
                                            "affinity": 0.1}
    q = loaded["questionnaire.csv"]
    assert [(r["item"], r["answer"], r["value"]) for r in q if r["session_id"] == recs[1].id] == [
        ("fun", "2", 2.0), ("note", None, None)]
    sessions = {r["participant"]: r for r in loaded["sessions.csv"]}
    assert json.loads(sessions["P01"]["fields"]) == {"age": 31} and sessions["P03"]["end_reason"] == "consent_refused"


def test_docs_data_md_tables_are_the_codebook():
    doc = (ROOT / "docs" / "data.md").read_text(encoding="utf-8")
    assert codebook.sync_markdown(doc) == doc, "run: python -m feedapp.store.codebook docs/data.md"
    for table in codebook.CODEBOOK:
        assert codebook.markdown_table(table) in doc, table


def test_jsonl_participant_files_carry_topics_as_arrays(tmp_path):
    study, recs = make_log(tmp_path / "feed.db")
    out = tmp_path / "export"
    assert run_export_command(tmp_path / "feed.db", out, study=study.name, fmt="jsonl") == 0
    day = recs[0].record.started_utc[:10]
    rows = [json.loads(line) for line in (out / f"P01_learn-vs-random_{day}.jsonl").read_text().splitlines()]
    assert len(rows) == 10 and all(isinstance(r["topics"], list) for r in rows)
    assert (out / "codebook.csv").exists() and (out / "affinities.jsonl").exists()


def test_participant_files_of_ids_that_clean_to_one_name_stay_apart(tmp_path, capsys):
    """Seen in a new-user trial: a participant file's name replaces the characters a file name cannot
    hold, so 'P 04' and 'P/04' both made P-04_..., and the second file overwrote the first (one
    participant's views silently gone from the per-participant files). 'P05' and 'p05' collide the
    same way on a case-insensitive disk (macOS, Windows). Such ids get a short hash of the id; an id
    that clashes with none keeps the plain name."""
    study = parse_study(STUDY_TEXT.replace('catalog = "demo"', 'catalog = "demo"\nclips = "nowhere"'))
    log = EventLog(tmp_path / "feed.db")
    ids = ("P 04", "P/04", "P05", "p05", "P06")
    for k, pid in enumerate(ids):
        record(log, study, pid, (k + 1) * 10**15)
    assert log.close()
    out = tmp_path / "export"
    assert run_export_command(tmp_path / "feed.db", out, study=study.name) == 0
    files = sorted(p.name for p in out.iterdir() if f"_{study.name}_" in p.name)
    assert len(files) == len(ids) and len({f.casefold() for f in files}) == len(ids), files
    assert any(f.startswith("P06_learn-vs-random_") for f in files)  # no clash: the plain name
    held = {}
    for f in files:
        with open(out / f, encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == 10
        held[f] = {r["participant"] for r in rows}
    assert sorted(p for s in held.values() for p in s) == sorted(ids)
    printed = capsys.readouterr().out
    assert all(f in printed for f in files)


def test_a_participant_id_or_study_name_too_long_for_a_file_name_is_cut(tmp_path, capsys):
    """Seen in a new-user trial: a 203-character participant id (nothing limits one) made `lab export`
    stop with a traceback, "OSError: File name too long" (a file name may have 255 bytes); a long study
    name did the same to `lab report`'s study page. The name's parts are cut, with a short hash."""
    long_study = "study " + "é" * 150
    study = parse_study(STUDY_TEXT.replace('name = "learn-vs-random"', f'name = "{long_study}"')
                        .replace('catalog = "demo"', 'catalog = "demo"\nclips = "nowhere"'))
    log = EventLog(tmp_path / "feed.db")
    ids = ("P" + "é" * 200 + "01", "P" + "é" * 200 + "02")  # alike for their first 80 bytes
    for k, pid in enumerate(ids):
        record(log, study, pid, (k + 1) * 10**15)
    assert log.close()
    out = tmp_path / "export"
    assert run_export_command(tmp_path / "feed.db", out, study=long_study) == 0
    files = [p for p in out.iterdir() if p.name.startswith("P")]
    assert len(files) == 2 and all(len(p.name.encode()) < 255 for p in files)
    held = set()
    for f in files:
        with open(f, encoding="utf-8", newline="") as fh:
            held |= {r["participant"] for r in csv.DictReader(fh)}
    assert held == set(ids)
    assert run_report_command(tmp_path / "feed.db", None, long_study, tmp_path / "report") == 0
    pages = [p.name for p in (tmp_path / "report").iterdir() if p.name.startswith("study-")]
    assert len(pages) == 2 and all(len(p.encode()) < 255 for p in pages)


def test_exporting_again_after_a_withdrawal_leaves_no_file_of_the_withdrawn_participant(tmp_path, capsys):
    """Seen in a new-user trial: after `lab withdraw P02`, `lab export` into the same folder rewrote the
    study-wide tables without P02 but left P02_..._date.csv from the first export, so an analyst
    reading every participant file still read the withdrawn participant's views. An earlier export's
    participant files that this one does not write are removed (files of other formats, and files
    feedapp did not write, stay)."""
    from feedapp.lab.commands import run_withdraw_command

    study, recs = make_log(tmp_path / "feed.db")
    day = recs[0].record.started_utc[:10]
    out = tmp_path / "export"
    assert run_export_command(tmp_path / "feed.db", out, study=study.name) == 0
    assert run_export_command(tmp_path / "feed.db", out, study=study.name, fmt="jsonl") == 0
    (out / f"notes_P02_{day}.csv").write_text("mine\n")
    assert run_withdraw_command(tmp_path / "feed.db", "P02", yes=True) == 0
    capsys.readouterr()
    assert run_export_command(tmp_path / "feed.db", out, study=study.name) == 0
    printed = capsys.readouterr().out
    names = {p.name for p in out.iterdir()}
    assert f"P02_learn-vs-random_{day}.csv" not in names and f"P01_learn-vs-random_{day}.csv" in names
    assert f"removed P02_learn-vs-random_{day}.csv (P02): written here by an earlier export, not by this one" in printed
    assert {f"P02_learn-vs-random_{day}.jsonl", f"notes_P02_{day}.csv", "view_log.csv", "codebook.csv"} <= names
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["participant_files"] == {f"P01_learn-vs-random_{day}.csv": "P01",
                                             f"P03_learn-vs-random_{day}.csv": "P03"}
    # a manifest edited by hand cannot make the export delete a file outside the folder
    (tmp_path / "outside.csv").write_text("mine\n")
    manifest["participant_files"]["../outside.csv"] = "P01"
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert run_export_command(tmp_path / "feed.db", out, study=study.name) == 0
    assert (tmp_path / "outside.csv").exists()
    # nor a file of the folder that no export names so (the researcher's notes listed by hand)
    (out / "notes.csv").write_text("mine\n")
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["participant_files"]["notes.csv"] = "P01"
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert run_export_command(tmp_path / "feed.db", out, study=study.name) == 0
    assert (out / "notes.csv").read_text() == "mine\n"
    # a folder exported from a copy of the database (another registry): the folder's manifest says which go
    copy = tmp_path / "copy.db"
    copy.write_bytes((tmp_path / "feed.db").read_bytes())
    assert run_withdraw_command(copy, "P03", yes=True) == 0
    assert run_export_command(copy, out, study=study.name) == 0
    names = {p.name for p in out.iterdir()}
    assert f"P03_learn-vs-random_{day}.csv" not in names and f"P01_learn-vs-random_{day}.csv" in names


def test_an_earlier_export_s_name_for_a_file_written_now_is_not_removed(tmp_path):
    """On a case-insensitive disk (macOS, Windows) `lab export --study Pilot` and then `--study pilot`
    into one folder: the first wrote P01_Pilot_<date>.csv, the second writes P01_pilot_<date>.csv,
    which is that same file, so removing the earlier export's name removed the participant's new file
    (the export listed it and it was gone). Here a hard link stands for the other spelling."""
    from feedapp.lab.commands import _remove_stale

    out = tmp_path / "export"
    out.mkdir()
    (out / "P01_pilot_2026-11-30.csv").write_text("participant\nP01\n")
    os.link(out / "P01_pilot_2026-11-30.csv", out / "P01_Pilot_2026-11-30.csv")
    (out / "P02_Pilot_2026-11-30.csv").write_text("participant\nP02\n")
    lines = _remove_stale(out, {"P01_Pilot_2026-11-30.csv": "P01", "P02_Pilot_2026-11-30.csv": "P02"},
                          {"P01_pilot_2026-11-30.csv", "manifest.json"})
    assert (out / "P01_Pilot_2026-11-30.csv").exists() and (out / "P01_pilot_2026-11-30.csv").exists()
    assert not (out / "P02_Pilot_2026-11-30.csv").exists()  # a file of the earlier export alone still goes
    assert lines == ["removed P02_Pilot_2026-11-30.csv (P02): written here by an earlier export, not by this one"]


def test_withdrawing_with_delete_outputs_keeps_files_rewritten_without_the_participant(tmp_path, capsys):
    """`lab export` of the whole study, then of one condition into the same folder (which rewrites
    views.csv, sessions.csv, ... without the other condition's participants): `lab withdraw P02
    --delete-outputs` deleted the second export's 11 files, none of which held P02, because the first
    export had listed them with P02. A file holds what its latest writing put in it."""
    from feedapp.lab.commands import run_withdraw_command

    study, _ = make_log(tmp_path / "feed.db")
    out = tmp_path / "export"
    assert run_export_command(tmp_path / "feed.db", out, study=study.name) == 0
    assert run_export_command(tmp_path / "feed.db", out, study=study.name, condition="random") == 0  # P01, P03
    kept = {p.name: p.read_bytes() for p in out.iterdir()}
    assert "P02" not in kept["views.csv"].decode() + kept["view_log.csv"].decode()
    capsys.readouterr()
    assert run_withdraw_command(tmp_path / "feed.db", "P02", yes=True, delete_outputs=True) == 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == kept
    assert "no report or export written from" in capsys.readouterr().out
