"""Argument parsers of the verbs: plain-text help from the module docstring, and the shared
``--config`` / ``--dataset`` / ``--shard`` of the data-stage verbs."""

from __future__ import annotations

import argparse
import re

_ROLE = re.compile(r":[a-z]+:`([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``|`([^`]+)`")
_VERB_PREFIX = re.compile(r"^python -m datar [a-z-]+[^:]*:\s*")


def _role_target(m: re.Match[str]) -> str:
    target = m.group(1)
    return target[1:].rsplit(".", 1)[-1] if target.startswith("~") else target


def plain(doc: str | None) -> str:
    """A docstring with its reST markup removed (``x``, `x`, :func:`x` -> x; ``::`` -> ``:``)."""
    text = _ROLE.sub(_role_target, doc or "")
    text = _LITERAL.sub(lambda m: m.group(1) or m.group(2), text)
    return re.sub(r"(\S)::$", r"\1:", re.sub(r"^::$", "", text, flags=re.M), flags=re.M).strip()


def summary(doc: str | None) -> str:
    """The first line of a verb's docstring, without markup or its ``python -m datar <verb> ...:`` prefix."""
    first = plain((doc or "").strip().split("\n", 1)[0])
    return _VERB_PREFIX.sub("", first)


def verb_parser(verb: str, doc: str | None) -> argparse.ArgumentParser:
    """The parser of ``python -m datar <verb>``, its description ``doc`` as plain text."""
    return argparse.ArgumentParser(prog=f"python -m datar {verb}", description=plain(doc),
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def stage_parser(verb: str, description: str | None, *, shard: bool = False) -> argparse.ArgumentParser:
    """An argument parser for ``python -m datar <verb>`` with ``--config`` and ``--dataset``.

    Args:
        verb: the verb's name (``download``, ``data-version``, ...).
        description: the module docstring.
        shard: also require ``--shard`` (a per-shard job).
    """
    p = verb_parser(verb, description)
    p.add_argument("--config", required=True, help="config YAML (the workflow passes .datar/config-<hash>.yaml)")
    p.add_argument("--dataset", required=True, help="dataset name under datasets: in the config")
    if shard:
        p.add_argument("--shard", required=True, help="shard name from shards.json, e.g. train-00000")
    return p
