# Shared state and input functions. No rule here; the logic lives in datar (runs, launch,
# features.layout, schema), these are the thin Snakemake-shaped wrappers around it.
#
# Parse-time side effects, each unavoidable and the only ones:
# - the config is checked against the schema by datar (not Snakemake's validate(), which
#   prints the whole schema): a bad key stops the workflow with one line naming key, file and
#   fix, exit status 2;
# - the resolved config is written to .datar/config-<hash>.yaml, named by its content's hash,
#   unless it is there already (CONFIG_FILE). Every job gets that path (params.cfg) and passes
#   it to `python -m datar <verb> --config`, so --config overrides reach the jobs on this
#   machine or a cluster node, and a parse with another config (-n, --lint, --report, another
#   run) writes another file instead of changing what this run's jobs read (datar refuses a
#   file that no longer hashes to its name). What a config change reruns is decided by each
#   rule's `sections` params, not by this path (see resolved_config below);
# - PATH starts with the directory of the Python running Snakemake, so jobs run
#   `python -m datar` and `torchrun` of the same environment (e.g. .venv/bin/snakemake without
#   an activated venv), here and in cluster jobs (envvars: PATH); PYTHONPATH starts with the
#   workflow's directory, so jobs import this checkout's datar (also in a conda rule env).
import os
import sys

from datar import launch, runs
from datar.config import config_from_mapping, config_sha256, write_resolved_config
from datar.data.archives import list_archives
from datar.data.formats import check_datasets
from datar.errors import ConfigError
from datar.features.layout import shard_names as _shard_names
from datar.fingerprint import verb_fingerprint as code_of
from datar.report.paper import PAPER_FILE
from datar.schema import config_sources
from datar.variants import MODEL_VARIANTS, VARIANTS

os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
# Jobs import this checkout's datar whatever environment runs them (a .venv, a conda rule
# environment built without the package, a cluster node): the workflow's directory first.
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (workflow.basedir, os.environ.get("PYTHONPATH", "")) if p)


envvars:
    "PATH",
    "PYTHONPATH",

try:
    CFG = config_from_mapping(
        config, origin=config_sources(workflow.configfiles, workflow.config_settings.config)
    )
    check_datasets(CFG)  # what each dataset's format requires of its config (datar.data.formats)
except ConfigError as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(2)

DATA = CFG.data_dir
RESULTS = CFG.results_dir
CONFIG_FILE = write_resolved_config(CFG)
PAPER = str(PAPER_FILE)  # the paper's numbers and counts (config/paper.yaml)
ENV = "../envs/datar.yml"  # --sdm conda (no `-e .`: jobs import datar through PYTHONPATH); CI uses the .venv

GPUS = launch.default_gpus()  # the gpu resource of train / evaluate: 1 where this machine has GPUs
DATASETS = sorted(CFG.datasets)
TABLES = sorted(CFG.tables)


wildcard_constraints:
    dataset="|".join(DATASETS),
    shard=r"(train|val|test)-\d{5}",
    variant="|".join(v.replace(".", r"\.") for v in MODEL_VARIANTS),
    seed=r"\d+",
    archive=r"[^/]+",
    table="|".join(TABLES),


if CFG.download.local:

    localrules:
        download,


localrules:
    demo_corpus,
    rehearsal_corpus,
    manifest,
    availability,
    data_version,
    table,
    claims,
    availability_page,
    report_front,


def resolved_config(wildcards, input):
    """CONFIG_FILE, the resolved config every job reads.

    Snakemake reruns a job whose params or set of input names changed. A hash-named path
    among them would rerun every job, downloads included, whenever any key of the config
    changed, so this param takes ``input``: Snakemake then counts it among the params derived
    from the job's files, which are no rerun trigger. The ``sections`` params are the rerun
    trigger: each names the config sections its rule's outputs depend on.
    """
    return CONFIG_FILE


# Each rule's `code` param is code_of("<verb>"): the fingerprint of the datar modules its verb
# runs (datar.fingerprint; docstrings, comments and layout excluded). A shell rule's own code
# trigger sees only its command text, so this param is what reruns a job whose Python changed.


def pretrained_weights(wildcards):
    """The pretrained weights file of the run's model family (model.pretrained), if set."""
    spec = CFG.model.pretrained.of(VARIANTS[wildcards.variant].family)
    return [spec.path] if spec is not None else []


def section_hash(*sections):
    """Hash of the named config sections: a rule's params, so it reruns only when they change."""
    return config_sha256({s: CFG.raw.get(s) for s in sections})[:16]


def dataset_hash(wildcards):
    """Hash of one dataset's config entry."""
    return config_sha256(CFG.raw["datasets"][wildcards.dataset])[:16]


# ----------------------------------------------------------------- shards (after the checkpoint)


def shard_names(dataset, split=None):
    """Shard names of ``dataset`` (optionally one split), known once its manifest checkpoint ran."""
    checkpoints.manifest.get(dataset=dataset)
    return _shard_names(DATA, dataset, split)


