"""The claims job: runs' metrics and predictions -> ``claims.md``, ``.tex``, ``.csv`` and ``.html``."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from datar.config import Config
from datar.io import sha256_file, shared_path, write_json_atomic, write_text_atomic
from datar.report.claims import check_claims, default_macs_counter, runs_used
from datar.report.claims_render import TITLE, to_csv, to_latex, to_markdown
from datar.report.html import markdown_to_html
from datar.report.kind import titled
from datar.report.metrics import RunMetrics, read_all
from datar.report.paper import PaperNumbers
from datar.report.predictions import check_against_metrics, load_run_predictions
from datar.report.provenance import code_provenance
from datar.runs import table_metrics_file


def _provenance(cfg: Config, paper: PaperNumbers, runs: Sequence[RunMetrics]) -> list[tuple[str, str]]:
    def uniq(values):
        return sorted({v for v in values if v})

    code, warnings = code_provenance(runs, what="claims")
    items = [
        ("code", code + "".join(f". WARNING: {w}" for w in warnings)),
        ("config sha256", f"runs: {', '.join(uniq(r.config_sha256 for r in runs)) or 'not recorded'}; "
                          f"claims config: {cfg.sha256}"),
    ]
    for dataset in sorted({r.dataset for r in runs}):
        versions = uniq(r.data_version for r in runs if r.dataset == dataset)
        seeds = sorted({r.seed for r in runs if r.dataset == dataset})
        items.append((f"data version, {dataset}", f"{', '.join(versions) or 'not recorded'} "
                                                  f"(runs of seeds {', '.join(map(str, seeds))})"))
    items.append(("bootstrap", f"{cfg.report.bootstrap_resamples:,} resamples, seed {cfg.report.bootstrap_seed} "
                               "(config report.bootstrap_resamples / report.bootstrap_seed)"))
    items.append(("paper", f"{paper.source} [{shared_path(paper.path)}, sha256 {sha256_file(paper.path)[:12]}]"
                  if Path(paper.path).is_file() else f"{paper.source} [{shared_path(paper.path)}]"))
    return items


def write_claims(cfg: Config, paper: PaperNumbers, metrics_paths: Sequence[str | os.PathLike[str]],
                 out_prefix: str | os.PathLike[str], *, measure: bool = True) -> list[Path]:
    """Check every claim of ``paper`` and write ``{out_prefix}.md``, ``.tex``, ``.csv``, ``.html`` atomically.

    Args:
        cfg: the experiment config.
        paper: the paper's numbers and claims.
        metrics_paths: the runs' ``metrics.json`` (their ``predictions.csv`` beside them).
        out_prefix: output path without suffix.
        measure: count MACs for the compute claim (False: it is not run).
    """
    runs = read_all(metrics_paths)
    predictions, absent = load_run_predictions(runs)
    for s in absent:
        print(f"note: {s}", file=sys.stderr)
    for r in runs:
        if (r.dataset, r.variant, r.seed) in predictions:
            for problem in check_against_metrics(r, predictions[(r.dataset, r.variant, r.seed)]):
                print(f"WARNING: claims: {problem}", file=sys.stderr)
    macs, shape = default_macs_counter(cfg) if measure else (None, "")
    results = check_claims(cfg, paper, predictions, macs=macs, macs_shape=shape)
    demo_runs = any(r.demo for r in runs)
    kind = "demo" if demo_runs and cfg.run_kind == "paper" else cfg.run_kind
    title = titled(cfg, TITLE, kind=kind)
    prov = _provenance(cfg, paper, runs_used(results, runs))
    resamples, seed = cfg.report.bootstrap_resamples, cfg.report.bootstrap_seed
    md = to_markdown(title, results, prov, resamples=resamples, seed=seed, confidence=cfg.report.confidence)
    prefix = Path(out_prefix)
    outs = {
        prefix.with_name(prefix.name + ".md"): md,
        prefix.with_name(prefix.name + ".tex"): to_latex(title, results, prov, resamples=resamples, seed=seed,
                                                         confidence=cfg.report.confidence),
        prefix.with_name(prefix.name + ".csv"): to_csv(results, kind=kind),
        prefix.with_name(prefix.name + ".html"): markdown_to_html(md),
    }
    for path, text in outs.items():
        write_text_atomic(path, text)
    metrics_file = Path(table_metrics_file(cfg.results_dir, "claims"))
    write_json_atomic(metrics_file, {r.claim.id: {
        "delta": None if r.delta is None else round(r.delta, 4),
        "ci_low": None if r.ci is None else round(r.ci.low, 4), "ci_high": None if r.ci is None else round(r.ci.high, 4),
        "p": None if r.p is None else round(r.p, 6), "verdict": r.verdict} for r in results})
    return [*outs, metrics_file]
