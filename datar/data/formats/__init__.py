"""Manifest formats: one module per public annotation format, behind a small registry.

A format (:class:`~datar.data.formats.base.ManifestFormat`) parses the rows of one source csv
into checked :class:`~datar.data.rows.Entry` rows, names the columns it needs, checks what it
requires of the dataset's config (its part of the config's rules, e.g. Kinetics' class list)
and may name its classes itself (EPIC's integer ids). :data:`FORMATS` lists them; the config
schema's ``datasets.D.format`` enum equals its keys (a test checks).

Adding a format: a module here with a ``FORMAT``, its line below and in the schema's enum, and
its tests (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from datar.data.formats import epic100, kinetics400, user_csv, vggsound
from datar.data.formats.base import ManifestFormat
from datar.errors import ConfigError

FORMATS: Mapping[str, ManifestFormat] = {m.FORMAT.name: m.FORMAT for m in (vggsound, kinetics400, epic100, user_csv)}


def check_datasets(cfg: Any) -> None:
    """Each dataset's config against what its format requires.

    Raises:
        ConfigError: the first problem, naming the key.
    """
    for name, ds in sorted(cfg.datasets.items()):
        fmt = FORMATS[ds.format]
        problem = fmt.check(ds, f"datasets.{name}") if fmt.check is not None else None
        if problem:
            raise ConfigError(problem)


__all__ = ["FORMATS", "ManifestFormat", "check_datasets"]
