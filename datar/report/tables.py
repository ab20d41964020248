"""The content of one paper table: paper numbers beside reproduced mean ± std over seeds.

:func:`build_table` is pure: it takes the config, the paper's numbers and the runs' metrics
and returns a :class:`Table`; :mod:`datar.report.render` turns it into Markdown, LaTeX and
CSV. Every reproduced number in a :class:`Table` is computed from metrics files; a row
whose runs are missing is "not run", never filled from the paper.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from datar.config import Config
from datar.errors import ConfigError, DataError
from datar.report.metrics import RunMetrics
from datar.report.paper import PaperNumbers
from datar.variants import MODEL_VARIANTS

DEMO_BANNER = "DEMO — synthetic data, not the paper's experiment"

#: Human-readable row labels (the paper's wording); unknown keys fall back to the key.
ROW_LABELS: dict[str, str] = {
    "ast": "AST",
    "dat_fixed": "without deformable",
    "dat_deform": "with deformable",
    "dat_deform_gauss": "deformable + N(0, 0.005)",
    "dat_deform_laplace": "deformable + Laplace(0, 0.005)",
    "datar_l0.2": "deformable + adaptor, λ=0.2",
    "datar": "DATAR (deformable + adaptor, λ=0.005)",
    "chen2020": "Chen et al.",
    "audioslowfast": "AudioSlowFast",
    "damen2021": "Damen et al.",
}

#: Column labels of metric keys.
METRIC_LABELS: dict[str, str] = {
    "top1": "Top-1",
    "top5": "Top-5",
    "verb_top1": "Verb top-1",
    "noun_top1": "Noun top-1",
    "action_top1": "Action top-1",
    "verb_top5": "Verb top-5",
    "noun_top5": "Noun top-5",
    "action_top5": "Action top-5",
}

RowKind = Literal["run", "cited"]


@dataclass(frozen=True)
class Cell:
    """One metric of one row.

    Attributes:
        paper: the paper's number, or None when it reports none.
        values: the reproduced values, one per run that measured the metric.
    """

    paper: float | None
    values: tuple[float, ...] = ()

    @property
    def n(self) -> int:
        """Number of runs the reproduced number is computed from."""
        return len(self.values)

    @property
    def mean(self) -> float | None:
        """Mean over runs, None without runs."""
        return statistics.fmean(self.values) if self.values else None

    @property
    def std(self) -> float | None:
        """Sample standard deviation (n - 1), None for fewer than two runs."""
        return statistics.stdev(self.values) if len(self.values) >= 2 else None

    @property
    def diff(self) -> float | None:
        """Reproduced mean minus the paper's number, None if either is missing."""
        if self.mean is None or self.paper is None:
            return None
        return self.mean - self.paper


@dataclass(frozen=True)
class Row:
    """One table row.

    Attributes:
        key: variant or cited-work key (``tables.<t>.rows`` in the config).
        label: human-readable label.
        kind: ``"run"`` (reproduced here) or ``"cited"`` (printed as the paper reports it).
        cells: metric -> :class:`Cell`, for every metric column (displayed and CSV-only).
        runs: the runs found for this row, sorted by seed.
        cited: the cited reference for cited rows.
    """

    key: str
    label: str
    kind: RowKind
    cells: Mapping[str, Cell]
    runs: tuple[RunMetrics, ...] = ()
    cited: str | None = None

    @property
    def n(self) -> int:
        """Number of runs found."""
        return len(self.runs)

    @property
    def seeds(self) -> tuple[int, ...]:
        """Seeds of the runs found."""
        return tuple(r.seed for r in self.runs)

    @property
    def status(self) -> str:
        """``cited, not rerun``, ``not run`` or ``run``."""
        if self.kind == "cited":
            return "cited, not rerun"
        return "run" if self.runs else "not run"


@dataclass(frozen=True)
class Table:
    """A paper table with its reproduced numbers.

    Attributes:
        name: config key, e.g. ``table2``.
        title: the title as printed (with the demo banner for demo runs).
        dataset: dataset key.
        columns: metric keys shown in Markdown and LaTeX.
        csv_columns: metric keys in the CSV (the shown ones plus measured extras).
        rows: rows in ``tables.<t>.rows`` order.
        demo: whether any input is the synthetic demo.
        configured_seeds: the seeds the config asks for.
        skipped: metrics files given but not shown (other dataset or variant), with reasons.
    """

    name: str
    title: str
    dataset: str
    columns: tuple[str, ...]
    csv_columns: tuple[str, ...]
    rows: tuple[Row, ...]
    demo: bool
    configured_seeds: tuple[int, ...]
    skipped: tuple[str, ...] = ()


