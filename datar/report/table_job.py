"""One table job: read config, paper numbers and metrics; write ``.md``, ``.tex``, ``.csv``."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from datar.config import Config
from datar.io import write_text_atomic
from datar.report.metrics import read_all
from datar.report.paper import PaperNumbers
from datar.report.provenance import collect_provenance
from datar.report.render import to_csv, to_latex, to_markdown
from datar.report.tables import build_table


def write_table(
    cfg: Config,
    name: str,
    paper: PaperNumbers,
    metrics_paths: Sequence[str | os.PathLike[str]],
    out_prefix: str | os.PathLike[str],
    *,
    measure: bool = True,
) -> list[Path]:
    """Render table ``name`` to ``{out_prefix}.md``, ``.tex`` and ``.csv`` (each atomically).

    Args:
        cfg: the experiment config.
        name: table key (``table1`` ... ``table4``).
        paper: the paper's numbers.
        metrics_paths: runs' ``metrics.json`` files (others' datasets / variants are skipped).
        out_prefix: output path without suffix.
        measure: count MACs and parameters for the provenance.

    Returns:
        The three written paths. Skipped metrics files and warnings go to stderr.
    """
    runs = read_all(metrics_paths)
    table = build_table(cfg, name, paper, runs)
    prov = collect_provenance(cfg, table, paper, measure=measure)
    for s in table.skipped:
        print(f"note: skipped {s}", file=sys.stderr)
    for w in prov.warnings:
        print(f"WARNING: {name}: {w}", file=sys.stderr)
    prefix = Path(out_prefix)
    outs = {
        prefix.with_name(prefix.name + ".md"): to_markdown(table, prov),
        prefix.with_name(prefix.name + ".tex"): to_latex(table, prov),
        prefix.with_name(prefix.name + ".csv"): to_csv(table, prov),
    }
    for path, text in outs.items():
        write_text_atomic(path, text)
    return list(outs)
