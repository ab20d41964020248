"""After ``dvc pull`` / ``dvc checkout``: make Snakemake trust the pulled files.

DVC restores content, not modification times: pulled files get the time they were written,
in no particular order, so Snakemake would see a manifest newer than its shards and plan
every download, validation and feature job again (and a re-download can lose clips whose
links died since). ``snakemake --touch`` on the targets that exist walks Snakemake's own DAG
in order, sets each output's mtime after its inputs', and records the job metadata (params,
code, input set) that later runs compare against, so a real change (a config section, a rule,
an input file) still triggers a rerun afterwards. It is only safe when the files are what
``dvc.lock`` names and the config is the one they were built with: the CLI checks both first.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
from pathlib import Path

from datar.config import Config
from datar.errors import DataError
from datar.runs import final_targets, run_file, version_json

def existing_targets(cfg: Config, root: str | Path = ".") -> list[str]:
    """Workflow targets present under ``root``: data versions, runs' metrics and what ``all`` builds."""
    root = Path(root)
    candidates = [version_json(cfg.data_dir, ds) for ds in sorted(cfg.datasets)]
    for ds in sorted(cfg.datasets):
        pattern = str(root / run_file(cfg.results_dir, ds, "*", "*", "metrics.json"))
        candidates += sorted(Path(p).relative_to(root).as_posix() for p in glob.glob(pattern))
    candidates += final_targets(cfg)
    return [Path(p).as_posix() for p in candidates if (root / p).is_file()]


def touch_targets(configfile: str | os.PathLike[str], targets: list[str], *, root: str | Path = ".",
                  snakefile: str | os.PathLike[str] | None = None) -> subprocess.CompletedProcess:
    """Run ``snakemake --touch`` on ``targets`` in ``root`` (DataError with its log if it fails)."""
    if not targets:
        raise DataError("nothing to touch: no data version, run, table or figure exists yet (`dvc pull` first)")
    cmd = [sys.executable, "-m", "snakemake", "--touch", "--cores", "1", "--configfile", str(configfile)]
    if snakefile is not None:
        cmd += ["--snakefile", str(snakefile)]
    proc = subprocess.run([*cmd, "--", *targets], cwd=root, capture_output=True, text=True)
    if proc.returncode != 0:
        raise DataError(f"`snakemake --touch` failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc
