"""`feedapp simulate` with a broken plugin: one line naming the plugin, exit code 2, never a traceback."""

from __future__ import annotations

import textwrap

import pytest

from feedapp.commands.simulate import run_simulate_command

HEAD = """\
import numpy as np
from feedapp.core.rankers import BaseRanker


class Mine(BaseRanker):
    name = "mine"

    def __init__(self, seed=0, **params):
        super().__init__(seed, **params)
        self.seen = 0

    def learn_one(self, clip, reward):
        self.seen += 1
"""


def _plugin(tmp_path, body: str) -> str:
    path = tmp_path / "mine.py"
    path.write_text(HEAD + textwrap.indent(textwrap.dedent(body), "    "))
    return f"{path}:Mine"


@pytest.mark.parametrize("body, says", [
    ("def scores(self, rng):\n    raise RuntimeError('boom in scores')\n",
     "raised RuntimeError: boom in scores (at line 15 of mine.py, in scores)"),
    ("def scores(self, rng):\n    return np.full(self.space.n, np.nan)\n", "non-finite score"),
    ("def scores(self, rng):\n    return np.zeros(3)\n", "not (3,)"),
])
def test_a_plugin_that_cannot_score_is_refused_in_one_line_before_the_run(tmp_path, capsys, body, says):
    spec = _plugin(tmp_path, body)
    for ranker, compare in ((spec, None), ("random", [spec])):
        assert run_simulate_command(3, 10, ranker, 0, workers=1, progress=False, compare=compare) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.startswith(f"feedapp: {spec}: ") and says in err and err.count("\n") == 1


@pytest.mark.parametrize("workers", [1, 2])
def test_a_plugin_that_fails_later_in_the_run_is_one_line_naming_its_file_and_line(tmp_path, capsys, workers):
    spec = _plugin(tmp_path, """\
        def learn_one(self, clip, reward):
            self.seen += 1
            if self.seen > 12:  # past the quick check's few views (6, then 5 timed)
                raise OSError("late failure")

        def scores(self, rng):
            return np.zeros(self.space.n)
        """)
    assert run_simulate_command(3, 15, spec, 0, workers=workers, progress=True) == 2
    out, err = capsys.readouterr()
    last = err.splitlines()[-1]
    assert out == "" and "Traceback" not in err
    assert last == (f"feedapp: plugin {spec} raised OSError: late failure (at line 17 of mine.py, in learn_one) "
                    "while simulating; fix it and simulate again")


def test_a_plugin_named_like_one_of_feedapps_files_is_not_blamed_for_feedapps_own_errors(tmp_path, capsys):
    """A plugin file called ``simulate.py`` (or ``policy.py``, ...): a bad option raised in feedapp's own
    ``simulate.py`` is said as itself, not as "plugin simulate.py:Mine raised ValueError ..."."""
    path = tmp_path / "simulate.py"
    path.write_text(HEAD + "\n    def scores(self, rng):\n        return np.zeros(self.space.n)\n")
    assert run_simulate_command(2, 5, f"{path}:Mine", 0, workers=1, progress=False, topics=3) == 2
    assert capsys.readouterr().err == ("feedapp: --topics sets the topics of a generated catalog: give "
                                       "--catalog-size too\n")


