"""The codebook: every exported column with its type, unit and meaning. One source for two outputs:
``docs/data.md`` (its column tables are generated from this: ``python -m feedapp.store.codebook docs/data.md``
rewrites them, and a test checks they agree) and the ``codebook.csv`` written into every export, so an
analyst loads each file with the right types (``TYPES``: text, integer, real, JSON).
"""

from __future__ import annotations

CODEBOOK: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "sessions": (
        ('id', 'text', 'UUID',
         "the session's id"),
        ('app_version', 'text', '',
         'feedapp version that recorded it'),
        ('mode', 'text', '`demo`, `play`, `lab`, `practice`, `simulate`',
         'how the app was run'),
        ('ranker', 'text', '',
         "name of the ranker the session serves with (a plugin's `name`); a slot another ranker served in its "
         "place, a plugin's fallback `foryou` while it failed or restarted, says so in `impressions.policy`"),
        ('ranker_params', 'text', 'JSON object',
         "the ranker's parameters at the start"),
        ('seed', 'integer', '',
         'seed of the feed order (same seed, same catalog: same feed)'),
        ('catalog_fingerprint', 'text', '',
         'short hash of the clip ids and durations: equal catalogs match'),
        ('catalog_size', 'integer', 'clips',
         'number of clips in the catalog at the start'),
        ('participant', 'text', '',
         'pseudonymous participant id; `""` in demo mode'),
        ('condition', 'text', '',
         'experimental condition; `""` in demo mode'),
        ('skip_threshold_ms', 'integer', 'ms',
         'a view with less play than this is a skip'),
        ('started_utc', 'text', 'ISO 8601 UTC',
         'when the session started'),
        ('started_mono_ns', 'integer', 'ns, monotonic',
         'when the session started'),
        ('ended_utc', 'text', 'ISO 8601 UTC',
         'when it ended; NULL while running'),
        ('ended_mono_ns', 'integer', 'ns, monotonic',
         'when it ended; NULL while running'),
        ('end_reason', 'text', '`finished`, `quit`, `time_limit`, `recovered_after_crash`, `error`, `terminal_closed`, `terminated`, `consent_refused`',
         'why it ended; NULL while running (or crashed and not yet recovered). A lab session ended by its '
         '`[limits]` (views or minutes) is `finished`, and its `limit_reached` event says which limit; '
         '`time_limit` is a valid value that feedapp itself never writes'),
        ('host', 'text', '',
         'host name of the machine that recorded it'),
        ('study', 'text', '',
         'the lab study\'s name (from its study file); `""` outside lab sessions (schema 3). A practice block (mode `practice`) carries its study\'s name too; older files tie it by its `practice` event'),
        ('pid', 'integer', '',
         'process id of the app that recorded it: on the next start, an open session of this host whose process is gone is recovered at once (schema 3)'),
        ('boot_id', 'text', 'UUID',
         'the kernel\'s id of the boot it was recorded in (`/proc/sys/kernel/random/boot_id`); a session of this host from another boot is over whatever its pid is now; `""` when unknown (not Linux, or recorded before schema 4)'),
        ('proc_start', 'integer', 'clock ticks after boot',
         'start time of the recording process (field 22 of `/proc/PID/stat`): a pid that now belongs to a process started at another time was reused, so the session is over; NULL when unknown (schema 4)'),
        ('fields', 'text', 'JSON object',
         "a lab study's start-dialog fields (`[[fields]]` of the study file: name -> value; numbers as numbers); `{}` without them (schema 6)"),
    ),
    "clips": (
        ('key', 'text', '`<id>@<12 hex digits>`',
         "this version's key: the clip id and a SHA-256 of the other columns, so the same facts give the same key on every machine"),
        ('id', 'text', '',
         "the clip's id (the sidecar's `id`, else derived from the file)"),
        ('path', 'text', '',
         'file path on the recording machine'),
        ('title', 'text', '',
         'title (from the sidecar, else the file name)'),
        ('topics', 'text', 'JSON array of strings',
         'topics (from the sidecar, else the parent folder name)'),
        ('creator', 'text', '',
         'creator'),
        ('duration_ms', 'integer', 'ms',
         'duration of one play of the clip'),
        ('fps', 'real', 'frames/s',
         'frame rate'),
        ('width', 'integer', 'pixels',
         'display width (after rotation)'),
        ('height', 'integer', 'pixels',
         'display height (after rotation)'),
        ('rotation', 'integer', 'degrees clockwise',
         'how the stored frames are turned to display upright'),
        ('created', 'text', 'ISO 8601 date',
         'when the clip was made; `""` when unknown'),
        ('features', 'text', 'JSON array of numbers',
         'the visual features from probing (`feedapp/media/features.py`) that rankers see, stored so replay sees what the ranker saw; `[]` when none; NULL in rows written before schema 5 until the clip is seen again'),
    ),
    "impressions": (
        ('id', 'text', 'UUID',
         "the impression's id"),
        ('session_id', 'text', '',
         'its session'),
        ('position', 'integer', '0, 1, 2, ...',
         'order within the session (consecutive, from 0)'),
        ('clip_id', 'text', '',
         'the clip shown'),
        ('clip_key', 'text', '',
         'the version of it shown (`clips.key`; schema 4)'),
        ('reached_by', 'text', '`start`, `swipe_next`, `swipe_prev`, `key`, `wheel`, `touch`, `auto_skip`',
         'the input that brought the clip; `auto_skip`: the player moved on by itself past a clip that could not be played'),
        ('is_revisit', 'integer', '0/1',
         '1 when the viewer came back to a position already shown (swiped back, or forward again through history): navigation, not a ranker pick'),
        ('policy', 'text', '',
         'the ranker that chose it (`history` for a revisit)'),
        ('score', 'real', '',
         "the policy's score for the clip; NULL when none"),
        ('propensity', 'real', 'probability, 0..1',
         'P(the policy puts this clip in this slot), for off-policy evaluation; NULL when unknown'),
        ('exploration', 'integer', '0/1',
         '1 when it was an exploration pick'),
        ('input_mono_ns', 'integer', 'ns, monotonic',
         'the input event that asked for this clip (= `settled_mono_ns` when no input did, e.g. the first clip)'),
        ('settled_mono_ns', 'integer', 'ns, monotonic',
         'the snap animation settled: the clip became active (dwell starts)'),
        ('settled_utc', 'text', 'ISO 8601 UTC',
         'the same moment, wall clock'),
        ('first_frame_ms', 'real', 'ms',
         'from settled to the first frame painted; NULL if none was painted'),
        ('views_learned', 'integer', 'count',
         'views the engine had learned from when it decided this slot (with preloading, the slot after the current clip is decided before the current view closes); NULL for revisits and before schema 5'),
        ('live_seq', 'integer', 'count',
         'live changes (the `live_change` events) applied when it decided this slot; NULL for revisits and before schema 5'),
        ('params_version', 'integer', 'count',
         "parameter changes among them: 0 = the session's starting parameters (`sessions.ranker_params`), n = after the n-th `live_change` of change `param`; NULL for revisits"),
        ('ranker_version', 'text', '`builtin:NAME`, `plugin:<hash>`',
         "the ranker code that decided: a built-in ranker, or the first 16 hex digits of the SHA-256 of the plugin file's source; NULL for revisits"),
        ('scripted', 'integer', '0/1',
         "1 when the slot was fixed in advance (a lab study's warm-up or practice clips, `policy = warmup`, propensity 1), not a ranker pick: left out of off-policy estimates and of every exploration figure (schema 5; the migration marks earlier `warmup` rows)"),
        ('served_again', 'integer', '0/1',
         '1 when a new slot showed a clip already shown earlier in the session (the ranker served it again); never together with `is_revisit` (schema 7; the migration computed it for older rows)'),
    ),
    "views": (
        ('impression_id', 'text', '',
         'the impression this view closes (primary key: at most one view per impression)'),
        ('session_id', 'text', '',
         'its session'),
        ('dwell_ms', 'real', 'ms',
         'time the clip was the active clip: settled -> the input that left it'),
        ('play_ms', 'real', 'ms',
         'time actually playing: not paused, window focused, not stalled (includes loops)'),
        ('paused_ms', 'real', 'ms',
         'paused by the viewer while the window had focus'),
        ('unfocused_ms', 'real', 'ms',
         'window unfocused or minimised (whatever the player did)'),
        ('stalled_ms', 'real', 'ms',
         'waiting for frames: before the first frame, and while buffering'),
        ('watch_ratio', 'real', 'ratio',
         '`play_ms / duration_ms`; above 1 when the clip looped'),
        ('loops', 'integer', 'count',
         'completed plays of the clip during the view'),
        ('skipped', 'integer', '0/1',
         "the skip rule: 1 when `play_ms` < the session's `skip_threshold_ms` and the clip was not watched to its end (`loops` 0 and `play_ms` < its duration); 0 for a clip that could not be played (`exit = auto_skip`); schema 7 recomputed older rows"),
        ('exit', 'text', '`swipe_next`, `swipe_prev`, `key`, `wheel`, `touch`, `auto_skip`, `quit`, `finished`, `time_limit`, `error`, `terminal_closed`, `terminated`, `crash`; `""` on a checkpoint',
         'how the viewer left the clip (`auto_skip`: the clip failed to play and the player moved on; '
         '`finished`: the session ended, e.g. at a lab limit; `time_limit` is never written by feedapp)'),
        ('liked', 'integer', '0/1',
         'the viewer liked the clip during the view'),
        ('not_interested', 'integer', '0/1',
         'the viewer marked it "not interested"'),
        ('ended_mono_ns', 'integer', 'ns, monotonic',
         'end of the view (the input that left it), or time of the checkpoint'),
        ('ended_utc', 'text', 'ISO 8601 UTC',
         'the same moment, wall clock'),
        ('final', 'integer', '0/1',
         '1 closed view; 0 checkpoint of the in-flight view (at most 250 ms old)'),
    ),
    "events": (
        ('id', 'text', 'UUID',
         "the event's id"),
        ('session_id', 'text', '',
         'its session'),
        ('impression_id', 'text', '',
         'the active impression when it happened; NULL when no clip was active'),
        ('kind', 'text', 'see below',
         'what happened'),
        ('mono_ns', 'integer', 'ns, monotonic',
         'when it happened (stamped at the input)'),
        ('utc', 'text', 'ISO 8601 UTC',
         'the same moment, wall clock'),
        ('data', 'text', 'JSON object',
         'kind-specific details (`{}` when none)'),
    ),
    "profile_snapshots": (
        ('session_id', 'text', '',
         'its session'),
        ('after_position', 'integer', 'position',
         'taken after the view at this position'),
        ('mono_ns', 'integer', 'ns, monotonic',
         'when it was taken'),
        ('utc', 'text', 'ISO 8601 UTC',
         'the same moment, wall clock'),
        ('profile', 'text', 'JSON object',
         'per-topic and per-creator affinities'),
    ),
    "view_log": (
        ('session_id', 'text', '',
         'the session (from impressions)'),
        ('study', 'text', '',
         "the lab study's name (from sessions)"),
        ('participant', 'text', '',
         'pseudonymous participant id (from sessions)'),
        ('condition', 'text', '',
         'experimental condition (from sessions)'),
        ('mode', 'text', '`lab`, `practice`, `play`, `demo`, `simulate`',
         'how the session was run: leave out `practice` views when comparing conditions (from sessions; schema 6)'),
        ('ranker', 'text', '',
         "the session's ranker (from sessions)"),
        ('position', 'integer', '0, 1, 2, ...',
         'order within the session (from impressions)'),
        ('impression_id', 'text', 'UUID',
         'the impression (from impressions.id)'),
        ('clip_id', 'text', '',
         'the clip shown (from impressions)'),
        ('title', 'text', '',
         'its title (of the version shown: `impressions.clip_key`) (from clips)'),
        ('creator', 'text', '',
         'its creator (from clips)'),
        ('topics', 'text', 'JSON array of strings',
         'its topics (JSON array) (from clips)'),
        ('duration_ms', 'integer', 'ms',
         'its duration, ms (from clips)'),
        ('reached_by', 'text', '`start`, `swipe_next`, `swipe_prev`, `key`, `wheel`, `touch`, `auto_skip`',
         'the input that brought it (from impressions)'),
        ('is_revisit', 'integer', '0/1',
         '0/1 (from impressions)'),
        ('policy', 'text', '',
         'what chose it (from impressions)'),
        ('score', 'real', '',
         "the policy's score (from impressions)"),
        ('propensity', 'real', 'probability, 0..1',
         'P(policy puts this clip in this slot) (from impressions)'),
        ('exploration', 'integer', '0/1',
         '0/1 (from impressions)'),
        ('settled_utc', 'text', 'ISO 8601 UTC',
         'when it became active (from impressions)'),
        ('since_start_ms', 'real', 'ms',
         'time from the start of the session to this clip becoming active (settled) (schema 6)'),
        ('first_frame_ms', 'real', 'ms',
         'settled -> first frame, ms (from impressions)'),
        ('dwell_ms', 'real', 'ms',
         'ms (from views)'),
        ('play_ms', 'real', 'ms',
         'ms (from views)'),
        ('paused_ms', 'real', 'ms',
         'ms (from views)'),
        ('unfocused_ms', 'real', 'ms',
         'ms (from views)'),
        ('stalled_ms', 'real', 'ms',
         'ms (from views)'),
        ('watch_ratio', 'real', 'ratio',
         'play / duration (from views)'),
        ('loops', 'integer', 'count',
         'completed plays (from views)'),
        ('skipped', 'integer', '0/1',
         '0/1 (from views)'),
        ('exit', 'text', '`swipe_next`, `swipe_prev`, `key`, `wheel`, `touch`, `auto_skip`, `quit`, `finished`, `time_limit`, `error`, `terminal_closed`, `terminated`, `crash`; `""` on a checkpoint',
         'how the viewer left (from views)'),
        ('liked', 'integer', '0/1',
         '0/1 (from views)'),
        ('not_interested', 'integer', '0/1',
         '0/1 (from views)'),
        ('final', 'integer', '0/1',
         '1 closed view, 0 checkpoint, NULL no view yet (from views)'),
        ('scripted', 'integer', '0/1',
         '1 for a slot fixed in advance (warm-up, practice), 0 for a ranker pick (from impressions)'),
        ('served_again', 'integer', '0/1',
         '1 for a new slot showing a clip shown earlier in the session (from impressions)'),
    ),
    "questionnaire": (
        ('session_id', 'text', '', 'the session the answers are about (the lab session, not its practice block)'),
        ('item', 'text', '', 'the item\'s `id` in the study file\'s `[[questionnaire]]`'),
        ('position', 'integer', '0, 1, 2, ...', 'the item\'s place in the questionnaire'),
        ('type', 'text', '`likert`, `choice`, `text`', 'the kind of item'),
        ('question', 'text', '', 'the question as the participant read it'),
        ('answer', 'text', '', 'the answer as shown: the Likert point, the choice, the text; NULL when left blank'),
        ('value', 'real', '1..points', 'Likert items: the point chosen (1 = the low end); NULL for other items'),
        ('mono_ns', 'integer', 'ns, monotonic', 'when the participant submitted the questionnaire'),
        ('utc', 'text', 'ISO 8601 UTC', 'the same moment, wall clock'),
    ),
    "affinities": (
        ('session_id', 'text', '', 'its session'),
        ('after_position', 'integer', 'position', 'the profile after the view at this position (profile_snapshots)'),
        ('topic', 'text', '', 'a topic of the taste profile'),
        ('affinity', 'real', 'score', 'the profile\'s affinity for the topic after that view (above 0: liked)'),
    ),
}

