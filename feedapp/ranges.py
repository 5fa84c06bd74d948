"""The range of every number a person can type: CLI options, study files and the start dialog.

Each range fits what the code downstream can actually hold, and is checked at the edge, before any
session row exists (docs/reliability.md, "Input validation"):

- seeds go into ``sessions.seed``, a SQLite INTEGER (64-bit signed), and into numpy and ``random``
  (non-negative): 0 .. 2**63 - 1;
- times that end up in a Qt timer (``QTimer.start`` takes a signed 32-bit millisecond count:
  2,147,483,647 ms is 35,791 minutes) stay well inside it;
- sizes of a simulation stay within this machine's memory and a few minutes of work.

``Range.problem(value)`` is the sentence a study file's problem list shows ("must be between ...");
``Range.arg`` is the argparse ``type=`` that turns a typed word into a number or a one-line error.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass

#: SQLite's INTEGER is a signed 64-bit number: the largest seed that can be stored in sessions.seed.
SEED_MAX = 2**63 - 1
#: Qt timers take a signed 32-bit count of milliseconds.
QT_TIMER_MS_MAX = 2**31 - 1


def shown(value: object, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters, so a pasted novel does not fill the terminal."""
    try:
        text = repr(value)
    except ValueError:  # an int of more than 4,300 digits has no repr (sys.get_int_max_str_digits)
        return "a number of thousands of digits"
    return text if len(text) <= limit else f"{text[:limit - 12]}... ({len(text):,} characters)"


def _fmt(x: float) -> str:
    if isinstance(x, int) or (isinstance(x, float) and x.is_integer() and abs(x) < 1e15):
        return f"{int(x):,}"
    return f"{x:g}"


@dataclass(frozen=True)
class Range:
    """A closed range ``lo <= x <= hi`` (``lo_open``: ``lo < x``) of whole numbers or finite numbers."""

    name: str  # how the CLI calls it, e.g. "--seed"
    lo: float
    hi: float
    whole: bool = True
    lo_open: bool = False
    unit: str = ""
    why: str = ""  # what the upper end is for, said after a value above it

    def span(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        if self.lo_open:
            return f"above {_fmt(self.lo)} and at most {_fmt(self.hi)}{unit}"
        return f"between {_fmt(self.lo)} and {_fmt(self.hi)}{unit}"

    def problem(self, value: object) -> str | None:
        """None when ``value`` is in range; else a sentence starting with "must ..."."""
        kind = "a whole number" if self.whole else "a number"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be {kind}, not {shown(value)}"
        if self.whole and not isinstance(value, int):
            return f"must be {kind}, not {shown(value)}"
        if isinstance(value, float) and not math.isfinite(value):
            return f"must be {self.span()}, not {value}"
        low = value <= self.lo if self.lo_open else value < self.lo
        if low or value > self.hi:
            return f"must be {self.span()}, not {shown(value)}" + (f" ({self.why})" if value > self.hi and self.why else "")
        return None

    def parse(self, text: str) -> int | float:
        """The number in ``text``; ValueError with a sentence naming the option when it is not one in range."""
        word = text.strip()
        try:
            value: int | float = int(word, 10) if self.whole else float(word)
        except ValueError:
            kind = "a whole number" if self.whole else "a number"
            raise ValueError(f"{self.name} must be {kind}, not {shown(text)}") from None
        bad = self.problem(value)
        if bad:
            raise ValueError(f"{self.name} {bad}")
        return value

    @property
    def arg(self) -> Callable[[str], int | float]:
        """An argparse ``type=``: its error becomes argparse's usual one-line error and exit code 2."""

        def convert(text: str) -> int | float:
            try:
                return self.parse(text)
            except ValueError as e:
                raise argparse.ArgumentTypeError(str(e).removeprefix(f"{self.name} ")) from None

        convert.__name__ = self.name.lstrip("-").replace("-", "_") or "number"
        return convert


SEED = Range("--seed", 0, SEED_MAX, unit="", why="a seed is stored as a 64-bit SQLite INTEGER")
SKIP_THRESHOLD_MS = Range("--skip-threshold", 0, 600_000, unit="ms", why="give it in milliseconds; 600,000 ms is 10 minutes")
#: [limits] minutes: a lab session of at most a day (a Qt timer could not count past 35,791 minutes).
LIMIT_MINUTES = Range("minutes", 0, 24 * 60, whole=False, lo_open=True, unit="minutes",
                      why="a session of at most 24 hours")
#: each call into a plugin ranker (feedapp.core.isolation); above 10 s a hung plugin would hang the feed for good.
PLUGIN_BUDGET_MS = Range("--plugin-budget", 0, 10_000, whole=False, lo_open=True, unit="ms",
                         why="a call that takes longer freezes the feed; 50 ms is the default")
LIMIT_VIEWS = Range("views", 1, 100_000, why="leave it out for no view limit")
PRACTICE_CLIPS = Range("clips", 0, 1_000)
AUTOPILOT_SPEED = Range("--autopilot-speed", 0.01, 100.0, whole=False,
                        why="the autopilot's fastest pace is a swipe every few milliseconds already")
#: the window's zoom (feedapp.ui.window.ZOOM_RANGE): below half size text is unreadable, above 3x a panel
#: no longer fits a screen's height.
SCALE = Range("--scale", 0.5, 3.0, whole=False, why="at 3 a panel already fills a 4K screen's height")
#: hidden --quit-after (tests, benchmarks): a Qt single-shot timer in milliseconds.
QUIT_AFTER = Range("--quit-after", 0, QT_TIMER_MS_MAX // 1000, whole=False, lo_open=True, unit="seconds")
#: hidden --quit-after-clips (tests): end once this many clips have arrived
QUIT_AFTER_CLIPS = Range("--quit-after-clips", 1, 100_000)
SIM_VIEWERS = Range("--viewers", 1, 10_000, why="memory and time of one run; split larger studies over seeds")
SIM_VIEWS = Range("--views", 1, 10_000, why="memory and time of one run")
SIM_CREATORS = Range("--creators", 1, 100_000, why="one clip per creator in a 100,000-clip catalog")
SIM_DEMO_CREATORS = 1_000  # --creators without --catalog-size: a demo-like catalog of about three clips per creator
SIM_CATALOG_SIZE = Range("--catalog-size", 1, 100_000, why="memory and time of one run")
SIM_TOPICS = Range("--topics", 1, 1_000, why="a thousand topics already leave most with a handful of clips in 10k")
SIM_WORKERS = Range("--workers", 1, 64, why="processes that run the simulated viewers' shards")
SIM_AT = Range("VIEW", 1, 10_000)  # --switch-at, --newcomer-at (simulate also checks them against --views)
LAB_BLOCK = Range("--block", 0, 1_000)
