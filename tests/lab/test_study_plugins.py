"""A study condition may name a plugin ranker (``ranker = "path.py:Class"``): its path is relative to the
study file, ``lab validate`` loads and tries it in its own process, and problems carry line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from feedapp.lab.commands import validate
from feedapp.lab.study import StudyError, check_plugins, parse_study

EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "plugins" / "topic_average.py").read_text()
BROKEN = '''
import numpy as np
from feedapp.core.rankers import BaseRanker

class Broken(BaseRanker):
    name = "broken"
    is_learner = True

    def learn_one(self, clip, reward, view):
        self.last = view.loops / 0  # line 10
    def scores(self, rng):
        return np.zeros(self.space.n)
'''


def study(tmp_path: Path, conditions: str) -> Path:
    (tmp_path / "plugins").mkdir(exist_ok=True)
    (tmp_path / "plugins" / "topic_average.py").write_text(EXAMPLE)
    (tmp_path / "plugins" / "broken.py").write_text(BROKEN)
    path = tmp_path / "study.toml"
    path.write_text(f'[study]\nname = "plugins"\ncatalog = "demo"\n\n[limits]\nviews = 5\n\n{conditions}')
    return path


def test_a_plugin_path_is_relative_to_the_study_file_and_validates(tmp_path, monkeypatch):
    path = study(tmp_path, '[conditions.A]\nranker = "foryou"\n\n[conditions.B]\n'
                           'ranker = "plugins/topic_average.py:TopicAverage"\nparams = { novelty = 0.5 }\n')
    monkeypatch.chdir(tmp_path.parent)  # not the study's folder: the path is still found
    s = parse_study(path.read_text(), path)
    b = s.condition("B")
    assert b.ranker == f"{tmp_path / 'plugins' / 'topic_average.py'}:TopicAverage"
    assert s.assign("P01", "B").session_kwargs(3000)["ranker"] == b.ranker
    code, result = validate(path)
    assert code == 0 and result["ok"], result["problems"]
    assert result["conditions"]["B"]["ranker"] == b.ranker


def test_a_missing_plugin_file_is_an_error_on_its_line(tmp_path):
    path = study(tmp_path, '[conditions.A]\nranker = "foryou"\n\n[conditions.B]\nranker = "plugins/nope.py:X"\n')
    with pytest.raises(StudyError) as e:
        parse_study(path.read_text(), path)
    (p,) = e.value.problems
    assert (p.field, p.line) == ("conditions.B.ranker", 12)
    assert f"there is no plugin file {tmp_path / 'plugins' / 'nope.py'}" in p.message and "relative to the study file" in p.message


def test_validate_loads_the_plugin_and_reports_bad_parameters_and_failures_on_their_lines(tmp_path):
    path = study(tmp_path, '[conditions.A]\nranker = "plugins/topic_average.py:TopicAverage"\n'
                           'params = { novelty = 9, nope = 1 }\n\n'
                           '[conditions.B]\nranker = "plugins/broken.py:Broken"\n\n'
                           '[conditions.C]\nranker = "plugins/broken.py:Missing"\n')
    code, result = validate(path)
    assert code == 1 and not result["ok"]
    got = {(p["field"], p["line"]): p["message"] for p in result["problems"] if p["severity"] == "error"}
    assert set(got) == {("conditions.A.params.novelty", 10), ("conditions.A.params.nope", 10),
                        ("conditions.B.ranker", 13), ("conditions.C.ranker", 16)}
    assert "must be between 0 and 5, not 9" in got[("conditions.A.params.novelty", 10)]
    assert "has no parameter 'nope'" in got[("conditions.A.params.nope", 10)]
    assert "ZeroDivisionError" in got[("conditions.B.ranker", 13)] and "line 10 of broken.py, in learn_one" in got[("conditions.B.ranker", 13)]
    assert "defines no class 'Missing' (it defines: Broken)" in got[("conditions.C.ranker", 16)]
    s = parse_study(path.read_text(), path)  # parsing alone runs no plugin code: it parses
    assert [c.name for c in s.conditions] == ["A", "B", "C"] and check_plugins(s, path.read_text())


def test_validate_refuses_a_plugin_the_session_would_stop_at_every_call(tmp_path):
    """Seen in a new-user trial: a plugin whose scores took 200 ms validated; in the session every call was
    stopped at the app's 50 ms and foryou served the whole condition (each impression's policy said so)."""
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "slow.py").write_text(
        "import time\nimport numpy as np\nfrom feedapp.core.rankers import BaseRanker\n\n"
        "class Slow(BaseRanker):\n    name = 'slow'\n\n    def scores(self, rng):\n"
        "        time.sleep(0.08)\n        return np.zeros(self.space.n)\n")
    path = study(tmp_path, '[conditions.A]\nranker = "plugins/slow.py:Slow"\n')
    (p,) = check_plugins(parse_study(path.read_text(), path), path.read_text())
    assert (p.field, p.line, p.severity) == ("conditions.A.ranker", 9, "error")
    assert "scores() over the 50 ms the app gives one call into a plugin, so in a lab session each such call " \
           "would be stopped and foryou would serve instead" in p.message
