"""The git commit of the code that is running (recorded in runs, metrics and tables)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def git_commit(cwd: str | os.PathLike[str] | None = None) -> str | None:
    """``git rev-parse HEAD`` of the checkout holding the ``datar`` package (or ``cwd``).

    The package's own checkout, not the working directory: Snakemake runs jobs in a workdir
    that is usually not a git repository. None outside a git checkout.
    """
    where = Path(cwd) if cwd is not None else Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True,
                             timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and commit else None
