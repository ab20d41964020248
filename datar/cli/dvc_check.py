"""``python -m datar dvc-check --config C [--touch]``: is the versioned data what it claims?

Checks, naming every file at fault: a default DVC remote is configured (else how to add one);
every output in ``dvc.lock`` is in the workspace with the recorded MD5 (every file of a
directory output is re-hashed: a file corrupted in the remote or cache is named);
``version.json``, the runs' ``metrics.json`` and the tables' provenance agree on each
dataset's data version. With ``--touch`` (after ``dvc pull``), and only if all of that holds
and the config is the one ``dvc.lock`` recorded, it runs ``snakemake --touch`` on the targets
that exist so Snakemake trusts the pulled files (DVC does not keep mtimes; docs/dvc.md).
"""

from __future__ import annotations

import argparse

from datar.cli._args import verb_parser
from pathlib import Path

from datar.config import load_config
from datar.errors import DataError
from datar.versioning.dvcrepo import DvcRepo
from datar.versioning.integrity import verify_outputs
from datar.versioning.provenance import check_data_versions
from datar.versioning.touch import existing_targets, touch_targets


def changed_deps(status: dict, paths: set[str]) -> dict[str, list[str]]:
    """``{stage: [dep, ...]}`` for deps among ``paths`` that ``dvc status`` reports changed."""
    found: dict[str, list[str]] = {}
    for stage, entries in status.items():
        for entry in entries:
            if isinstance(entry, dict):
                for dep in entry.get("changed deps", {}) or {}:
                    if dep in paths:
                        found.setdefault(stage, []).append(dep)
    return found


def main(argv: list[str] | None = None) -> int:
    """Run the checks; exit 0 when all hold, else print every problem and exit 2."""
    ap = verb_parser("dvc-check", __doc__)
    ap.add_argument("--config", required=True, help="the experiment config dvc.yaml runs (params.yaml)")
    ap.add_argument("--root", default=".", help="repository root (default: .)")
    ap.add_argument("--stage", action="append", default=None,
                    help="re-hash only this dvc.lock stage's outputs (repeatable; default: all)")
    ap.add_argument("--skip-remote", action="store_true", help="do not require a default remote")
    ap.add_argument("--skip-hashes", action="store_true", help="do not re-hash the outputs")
    ap.add_argument("--touch", action="store_true",
                    help="after the checks pass, run snakemake --touch on the targets that exist (after dvc pull)")
    ap.add_argument("--force", action="store_true",
                    help="with --touch: touch although the config differs from the one dvc.lock recorded")
    args = ap.parse_args(argv)
    root = Path(args.root)
    repo = DvcRepo(root)
    repo.require_repo()
    cfg = load_config(root / args.config if not Path(args.config).is_absolute() else args.config)
    problems: list[str] = []

    if not args.skip_remote:
        try:
            name, url = repo.check_remote()
            print(f"remote: {name} -> {url}")
        except DataError as exc:
            problems.append(str(exc))

    lock_outs = repo.lock_outs()
    if not args.skip_hashes:
        mismatches = verify_outputs(repo, args.stage)
        problems += [f"HASH MISMATCH: {m}" if m.kind == "modified" else str(m) for m in mismatches]
        n_files = "all" if not mismatches else f"{len(mismatches)} problem(s) in"
        print(f"hashes: {n_files} {len(lock_outs)} outputs of dvc.lock checked")

    versions = check_data_versions(cfg, root)
    problems += [str(v) for v in versions]
    print(f"data versions: {'consistent' if not versions else f'{len(versions)} mismatch(es)'}")

    status = repo.status()
    config_changes = changed_deps(status, {Path(args.config).as_posix(), "config/paper.yaml"})
    stale = sorted(status)
    if stale:
        print(f"dvc status: stages not up to date: {', '.join(stale)} (`dvc status` for details)")
    if problems:
        raise DataError(f"{len(problems)} problem(s):\n  " + "\n  ".join(problems))

    if args.touch:
        if config_changes and not args.force:
            detail = "; ".join(f"{s}: {', '.join(d)}" for s, d in sorted(config_changes.items()))
            raise DataError(
                f"not touching: the config differs from the one dvc.lock recorded ({detail}); touching "
                "would mark data built with the old config as up to date. `git checkout` the config "
                "(or `dvc repro` to rebuild), or pass --force")
        targets = existing_targets(cfg, root)
        touch_targets(args.config, targets, root=root)
        print(f"touched {len(targets)} target(s) and their inputs in workflow order: Snakemake now trusts the "
              "pulled files, and reruns only what a later change affects")
    print("ok")
    return 0

