"""Errors every layer may raise for the person at the keyboard (its own module, so ``feedapp.ui``
never imports ``feedapp.cli``, which imports the UI lazily: no import cycle)."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the person at the keyboard: printed as one line, exit code 2."""
