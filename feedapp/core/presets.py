"""Ranker presets: a named ranker's parameter values, checked against its parameter spec.

The domain half of presets: ``preset_from_values`` checks a flat mapping of values (``ranker`` plus
one key per parameter) against the ranker's parameter spec (``Param``: name, range, whole number or
not) and says in one sentence what is wrong and where; ``apply_preset`` sets a preset on a running
engine. ``ranker`` may be a registry name or a plugin ``file.py:Class``. The preset files (flat
TOML, read and written) are ``feedapp.preset_files``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from feedapp.core.rankers.base import Param, ParameterError


class PresetError(ValueError):
    """A preset file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class Preset:
    ranker: str
    params: dict[str, float | int] = field(default_factory=dict)


def ranker_spec(ranker: str) -> tuple[Param, ...]:
    """The parameter spec of a registry name or a ``file.py:Class`` plugin."""
    from feedapp.core.plugins import ranker_class  # plugins import presets' neighbours only

    return tuple(ranker_class(ranker).spec())


def check_values(ranker: str, raw: dict[str, object], spec: dict[str, Param], where: str) -> dict[str, float | int]:
    """``raw``'s values checked against ``spec`` (by name); ``PresetError`` naming ``where`` and the key."""
    out: dict[str, float | int] = {}
    for key, value in raw.items():
        p = spec.get(key)
        if p is None:
            raise PresetError(f"{where}: ranker {ranker!r} has no parameter {key!r} (it has: {', '.join(spec)})")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PresetError(f"{where}: {key} must be a number, not {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise PresetError(f"{where}: {key} must be a finite number, not {value!r}")
        try:
            out[key] = p.check(ranker, value)
        except ParameterError as e:
            raise PresetError(f"{where}: {e}") from None
    return out


def preset_from_values(data: dict[str, object], where: str = "the preset", ranker: str | None = None,
                       spec_of: Callable[[str], tuple[Param, ...] | None] | None = None) -> Preset:
    """Check a flat mapping read from a preset (``ranker`` plus one key per parameter). ``ranker`` (if
    given) must match the mapping's ranker, or be the ranker the values are checked against when the
    mapping names none. ``spec_of(name)``, if it returns a spec, is used instead of loading the
    ranker's class (the app passes the running plugin's spec, so its file is not imported again in
    the app's process)."""
    data = dict(data)
    nested = [k for k, v in data.items() if isinstance(v, dict)]
    if nested:
        raise PresetError(f"{where}: a preset is flat (key = value lines); [{nested[0]}] is not expected")
    name = data.pop("ranker", None)
    if name is None:
        if ranker is None:
            raise PresetError(f'{where} names no ranker; add a line like ranker = "foryou"')
        name = ranker
    if not isinstance(name, str) or not name:
        raise PresetError(f"{where}: ranker must be a name in quotes, not {name!r}")
    if ranker is not None and ranker != name:
        raise PresetError(f"{where} is a preset for ranker {name!r}, not {ranker!r}")
    try:
        known = spec_of(name) if spec_of is not None else None
        spec = {p.name: p for p in (known if known is not None else ranker_spec(name))}
    except ValueError as e:  # UnknownRanker, PluginError
        raise PresetError(f"{where}: {e}") from None
    return Preset(name, check_values(name, data, spec, where))


def apply_preset(engine, preset: Preset) -> list[tuple[str, object, object]]:
    """Set every value of ``preset`` on a running engine (each change goes through ``set_param``, so the
    ``ranker_param_did_change`` hook logs it); returns the (name, old, new) that actually changed."""
    names = {p.name for p in engine.ranker.spec()}
    unknown = sorted(set(preset.params) - names)
    if unknown:  # checked before anything changes: a preset applies whole or not at all
        raise PresetError(f"the preset is for ranker {preset.ranker!r}; the feed's ranker {engine.ranker.name!r} "
                          f"has no parameter {unknown[0]!r}")
    changed = []
    for k, v in preset.params.items():
        old = engine.ranker.params.get(k)
        if old == v:
            continue
        engine.set_param(k, v)
        changed.append((k, old, engine.ranker.params[k]))
    return changed
