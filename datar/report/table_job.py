"""One table job: read config, paper numbers, metrics and predictions; write ``.md``, ``.tex``, ``.csv``, ``.html``."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from datar.config import Config
from datar.io import write_json_atomic, write_text_atomic
from datar.report.html import markdown_to_html
from datar.report.metrics import read_all
from datar.report.paper import PaperNumbers
from datar.report.predictions import check_against_metrics, load_run_predictions
from datar.report.provenance import collect_provenance, known_head_sizes
from datar.report.render import to_csv, to_latex, to_markdown
from datar.report.tables import build_table
from datar.runs import table_metrics_file


def write_table(
    cfg: Config,
    name: str,
    paper: PaperNumbers,
    metrics_paths: Sequence[str | os.PathLike[str]],
    out_prefix: str | os.PathLike[str],
    *,
    measure: bool = True,
) -> list[Path]:
    """Render table ``name`` to ``{out_prefix}.md``, ``.tex``, ``.csv`` and ``.html`` (each atomically).

    The per-clip ``predictions.csv`` beside each ``metrics.json`` gives the intervals; a run
    without one is shown without an interval (and the table says so).

    Args:
        cfg: the experiment config.
        name: table key (``table1`` ... ``table4``).
        paper: the paper's numbers.
        metrics_paths: runs' ``metrics.json`` files (others' datasets / variants are skipped).
        out_prefix: output path without suffix.
        measure: count MACs and parameters for the provenance.

    Returns:
        The written paths. Skipped metrics files and warnings go to stderr.
    """
    runs = read_all(metrics_paths)
    if name in cfg.tables:
        dataset = cfg.tables[name].dataset
        runs_here = [r for r in runs if r.dataset == dataset]
        classes = known_head_sizes(cfg, dataset)
    else:
        runs_here, classes = [], None
    predictions, absent = load_run_predictions(runs_here)
    table = build_table(cfg, name, paper, runs, classes=classes, predictions=predictions)
    prov = collect_provenance(cfg, table, paper, measure=measure)
    problems = [p for r in runs_here if (r.dataset, r.variant, r.seed) in predictions
                for p in check_against_metrics(r, predictions[(r.dataset, r.variant, r.seed)])]
    if problems:
        prov = type(prov)(items=prov.items, warnings=prov.warnings + tuple(problems))
    for s in table.skipped:
        print(f"note: skipped {s}", file=sys.stderr)
    for s in absent:
        print(f"note: {s}", file=sys.stderr)
    for w in prov.warnings:
        print(f"WARNING: {name}: {w}", file=sys.stderr)
    prefix = Path(out_prefix)
    md = to_markdown(table, prov)
    outs = {
        prefix.with_name(prefix.name + ".md"): md,
        prefix.with_name(prefix.name + ".tex"): to_latex(table, prov),
        prefix.with_name(prefix.name + ".csv"): to_csv(table, prov),
        prefix.with_name(prefix.name + ".html"): markdown_to_html(md),
    }
    for path, text in outs.items():
        write_text_atomic(path, text)
    metrics_file = Path(table_metrics_file(cfg.results_dir, name))
    write_json_atomic(metrics_file, table_metrics_record(table))
    return [*outs, metrics_file]


def table_metrics_record(table) -> dict:  # noqa: ANN001 - a datar.report.tables.Table
    """A table's reproduced numbers for ``dvc metrics``: per row and metric, mean, std, n and the interval (report.confidence)."""
    rows: dict[str, dict] = {}
    for row in table.rows:
        if row.kind != "run":
            continue
        rows[row.key] = {m: {"mean": _r(c.mean), "std": _r(c.std), "n": c.n,
                             "ci_low": _r(c.ci.low if c.ci else None), "ci_high": _r(c.ci.high if c.ci else None)}
                         for m in table.columns for c in (row.cells[m],)}
    return {"table": table.name, "dataset": table.dataset, "comparable": table.comparable, "rows": rows}


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 4)
