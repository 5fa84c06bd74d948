"""Ranker preset files: a preset (``feedapp.core.presets``) saved to and loaded from a small, flat TOML file.

A preset file (written by ``save_preset``; hand-edited ones are fine)::

    # feedapp ranker preset
    ranker = "foryou"

    # share of picks drawn uniformly from the allowed clips (exploration) [0 .. 1]
    epsilon = 0.05
    ...

Why flat TOML written by hand: the standard library reads TOML (``tomllib``) but does not write it,
and one key per parameter needs no TOML writer. Loading validates every value against the ranker's
parameter spec (``feedapp.core.presets.preset_from_values``) and says in one sentence what is wrong
and where.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path

from feedapp.core.presets import Preset, PresetError, check_values, preset_from_values, ranker_spec
from feedapp.core.rankers.base import Param


def _toml_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _toml_number(v: float | int, kind: str) -> str:
    if kind == "int":
        return str(int(v))
    r = repr(float(v))
    return r if ("." in r or "e" in r or "inf" in r or "nan" in r) else r + ".0"


def dumps_preset(ranker: str, params: Mapping[str, object], spec: tuple[Param, ...] | None = None) -> str:
    """The TOML text of a preset (validated first, so a saved preset always loads)."""
    spec = spec if spec is not None else ranker_spec(ranker)
    by_name = {p.name: p for p in spec}
    checked = check_values(ranker, dict(params), by_name, "the preset")
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


def loads_preset(text: str, where: str = "the preset", ranker: str | None = None,
                 spec_of: Callable[[str], tuple[Param, ...] | None] | None = None) -> Preset:
    """Parse preset text (TOML) and check it: ``ranker`` and ``spec_of`` as in
    ``feedapp.core.presets.preset_from_values``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PresetError(f"{where} is not valid TOML: {e}") from None
    return preset_from_values(data, where, ranker, spec_of)


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
