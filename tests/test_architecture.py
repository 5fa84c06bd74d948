"""The design rule, enforced: the core imports no Qt/OpenCV/SQLite and only feedapp.ui imports Qt."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert exe, "import-linter is part of the test extras; run scripts/setup.sh --test"
    out = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "broken" in out.stdout and "0 broken" in out.stdout


def test_core_imports_without_qt_or_cv2():
    code = (
        "import sys, feedapp.core.feed, feedapp.core.catalog, feedapp.core.model;"
        "bad=[m for m in ('PySide6','cv2','sqlite_utils') if m in sys.modules];"
        "print(bad); raise SystemExit(1 if bad else 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