def metric_columns(heads: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Shown and CSV-only metric keys for a dataset with these label heads.

    Single-label datasets show top-1 and top-5. Verb + noun datasets (EPIC-100) show the
    paper's verb, noun and action top-1; their top-5 go to the CSV only.
    """
    if tuple(heads) == ("label",):
        return ("top1", "top5"), ()
    shown = tuple(f"{h}_top1" for h in heads) + ("action_top1",)
    extra = tuple(f"{h}_top5" for h in heads) + ("action_top5",)
    return shown, extra


def table_number(name: str) -> str:
    """The number in a table name (``table2`` -> ``2``), else the name itself."""
    m = re.fullmatch(r"table(\d+)", name)
    return m.group(1) if m else name


def row_label(key: str) -> str:
    """Human-readable label of a row key."""
    return ROW_LABELS.get(key, key)


def metric_label(key: str) -> str:
    """Human-readable label of a metric key."""
    return METRIC_LABELS.get(key, key)


def build_table(cfg: Config, name: str, paper: PaperNumbers, runs: Iterable[RunMetrics]) -> Table:
    """Assemble table ``name`` from the config, the paper's numbers and the runs found.

    Args:
        cfg: the experiment config (``tables.<name>`` fixes the rows and dataset).
        name: table key, e.g. ``"table2"``.
        paper: the paper's numbers.
        runs: metrics of any runs; those of another dataset or of a variant the table does
            not show are skipped (listed in ``Table.skipped``).

    Returns:
        The table; reproduced cells hold exactly the values of the matching runs.

    Raises:
        ConfigError: unknown table, or a row that is neither a model variant nor cited in
            the paper file.
        DataError: a matching run evaluated on a split other than ``test``.
    """
    if name not in cfg.tables:
        raise ConfigError(f"tables.{name}: no such table in config {cfg.name!r}; known: {', '.join(sorted(cfg.tables))}")
    tcfg = cfg.tables[name]
    shown, extra = metric_columns(cfg.dataset(tcfg.dataset).heads)
    paper_rows = paper.table(name)
    by_variant: dict[str, list[RunMetrics]] = {}
    skipped: list[str] = []
    for r in runs:
        if r.dataset != tcfg.dataset:
            skipped.append(f"{r.path}: dataset {r.dataset!r}, {name} shows {tcfg.dataset!r}")
            continue
        if r.variant not in tcfg.rows:
            skipped.append(f"{r.path}: variant {r.variant!r} is not a row of {name}")
            continue
        if r.split != "test":
            raise DataError(f"{r.path}: split {r.split!r}; tables report the test split")
        by_variant.setdefault(r.variant, []).append(r)
    rows: list[Row] = []
    for key in tcfg.rows:
        prow = paper_rows.get(key)
        cited = prow.cited if prow is not None else None
        if cited is None and key not in MODEL_VARIANTS:
            raise ConfigError(
                f"tables.{name}.rows: {key!r} is neither a model variant nor a cited row of {paper.path or 'paper.yaml'}"
            )
        row_runs = tuple(sorted(by_variant.get(key, []), key=lambda r: r.seed))
        cells = {}
        for metric in shown + extra:
            pval = prow.values.get(metric) if prow is not None else None
            vals = () if cited is not None else tuple(r.metrics[metric] for r in row_runs if metric in r.metrics)
            cells[metric] = Cell(paper=pval, values=vals)
        rows.append(Row(key=key, label=row_label(key), kind="cited" if cited else "run", cells=cells,
                        runs=() if cited else row_runs, cited=cited))
    demo = cfg.demo or any(r.demo for rs in by_variant.values() for r in rs)
    title = f"Table {table_number(name)}: {tcfg.title}"
    if demo:
        title = f"{DEMO_BANNER}. {title}"
    # CSV-only columns appear only when some run measured them.
    extra_kept = tuple(m for m in extra if any(row.cells[m].n for row in rows))
    return Table(name=name, title=title, dataset=tcfg.dataset, columns=shown, csv_columns=shown + extra_kept,
                 rows=tuple(rows), demo=demo, configured_seeds=tuple(cfg.seeds), skipped=tuple(skipped))
