"""The content of one paper table: paper numbers beside reproduced mean ± std over seeds.

:func:`build_table` is pure: it takes the config, the paper's numbers, the runs' metrics and
(optionally) their per-clip predictions and returns a :class:`Table`; :mod:`datar.report.render`
turns it into Markdown, LaTeX and CSV. Every reproduced number in a :class:`Table` is
computed from metrics files; its interval (``report.confidence``) from the predictions (a hierarchical
bootstrap over seeds and clips, :mod:`datar.report.intervals`). A row whose runs are
missing is "not run", never filled from the paper.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from datar.config import Config
from datar.errors import ConfigError, DataError
from datar.report.intervals import Interval, bootstrap_accuracy
from datar.report.kind import BANNERS, banner
from datar.report.metrics import RunMetrics
from datar.report.paper import Comparison, PaperNumbers
from datar.variants import MODEL_VARIANTS, VARIANTS

if TYPE_CHECKING:
    import pandas as pd

DEMO_BANNER = BANNERS["demo"]

#: Top-5 is shown only for heads with more classes than this (else it is near certain).
TOP5_MIN_CLASSES = 10

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
    ci: Interval | None = None

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

    @property
    def capped(self) -> dict[int, int]:
        """Seed -> step at which training was capped (``train.max_steps``), for runs that record it."""
        out = {}
        for r in self.runs:
            step = r.extra.get("capped_at_step")
            if isinstance(step, int) and not isinstance(step, bool):
                out[r.seed] = step
        return out


@dataclass(frozen=True)
class Reference:
    """What a metric column reads against: chance and the majority-class rate of the test split.

    Attributes:
        classes: classes of the metric's head (pairs for ``action``), or None if unknown.
        chance: accuracy of a uniform random guess, %.
        majority: accuracy of always answering the most frequent test class(es) (the k most
            frequent for top-k), %, or None without per-clip labels.
        clips: test clips the majority rate is counted on.
    """

    classes: int | None
    chance: float | None
    majority: float | None = None
    clips: int | None = None


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
        kind: ``paper``, ``demo`` or ``rehearsal`` (the banner in the title).
        classes: classes per head (None where unknown).
        references: metric -> :class:`Reference` (chance, majority class), for every csv metric.
        notes: lines printed under the title (hidden columns, capped runs, missing predictions).
        bootstrap: ``(resamples, seed)`` of the intervals.
        confidence: their confidence level (``report.confidence``).
        comparison: whether the table's dataset is the paper's (else no paper numbers, no Δ).
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
    kind: str = "paper"
    classes: Mapping[str, int | None] = field(default_factory=dict)
    references: Mapping[str, Reference] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    bootstrap: tuple[int, int] = (0, 0)  # build_table sets both from report: (the schema's defaults)
    confidence: float = 0.0
    comparison: Comparison = Comparison(True)

    @property
    def comparable(self) -> bool:
        """Whether the paper's numbers (and Δ) are shown: the table is on the paper's dataset."""
        return self.comparison.comparable


def metric_columns(heads: Sequence[str], classes: Mapping[str, int | None] | None = None
                   ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Shown and CSV-only metric keys for a dataset with these label heads.

    Single-label datasets show top-1 and top-5, top-5 only when the head has more than
    :data:`TOP5_MIN_CLASSES` classes (known from ``classes``). Verb + noun datasets
    (EPIC-100) show the paper's verb, noun and action top-1; their top-5 go to the CSV only.
    """
    if tuple(heads) == ("label",):
        n = (classes or {}).get("label")
        if n is not None and n <= TOP5_MIN_CLASSES:
            return ("top1",), ("top5",)
        return ("top1", "top5"), ()
    shown = tuple(f"{h}_top1" for h in heads) + ("action_top1",)
    extra = tuple(f"{h}_top5" for h in heads) + ("action_top5",)
    return shown, extra


def metric_head(metric: str) -> tuple[str, int]:
    """The head a metric key scores (``label`` for ``top1``) and its k."""
    head, _, kind = metric.rpartition("_")
    return (head or "label"), int(kind[3:])


def references(metrics: Sequence[str], classes: Mapping[str, int | None],
               counts: Mapping[str, "pd.Series"] | None) -> dict[str, Reference]:
    """Chance and majority-class rates of each metric.

    Args:
        metrics: metric keys.
        classes: classes per head (``action`` = verb x noun is derived).
        counts: test clips per true class per head (and ``action``), e.g.
            :func:`datar.report.predictions.class_counts`; None without predictions.
    """
    sizes = dict(classes)
    if sizes.get("verb") and sizes.get("noun"):
        sizes["action"] = sizes["verb"] * sizes["noun"]  # type: ignore[operator]
    out = {}
    for m in metrics:
        head, k = metric_head(m)
        c = sizes.get(head)
        chance = 100.0 * min(k, c) / c if c else None
        majority = clips = None
        if counts is not None and head in counts and len(counts[head]):
            col = counts[head].sort_values(ascending=False, kind="stable")
            clips = int(col.sum())
            majority = 100.0 * float(col.iloc[:k].sum()) / clips
        out[m] = Reference(classes=c, chance=chance, majority=majority, clips=clips)
    return out


def row_intervals(row_runs: Sequence[RunMetrics], metric: str, predictions: Mapping[tuple[str, str, int], "pd.DataFrame"],
                  *, resamples: int, seed: int, key: str, confidence: float) -> Interval | None:
    """The hierarchical-bootstrap interval of one cell, None if a run lacks predictions or the metric."""
    from datar.report.predictions import hit_matrix

    frames = {r.seed: predictions.get((r.dataset, r.variant, r.seed)) for r in row_runs}
    if not frames or any(f is None for f in frames.values()):
        return None
    hm = hit_matrix(frames, metric)  # type: ignore[arg-type]
    if hm is None:
        return None
    return bootstrap_accuracy(hm.hits, resamples=resamples, seed=seed, key=key, confidence=confidence)


