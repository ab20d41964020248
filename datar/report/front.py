"""The front page of Snakemake's report: what ran, from which code and data, and how to regenerate.

Written as reStructuredText (``{results_dir}/report/front.rst``) by the ``report_front`` rule;
the Snakefile's global report description (``workflow/report/workflow.rst``) includes it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from datar.config import Config
from datar.errors import DataError
from datar.io import write_text_atomic
from datar.report.kind import banner
from datar.report.metrics import RunMetrics, read_all
from datar.report.provenance import current_commit, read_version_file
from datar.report.tables import table_number

KIND_WORDS = {
    "paper": "the paper's experiment (config as in the paper)",
    "demo": "DEMO: the embedded synthetic corpus, not the paper's experiment",
    "rehearsal": "REHEARSAL: a reduced-scale rehearsal of the paper's setting, not the paper's experiment",
}

DATASET_NAMES = {"kinetics_sounds": "Kinetics-Sounds", "vggsound": "VGGSound", "epic100": "EPIC-KITCHENS-100"}


def _lit(text: str) -> str:
    """An inline literal (rst), safe for any text without backquotes."""
    return f"``{text.replace('`', chr(39))}``"


def _title(text: str) -> list[str]:
    return [text, "=" * len(text), ""]


def _section(text: str) -> list[str]:
    return [text, "-" * len(text), ""]


def front_page(cfg: Config, runs: Sequence[RunMetrics], *, configfile_args: str) -> str:
    """The front page as reStructuredText.

    Args:
        cfg: the config the workflow ran with.
        runs: the runs' metrics (their commits, config hashes and data versions).
        configfile_args: the ``--configfile`` arguments of the run, for the commands shown.
    """
    kind = cfg.run_kind
    lines = _title("DATAR reproduction: " + {"paper": "the paper's experiment", "demo": "DEMO run",
                                              "rehearsal": "REHEARSAL run"}[kind])
    b = banner(kind)
    if b:
        lines += [f"**{b}.** Its numbers show that the pipeline runs end to end; they are not the paper's results.", ""]
    commits = sorted({r.git_commit for r in runs if r.git_commit})
    hashes = sorted({r.config_sha256 for r in runs if r.config_sha256})
    lines += [
        f":Config: {_lit(cfg.name)}, sha256 {_lit(cfg.sha256)} (started with {_lit('--configfile ' + configfile_args)})",
        f":Kind: {KIND_WORDS[kind]}",
        f":Code: runs made at commit {', '.join(_lit(c) for c in commits) or 'not recorded'}; "
        f"report pages written at {_lit(current_commit())}",
    ]
    if hashes and hashes != [cfg.sha256]:
        lines.append(f":Runs' config sha256: {', '.join(_lit(h) for h in hashes)} "
                     "(differs from the config above: the tables' provenance says which run used which)")
    versions = []
    for d in sorted({t.dataset for t in cfg.tables.values()} | set(cfg.datasets)):
        try:
            v = read_version_file(Path(cfg.data_dir) / d / "version.json")
        except DataError as exc:
            v = f"unreadable ({exc})"
        versions.append(f"{d} {_lit(v) if v else 'absent'}")
    lines += [
        f":Data versions: {'; '.join(versions)}",
        f":Seeds: {', '.join(map(str, cfg.seeds))} ({len(runs)} runs found)",
        f":Intervals: hierarchical bootstrap over seeds and test clips, {cfg.report.bootstrap_resamples:,} resamples, "
        f"seed {cfg.report.bootstrap_seed}",
        "",
    ]
    lines += _section("What each section holds")
    tables = ", ".join(
        f"Table {table_number(n)} ({DATASET_NAMES.get(t.dataset, t.dataset)}: {t.title})" for n, t in sorted(cfg.tables.items()))
    lines += [
        "- **Claims**: one row per quantitative claim of the paper (Tables 1-4 and compute): the paper's Δ, our "
        "paired Δ with its 95% interval and p-value, the smallest Δ this test set can detect, and a verdict "
        "(reproduced / not reproduced / inconclusive / not run).",
        f"- **Tables**: {tables}. Paper numbers beside ours (mean ± std over seeds, 95% interval), with classes, "
        "chance and majority-class rates, and the provenance of every number.",
        "- **Data**: per dataset, the clips listed, downloaded and valid, and why the others were lost.",
        "- **Figures**: Fig. 1 (the learnable input adaptor), the deformable sampling points, training curves per "
        "dataset, and per-class accuracy with the confusion matrix per dataset and variant.",
        "",
        "Open an item from the menu on the left (Claims, Tables, Data, Figures), then the eye button to view it here. "
        "The Markdown, LaTeX and csv files next to each table are the files of record; the pages shown here are "
        "rendered from the Markdown.",
        "",
    ]
    lines += _section("How to regenerate")
    cf = f"--configfile {configfile_args}"
    first = sorted(cfg.tables)[-1] if cfg.tables else "table1"
    res = cfg.results_dir
    lines += [
        "One table, from the existing runs (nothing is retrained)::",
        "",
        f"    snakemake {cf} --cores 2 --forcerun table {res}/tables/{first}.md",
        "",
        "The claims table, and this report::",
        "",
        f"    snakemake {cf} --cores 2 --forcerun claims {res}/tables/claims.md",
        f"    snakemake {cf} --report {res}/report.html",
        "",
    ]
    return "\n".join(lines) + "\n"


def write_front_page(cfg: Config, metrics_paths: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str], *,
                     configfile_args: str) -> Path:
    """Write :func:`front_page` to ``out`` atomically; missing metrics files are skipped."""
    runs = read_all([p for p in metrics_paths if Path(p).is_file()])
    path = Path(out)
    write_text_atomic(path, front_page(cfg, runs, configfile_args=configfile_args))
    return path
