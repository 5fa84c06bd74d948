"""Helpers that record real lab sessions: a study file -> Study.assign -> SessionRecorder -> EventLog.

``record_lab_session`` drives the views itself with a simple simulated viewer (hidden liking per
topic, deterministic for a seed): a "learning" condition serves more of the liked topics as the
session goes on, a "random" one serves uniformly. Profile snapshots are the real
``TasteProfile.snapshot`` format.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from feedapp.core.model import Clip
from feedapp.core.profile import TasteProfile
from feedapp.core.session import SessionRecorder
from feedapp.lab.study import STUDY_EVENT, Study, parse_study
from feedapp.store.log import EventLog

MS = 1_000_000
TOPICS = ("cats", "cooking", "sport", "tech")
CLIPS = tuple(
    Clip(id=f"c-{t}-{k}", path=f"/v/{t}/{k}.mp4", title=f"{t} {k}", topics=(t,) if k != 2 else (t, "misc"),
         creator=f"cr{k % 3}", duration_ms=4_000 + 2_500 * k, fps=30.0, width=540, height=960)
    for t in TOPICS for k in range(4)
)

STUDY_TEXT = """\
[study]
name = "learn-vs-random"
catalog = "demo"
skip_threshold_ms = 3000

[limits]
views = 40

[counterbalance]
method = "latin_square"

[conditions.learn]
ranker = "foryou"
warmup = ["c-cats-0", "c-tech-1"]
[conditions.learn.params]
epsilon = 0.2

[conditions.random]
ranker = "random"
warmup = ["c-cats-0", "c-tech-1"]
"""


@pytest.fixture()
def study() -> Study:
    return parse_study(STUDY_TEXT)


def record_lab_session(
    log: EventLog,
    study: Study,
    participant: str,
    *,
    n_views: int = 30,
    t0: int = 1_000_000 * MS,
    end: str | None = "time_limit",
    liked: tuple[str, ...] = ("cats", "cooking"),
    write_study_event: bool = True,
) -> SessionRecorder:
    a = study.assign(participant)
    now = [t0]
    rec = SessionRecorder(log, app_version="test", clock=lambda: now[0], catalog_size=len(CLIPS),
                          **a.session_kwargs(study.skip_threshold_ms))
    log.clips_known(CLIPS)
    if write_study_event:
        rec.event(STUDY_EVENT, t0, **a.study_event(study.sha256))
    rng = random.Random(a.seed)
    by_id = {c.id: c for c in CLIPS}
    profile = TasteProfile()
    shown: set[str] = set()
    t = t0 + 20 * MS
    learning = a.condition.ranker == "foryou"
    for i in range(n_views):
        if i < len(a.condition.warmup):
            clip, explore = by_id[a.condition.warmup[i]], False
        else:
            explore = rng.random() < 0.2
            if learning and not explore and i > 5:
                pool = [c for c in CLIPS if set(c.topics) & set(liked)]
            else:
                pool = list(CLIPS)
            clip = rng.choice(pool)
        revisit = clip.id in shown
        shown.add(clip.id)
        rec.arrive(clip, reached_by="start" if i == 0 else "swipe_next", is_revisit=revisit, settled_ns=t,
                   input_ns=t if i == 0 else t - 150 * MS, policy="history" if revisit else a.condition.ranker,
                   score=0.5, propensity=0.1, exploration=explore and not revisit)
        rec.first_frame(t + 12 * MS)
        likes = bool(set(clip.topics) & set(liked))
        fraction = rng.uniform(0.6, 1.6) if likes else rng.uniform(0.05, 0.5)
        watch_ms = int(clip.duration_ms * fraction) + 12
        if i % 7 == 3:
            rec.set_paused(True, t + 100 * MS)
            rec.set_paused(False, t + 400 * MS)
            watch_ms += 300
        if watch_ms - 12 > clip.duration_ms:
            rec.loop_completed(t + (clip.duration_ms + 12) * MS)
        t += watch_ms * MS
        view = rec.leave("swipe_next", t)
        assert view is not None
        rec.profile_snapshot(profile.update(clip, min(view.watch_ratio, 1.0)), t + MS)
        t += 150 * MS
    if end is not None:
        rec.end(end, t)
    else:
        rec.checkpoint(t)
    now[0] = t
    return rec


def write_study_log(path: Path, study: Study, participants: list[str], **kw) -> list[SessionRecorder]:
    log = EventLog(path)
    recs = []
    for k, p in enumerate(participants):
        recs.append(record_lab_session(log, study, p, t0=(1_000 + 1_000 * k) * 1_000_000 * MS, **kw))
    assert log.close()
    return recs
