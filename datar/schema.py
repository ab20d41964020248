"""The config schema: the one place config defaults live, and errors a person can act on.

``workflow/schemas/config.schema.yaml`` holds every key's type, range and default.
:func:`validate` checks a raw config against it and fills in the defaults of every key the
config leaves out (so the resolved config, its hash and every run's ``config.yaml`` state
the values used). Each problem becomes one line that names the key, the file it came from
and how to fix it::

    train.batchsize: unknown key in bad.yaml; did you mean train.batch_size?
"""

from __future__ import annotations

import copy
import difflib
import functools
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from datar.errors import ConfigError

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "workflow" / "schemas" / "config.schema.yaml"

KeyPath = tuple[str | int, ...]
Origin = str | Callable[[KeyPath], str]

_TYPES = {"integer": "an integer", "number": "a number", "string": "a string", "boolean": "true or false",
          "array": "a list", "object": "a mapping", "null": "null"}


@functools.cache
def schema() -> dict[str, Any]:
    """The parsed schema (read once per process, on first use)."""
    with open(SCHEMA_PATH, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@functools.cache
def _validator_class() -> Any:
    import jsonschema

    base = jsonschema.Draft202012Validator
    check_properties = base.VALIDATORS["properties"]

    def fill_defaults(validator: Any, properties: Mapping[str, Any], instance: Any, sch: Any) -> Iterator[Any]:
        # jsonschema's documented recipe: set each absent property's default, then validate
        # (so a default of {} is itself filled in by the properties of its own schema).
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if isinstance(sub, dict) and "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from check_properties(validator, properties, instance, sch)

    return jsonschema.validators.extend(base, {"properties": fill_defaults})


def key_name(path: Sequence[str | int]) -> str:
    """``("datasets", "vggsound", "sources", 0, "url")`` -> ``datasets.vggsound.sources[0].url``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def _where(origin: Origin, path: KeyPath) -> str:
    return origin(path) if callable(origin) else origin


def _resolve(sub: Any) -> Any:
    """Follow a local ``$ref`` (``#/$defs/name``) of the schema."""
    while isinstance(sub, dict) and "$ref" in sub:
        node: Any = schema()
        for part in sub["$ref"].lstrip("#/").split("/"):
            node = node[part]
        sub = node
    return sub


def _unknown_keys(err: Any, origin: Origin) -> list[str]:
    known = list((_resolve(err.schema).get("properties") or {}))
    path = tuple(err.absolute_path)
    lines = []
    for key in sorted(set(err.instance) - set(known), key=str):
        full = key_name((*path, key))
        line = f"{full}: unknown key in {_where(origin, (*path, key))}"
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        if close:
            line += f"; did you mean {key_name((*path, close[0]))}?"
        elif known:
            line += f"; known keys here: {', '.join(known)}"
        lines.append(line)
    return lines


def _from_command_line(where: str) -> str:
    return ("; --config passes every value as a string (a list as strings): put the value in a YAML file and "
            "add it with another --configfile") if where == "--config" else ""


def _describe(err: Any, origin: Origin) -> list[str]:
    """One line per problem of a jsonschema ValidationError."""
    path = tuple(err.absolute_path)
    key, where = key_name(path), _where(origin, path)
    kind, want, value = err.validator, err.validator_value, err.instance
    if kind == "additionalProperties" and want is False and isinstance(value, dict):
        return _unknown_keys(err, origin) or [f"{key}: {err.message} in {where}"]
    if kind == "required":
        missing = [k for k in want if isinstance(value, dict) and k not in value]
        return [f"{key_name((*path, k))}: required key missing in {_where(origin, (*path, k))}; add it "
                "(config/config.yaml has every key, with comments)" for k in missing]
    if kind == "type":
        types = want if isinstance(want, list) else [want]
        expected = " or ".join(_TYPES.get(t, t) for t in types)
        return [f"{key}: expected {expected}, got {value!r} in {where}{_from_command_line(where)}"]
    if kind == "enum":
        line = f"{key}: {value!r} is not one of {', '.join(map(str, want))} in {where}"
        same_case = [str(w) for w in want if str(w).lower() == str(value).lower()]
        close = same_case or difflib.get_close_matches(str(value), [str(w) for w in want], n=1, cutoff=0.5)
        return [line + (f"; did you mean {close[0]}?" if close else "")]
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        bound = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[kind]
        return [f"{key}: {value!r} is out of range in {where}; use a value {bound} {want}"]
    if kind in ("minItems", "minProperties"):
        return [f"{key}: needs at least {want} entr{'y' if want == 1 else 'ies'} in {where}"]
    if kind == "uniqueItems":
        return [f"{key}: {value!r} repeats an entry in {where}; list each once"]
    if kind == "pattern":
        return [f"{key}: {value!r} does not match the pattern {want} in {where}"]
    if kind == "propertyNames":
        return [f"{key}: the key {value!r} is not a valid name in {where} ({err.message})"]
    if kind == "oneOf" and isinstance(value, dict) and {"url", "path"} <= set(_resolve(err.schema).get("properties", {})):
        return [f"{key}: give exactly one of url or path in {where}"]
    if kind in ("oneOf", "anyOf", "const"):
        options = [_resolve(s) for s in (want if isinstance(want, list) else [{"const": want}])]
        said = " or ".join(f"{s['const']!r}" if "const" in s else _TYPES.get(str(s.get("type")), "another value")
                           for s in options)
        return [f"{key}: {value!r} is not valid in {where}; use {said}{_from_command_line(where)}"]
    return [f"{key}: {err.message} in {where}"]


def validate(raw: Any, *, origin: Origin = "config") -> None:
    """Check ``raw`` against the schema and fill in every default, in place.

    Args:
        raw: the config mapping (modified: absent keys get their schema default).
        origin: the file the config came from, or a function naming the file (or
            ``--config``) that set a given key.

    Raises:
        ConfigError: one line per problem (at most 10), each naming key, file and fix.
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"{_where(origin, ())}: the config must be a mapping, got {type(raw).__name__}")
    validator = _validator_class()(schema())
    errors = sorted(validator.iter_errors(raw), key=lambda e: (list(map(str, e.absolute_path)), str(e.validator)))
    lines: list[str] = []
    items: dict[tuple[Any, ...], int] = {}  # one line for the same problem in several items of a list
    for err in errors:
        path = tuple(err.absolute_path)
        if path and isinstance(path[-1], int):
            group = (path[:-1], err.validator)
            if group in items:
                items[group] += 1
                continue
            items[group] = 0
        for line in _describe(err, origin):
            if line not in lines:
                lines.append(line)
    for (parent, _), extra in items.items():
        if extra:
            first = next(i for i, line in enumerate(lines) if line.startswith(f"{key_name(parent)}["))
            lines[first] += f" (and {extra} more item{'s' if extra > 1 else ''} of {key_name(parent)})"
    if lines:
        more = f"\n(and {len(lines) - 10} more)" if len(lines) > 10 else ""
        raise ConfigError("\n".join(lines[:10]) + more)


def config_sources(files: Sequence[str | Path], overrides: Mapping[str, Any]) -> Callable[[KeyPath], str]:
    """An ``origin`` for a config merged from ``files`` (in order) and ``--config`` ``overrides``.

    The returned function names where a key was set: ``--config`` if an override holds it,
    else the last file that does (Snakemake merges them in that order), else the files.
    """
    loaded: list[tuple[str, Any]] = []
    for f in files:
        name = os.path.relpath(f) if Path(f).resolve().is_relative_to(Path.cwd()) else str(f)
        try:
            loaded.append((name, yaml.safe_load(Path(f).read_text("utf-8"))))
        except (OSError, yaml.YAMLError):
            loaded.append((name, None))

    def holds(tree: Any, path: KeyPath) -> bool:
        for part in path:
            if isinstance(part, int) or not isinstance(tree, Mapping) or part not in tree:
                return isinstance(part, int)
            tree = tree[part]
        return True

    def where(path: KeyPath) -> str:
        if path and holds(overrides, path):
            return "--config"
        for name, tree in reversed(loaded):
            if path and holds(tree, path):
                return name
        return " + ".join(name for name, _ in loaded) or "the config"

    return where