def table_number(name: str) -> str:
    """The number in a table name (``table2`` -> ``2``), else the name itself."""
    m = re.fullmatch(r"table(\d+)", name)
    return m.group(1) if m else name


def row_label(key: str, paper: PaperNumbers | None = None) -> str:
    """Human-readable label of a row key: the variant registry's, else a cited row's in the paper file."""
    if key in VARIANTS:
        return VARIANTS[key].label
    if paper is not None:
        for rows in paper.tables.values():
            row = rows.get(key)
            if row is not None and row.label:
                return row.label
    return key


def metric_label(key: str) -> str:
    """Human-readable label of a metric key."""
    return METRIC_LABELS.get(key, key)


def build_table(cfg: Config, name: str, paper: PaperNumbers, runs: Iterable[RunMetrics], *,
                classes: Mapping[str, int | None] | None = None,
                predictions: Mapping[tuple[str, str, int], "pd.DataFrame"] | None = None) -> Table:
    """Assemble table ``name`` from the config, the paper's numbers and the runs found.

    Args:
        cfg: the experiment config (``tables.<name>`` fixes the rows and dataset).
        name: table key, e.g. ``"table2"``.
        paper: the paper's numbers.
        runs: metrics of any runs; those of another dataset or of a variant the table does
            not show are skipped (listed in ``Table.skipped``).
        classes: classes per head of the table's dataset (decides whether top-5 is shown
            and the chance level); None when unknown.
        predictions: per-clip predictions keyed ``(dataset, variant, seed)``
            (:func:`datar.report.predictions.load_run_predictions`): the intervals and the
            majority-class rate come from them; cells of runs without predictions have none.

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
    heads = tuple(cfg.dataset(tcfg.dataset).heads)
    sizes: dict[str, int | None] = {h: (classes or {}).get(h) for h in heads}
    shown, extra = metric_columns(heads, sizes)
    predictions = predictions or {}
    resamples, bseed = cfg.report.bootstrap_resamples, cfg.report.bootstrap_seed
    paper_rows = paper.table(name)
    comparison = paper.compare(cfg, name)
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
            pval = prow.values.get(metric) if prow is not None and comparison.comparable else None
            vals = () if cited is not None else tuple(r.metrics[metric] for r in row_runs if metric in r.metrics)
            ci = None
            if vals and cited is None:
                ci = row_intervals(row_runs, metric, predictions, resamples=resamples, seed=bseed,
                                   key=f"{name}/{key}/{metric}", confidence=cfg.report.confidence)
            cells[metric] = Cell(paper=pval, values=vals, ci=ci)
        rows.append(Row(key=key, label=row_label(key, paper), kind="cited" if cited else "run", cells=cells,
                        runs=() if cited else row_runs, cited=cited))
    demo = cfg.demo or any(r.demo for rs in by_variant.values() for r in rs)
    kind = "demo" if demo and cfg.run_kind == "paper" else cfg.run_kind
    title = f"Table {table_number(name)}: {tcfg.title}"
    if banner(kind):
        title = f"{banner(kind)}. {title}"
    # CSV-only columns appear only when some run measured them (or they are hidden top-5).
    extra_kept = tuple(m for m in extra if any(row.cells[m].n for row in rows) or m == "top5")
    counts = None
    shown_runs = [r for row in rows for r in row.runs]
    for r in shown_runs:
        frame = predictions.get((r.dataset, r.variant, r.seed))
        if frame is not None:
            from datar.report.predictions import class_counts

            counts = class_counts(frame)
            break
    refs = references(shown + extra_kept, sizes, counts)
    notes = []
    if not comparison.comparable and comparison.paper_dataset is not None:
        notes.append(f"Not comparable with the paper: {comparison.reason}; the paper's Table {table_number(name)} is "
                     f"about {comparison.paper_dataset.name}. Its numbers, the Δ and the claims' verdicts are not "
                     "shown; the reproduced numbers and intervals are.")
    if "top5" in extra and "top5" not in shown:
        n = sizes.get("label")
        notes.append(f"Top-5 is not shown: with {n} classes (at most {TOP5_MIN_CLASSES}) it says little "
                     f"(chance {refs['top5'].chance:.1f}%); the csv keeps it.")
    capped = [(row.label, s, step) for row in rows for s, step in sorted(row.capped.items())]
    if capped:
        notes.append("Capped runs (train.max_steps): " + "; ".join(
            f"{label} seed {s} stopped at step {step}" for label, s, step in capped)
            + ". They trained less than the configured epochs.")
    missing = [f"{row.label} seed {r.seed}" for row in rows for r in row.runs
               if (r.dataset, r.variant, r.seed) not in predictions]
    if missing:
        notes.append("No per-clip predictions (so no interval) for: " + ", ".join(missing) + ".")
    return Table(name=name, title=title, dataset=tcfg.dataset, columns=shown, csv_columns=shown + extra_kept,
                 rows=tuple(rows), demo=demo, configured_seeds=tuple(cfg.seeds), skipped=tuple(skipped),
                 kind=kind, classes=sizes, references=refs, notes=tuple(notes), bootstrap=(resamples, bseed),
                 confidence=cfg.report.confidence, comparison=comparison)
