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
from datar.report.intervals import level_text
from datar.report.kind import banner
from datar.report.metrics import RunMetrics, read_all
from datar.gitinfo import CodeState, code_state
from datar.report.provenance import read_version_file, run_code
from datar.report.tables import table_number
from datar.runs import version_json

KIND_WORDS = {
    "paper": "the paper's experiment (config as in the paper)",
    "demo": "DEMO: the embedded synthetic corpus, not the paper's experiment",
    "rehearsal": "REHEARSAL: a reduced-scale rehearsal of the paper's setting, not the paper's experiment",
}

def dataset_name(cfg: Config, dataset: str) -> str:
    """The printed name of a config dataset: the paper's name for the paper's datasets (and stand-ins)."""
    from datar.report.paper import default_paper, paper_dataset_of

    paper = default_paper()
    key = paper_dataset_of(cfg, dataset, paper)
    return paper.datasets[key].name if key in paper.datasets else dataset


def _lit(text: str) -> str:
    """An inline literal (rst), safe for any text without backquotes."""
    return f"``{text.replace('`', chr(39))}``"


def _code_label(state: CodeState) -> str:
    """Short commit, with the uncommitted-changes note."""
    if state.commit is None:
        return "not a git checkout"
    return state.commit[:12] + (f" + uncommitted changes (diff {(state.diff_sha256 or '?')[:12]})" if state.dirty else "")


def _title(text: str) -> list[str]:
    return [text, "=" * len(text), ""]


def _short(h: str | None, n: int = 12) -> str:
    return _lit(h[:n]) if h else "not recorded"


def front_page(cfg: Config, runs: Sequence[RunMetrics], *, configfile_args: str) -> str:
    """The front page as reStructuredText.

    Kept short on purpose: Snakemake shows it in a narrow column centred on the screen, so a
    page taller than the window loses its top. Full hashes are in every table's provenance.

    Args:
        cfg: the config the workflow ran with.
        runs: the runs' metrics (their commits, config hashes and data versions).
        configfile_args: the ``--configfile`` arguments of the run, for the commands shown.
    """
    kind = cfg.run_kind
    lines = _title("DATAR reproduction: " + {"paper": "the paper's experiment", "demo": "DEMO run",
                                              "rehearsal": "REHEARSAL run"}[kind])
    b = banner(kind)
    lines += [f"**{b}.**" if b else f"**{KIND_WORDS['paper']}.**", ""]
    codes = [run_code(r) for r in runs]
    commits = sorted({c.commit for c in codes if c.commit})
    dirty = [c for c in codes if c.dirty]
    diffs = sorted({c.diff_sha256 or "?" for c in dirty})
    current = code_state()
    hashes = sorted({r.config_sha256 for r in runs if r.config_sha256})
    versions = []
    for d in sorted({t.dataset for t in cfg.tables.values()} | set(cfg.datasets)):
        try:
            v = read_version_file(Path(version_json(cfg.data_dir, d)))
        except DataError:
            v = "unreadable"
        versions.append(f"{d} {_short(v) if v else 'absent'}")
    lines += [
        f":Config: {_lit(cfg.name)}, sha256 {_short(cfg.sha256)} ({_lit('--configfile ' + configfile_args)})",
        f":Code: runs at {', '.join(_short(c) for c in commits) or 'not recorded'}"
        + (f" + uncommitted changes ({len(dirty)} run(s), diff {', '.join(_short(d) for d in diffs)})" if dirty else "")
        + f"; pages at {_lit(_code_label(current))}",
        f":Data: {', '.join(versions)}",
        f":Runs: {len(runs)} (seeds {', '.join(map(str, cfg.seeds))}); {level_text(cfg.report.confidence)} intervals: "
        "bootstrap over seeds and "
        f"clips, {cfg.report.bootstrap_resamples:,} resamples",
    ]
    if hashes and hashes != [cfg.sha256]:
        lines.append(f":Warning: the runs used config sha256 {', '.join(_short(h) for h in hashes)}")
    tables = "; ".join(
        f"{table_number(n)} {dataset_name(cfg, t.dataset)}" for n, t in sorted(cfg.tables.items()))
    lines += [
        "",
        "**Sections** (menu on the left; the eye button shows an item here). "
        f"**Claims**: each claim of the paper, our paired Δ with {level_text(cfg.report.confidence)} CI and p, and a "
        "verdict. "
        f"**Tables** ({tables}): the paper's numbers beside ours, with chance level and provenance. "
        "**Data**: clips available per dataset. **Figures**: Fig. 1, sampling points, training curves, "
        "per-class accuracy and confusion. Files of record: the .md, .tex and .csv beside each page.",
        "",
    ]
    cf = f"--configfile {configfile_args}"
    last = sorted(cfg.tables)[-1] if cfg.tables else "table1"
    res = cfg.results_dir
    lines += [
        "**Regenerate one table** from the runs (nothing is retrained), then this report::",
        "",
        f"    snakemake {cf} --cores 2 --forcerun table {res}/tables/{last}.md",
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
