"""How a training job starts: ``python`` for one device, ``torchrun`` for several GPUs of one node.

The number of GPUs is the job's, from its Snakemake resources (the profile's ``gpu: N`` /
``gpus: N`` or ``gres: "gpu[:TYPE]:N"``, slurm/config.yaml), never from the config.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def gpu_count(resources: Mapping[str, Any]) -> int:
    """GPUs a job asked for: the largest of ``gpu``, ``gpus`` and the count in ``gres: gpu[:TYPE]:N``."""
    n = 0
    for key in ("gpu", "gpus"):
        value = resources.get(key, 0)
        if isinstance(value, int) and not isinstance(value, bool):
            n = max(n, value)
    gres = str(resources.get("gres", "") or "")
    if gres.startswith("gpu:"):
        tail = gres.rsplit(":", 1)[-1]
        if tail.isdigit():
            n = max(n, int(tail))
    return n


def launcher(resources: Mapping[str, Any]) -> str:
    """The command that runs ``-m datar train`` for a job with these resources."""
    n = gpu_count(resources)
    return f"torchrun --standalone --nproc_per_node={n}" if n > 1 else "python"
