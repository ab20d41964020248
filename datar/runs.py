"""Which runs the config asks for, and where each one's files live.

One implementation used by the Snakefile (``workflow/rules/common.smk``), the DVC stage
targets (``python -m datar dvc-targets``), ``dvc-check --touch`` and the tests. Importable
without torch: the workflow imports it at parse time.
"""

from __future__ import annotations

from datar.config import Config
from datar.errors import DataError
from datar.variants import MODEL_VARIANTS

FIGURES = ("fig1_adaptor.png", "deform_points.png")


def run_dir(results_dir: str, dataset: str, variant: str, seed: int | str) -> str:
    """``{results_dir}/runs/{dataset}/{variant}/seed{seed}``: one run's directory."""
    return f"{results_dir}/runs/{dataset}/{variant}/seed{seed}"


def table_variants(cfg: Config, table: str) -> list[str]:
    """The model variants among the rows of ``tables.<table>`` (cited rows need no run), in row order."""
    return [row for row in cfg.tables[table].rows if row in MODEL_VARIANTS]


def table_datasets(cfg: Config) -> list[str]:
    """Datasets that some table shows."""
    return sorted({t.dataset for t in cfg.tables.values()})


def dataset_variants(cfg: Config, dataset: str) -> list[str]:
    """Every variant of ``dataset`` that a table row or Fig. 1 needs, sorted."""
    variants = {v for name, t in cfg.tables.items() if t.dataset == dataset for v in table_variants(cfg, name)}
    fig1 = cfg.figures.fig1
    if fig1 is not None and fig1.dataset == dataset:
        variants.add(fig1.variant)
    return sorted(variants)


def table_metrics(cfg: Config, table: str) -> list[str]:
    """``metrics.json`` of every (variant, seed) that ``tables.<table>`` shows."""
    ds = cfg.tables[table].dataset
    return [f"{run_dir(cfg.results_dir, ds, v, s)}/metrics.json" for v in table_variants(cfg, table) for s in cfg.seeds]


def curve_logs(cfg: Config, dataset: str) -> list[str]:
    """``log.csv`` of every run of ``dataset`` that a table shows (the training-curve figure's inputs)."""
    variants = sorted({v for name, t in cfg.tables.items() if t.dataset == dataset for v in table_variants(cfg, name)})
    return [f"{run_dir(cfg.results_dir, dataset, v, s)}/log.csv" for v in variants for s in cfg.seeds]


def fig1_run(cfg: Config) -> str | None:
    """The run directory Fig. 1 and the deformable-points figure read (first seed), or None."""
    fig = cfg.figures.fig1
    return None if fig is None else run_dir(cfg.results_dir, fig.dataset, fig.variant, cfg.seeds[0])


def run_metrics(cfg: Config, dataset: str) -> list[str]:
    """``metrics.json`` of every (variant, seed) of ``dataset`` that a table or Fig. 1 uses.

    Raises:
        ConfigError: ``dataset`` is not in the config.
        DataError: no table or figure uses it.
    """
    cfg.dataset(dataset)
    variants = dataset_variants(cfg, dataset)
    if not variants:
        raise DataError(f"no table or figure of the config uses dataset {dataset!r}: no runs to make; "
                        f"remove it from `datasets` in params.yaml or add a table for it")
    return [f"{run_dir(cfg.results_dir, dataset, v, s)}/metrics.json" for v in variants for s in cfg.seeds]


def all_table_metrics(cfg: Config) -> list[str]:
    """``metrics.json`` of every run any table shows (the claims compare rows of the tables), sorted."""
    return sorted({p for name in cfg.tables for p in table_metrics(cfg, name)})


def predictions_of(metrics: list[str]) -> list[str]:
    """``predictions.csv`` beside each ``metrics.json`` (the intervals and claims read them)."""
    return [p[: -len("metrics.json")] + "predictions.csv" for p in metrics]


def class_figures(cfg: Config) -> list[str]:
    """One per-class accuracy / confusion figure per (dataset, variant) that a table shows."""
    pairs = sorted({(t.dataset, v) for name, t in cfg.tables.items() for v in table_variants(cfg, name)})
    return [f"{cfg.results_dir}/figures/classes/{d}/{v}.png" for d, v in pairs]


def table_metrics_file(results_dir: str, table: str) -> str:
    """``{results_dir}/metrics/{table}.json``: a table's (or ``claims``') numbers for ``dvc metrics``."""
    return f"{results_dir}/metrics/{table}.json"


def curves_file(results_dir: str, dataset: str) -> str:
    """``{results_dir}/plots/curves_{dataset}.csv``: every run's training curve, for ``dvc plots``."""
    return f"{results_dir}/plots/curves_{dataset}.csv"


def final_targets(cfg: Config) -> list[str]:
    """What ``snakemake all`` builds: tables (md + HTML page), the claims table, availability
    reports (md + HTML page), the report's front page, per-class figures, Fig. 1 and the
    deformable-points figure, training curves."""
    res = cfg.results_dir
    targets = [f"{res}/tables/{t}.{ext}" for t in sorted(cfg.tables) for ext in ("md", "html")]
    targets += [f"{res}/tables/claims.md", f"{res}/tables/claims.html", f"{res}/report/front.rst"]
    targets += [f"{res}/data/{d}_availability.md" for d in sorted(cfg.datasets)]
    targets += [f"{res}/report/{d}_availability.html" for d in sorted(cfg.datasets)]
    targets += class_figures(cfg)
    if cfg.figures.fig1 is not None:
        targets += [f"{res}/figures/{f}" for f in FIGURES]
    targets += [f"{res}/figures/curves_{d}.png" for d in table_datasets(cfg)]
    return targets
