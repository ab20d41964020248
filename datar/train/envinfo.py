"""The environment of a run (``env.json``): versions, device, host, git commit, argv, time."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import socket
import sys
from typing import Any

import torch

from datar.gitinfo import code_state


def _lease() -> dict[str, Any] | None:
    """The device lease this job runs under (``python -m datar lease``), if any."""
    import json

    raw = os.environ.get("DATAR_GPU_LEASE")
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def env_info(argv: list[str], *, device: torch.device, world_size: int = 1) -> dict[str, Any]:
    """Collect what ``env.json`` records.

    Args:
        argv: the command line of the run.
        device: the device trained on.
        world_size: number of processes (DDP).
    """
    gpus: list[str] = []
    if torch.cuda.is_available():
        gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "device": str(device),
        "gpus": gpus,
        "world_size": world_size,
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "host": socket.gethostname(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "gpu_lease": _lease(),
        "git_commit": (state := code_state()).commit,
        "code": state.as_dict(),
        "argv": list(argv),
        "start_time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
