"""The README's code is run, so it stays true to what the code does."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_scripting_the_feed_example_runs():
    section = README.split("### Scripting the feed", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 6  # the profile, then five queue entries
    assert "cats" in lines[0].split(",")[0]  # the viewer who lingers on cats gets cats on top


def test_readme_opens_with_the_two_commands_that_ci_runs():
    first_block = re.search(r"```bash\n(.*?)```", README, re.S).group(1)
    assert "bash scripts/demo.sh" in first_block and "bash scripts/test.sh" in first_block
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.strip().splitlines()[-1] == "bash scripts/test.sh"


def test_every_command_and_its_help_works():
    from feedapp.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    names = list(sub.choices)
    assert {"demo", "play", "scan", "sessions", "check", "export", "merge", "rankers", "simulate", "replay", "lab"} <= set(names)
    for name in [None, *names]:
        args = [sys.executable, "-m", "feedapp"] + ([name] if name else []) + ["--help"]
        out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and "usage: feedapp" in out.stdout, (name, out.stderr)
