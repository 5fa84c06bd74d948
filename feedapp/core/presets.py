"""Ranker presets: parameter values saved to and loaded from a small, flat TOML file.

A preset file (written by ``save_preset``; hand-edited ones are fine)::

    # feedapp ranker preset
    ranker = "foryou"

    # share of picks drawn uniformly from the allowed clips (exploration) [0 .. 1]
    epsilon = 0.05
    ...

Why flat TOML written by hand: the standard library reads TOML (``tomllib``) but does not write it,
and one key per parameter needs no TOML writer. Loading validates every value against the ranker's
parameter spec (``Param``: name, range, whole number or not) and says in one sentence what is wrong
and where. ``ranker`` may be a registry name or a plugin ``file.py:Class``.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from feedapp.core.rankers.base import Param, ParameterError


class PresetError(ValueError):
    """A preset file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class Preset:
    ranker: str
    params: dict[str, float | int] = field(default_factory=dict)


def _spec_of(ranker: str) -> tuple[Param, ...]:
    from feedapp.core.plugins import ranker_class  # plugins import presets' neighbours only

    return tuple(ranker_class(ranker).spec())


def _toml_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _toml_number(v: float | int, kind: str) -> str:
    if kind == "int":
        return str(int(v))
    r = repr(float(v))
    return r if ("." in r or "e" in r or "inf" in r or "nan" in r) else r + ".0"


def dumps_preset(ranker: str, params: Mapping[str, object], spec: tuple[Param, ...] | None = None) -> str:
    """The TOML text of a preset (validated first, so a saved preset always loads)."""
    spec = spec if spec is not None else _spec_of(ranker)
    by_name = {p.name: p for p in spec}
    checked = _validate(ranker, dict(params), by_name, "the preset")
    lines = ["# feedapp ranker preset: `feedapp rankers` lists every parameter and its range", f"ranker = {_toml_string(ranker)}", ""]
    for p in spec:
        if p.name not in checked:
            continue
        lines.append(f"# {p.description} [{p.min:g} .. {p.max:g}, default {p.default:g}]")
        lines.append(f"{p.name} = {_toml_number(checked[p.name], p.kind)}")
    return "\n".join(lines) + "\n"


def save_preset(path: str | Path, ranker: str, params: Mapping[str, object],
                spec: tuple[Param, ...] | None = None) -> Path:
    """Write ``params`` of ``ranker`` to ``path`` (every value checked against the spec)."""
    path = Path(path)
    text = dumps_preset(ranker, params, spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)  # never leave half a preset behind
    return path


def _validate(ranker: str, raw: dict[str, object], spec: dict[str, Param], where: str) -> dict[str, float | int]:
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


def loads_preset(text: str, where: str = "the preset", ranker: str | None = None,
                 spec_of: Callable[[str], tuple[Param, ...] | None] | None = None) -> Preset:
    """Parse and validate preset text. ``ranker`` (if given) must match the file's ranker, or be
    the ranker the values are checked against when the file names none. ``spec_of(name)``, if it
    returns a spec, is used instead of loading the ranker's class (the app passes the running
    plugin's spec, so its file is not imported again in the app's process)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PresetError(f"{where} is not valid TOML: {e}") from None
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
        spec = {p.name: p for p in (known if known is not None else _spec_of(name))}
    except ValueError as e:  # UnknownRanker, PluginError
        raise PresetError(f"{where}: {e}") from None
    return Preset(name, _validate(name, data, spec, where))


def load_preset(path: str | Path, ranker: str | None = None,
                spec_of: Callable[[str], tuple[Param, ...] | None] | None = None) -> Preset:
    """Read a preset file (see the module docstring); ``PresetError`` with the file's name otherwise."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PresetError(f"there is no preset file {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise PresetError(f"cannot read the preset {path}: {e}") from None
    return loads_preset(text, str(path), ranker, spec_of)


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