#: How to read each codebook type (used by tests and by anyone loading an export with the codebook).
TYPES = {"text": str, "integer": int, "real": float}
HEADER = ("table", "column", "type", "unit", "meaning")


def columns(table: str) -> tuple[str, ...]:
    return tuple(c[0] for c in CODEBOOK[table])


def rows(tables: list[str] | None = None) -> list[tuple[str, str, str, str, str]]:
    """The codebook as rows (table, column, type, unit, meaning): what ``codebook.csv`` holds."""
    return [(t, *c) for t in (tables or list(CODEBOOK)) for c in CODEBOOK[t]]


def markdown_table(table: str) -> str:
    lines = ["| column | type | unit / values | meaning |", "|---|---|---|---|"]
    for name, typ, unit, meaning in CODEBOOK[table]:
        lines.append(f"| `{name}` | {typ} | {unit} | {meaning} |".replace("|  |", "| |"))
    return "\n".join(lines)


def sync_markdown(text: str) -> str:
    """``text`` (docs/data.md) with the column table under each ``### `TABLE` `` heading replaced by the
    codebook's; tables the codebook does not know are kept."""
    out: list[str] = []
    lines = text.split("\n")
    i, current = 0, None
    while i < len(lines):
        line = lines[i]
        if line.startswith("### `"):
            current = line.split("`")[1]
        elif line.startswith("## "):
            current = None
        if current in CODEBOOK and line.startswith("| column |"):
            while i < len(lines) and lines[i].startswith("|"):
                i += 1
            out.extend(markdown_table(current).split("\n"))
            current = None
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


if __name__ == "__main__":  # python -m feedapp.store.codebook docs/data.md: rewrite the column tables
    import sys
    from pathlib import Path

    for arg in sys.argv[1:]:
        path = Path(arg)
        path.write_text(sync_markdown(path.read_text(encoding="utf-8")), encoding="utf-8")
