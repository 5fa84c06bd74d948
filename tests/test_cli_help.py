"""Every `--option` that a command's --help mentions is one the CLI really has."""

from __future__ import annotations

import argparse
import re

from feedapp.cli import build_parser


def _parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*path, name))


def test_help_texts_mention_only_options_that_exist():
    parsers = list(_parsers(build_parser()))
    known = {o for _, p in parsers for a in p._actions for o in a.option_strings}
    assert {"--viewers", "--ranker", "--participant"} <= known  # the walk reaches the nested commands
    unknown = {" ".join(path) or "feedapp": sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", p.format_help())) - known)
               for path, p in parsers}
    assert {cmd: opts for cmd, opts in unknown.items() if opts} == {}


def test_the_command_list_names_every_export_format():
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    summary = next(c.help for c in commands._choices_actions if c.dest == "export")
    formats = next(a.choices for a in commands.choices["export"]._actions if a.dest == "format")
    assert [f for f in formats if f.lower() not in summary.lower()] == []


def test_the_plugin_budget_help_says_what_serves_after_a_cut_off_call():
    # it said "the feed goes on with its last good version": the built-in foryou serves at once and the last
    # good version only after it has restarted (docs/reliability.md, Plugins; tests/ui/test_plugin_isolation.py)
    parsers = dict(_parsers(build_parser()))
    for cmd in (("play",), ("demo",)):
        action = next(a for a in parsers[cmd]._actions if "--plugin-budget" in a.option_strings)
        assert "foryou serves at once" in action.help and "once it has restarted" in action.help, cmd


def test_the_check_ranker_budget_help_names_every_method_it_times():
    # restrict and explain are timed too when the plugin has them (feedapp.core.contract._budget, 1ac4c72); the
    # help named learn_one and scores only
    action = next(a for a in dict(_parsers(build_parser()))[("check-ranker",)]._actions
                  if "--plugin-budget" in a.option_strings)
    assert all(m in action.help for m in ("learn_one", "scores", "restrict", "explain")), action.help