def manifest_sources(wildcards):
    """Local source csvs of a dataset (a path source; URL sources are fetched by the rule), and its
    restrict_to clip list."""
    ds = CFG.dataset(wildcards.dataset)
    return [s.path for s in ds.sources if s.path] + ([ds.restrict_to] if ds.restrict_to else [])


def rehearsal_files(wildcards):
    """The rehearsal's generated local copy of a dataset (``rehearsal_corpus``), if it has one."""
    if CFG.dataset(wildcards.dataset).rehearsal_corpus is None:
        return []
    return [runs.rehearsal_listing(DATA, wildcards.dataset)]


def _archives(dataset):
    return {a.key: a for a in list_archives(CFG, dataset)}


def archive_file(wildcards):
    """The archive file an `archive` job reads (local_source.archives)."""
    return str(_archives(wildcards.dataset)[wildcards.archive].path)


def archive_indexes(wildcards):
    """Every archive's audio store and index of a dataset (one `archive` job each), [] without archives."""
    ds = CFG.dataset(wildcards.dataset)
    if ds.local_source is None or not ds.local_source.archives:
        return []
    out = []
    for key in _archives(wildcards.dataset):
        out += [runs.archive_file(DATA, wildcards.dataset, key, kind) for kind in ("tar", "json")]
    return out


def status_files(wildcards):
    return [runs.clip_file(DATA, wildcards.dataset, s, "status.csv") for s in shard_names(wildcards.dataset)]


def valid_files(wildcards):
    return [runs.clip_file(DATA, wildcards.dataset, s, "valid.csv") for s in shard_names(wildcards.dataset)]


def fbank_files(wildcards):
    return [runs.fbank_shard(DATA, wildcards.dataset, s) for s in shard_names(wildcards.dataset)]


def train_fbank_files(wildcards):
    return [runs.fbank_shard(DATA, wildcards.dataset, s) for s in shard_names(wildcards.dataset, "train")]


# ----------------------------------------------------------------- runs, tables, figures


def table_metrics(wildcards):
    """metrics.json of every (variant, seed) a table shows; cited rows need no run."""
    return runs.table_metrics(CFG, wildcards.table)


def table_predictions(wildcards):
    """predictions.csv beside each metrics.json of a table (the intervals come from them)."""
    return runs.predictions_of(runs.table_metrics(CFG, wildcards.table))


def claims_metrics(wildcards):
    """metrics.json of every run any table shows (the claims compare rows of the tables)."""
    return runs.all_table_metrics(CFG)


def claims_predictions(wildcards):
    return runs.predictions_of(runs.all_table_metrics(CFG))


def claims_availability(wildcards):
    return [runs.availability_file(RESULTS, d, "csv") for d in runs.table_datasets(CFG)]


def table_labels(wildcards):
    """Report labels of a table: which one, and on which dataset."""
    t = CFG.tables[wildcards.table]
    return {"table": wildcards.table, "dataset": t.dataset, "title": t.title}


def dataset_labels(wildcards):
    return {"dataset": wildcards.dataset}


def class_predictions(wildcards):
    """predictions.csv of every seed of one dataset x variant."""
    return [f"{runs.run_dir(RESULTS, wildcards.dataset, wildcards.variant, s)}/predictions.csv" for s in CFG.seeds]


def class_labels(wildcards):
    from datar.report.tables import row_label

    return {"dataset": wildcards.dataset, "variant": row_label(wildcards.variant)}


def front_versions(wildcards):
    return [runs.version_json(DATA, d) for d in runs.table_datasets(CFG)]


def front_tables(wildcards):
    return [runs.table_file(RESULTS, t, "csv") for t in [*TABLES, "claims"]]


def configfile_args(wildcards):
    """The --configfile arguments this workflow was started with (for the front page's commands)."""
    rel = [os.path.relpath(p) for p in workflow.overwrite_configfiles]
    shown = [r if not r.startswith("..") else str(p) for r, p in zip(rel, workflow.overwrite_configfiles)]
    return " ".join(shown) or "config/config.yaml"


def table_availability(wildcards):
    return runs.availability_file(RESULTS, CFG.tables[wildcards.table].dataset, "csv")


def table_version(wildcards):
    return runs.version_json(DATA, CFG.tables[wildcards.table].dataset)


def fig1_checkpoint(wildcards):
    return f"{runs.fig1_run(CFG)}/checkpoint.pt"


def fig1_run(wildcards, input):
    return os.path.dirname(input.checkpoint)


def curve_logs(wildcards):
    return runs.curve_logs(CFG, wildcards.dataset)


def output_prefix(wildcards, output):
    """The output path without its extension (for verbs that write .md/.tex/.csv or .png/.pdf)."""
    return os.path.splitext(output[0])[0]


def output_dir(wildcards, output):
    """The directory of the first output (a run directory)."""
    return os.path.dirname(output[0])


def launcher(wildcards, resources):
    """`python` for one device, `torchrun` for several GPUs of one node (the job's resources), on
    leased devices (`python -m datar lease`) when the job has GPUs."""
    return launch.launcher(resources)


def all_targets(wildcards):
    return runs.final_targets(CFG)
