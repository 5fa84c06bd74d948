"""Settings: one frozen dataclass, built from defaults and command-line flags, validated with clear errors."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def is_checkout(root: Path | None = None) -> bool:
    """True when feedapp runs from a source checkout (its pyproject.toml sits beside the package), not
    from an installed copy in site-packages."""
    root = ROOT if root is None else root
    return (root / "pyproject.toml").is_file() and (root / "feedapp" / "__init__.py").is_file()


def user_dir() -> Path:
    """The user's data folder for an installed feedapp (platformdirs: ``~/.local/share/feedapp`` on Linux,
    ``~/Library/Application Support/feedapp`` on macOS, ``%LOCALAPPDATA%\\feedapp`` on Windows)."""
    from platformdirs import user_data_path

    return user_data_path("feedapp", appauthor=False)


def default_data_dir() -> Path:
    """Where the database, end cards and settings go: ``$FEEDAPP_DATA`` if set; else ``data/`` in the
    checkout when running from one; else the user's data folder (never the install folder)."""
    env = os.environ.get("FEEDAPP_DATA")
    if env:
        return Path(env).expanduser()
    return ROOT / "data" if is_checkout() else user_dir() / "data"


def default_demo_dir() -> Path:
    """Where the demo clips are made: ``$FEEDAPP_DEMO_DIR`` if set; else ``assets/demo`` in the checkout;
    else ``demo/`` in the user's data folder."""
    env = os.environ.get("FEEDAPP_DEMO_DIR")
    if env:
        return Path(env).expanduser()
    return ROOT / "assets" / "demo" if is_checkout() else user_dir() / "demo"


SCALE_RANGE = (0.5, 3.0)  # feedapp.ranges.SCALE (checked there for --scale); here for what window.json may hold
PREFS_FILE = "window.json"


def load_prefs(folder: Path | None = None) -> dict:
    """What the window remembers between runs (``{"zoom": 1.3}``) from ``folder/window.json``
    (default: the data folder); an unreadable or odd file gives ``{}`` (the defaults), never an error."""
    import json

    path = (default_data_dir() if folder is None else Path(folder)) / PREFS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    zoom = data.get("zoom")
    ok = isinstance(zoom, (int, float)) and not isinstance(zoom, bool) and SCALE_RANGE[0] <= zoom <= SCALE_RANGE[1]
    return {"zoom": float(zoom)} if ok else {}


def save_prefs(prefs: dict, folder: Path | None = None) -> bool:
    """Write ``prefs`` to ``folder/window.json`` (replacing it whole); False when it cannot be written."""
    import json

    folder = default_data_dir() if folder is None else Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / (PREFS_FILE + ".tmp")
        tmp.write_text(json.dumps(prefs), encoding="utf-8")
        tmp.replace(folder / PREFS_FILE)
    except OSError:
        return False
    return True


class ConfigError(ValueError):
    """A setting that cannot work, with a message meant for the person who gave it."""


@dataclass(frozen=True)
class Settings:
    db_path: Path
    seed: int = 0
    muted: bool = False
    fullscreen: bool = False
    skip_threshold_ms: int = 3000
    ranker: str = "foryou"
    ranker_params: dict[str, float] = field(default_factory=dict)
    plugin_budget_ms: float = 50.0  # each call into a plugin ranker; feedapp.core.isolation.DEFAULT_BUDGET_MS
    scale: float | None = None  # the window's zoom; None: the one remembered from the last run (prefs)

    def validate(self) -> Settings:
        """The same ranges as the CLI's (feedapp.ranges), for settings built in code."""
        from feedapp.ranges import PLUGIN_BUDGET_MS, SCALE, SEED, SKIP_THRESHOLD_MS

        checks = [(SEED, self.seed), (SKIP_THRESHOLD_MS, self.skip_threshold_ms), (PLUGIN_BUDGET_MS, self.plugin_budget_ms)]
        if self.scale is not None:
            checks.append((SCALE, self.scale))
        for rng, value in checks:
            bad = rng.problem(value)
            if bad:
                raise ConfigError(f"{rng.name} {bad}")
        return self


def parse_taste(text: str) -> tuple[str, ...]:
    """``--autopilot`` 'cats, art' -> ('cats', 'art'); empty parts dropped; ConfigError when nothing is left."""
    topics = tuple(dict.fromkeys(t.strip().lstrip("#") for t in text.split(",") if t.strip().lstrip("#")))
    if not topics:
        raise ConfigError("give the autopilot's taste as comma-separated topics, e.g. --autopilot cats,art")
    return topics


def parse_params(items: list[str] | None) -> dict[str, float]:
    """``["epsilon=0.1", "max_same_topic=2"]`` -> ``{"epsilon": 0.1, "max_same_topic": 2.0}``."""
    out: dict[str, float] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"--param takes NAME=VALUE (e.g. --param epsilon=0.1), not {item!r}")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"--param {name.strip()}: {value!r} is not a number") from None
        if not math.isfinite(out[name.strip()]):
            raise ConfigError(f"--param {name.strip()}: {value!r} is not a finite number")
    return out
