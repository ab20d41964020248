"""The paper's reported numbers (``config/paper.yaml``): facts printed beside reproduced ones."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal


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


ClaimKind = Literal["accuracy", "compute"]

#: Largest allowed gap between a claim's stated Δ and the difference of its two table numbers.
_DELTA_TOLERANCE = 0.051


@dataclass(frozen=True)
class PaperClaim:
    """One quantitative claim of the paper: ``model`` beats ``baseline`` by ``delta``.

    Attributes:
        id: short key (``table4_deform_vs_fixed``).
        text: the claim in words, as printed.
        kind: ``accuracy`` (a table metric, points) or ``compute`` (GMACs; negative = fewer).
        model: the row / model the claim is about.
        baseline: the row it is compared with (a cited row is not rerun: compared unpaired).
        delta: the paper's difference model − baseline (points, or GMACs).
        table: the table key (accuracy claims).
        metric: the metric key (accuracy claims), e.g. ``top1`` or ``action_top1``.
    """

    id: str
    text: str
    kind: ClaimKind
    model: str
    baseline: str
    delta: float
    table: str | None = None
    metric: str | None = None


@dataclass(frozen=True)
class PaperNumbers:
    """Everything ``config/paper.yaml`` holds.

    Attributes:
        source: the paper's reference line.
        tables: table name -> row key -> :class:`PaperRow`.
        compute_gmacs: model key -> GMACs the paper reports.
        dataset_counts: dataset -> {split or count name: number}.
        path: the file it was read from.
        claims: the paper's quantitative claims, in print order.
    """

    source: str
    tables: Mapping[str, Mapping[str, PaperRow]]
    compute_gmacs: Mapping[str, float] = field(default_factory=dict)
    dataset_counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    path: str = ""
    claims: tuple[PaperClaim, ...] = ()

    def value(self, claim: PaperClaim, side: str) -> float:
        """The paper's number for ``side`` (a row key) of ``claim``: its table metric or its GMACs."""
        if claim.kind == "compute":
            return self.compute_gmacs[side]
        return self.tables[claim.table or ""][side].values[claim.metric or ""]

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
    known = {"source", "tables", "compute_gmacs", "dataset_counts", "claims"}
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
    paper = PaperNumbers(source=str(raw.get("source", "")), tables=tables, compute_gmacs=gmacs,
                         dataset_counts=counts, path=origin)
    claims = _claims(raw.get("claims") or [], paper, origin)
    return PaperNumbers(source=paper.source, tables=tables, compute_gmacs=gmacs, dataset_counts=counts,
                        path=origin, claims=claims)


_CLAIM_KEYS = {"id", "text", "kind", "model", "baseline", "delta", "table", "metric"}


def _claims(raw: Any, paper: PaperNumbers, origin: str) -> tuple[PaperClaim, ...]:
    """Parse ``claims:``; each claim's Δ must match its two numbers in the file (catches typos)."""
    if not isinstance(raw, list):
        raise ConfigError(f"{origin}: claims: expected a list")
    out: list[PaperClaim] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw):
        where = f"{origin}: claims[{i}]"
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{where}: expected a mapping")
        for key in entry:
            if key not in _CLAIM_KEYS:
                raise ConfigError(f"{where}.{key}: unknown key (known: {', '.join(sorted(_CLAIM_KEYS))})")
        for key in ("id", "text", "model", "baseline", "delta"):
            if key not in entry:
                raise ConfigError(f"{where}.{key}: required")
        kind = entry.get("kind", "accuracy")
        if kind not in ("accuracy", "compute"):
            raise ConfigError(f"{where}.kind: expected accuracy or compute, got {kind!r}")
        claim = PaperClaim(id=str(entry["id"]), text=str(entry["text"]), kind=kind, model=str(entry["model"]),
                           baseline=str(entry["baseline"]), delta=_number(entry["delta"], f"{where}.delta"),
                           table=entry.get("table"), metric=entry.get("metric"))
        where = f"{origin}: claims[{i}] ({claim.id})"
        if claim.id in seen:
            raise ConfigError(f"{where}.id: repeated")
        seen.add(claim.id)
        if kind == "accuracy":
            if claim.table not in paper.tables:
                raise ConfigError(f"{where}.table: {claim.table!r} is not a table of {origin}")
            for side in (claim.model, claim.baseline):
                row = paper.tables[claim.table].get(side)
                if row is None or claim.metric not in row.values:
                    raise ConfigError(f"{where}: tables.{claim.table}.{side}.{claim.metric} is not in {origin}")
        else:
            for side in (claim.model, claim.baseline):
                if side not in paper.compute_gmacs:
                    raise ConfigError(f"{where}: compute_gmacs.{side} is not in {origin}")
        stated = paper.value(claim, claim.model) - paper.value(claim, claim.baseline)
        if abs(stated - claim.delta) > _DELTA_TOLERANCE:
            raise ConfigError(f"{where}.delta: {claim.delta:+.1f} but the file's own numbers give {stated:+.2f}")
        out.append(claim)
    return tuple(out)


def load_paper(path: str | os.PathLike[str]) -> PaperNumbers:
    """Read the paper's numbers from ``path`` (YAML); a missing or malformed file raises ConfigError."""
    raw = read_yaml(path, what="paper numbers file", error=ConfigError)
    return paper_from_mapping(raw, origin=str(Path(path)))
