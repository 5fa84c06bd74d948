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

    def validate(self) -> Settings:
        """The same ranges as the CLI's (feedapp.ranges), for settings built in code."""
        from feedapp.ranges import PLUGIN_BUDGET_MS, SEED, SKIP_THRESHOLD_MS

        for rng, value in ((SEED, self.seed), (SKIP_THRESHOLD_MS, self.skip_threshold_ms),
                           (PLUGIN_BUDGET_MS, self.plugin_budget_ms)):
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
