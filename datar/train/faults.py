"""Training faults turned into clear errors: non-finite loss, out of memory."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence

import torch

from datar.errors import TrainingError


def check_finite(loss: float, *, epoch: int, step: int, clip_ids: Sequence[str], where: str = "") -> None:
    """Raise TrainingError if ``loss`` is NaN or infinite.

    Args:
        loss: the batch loss (a Python float).
        epoch: 1-based epoch; step: 1-based global optimizer step.
        clip_ids: the clips of the batch, named in the message.
        where: extra context (run directory).
    """
    if math.isfinite(loss):
        return
    shown = ", ".join(clip_ids[:32]) + (f", ... ({len(clip_ids)} clips)" if len(clip_ids) > 32 else "")
    raise TrainingError(
        f"{where + ': ' if where else ''}non-finite training loss ({loss}) at epoch {epoch}, step {step}; "
        f"batch clip ids: {shown}. Check these clips' feature shards, lower train.lr, or set train.grad_clip"
    )


def is_out_of_memory(exc: BaseException) -> bool:
    """True for torch's out-of-memory errors (CUDA or other accelerators)."""
    oom = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    if oom is not None and isinstance(exc, oom):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


@contextlib.contextmanager
def oom_guard(*, batch_size: int, size: str, target_length: int, phase: str) -> Iterator[None]:
    """Turn an out-of-memory error inside the block into a TrainingError naming what to lower.

    Args:
        batch_size: ``train.batch_size`` in use; size: ``model.size``;
        target_length: ``fbank.target_length``; phase: what was running (``"epoch 3, step 120"``).
    """
    try:
        yield
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        raise TrainingError(
            f"out of memory during {phase} (train.batch_size={batch_size}, model.size={size}, "
            f"fbank.target_length={target_length}): lower train.batch_size first, "
            "then model.size or fbank.target_length"
        ) from None


class LossLedger:
    """The losses of the last few steps, kept on the device and read back in one host sync.

    A training step adds its loss without waiting for it (no ``float(loss)``); :meth:`flush`
    (every few steps, at the end of an epoch and before any checkpoint) copies them to the
    host once, and raises :func:`check_finite`'s TrainingError for the first non-finite one,
    naming its epoch, step and clips.

    Args:
        capacity: most steps held between flushes.
        device: where the losses live.
        where: run directory, for messages.
    """

    def __init__(self, *, capacity: int, device: torch.device, where: str = "") -> None:
        self.buf = torch.zeros(capacity, dtype=torch.float32, device=device)
        self.pending: list[tuple[int, int, list[str], int]] = []  # (epoch, step, clip ids, batch size)
        self.where = where

    def add(self, loss: torch.Tensor, *, epoch: int, step: int, clip_ids: Sequence[str], n: int) -> None:
        """Record one step's (scalar) loss; flushes first when full."""
        if len(self.pending) == self.buf.numel():
            raise AssertionError("LossLedger.add: full; flush first")
        self.buf[len(self.pending)] = loss.detach().float()
        self.pending.append((epoch, step, list(clip_ids), n))

    @property
    def full(self) -> bool:
        """No room for another step."""
        return len(self.pending) == self.buf.numel()

    def flush(self, reduce=None) -> tuple[float, float | None]:
        """Read the pending losses (one sync) and check them.

        Args:
            reduce: optional in-place mean over processes of a 1-d tensor (DDP).

        Returns:
            ``(sum of loss x batch size, last loss)``; ``(0.0, None)`` when nothing is pending.

        Raises:
            TrainingError: a non-finite loss, naming the first such step and its clips.
        """
        k = len(self.pending)
        if k == 0:
            return 0.0, None
        vals = self.buf[:k].clone()
        if reduce is not None:
            reduce(vals)
        host = vals.tolist()
        pending, self.pending = self.pending, []
        for (epoch, step, ids, _), value in zip(pending, host):
            check_finite(value, epoch=epoch, step=step, clip_ids=ids, where=self.where)
        return sum(v * n for (_, _, _, n), v in zip(pending, host)), host[-1]