def test_a_plugin_that_writes_into_the_shared_feature_space_is_stopped_at_its_line(tmp_path, capsys):
    """The rankers of a simulated viewer share one FeatureSpace with the policy: a plugin that zeroed
    ``self.space.T`` in place made foryou beside it and the policy's topic rules see no topics (foryou's
    liked share fell from 0.85 to 0.22, silently), while in the app its worker only changed its own copy."""
    spec = _plugin(tmp_path, """\
        def scores(self, rng):
            self.space.T[:] = 0
            return np.zeros(self.space.n)
        """)
    assert run_simulate_command(3, 10, spec, 0, workers=1, progress=False, compare=["foryou"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert "raised ValueError: assignment destination is read-only (at line 15 of mine.py, in scores)" in err


@pytest.mark.parametrize("params, says", [
    ({"novelty": 1.0}, "ranker 'mine' has no parameter 'novelty' (it has: epsilon, "),
    ({"epsilon": 5.0}, "ranker 'mine': parameter epsilon must be between 0 and 1, not 5.0"),
])
def test_a_wrong_param_for_a_plugin_is_the_command_lines_mistake_not_the_plugins(tmp_path, capsys, params, says):
    """--param with a name the plugin lacks or a value out of range: said as the ranker's one sentence, as
    for a built-in ranker; it read 'plugin mine.py:Mine raised ParameterError: ... (at line 9 of mine.py, in
    __init__) while simulating; fix it and simulate again', pointing at the plugin's super().__init__."""
    spec = _plugin(tmp_path, "def scores(self, rng):\n    return np.zeros(self.space.n)\n")
    assert run_simulate_command(3, 10, spec, 0, workers=1, progress=False, params=params) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"feedapp: {says}") and err.count("\n") == 1
    assert "mine.py" not in err and "while simulating" not in err


def test_what_a_plugin_prints_goes_to_stderr_and_json_stays_json(tmp_path, capsys):
    """A developer's debug print in scores went to stdout, into simulate's (and replay's, check-ranker's)
    report: --json output no longer parsed ('Expecting value: line 1 column 1')."""
    import json

    from feedapp.commands.replay import run_check_ranker_command

    spec = _plugin(tmp_path, "def scores(self, rng):\n    print('debug: scoring', self.space.n)\n"
                             "    return np.zeros(self.space.n)\n")
    assert run_simulate_command(3, 6, spec, 0, workers=1, progress=False, as_json=True) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["viewers"] == 3 and "debug: scoring 64" in err
    assert run_check_ranker_command(spec, draws=1000, as_json=True) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["passed"] and "debug: scoring 40" in err


def test_workers_with_viewer_kind_is_refused_not_ignored(capsys):
    """--viewer-kind runs its viewers in one process: '--workers 4' was silently ignored (one process, slower
    than asked); like --plot and --newcomer-at there, it is now one line."""
    assert run_simulate_command(2, 5, "random", 0, workers=4, progress=False, viewer_kind="one_topic") == 2
    assert capsys.readouterr().err == ("feedapp: --workers is not available with --viewer-kind (its viewers run in "
                                       "one process)\n")
    assert run_simulate_command(2, 5, "random", 0, progress=False, viewer_kind="one_topic", compare=["random"]) == 0


def test_a_plugin_too_slow_for_the_app_is_simulated_with_a_note(tmp_path, capsys):
    """The simulator calls plugins without a time budget, so a plugin whose scores take 60 ms ran and scored
    well there, and the developer learned only in the app that every call was stopped and foryou served."""
    spec = _plugin(tmp_path, "def scores(self, rng):\n    import time\n    time.sleep(0.06)\n"
                             "    return np.zeros(self.space.n)\n")
    assert run_simulate_command(1, 3, spec, 0, workers=1, progress=False) == 0
    out, err = capsys.readouterr()
    assert out.startswith("1 simulated viewers x 3 views")
    assert err.startswith(f"feedapp: note: {spec}: learn_one() ") and err.count("\n") == 1
    assert ("scores() over the 50 ms the app gives one call into a plugin (--plugin-budget), so in the app each such "
            "call would be stopped and foryou would serve instead; make it faster") in err


@pytest.mark.parametrize("returns, says, workers", [
    ("s > 0", "scores() must return numbers, not dtype bool", 1),
    ("list(s)", "scores() must return a numpy array, not list", 1),
    ("s[:-1]", "scores() must return one score per clip, shape (64,), not (63,)", 2),
])
def test_scores_the_app_would_refuse_later_in_the_run_are_one_line_naming_the_plugin(tmp_path, capsys, returns, says,
                                                                                       workers):
    """Past the quick check, scores the app's guard refuses at every call (foryou serving there): a boolean
    mask or a list was simulated as if the plugin served, and a wrong shape ended in the policy's traceback
    ('IndexError: index 63 is out of bounds for axis 0 with size 63', exit code 1)."""
    spec = _plugin(tmp_path, f"""\
        def scores(self, rng):
            s = np.zeros(self.space.n)
            return {returns} if self.seen > 12 else s  # past the quick check's 11 views
        """)
    assert run_simulate_command(3, 15, spec, 0, workers=workers, progress=False) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err and err.count("\n") == 1
    assert err == f"feedapp: plugin {spec}: {says} while simulating; fix it and simulate again\n"
