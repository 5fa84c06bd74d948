"""The names of the simulated viewer kinds, with one line each (kept light: the CLI's help reads them
without importing numpy; the behaviour is in ``sim_viewers``)."""

KINDS: dict[str, str] = {
    "one_topic": "likes one topic",
    "several_topics": "likes 2-3 topics and never watches a clip to its end (partial watching)",
    "creator_fan": "likes every clip of one creator, whatever its topic",
    "short_lover": "finishes every short clip whatever its topic, but likes only one topic",
    "switcher": "likes one topic, then another from view 50 (--switch-at moves it)",
    "mixed": "a mix of the five kinds above, with noisy dwell and idle pauses",
}
