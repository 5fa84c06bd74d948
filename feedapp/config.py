"""Settings: one frozen dataclass, built from defaults and command-line flags, validated with clear errors."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
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
    ranker: str = "foryou"
    ranker_params: dict[str, float] = field(default_factory=dict)

    def validate(self) -> Settings:
        if self.skip_threshold_ms < 0:
            raise ConfigError(f"skip threshold must be 0 ms or more, not {self.skip_threshold_ms} ms")
        if self.skip_threshold_ms > 600_000:
            raise ConfigError(f"skip threshold of {self.skip_threshold_ms} ms is over 10 minutes; give it in milliseconds")
        return self


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
    return out
