"""feedapp.lab stays Qt-free: the start dialog in feedapp.ui uses it, never the other way round."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_lab_imports_without_qt_or_cv2():
    code = (
        "import sys, feedapp.lab.study, feedapp.lab.report, feedapp.lab.withdraw, feedapp.lab.commands, "
        "feedapp.lab.data, feedapp.lab.stats;"
        "bad=[m for m in ('PySide6','cv2') if m in sys.modules]; print(bad); raise SystemExit(1 if bad else 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_no_lab_module_names_qt():
    for path in (ROOT / "feedapp" / "lab").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "PySide6" not in text.replace("keeps PySide6 out", ""), path
