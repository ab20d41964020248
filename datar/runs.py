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


# ----------------------------------------------------------------------------- the data layout
# One home for every path of the data and results trees (docs/architecture.md). Each takes the
# directory and the names, and accepts Snakemake wildcards as names ("{dataset}").


def dataset_dir(data_dir: str, dataset: str) -> str:
    """``{data_dir}/{dataset}``: everything one dataset's data stages write."""
    return f"{data_dir}/{dataset}"


def manifest_csv(data_dir: str, dataset: str) -> str:
    """The normalised manifest (one row per clip, with its shard)."""
    return f"{dataset_dir(data_dir, dataset)}/manifest.csv"


def shards_json(data_dir: str, dataset: str) -> str:
    """The shard list and the manifest's counts and sources."""
    return f"{dataset_dir(data_dir, dataset)}/shards.json"


def classes_json(data_dir: str, dataset: str) -> str:
    """Class names per head, in index order."""
    return f"{dataset_dir(data_dir, dataset)}/classes.json"


def version_json(data_dir: str, dataset: str) -> str:
    """The data version: the hash of the manifest, classes, feature shards and stats."""
    return f"{dataset_dir(data_dir, dataset)}/version.json"


def demo_source_csv(data_dir: str, dataset: str) -> str:
    """The demo corpus's source list (its audio files beside it, under ``audio/``)."""
    return f"{data_dir}/demo/{dataset}/source.csv"


def rehearsal_listing(data_dir: str, dataset: str) -> str:
    """The rehearsal corpus's ``files.json`` (every generated media file with its sha256)."""
    return f"{data_dir}/rehearsal/{dataset}/files.json"


def sources_dir(data_dir: str, dataset: str) -> str:
    """The source lists as fetched (one cached copy per URL)."""
    return f"{dataset_dir(data_dir, dataset)}/sources"


def clip_file(data_dir: str, dataset: str, shard: str, kind: str) -> str:
    """A shard's download or validation file: ``kind`` = ``tar``, ``status.csv`` or ``valid.csv``."""
    return f"{dataset_dir(data_dir, dataset)}/clips/{shard}.{kind}"


def fbank_dir(data_dir: str, dataset: str) -> str:
    """The feature shards and their stats."""
    return f"{dataset_dir(data_dir, dataset)}/fbank"


def fbank_shard(data_dir: str, dataset: str, shard: str) -> str:
    """A shard's fbank features (safetensors)."""
    return f"{fbank_dir(data_dir, dataset)}/{shard}.safetensors"


def stats_json(data_dir: str, dataset: str) -> str:
    """The training split's fbank mean / std."""
    return f"{fbank_dir(data_dir, dataset)}/stats.json"


def archive_file(data_dir: str, dataset: str, key: str, kind: str) -> str:
    """An archive job's audio store (``tar``) or index (``json``)."""
    return f"{dataset_dir(data_dir, dataset)}/archives/{key}.{kind}"


def availability_file(results_dir: str, dataset: str, ext: str) -> str:
    """The availability report (``md`` / ``csv``)."""
    return f"{results_dir}/data/{dataset}_availability.{ext}"


def clip_list_csv(results_dir: str, dataset: str) -> str:
    """The clip list others can ``restrict_to`` (clip_id, split, status)."""
    return f"{results_dir}/data/{dataset}_clips.csv"


def table_file(results_dir: str, table: str, ext: str) -> str:
    """A table (or ``claims``) file: ``md``, ``tex``, ``csv``, ``html``."""
    return f"{results_dir}/tables/{table}.{ext}"


def figure_file(results_dir: str, name: str) -> str:
    """A figure file under ``{results_dir}/figures`` (``fig1_adaptor.png``, ``classes/D/V.png``)."""
    return f"{results_dir}/figures/{name}"


def run_file(results_dir: str, dataset: str, variant: str, seed: int | str, name: str) -> str:
    """A file of one run (``checkpoint.pt``, ``log.csv``, ``metrics.json``, ``predictions.csv``)."""
    return f"{run_dir(results_dir, dataset, variant, seed)}/{name}"


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
    return [run_file(cfg.results_dir, ds, v, s, "metrics.json") for v in table_variants(cfg, table) for s in cfg.seeds]


def curve_logs(cfg: Config, dataset: str) -> list[str]:
    """``log.csv`` of every run of ``dataset`` that a table shows (the training-curve figure's inputs)."""
    variants = sorted({v for name, t in cfg.tables.items() if t.dataset == dataset for v in table_variants(cfg, name)})
    return [run_file(cfg.results_dir, dataset, v, s, "log.csv") for v in variants for s in cfg.seeds]


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
    return [run_file(cfg.results_dir, dataset, v, s, "metrics.json") for v in variants for s in cfg.seeds]


def all_table_metrics(cfg: Config) -> list[str]:
    """``metrics.json`` of every run any table shows (the claims compare rows of the tables), sorted."""
    return sorted({p for name in cfg.tables for p in table_metrics(cfg, name)})


def predictions_of(metrics: list[str]) -> list[str]:
    """``predictions.csv`` beside each ``metrics.json`` (the intervals and claims read them)."""
    return [p[: -len("metrics.json")] + "predictions.csv" for p in metrics]


def class_figures(cfg: Config) -> list[str]:
    """One per-class accuracy / confusion figure per (dataset, variant) that a table shows."""
    pairs = sorted({(t.dataset, v) for name, t in cfg.tables.items() for v in table_variants(cfg, name)})
    return [figure_file(cfg.results_dir, f"classes/{d}/{v}.png") for d, v in pairs]


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
    targets = [table_file(res, t, ext) for t in [*sorted(cfg.tables), "claims"] for ext in ("md", "html")]
    targets += [f"{res}/report/front.rst"]
    targets += [availability_file(res, d, "md") for d in sorted(cfg.datasets)]
    targets += [f"{res}/report/{d}_availability.html" for d in sorted(cfg.datasets)]
    targets += class_figures(cfg)
    if cfg.figures.fig1 is not None:
        targets += [figure_file(res, f) for f in FIGURES]
    targets += [figure_file(res, f"curves_{d}.png") for d in table_datasets(cfg)]
    return targets
