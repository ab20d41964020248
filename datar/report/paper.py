"""The paper's reported numbers (``config/paper.yaml``): facts printed beside reproduced ones."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from datar.errors import ConfigError
from datar.io import read_yaml


@dataclass(frozen=True)
class PaperRow:
    """One row of a paper table.

    Attributes:
        key: the row key (a model variant such as ``datar``, or a cited work such as ``chen2020``).
        values: metric name -> reported percentage (e.g. ``{"top1": 55.5, "top5": 80.2}``).
        cited: the reference when the paper only cites the number (not rerun here), else None.
    """

    key: str
    values: Mapping[str, float]
    cited: str | None = None


@dataclass(frozen=True)
class PaperNumbers:
    """Everything ``config/paper.yaml`` holds.

    Attributes:
        source: the paper's reference line.
        tables: table name -> row key -> :class:`PaperRow`.
        compute_gmacs: model key -> GMACs the paper reports.
        dataset_counts: dataset -> {split or count name: number}.
        path: the file it was read from.
    """

    source: str
    tables: Mapping[str, Mapping[str, PaperRow]]
    compute_gmacs: Mapping[str, float] = field(default_factory=dict)
    dataset_counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    path: str = ""

    def table(self, name: str) -> Mapping[str, PaperRow]:
        """Rows of table ``name``; an empty mapping when the paper file has none."""
        return self.tables.get(name, {})


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    return float(value)


def paper_from_mapping(raw: Any, *, origin: str = "paper.yaml") -> PaperNumbers:
    """Build :class:`PaperNumbers` from a parsed YAML mapping; errors name ``origin`` and the key."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{origin}: expected a mapping at the top level")
    known = {"source", "tables", "compute_gmacs", "dataset_counts"}
    for key in raw:
        if key not in known:
            raise ConfigError(f"{origin}: {key}: unknown key (known: {', '.join(sorted(known))})")
    tables_raw = raw.get("tables") or {}
    if not isinstance(tables_raw, Mapping):
        raise ConfigError(f"{origin}: tables: expected a mapping")
    tables: dict[str, dict[str, PaperRow]] = {}
    for tname, rows in tables_raw.items():
        if not isinstance(rows, Mapping):
            raise ConfigError(f"{origin}: tables.{tname}: expected a mapping of rows")
        tables[str(tname)] = {}
        for rkey, entry in rows.items():
            where = f"{origin}: tables.{tname}.{rkey}"
            if not isinstance(entry, Mapping):
                raise ConfigError(f"{where}: expected a mapping of metric: value")
            cited = entry.get("cited")
            if cited is not None and not isinstance(cited, str):
                raise ConfigError(f"{where}.cited: expected a string (the reference)")
            values = {str(k): _number(v, f"{where}.{k}") for k, v in entry.items() if k != "cited"}
            tables[str(tname)][str(rkey)] = PaperRow(key=str(rkey), values=values, cited=cited)
    gmacs_raw = raw.get("compute_gmacs") or {}
    gmacs = {str(k): _number(v, f"{origin}: compute_gmacs.{k}") for k, v in gmacs_raw.items()}
    counts_raw = raw.get("dataset_counts") or {}
    counts = {
        str(d): {str(k): int(_number(v, f"{origin}: dataset_counts.{d}.{k}")) for k, v in c.items()}
        for d, c in counts_raw.items()
    }
    return PaperNumbers(source=str(raw.get("source", "")), tables=tables, compute_gmacs=gmacs,
                        dataset_counts=counts, path=origin)


def load_paper(path: str | os.PathLike[str]) -> PaperNumbers:
    """Read the paper's numbers from ``path`` (YAML); a missing or malformed file raises ConfigError."""
    raw = read_yaml(path, what="paper numbers file", error=ConfigError)
    return paper_from_mapping(raw, origin=str(Path(path)))
