"""Settings: one frozen dataclass, built from defaults and command-line flags, validated with clear errors."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def default_data_dir() -> Path:
    """``data/`` beside the package when running from a checkout, else ``$FEEDAPP_DATA``."""
    env = os.environ.get("FEEDAPP_DATA")
    return Path(env) if env else ROOT / "data"


def default_demo_dir() -> Path:
    env = os.environ.get("FEEDAPP_DEMO_DIR")
    return Path(env) if env else ROOT / "assets" / "demo"


class ConfigError(ValueError):
    """A setting that cannot work, with a message meant for the person who gave it."""


@dataclass(frozen=True)
class Settings:
    db_path: Path
    seed: int = 0
    muted: bool = False
    fullscreen: bool = False
    skip_threshold_ms: int = 3000

    def validate(self) -> Settings:
        if self.skip_threshold_ms < 0:
            raise ConfigError(f"skip threshold must be 0 ms or more, not {self.skip_threshold_ms} ms")
        return self
