"""The design rule, enforced: the core holds the domain only (no Qt, OpenCV, SQLite, matplotlib, TOML,
argparse, nor any other layer of feedapp), only feedapp.ui imports Qt, and the cycles stay broken."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _lint_imports() -> str:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert exe, "import-linter is part of the test extras; run scripts/setup.sh --test"
    return exe


def test_import_contracts_hold():
    out = subprocess.run([_lint_imports()], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "broken" in out.stdout and "0 broken" in out.stdout


@pytest.mark.parametrize("stray", [
    "import sqlite3", "import tomllib", "import argparse", "import matplotlib", "from feedapp.store import db",
    "from feedapp.commands import simulate", "from feedapp.ui import window",
])
def test_a_stray_import_in_the_core_breaks_a_contract(tmp_path, stray):
    # the contracts really see the core's imports: a copy of the package whose core has one more import fails
    shutil.copytree(ROOT / "feedapp", tmp_path / "feedapp", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "feedapp" / "core" / "catalog.py"
    target.write_text(target.read_text(encoding="utf-8") + f"\n{stray}\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = subprocess.run([_lint_imports(), "--no-cache"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert out.returncode == 1, out.stdout + out.stderr
    text = " ".join(out.stdout.split())
    assert "0 broken" not in text and "BROKEN" in text
    assert "feedapp.core.catalog -> " + stray.split()[1] in text, out.stdout


def test_core_imports_without_qt_or_cv2():
    code = (
        "import sys, feedapp.core.feed, feedapp.core.catalog, feedapp.core.model;"
        "bad=[m for m in ('PySide6','cv2','sqlite_utils') if m in sys.modules];"
        "print(bad); raise SystemExit(1 if bad else 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
