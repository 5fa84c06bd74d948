"""What the terminal says when a plugin ranker version starts serving (``watch_plugin``).

Seen in a new-user trial: saving a plugin printed the host's raw dict, "feedapp: ranker plugin
reloaded: {'path': '/tmp/p/mine.py', 'class': 'Mine', 'version': 2, ...}", and so did the
restart of the last good version after a failure."""

from __future__ import annotations

from feedapp.ui.app import watch_plugin


class _Host:
    failures: list = []

    def poll(self) -> None:
        pass


class _Engine:
    """What watch_plugin uses of a plugin-served FeedEngine: its host and its hooks."""

    plugin_host = _Host()

    def __init__(self) -> None:
        self.hooks: dict = {}

    def on(self, event: str, callback) -> None:  # noqa: ANN001
        self.hooks[event] = callback


class _View:
    def __init__(self) -> None:
        self.toasts: list[str] = []

    def show_toast(self, text: str, ms: int) -> None:
        self.toasts.append(text)


def test_reload_and_restart_lines_are_words(qapp, capsys):
    engine, view = _Engine(), _View()
    timer = watch_plugin(engine, view)
    try:
        reloaded = {"path": "/tmp/p/mine.py", "class": "Mine", "version": 2, "ranker": "mine", "views_replayed": 7,
                    "ms": 252.0, "restored": False}
        engine.hooks["ranker_did_reload"](reloaded)
        engine.hooks["ranker_did_reload"]({**reloaded, "version": 1, "views_replayed": 1, "ms": 48.6,
                                           "restored": True})
    finally:
        timer.stop()
    assert capsys.readouterr().err.splitlines() == [
        "feedapp: ranker plugin reloaded: Mine version 2 from /tmp/p/mine.py serves now (7 views replayed in 252 ms)",
        "feedapp: ranker plugin restarted: Mine version 1 from /tmp/p/mine.py serves now (1 view replayed in 49 ms)",
    ]
    assert view.toasts == ["Ranker plugin reloaded.", "Ranker plugin version 1 serves again."]
