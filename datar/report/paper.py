"""The paper's reported numbers (``config/paper.yaml``): facts printed beside reproduced ones."""

from __future__ import annotations

import dataclasses
import functools
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
        label: the row's name in tables (cited rows: ``Chen et al.``); model rows take the
            variant registry's.
    """

    key: str
    values: Mapping[str, float]
    cited: str | None = None
    label: str | None = None


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
class PaperDataset:
    """A dataset the paper's numbers are about.

    Attributes:
        key: its key (the config's dataset key when a config uses it, e.g. ``vggsound``).
        name: its name as printed (``VGGSound``).
        format: the manifest format of its real source lists (``datasets.D.format``).
        counts: clips the paper collected per split, and class counts (``verbs``, ``nouns``).
    """

    key: str
    name: str
    format: str
    counts: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Comparison:
    """Whether a table of a config may be read against the paper's numbers.

    Attributes:
        comparable: the table's dataset is (or, for a demo, explicitly stands for) the
            paper's dataset of that table.
        reason: why not, in words (``table1 is on drums``); empty when comparable. Callers
            add what the paper's side is about (``paper_dataset.name``).
        paper_dataset: the paper's dataset of the table (None when the paper has no such table).
    """

    comparable: bool
    reason: str = ""
    paper_dataset: PaperDataset | None = None


@dataclass(frozen=True)
class PaperNumbers:
    """Everything ``config/paper.yaml`` holds.

    Attributes:
        source: the paper's reference line.
        tables: table name -> row key -> :class:`PaperRow`.
        compute_gmacs: model key -> GMACs the paper reports.
        datasets: dataset key -> :class:`PaperDataset` (name, format, the paper's clip counts).
        table_datasets: table name -> the key of the dataset its numbers are about.
        path: the file it was read from.
        claims: the paper's quantitative claims, in print order.
    """

    source: str
    tables: Mapping[str, Mapping[str, PaperRow]]
    compute_gmacs: Mapping[str, float] = field(default_factory=dict)
    datasets: Mapping[str, PaperDataset] = field(default_factory=dict)
    table_datasets: Mapping[str, str] = field(default_factory=dict)
    path: str = ""
    claims: tuple[PaperClaim, ...] = ()

    @property
    def dataset_counts(self) -> dict[str, dict[str, int]]:
        """dataset -> {split or count name: number} (the paper's clip and class counts)."""
        return {k: dict(d.counts) for k, d in self.datasets.items()}

    def compare(self, cfg: Any, table: str) -> Comparison:
        """Whether ``cfg``'s table ``table`` is on the dataset the paper's table is about.

        A config dataset is the paper's dataset ``P`` when ``datasets.D.paper_dataset`` names
        ``P``; with ``auto`` (the default) when its key is ``P`` and its format is ``P``'s
        (a user csv named ``kinetics_sounds`` is not Kinetics-Sounds); ``null`` never.
        """
        key = self.table_datasets.get(table)
        if key is None or key not in self.datasets:
            return Comparison(False, f"the paper has no {table}")
        pds = self.datasets[key]
        tcfg = cfg.tables[table]
        ours = paper_dataset_of(cfg, tcfg.dataset, self)
        if ours == key:
            return Comparison(True, "", pds)
        ds = cfg.dataset(tcfg.dataset)
        what = tcfg.dataset if tcfg.dataset != key else f"{tcfg.dataset} (format {ds.format}, not {pds.format})"
        return Comparison(False, f"{table} is on {what}", pds)

    def value(self, claim: PaperClaim, side: str) -> float:
        """The paper's number for ``side`` (a row key) of ``claim``: its table metric or its GMACs."""
        if claim.kind == "compute":
            return self.compute_gmacs[side]
        return self.tables[claim.table or ""][side].values[claim.metric or ""]

    def table(self, name: str) -> Mapping[str, PaperRow]:
        """Rows of table ``name``; an empty mapping when the paper file has none."""
        return self.tables.get(name, {})


#: The paper's numbers: one file, beside the package in this repository (the workflow's too).
PAPER_FILE = Path(__file__).resolve().parents[2] / "config" / "paper.yaml"


@functools.lru_cache(maxsize=4)
def _default(path: str) -> PaperNumbers:
    return load_paper(path)


def default_paper() -> PaperNumbers:
    """:data:`PAPER_FILE`, read once per process."""
    return _default(str(PAPER_FILE))


def paper_counts(cfg: Any, dataset: str, paper: PaperNumbers | None = None) -> dict[str, int]:
    """The clips per split (and class counts) the paper reports for the dataset a config dataset
    is (:func:`paper_dataset_of`), ``{}`` for a dataset the paper did not use."""
    paper = paper or default_paper()
    key = paper_dataset_of(cfg, dataset, paper)
    return dict(paper.datasets[key].counts) if key in paper.datasets else {}


def paper_dataset_of(cfg: Any, dataset: str, paper: PaperNumbers) -> str | None:
    """The paper dataset a config dataset is (``datasets.D.paper_dataset``; ``auto``: same key and format)."""
    ds = cfg.dataset(dataset)
    declared = getattr(ds, "paper_dataset", "auto")
    if declared != "auto":
        return declared
    pds = paper.datasets.get(dataset)
    return dataset if pds is not None and pds.format == ds.format else None


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    return float(value)


def paper_from_mapping(raw: Any, *, origin: str = "paper.yaml") -> PaperNumbers:
    """Build :class:`PaperNumbers` from a parsed YAML mapping; errors name ``origin`` and the key."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{origin}: expected a mapping at the top level")
    known = {"source", "datasets", "tables", "compute_gmacs", "claims"}
    for key in raw:
        if key not in known:
            raise ConfigError(f"{origin}: {key}: unknown key (known: {', '.join(sorted(known))})")
    datasets = _datasets(raw.get("datasets") or {}, origin)
    tables_raw = raw.get("tables") or {}
    if not isinstance(tables_raw, Mapping):
        raise ConfigError(f"{origin}: tables: expected a mapping")
    tables: dict[str, dict[str, PaperRow]] = {}
    table_datasets: dict[str, str] = {}
    for tname, entry in tables_raw.items():
        if not isinstance(entry, Mapping) or set(entry) != {"dataset", "rows"}:
            raise ConfigError(f"{origin}: tables.{tname}: expected a mapping with dataset: and rows:")
        if entry["dataset"] not in datasets:
            raise ConfigError(f"{origin}: tables.{tname}.dataset: {entry['dataset']!r} is not in datasets: "
                              f"({', '.join(sorted(datasets)) or 'none'})")
        table_datasets[str(tname)] = str(entry["dataset"])
        rows = entry["rows"]
        if not isinstance(rows, Mapping):
            raise ConfigError(f"{origin}: tables.{tname}.rows: expected a mapping of rows")
        tables[str(tname)] = {}
        for rkey, row in rows.items():
            where = f"{origin}: tables.{tname}.rows.{rkey}"
            if not isinstance(row, Mapping):
                raise ConfigError(f"{where}: expected a mapping of metric: value")
            cited = row.get("cited")
            if cited is not None and not isinstance(cited, str):
                raise ConfigError(f"{where}.cited: expected a string (the reference)")
            label = row.get("label")
            if label is not None and not isinstance(label, str):
                raise ConfigError(f"{where}.label: expected a string")
            values = {str(k): _number(v, f"{where}.{k}") for k, v in row.items() if k not in ("cited", "label")}
            tables[str(tname)][str(rkey)] = PaperRow(key=str(rkey), values=values, cited=cited, label=label)
    gmacs_raw = raw.get("compute_gmacs") or {}
    gmacs = {str(k): _number(v, f"{origin}: compute_gmacs.{k}") for k, v in gmacs_raw.items()}
    paper = PaperNumbers(source=str(raw.get("source", "")), tables=tables, compute_gmacs=gmacs,
                         datasets=datasets, table_datasets=table_datasets, path=origin)
    claims = _claims(raw.get("claims") or [], paper, origin)
    return dataclasses.replace(paper, claims=claims)


def _datasets(raw: Any, origin: str) -> dict[str, PaperDataset]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{origin}: datasets: expected a mapping")
    out = {}
    for key, entry in raw.items():
        where = f"{origin}: datasets.{key}"
        if not isinstance(entry, Mapping) or not {"name", "format"} <= set(entry) or \
                not set(entry) <= {"name", "format", "counts"}:
            raise ConfigError(f"{where}: expected name:, format: and optional counts:")
        counts = {str(k): int(_number(v, f"{where}.counts.{k}")) for k, v in (entry.get("counts") or {}).items()}
        out[str(key)] = PaperDataset(key=str(key), name=str(entry["name"]), format=str(entry["format"]),
                                     counts=counts)
    return out


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
