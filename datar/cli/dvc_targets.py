"""``python -m datar dvc-targets --config C STAGE NAME``: the Snakemake targets of one DVC stage.

Each stage of ``dvc.yaml`` runs ``snakemake -- <targets>``; the targets come from here, from
the same functions the Snakefile uses (:mod:`datar.runs`), instead of being repeated in
``dvc.yaml``: ``demo_corpus D`` (the demo's source list), ``data D`` (data version and
availability report), ``runs D`` (every run a table or Fig. 1 needs) and ``report all``
(what ``snakemake all`` builds). With ``--data-dir`` / ``--results-dir`` (params.yaml's, which
``dvc.yaml``'s outputs follow) it refuses a config that writes elsewhere::

    targets=$(python -m datar dvc-targets --config C --data-dir data --results-dir results runs vggsound)
"""

from __future__ import annotations

from datar.cli._args import verb_parser
from datar.config import Config, load_config
from datar.errors import ConfigError
from datar.runs import availability_file, demo_source_csv, final_targets, run_metrics, version_json

STAGES = ("demo_corpus", "data", "runs", "report")


def stage_targets(cfg: Config, stage: str, name: str) -> list[str]:
    """The targets of ``dvc.yaml``'s stage ``stage`` for dataset ``name`` (``all`` for ``report``)."""
    if stage == "report":
        return final_targets(cfg)
    cfg.dataset(name)
    if stage == "demo_corpus":
        return [demo_source_csv(cfg.data_dir, name)]
    if stage == "data":
        return [version_json(cfg.data_dir, name), availability_file(cfg.results_dir, name, "md")]
    return run_metrics(cfg, name)


def main(argv: list[str] | None = None) -> int:
    """Print the targets, one per line."""
    ap = verb_parser("dvc-targets", __doc__)
    ap.add_argument("--config", required=True, help="experiment config (YAML): params.yaml's snakemake.configfile")
    ap.add_argument("--data-dir", help="params.yaml's data_dir: must equal the config's")
    ap.add_argument("--results-dir", help="params.yaml's results_dir: must equal the config's")
    ap.add_argument("stage", choices=STAGES, help="the dvc.yaml stage")
    ap.add_argument("name", help="dataset name in the config (report: all)")
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    for key, given in (("data_dir", args.data_dir), ("results_dir", args.results_dir)):
        have = getattr(cfg, key)
        if given is not None and given != have:
            raise ConfigError(f"{key}: {args.config} says {have!r} but params.yaml says {given!r}; dvc.yaml's "
                              f"outputs follow params.yaml, so set {key} to the same value in both")
    print("\n".join(stage_targets(cfg, args.stage, args.name)))
    return 0
