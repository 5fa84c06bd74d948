"""Presets: ranker parameters to flat TOML and back, validated against the parameter spec."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from feedapp.core.engine import FeedEngine
from feedapp.core.presets import PresetError, apply_preset
from feedapp.preset_files import dumps_preset, load_preset, loads_preset, save_preset
from feedapp.core.rankers import RANKERS, make_ranker
from feedapp.core.simulate import demo_like_catalog

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plugins" / "topic_average.py"


@pytest.mark.parametrize("name", sorted(RANKERS))
def test_every_rankers_full_parameter_set_round_trips(tmp_path, name):
    r = make_ranker(name)
    # move every value off its default, staying in range (ints stay whole)
    params = {}
    for p in r.spec():
        v = p.min + (p.max - p.min) * 0.37 if p.max - p.min < 1e4 else p.default + 3
        params[p.name] = int(round(v)) if p.kind == "int" else v
    path = save_preset(tmp_path / f"{name}.toml", name, params)
    text = path.read_text()
    assert tomllib.loads(text)["ranker"] == name  # plain TOML any reader understands
    assert all(isinstance(v, (int, float, str)) for v in tomllib.loads(text).values())  # flat
    pre = load_preset(path)
    assert pre.ranker == name and pre.params == params
    for p in r.spec():
        assert isinstance(pre.params[p.name], int if p.kind == "int" else float)


def test_partial_preset_and_comments_with_ranges():
    text = dumps_preset("foryou", {"decay": 0.9, "repeat_gap": 4})
    assert "# weight kept by past views" in text and "[0.5 .. 1, default 0.99]" in text
    assert loads_preset(text).params == {"decay": 0.9, "repeat_gap": 4}


@pytest.mark.parametrize("text, match", [
    ('ranker = "foryou"\ndecay = 2.0\n', r"x.toml: ranker 'foryou': parameter decay must be between 0.5 and 1"),
    ('ranker = "foryou"\nspeed = 1\n', r"x.toml: ranker 'foryou' has no parameter 'speed' \(it has: decay,"),
    ('ranker = "foryou"\nrepeat_gap = 2.5\n', "repeat_gap must be a whole number"),
    ('ranker = "foryou"\nepsilon = "lots"\n', "epsilon must be a number, not 'lots'"),
    ('ranker = "foryou"\nepsilon = true\n', "epsilon must be a number, not True"),
    ('ranker = "foryou"\nepsilon = nan\n', "epsilon must be a finite number"),
    ('ranker = "tiktok"\n', "no ranker called 'tiktok'"),
    ('decay = 0.9\n', 'names no ranker; add a line like ranker = "foryou"'),
    ('ranker = "foryou"\n[params]\ndecay = 0.9\n', r"a preset is flat .* \[params\]"),
    ('ranker = "foryou"\ndecay = \n', "x.toml is not valid TOML: .*line 2"),
    ('ranker = 3\n', "ranker must be a name in quotes"),
])
def test_bad_presets_are_one_clear_sentence(tmp_path, text, match):
    p = tmp_path / "x.toml"
    p.write_text(text)
    with pytest.raises(PresetError, match=match) as e:
        load_preset(p)
    assert "\n" not in str(e.value) and isinstance(e.value, ValueError)


def test_missing_file_and_ranker_mismatch(tmp_path):
    with pytest.raises(PresetError, match="there is no preset file"):
        load_preset(tmp_path / "nope.toml")
    p = save_preset(tmp_path / "a.toml", "popular", {"epsilon": 0.2})
    with pytest.raises(PresetError, match="is a preset for ranker 'popular', not 'foryou'"):
        load_preset(p, ranker="foryou")
    with pytest.raises(PresetError, match="must be between"):
        save_preset(tmp_path / "b.toml", "foryou", {"epsilon": 5})
    assert not (tmp_path / "b.toml").exists()


def test_plugin_ranker_presets(tmp_path):
    spec = f"{EXAMPLE}:TopicAverage"
    p = save_preset(tmp_path / "plugin.toml", spec, {"novelty": 1.25, "epsilon": 0.1})
    pre = load_preset(p)
    assert pre.ranker == spec and pre.params == {"novelty": 1.25, "epsilon": 0.1}


def test_apply_preset_to_a_running_engine_logs_each_change():
    eng = FeedEngine(demo_like_catalog(0), "foryou", seed=1)
    log = []
    eng.on("ranker_param_did_change", lambda n, old, new: log.append((n, old, new)))
    pre = loads_preset('ranker = "foryou"\ndecay = 0.9\nepsilon = 0.05\noptimism = 0.5\n')
    changed = apply_preset(eng, pre)
    assert changed == log == [("decay", 0.99, 0.9), ("optimism", 0.3, 0.5)]  # epsilon was already 0.05
    assert eng.ranker.params["decay"] == 0.9
    with pytest.raises(PresetError, match="has no parameter 'novelty'"):
        apply_preset(eng, loads_preset(f'ranker = "{EXAMPLE}:TopicAverage"\nnovelty = 1.0\nepsilon = 0.3\n'))
    assert eng.ranker.params["epsilon"] == 0.05  # nothing applied
