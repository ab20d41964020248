"""One node, several GPUs: torchrun sets WORLD_SIZE / RANK / LOCAL_RANK; we join the group."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

import torch
import torch.distributed as dist

from datar.errors import TrainingError

DeviceFlag = Literal["auto", "cpu", "cuda"]


@dataclass(frozen=True)
class DistInfo:
    """Process placement: ``rank`` of ``world_size``; ``local_rank`` picks the GPU."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Only rank 0 writes files."""
        return self.rank == 0


def dist_from_env() -> DistInfo:
    """Read torchrun's environment (absent: a single process)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return DistInfo(rank=int(os.environ.get("RANK", "0")), world_size=world,
                    local_rank=int(os.environ.get("LOCAL_RANK", "0")))


def pick_device(flag: DeviceFlag, info: DistInfo) -> torch.device:
    """``auto``: CUDA if present else CPU; ``cuda`` without a GPU is an error naming ``--device``."""
    if flag == "cuda" and not torch.cuda.is_available():
        raise TrainingError("--device cuda: no CUDA device is available (use --device auto or cpu)")
    if flag == "cpu" or (flag == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    return torch.device("cuda", info.local_rank % max(torch.cuda.device_count(), 1))


def init_distributed(info: DistInfo, device: torch.device) -> None:
    """Join the process group when ``world_size > 1`` (NCCL on CUDA, Gloo on CPU)."""
    if info.world_size <= 1 or dist.is_initialized():
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")


def barrier(info: DistInfo) -> None:
    """Wait for all ranks (no-op for one process)."""
    if info.world_size > 1 and dist.is_initialized():
        dist.barrier()


def any_rank(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """True if ``flag`` is true on any rank (a stop signal reaching one rank stops all)."""
    if info.world_size <= 1 or not dist.is_initialized():
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def shutdown(info: DistInfo) -> None:
    """Leave the process group."""
    if info.world_size > 1 and dist.is_initialized():
        dist.destroy_process_group()
