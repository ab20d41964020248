"""Data order that is a pure function of (seed, epoch, rank): resumable in the middle of an epoch.

The same role as ``DistributedSampler``: a per-epoch permutation drawn from a generator
seeded by ``(seed, epoch)``, padded to a multiple of the world size and dealt round-robin
to the ranks. ``start`` skips the samples this rank already consumed, so a run stopped
after step k and resumed sees exactly the batches the uninterrupted run would have.

One sampler serves a whole run (:meth:`EpochSampler.set_epoch` before each epoch), so the
DataLoader and its worker processes persist across epochs. With ``seeded=True`` it yields
``(item_seed, index)`` pairs for :class:`datar.train.data.SeededItems`: every item's random
augmentation is then a function of (run seed, epoch, index), whichever worker loads it.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


def epoch_seed(seed: int, epoch: int) -> int:
    """A 63-bit seed for epoch ``epoch`` (0-based) of a run seeded ``seed``."""
    return (seed * 1_000_003 + epoch * 7_919 + 12_345) % (2**63 - 1)


def item_seed(seed: int, epoch: int, index: int) -> int:
    """A 63-bit seed for item ``index`` in epoch ``epoch`` of a run seeded ``seed``."""
    return (epoch_seed(seed, epoch) * 6_364_136_223_846_793_005 + index * 1_442_695_040_888_963_407 + 1) % (2**63 - 1)


class EpochSampler(Sampler[int]):
    """Indices of one epoch for one rank.

    Args:
        n: dataset length.
        seed: run seed.
        epoch: 0-based epoch.
        shuffle: permute (train) or keep order (evaluation).
        rank: this process's rank; world_size: number of processes.
        start: samples of this rank's share to skip (resume inside an epoch).
        seeded: yield ``(item_seed, index)`` instead of ``index``.
    """

    def __init__(self, n: int, *, seed: int, epoch: int, shuffle: bool = True, rank: int = 0,
                 world_size: int = 1, start: int = 0, seeded: bool = False) -> None:
        assert 0 <= rank < world_size
        self.n, self.seed, self.epoch, self.shuffle = n, seed, epoch, shuffle
        self.rank, self.world_size, self.start, self.seeded = rank, world_size, start, seeded

    def set_epoch(self, epoch: int, *, start: int = 0) -> None:
        """Serve epoch ``epoch`` (0-based) from sample ``start`` of this rank's share."""
        self.epoch, self.start = epoch, start

    def order(self) -> list[int]:
        """This rank's full share of the epoch (before skipping ``start``)."""
        if self.shuffle:
            g = torch.Generator().manual_seed(epoch_seed(self.seed, self.epoch))
            idx = torch.randperm(self.n, generator=g).tolist()
        else:
            idx = list(range(self.n))
        if self.world_size > 1 and idx:
            pad = (-len(idx)) % self.world_size
            idx = idx + idx[:pad]
            idx = idx[self.rank::self.world_size]
        return idx

    def __iter__(self) -> Iterator[int] | Iterator[tuple[int, int]]:
        rest = self.order()[self.start:]
        if self.seeded:
            return iter([(item_seed(self.seed, self.epoch, i), i) for i in rest])
        return iter(rest)

    def __len__(self) -> int:
        per_rank = -(-self.n // self.world_size) if self.world_size > 1 else self.n
        return max(per_rank - self.start, 0)
