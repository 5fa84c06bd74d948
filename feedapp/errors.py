"""Errors every layer may raise for the person at the keyboard (its own module, so ``feedapp.ui``
never imports ``feedapp.cli``, which imports the UI lazily: no import cycle)."""

from __future__ import annotations

import unicodedata


class UserError(Exception):
    """Bad input from the person at the keyboard: printed as one line, exit code 2."""


def visible(text: str) -> str:
    """Control characters (a newline or tab in a file name or title) as escapes ('new\\nline.mp4'), so a
    name stays on its one line of a table or message."""
    return "".join(ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) == "Cc" else ch
                   for ch in text)


def counted(n: int, word: str) -> str:
    """ "1 session", "2 sessions": a count in words (the lab's screens and lines said "1 session(s)")."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
