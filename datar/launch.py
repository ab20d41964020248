"""How a training or evaluation job starts: on leased GPUs, ``python`` for one device,
``torchrun`` for several GPUs of one node.

The number of GPUs is the job's, from its Snakemake resources (the rules' default: 1 on a
machine with GPUs, 0 without; the profile's ``gpu: N`` / ``gpus: N`` or
``gres: "gpu[:TYPE]:N"``, slurm/config.yaml), never from the config. A job with GPUs starts
through ``python -m datar lease`` (:mod:`datar.gpu_lease`): distinct device ids per job on a
workstation, the scheduler's assignment under SLURM.
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
    run = f"torchrun --standalone --nproc_per_node={n}" if n > 1 else "python"
    return f"python -m datar lease --gpus {n} -- {run}" if n > 0 else run


def default_gpus() -> int:
    """The ``gpu`` resource train and evaluate request by default: 1 where this machine has a GPU, else 0."""
    from datar.gpu_lease import machine_gpus

    return 1 if machine_gpus() > 0 else 0
