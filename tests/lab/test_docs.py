"""docs/researchers.md documents every key a study file may hold, and its assign example is true."""

from pathlib import Path

from feedapp.lab.study import _CONDITION_KEYS, _SCHEMA, load_study

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "researchers.md").read_text(encoding="utf-8")


def test_every_study_key_is_documented():
    for section, keys in _SCHEMA.items():
        for key in keys:
            assert f"| `[{section}] {key}` |" in DOC, (section, key)
    for key in _CONDITION_KEYS:
        name = "`[conditions.NAME.params]`" if key == "params" else f"`[conditions.NAME] {key}`"
        assert f"| {name} |" in DOC, key


def test_assign_example_in_the_guide_is_what_the_code_gives():
    study = load_study(ROOT / "examples" / "study.toml")
    for pid in ("P01", "P02"):
        a = study.assign(pid)
        assert f"{pid}: {a.condition.name} ({a.condition.ranker}), seed {a.seed}" in DOC


def test_the_example_studys_texts_break_lines_only_between_sentences():
    """Line breaks in consent, instructions and debrief are shown as written: a break mid-sentence in
    the example (wrapped for the editor) showed as a ragged line on the participant's screen."""
    study = load_study(ROOT / "examples" / "study.toml")
    for text in (study.consent, study.instructions, study.debrief, study.practice.instructions):
        for line in text.strip().splitlines():
            assert line.rstrip()[-1] in ".?!:", line
