# Shared state and input functions. No rule here.
#
# The validated config is turned into datar's typed Config (unknown keys are errors that name
# the key) and written, resolved, to .datar/config.resolved.yaml: every rule passes that file
# to `python -m datar <verb> --config`, so --config overrides on the command line reach the
# jobs, on this machine or on a cluster node.
import json
import os
import sys
from pathlib import Path

from datar.config import config_from_mapping, dump_config
from datar.io import write_text_atomic
from datar.variants import MODEL_VARIANTS

envvars:
    "PATH",


# Jobs run `python -m datar ...` and `torchrun`: make those the interpreter running Snakemake
# (e.g. .venv/bin/snakemake without an activated venv), here and in cluster jobs.
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")

CFG = config_from_mapping(config, origin="snakemake config")
DATA = CFG.data_dir
RESULTS = CFG.results_dir
CONFIG_PATH = ".datar/config.resolved.yaml"
PAPER = os.path.join(workflow.basedir, "config", "paper.yaml")  # the paper's numbers
ENV = "../../environment.yml"  # for --use-conda; CI and most users use the .venv


def _write_resolved_config(path=CONFIG_PATH):
    text = dump_config(CFG)
    p = Path(path)
    if not p.exists() or p.read_text(encoding="utf-8") != text:
        write_text_atomic(p, text)


_write_resolved_config()

DATASETS = sorted(CFG.datasets)
TABLES = sorted(CFG.tables)
SEEDS = list(CFG.seeds)


wildcard_constraints:
    dataset="|".join(DATASETS),
    shard=r"(train|val|test)-\d{5}",
    variant="|".join(v.replace(".", r"\.") for v in MODEL_VARIANTS),
    seed=r"\d+",
    table="|".join(TABLES),


if CFG.download.local:

    localrules:
        download,


localrules:
    demo_corpus,
    manifest,
    availability,
    data_version,
    table,
    claims,
    availability_page,
    report_front,


def section_hash(*sections):
    """Hash of the named config sections: a rule's params, so it reruns only when they change."""
    from datar.config import config_sha256

    return config_sha256({s: CFG.raw.get(s) for s in sections})[:16]


def dataset_hash(wildcards):
    """Hash of one dataset's config entry."""
    from datar.config import config_sha256

    return config_sha256(CFG.raw["datasets"][wildcards.dataset])[:16]


# ----------------------------------------------------------------- shards (after the checkpoint)


def shard_names(dataset, split=None):
    """Shard names of ``dataset`` (optionally one split), known once its manifest exists."""
    path = checkpoints.manifest.get(dataset=dataset).output.shards
    with open(path, encoding="utf-8") as fh:
        info = json.load(fh)
    return [s["name"] for s in info["shards"] if split is None or s["split"] == split]


def manifest_sources(wildcards):
    """Local source csvs of a dataset (a path source; URL sources are fetched by the rule)."""
    ds = CFG.dataset(wildcards.dataset)
    return [s.path for s in ds.sources if s.path]


def status_files(wildcards):
    names = shard_names(wildcards.dataset)
    return expand(f"{DATA}/{{dataset}}/clips/{{shard}}.status.csv", dataset=wildcards.dataset, shard=names)


def valid_files(wildcards):
    names = shard_names(wildcards.dataset)
    return expand(f"{DATA}/{{dataset}}/clips/{{shard}}.valid.csv", dataset=wildcards.dataset, shard=names)


def fbank_files(wildcards):
    names = shard_names(wildcards.dataset)
    return expand(f"{DATA}/{{dataset}}/fbank/{{shard}}.safetensors", dataset=wildcards.dataset, shard=names)


def train_fbank_files(wildcards):
    names = shard_names(wildcards.dataset, "train")
    return expand(f"{DATA}/{{dataset}}/fbank/{{shard}}.safetensors", dataset=wildcards.dataset, shard=names)


# ----------------------------------------------------------------- runs, tables, figures


def run_dir(dataset, variant, seed):
    return f"{RESULTS}/runs/{dataset}/{variant}/seed{seed}"


def table_metrics(wildcards):
    """metrics.json of every (variant, seed) a table shows; cited rows need no run."""
    return metrics_of_table(wildcards.table)


def metrics_of_table(name):
    table = CFG.tables[name]
    return [
        f"{run_dir(table.dataset, row, seed)}/metrics.json"
        for row in table.rows
        if row in MODEL_VARIANTS
        for seed in SEEDS
    ]


def table_predictions(wildcards):
    """predictions.csv beside each metrics.json of a table (the intervals come from them)."""
    return [str(Path(p).with_name("predictions.csv")) for p in table_metrics(wildcards)]


def claims_metrics(wildcards):
    """metrics.json of every run any table shows (the claims compare rows of the tables)."""
    return sorted({p for name in TABLES for p in metrics_of_table(name)})


def claims_predictions(wildcards):
    return [str(Path(p).with_name("predictions.csv")) for p in claims_metrics(wildcards)]


def claims_availability(wildcards):
    return [f"{RESULTS}/data/{d}_availability.csv" for d in table_datasets()]


def table_labels(wildcards):
    """Report labels of a table: which one, and on which dataset."""
    t = CFG.tables[wildcards.table]
    return {"table": wildcards.table, "dataset": t.dataset, "title": t.title}


def dataset_labels(wildcards):
    return {"dataset": wildcards.dataset}


def class_predictions(wildcards):
    """predictions.csv of every seed of one dataset x variant."""
    return [f"{run_dir(wildcards.dataset, wildcards.variant, s)}/predictions.csv" for s in SEEDS]


def class_labels(wildcards):
    from datar.report.tables import row_label

    return {"dataset": wildcards.dataset, "variant": row_label(wildcards.variant)}


def class_figures():
    """One per-class figure per (dataset, variant) a table shows."""
    pairs = sorted(
        {(t.dataset, row) for t in CFG.tables.values() for row in t.rows if row in MODEL_VARIANTS}
    )
    return [f"{RESULTS}/figures/classes/{d}/{v}.png" for d, v in pairs]


def front_versions(wildcards):
    return [f"{DATA}/{d}/version.json" for d in table_datasets()]


def front_tables(wildcards):
    return [f"{RESULTS}/tables/{t}.csv" for t in TABLES] + [f"{RESULTS}/tables/claims.csv"]


def configfile_args(wildcards):
    """The --configfile arguments this workflow was started with (for the front page's commands)."""
    rel = [os.path.relpath(p) for p in workflow.overwrite_configfiles]
    shown = [r if not r.startswith("..") else str(p) for r, p in zip(rel, workflow.overwrite_configfiles)]
    return " ".join(shown) or "config/config.yaml"


def table_availability(wildcards):
    return f"{RESULTS}/data/{CFG.tables[wildcards.table].dataset}_availability.csv"


def table_version(wildcards):
    return f"{DATA}/{CFG.tables[wildcards.table].dataset}/version.json"


def fig1_checkpoint(wildcards):
    fig = CFG.figures.fig1
    return f"{run_dir(fig.dataset, fig.variant, SEEDS[0])}/checkpoint.pt"


def fig1_run(wildcards, input):
    return str(Path(input.checkpoint).parent)


def curve_logs(wildcards):
    variants = sorted(
        {row for t in CFG.tables.values() if t.dataset == wildcards.dataset for row in t.rows if row in MODEL_VARIANTS}
    )
    return [f"{run_dir(wildcards.dataset, v, s)}/log.csv" for v in variants for s in SEEDS]


def table_datasets():
    return sorted({t.dataset for t in CFG.tables.values()})


def output_prefix(wildcards, output):
    """The output path without its extension (for verbs that write .md/.tex/.csv or .png/.pdf)."""
    return str(Path(output[0]).with_suffix(""))


def output_dir(wildcards, output):
    """The directory of the first output (a run directory)."""
    return str(Path(output[0]).parent)


def launcher(wildcards, resources):
    """`python` for one device, `torchrun` for several GPUs of one node (rule resources)."""
    n = 0
    for key in ("gpu", "gpus"):
        value = resources.get(key, 0)
        if isinstance(value, int):
            n = max(n, value)
    gres = str(resources.get("gres", "") or "")
    if gres.startswith("gpu:"):
        tail = gres.rsplit(":", 1)[-1]
        if tail.isdigit():
            n = max(n, int(tail))
    if n > 1:
        return f"torchrun --standalone --nproc_per_node={n}"
    return "python"


def all_targets(wildcards):
    targets = [f"{RESULTS}/tables/{t}.{ext}" for t in TABLES for ext in ("md", "html")]
    targets += [f"{RESULTS}/tables/claims.md", f"{RESULTS}/tables/claims.html", f"{RESULTS}/report/front.rst"]
    targets += [f"{RESULTS}/data/{d}_availability.md" for d in DATASETS]
    targets += [f"{RESULTS}/report/{d}_availability.html" for d in DATASETS]
    targets += class_figures()
    if CFG.figures.fig1 is not None:
        targets += [f"{RESULTS}/figures/fig1_adaptor.png", f"{RESULTS}/figures/deform_points.png"]
    targets += [f"{RESULTS}/figures/curves_{d}.png" for d in table_datasets()]
    return targets
