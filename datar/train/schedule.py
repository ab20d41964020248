"""Learning-rate schedule: linear warm-up, then step (AST-like), cosine or constant.

The rate is a pure function of the global step, so resuming needs only the step count.
:func:`check_schedule` rejects a recipe whose rate collapses before half of a run (the
epochs after it would train at no rate at all).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from datar.errors import ConfigError

if TYPE_CHECKING:  # the config imports this module (its schedule check); no import back at run time
    from datar.config import TrainConfig

#: A schedule may not fall below this fraction of ``train.lr`` before half of a run.
MIN_RATE_BEFORE_HALF = 0.01


def _step_decays(train: TrainConfig, epochs_done: int) -> int:
    """How many times the step schedule has multiplied by ``lr_decay`` after ``epochs_done`` epochs."""
    if epochs_done < train.lr_decay_start_epoch:
        return 0
    return (epochs_done - train.lr_decay_start_epoch) // max(train.lr_decay_every, 1) + 1


def lr_at(train: TrainConfig, step: int, *, steps_per_epoch: int, total_steps: int) -> float:
    """The learning rate for optimizer step ``step`` (0-based).

    Args:
        train: the recipe (``lr``, ``warmup_steps``, ``schedule``, ``lr_decay``,
            ``lr_decay_start_epoch``, ``lr_decay_every``).
        step: global step about to be taken.
        steps_per_epoch: optimizer steps in one epoch (>= 1).
        total_steps: steps in the whole run (>= 1), for the cosine schedule.

    ``step``: as AST's MultiStepLR (milestones ``start, start + every, ...``, stepped after
    each epoch): the rate is multiplied by ``lr_decay`` after epoch ``lr_decay_start_epoch``
    (1-based) and again after every ``lr_decay_every`` epochs that follow. ``cosine``: half
    a cosine from ``lr`` to 0 over the steps after warm-up. Warm-up multiplies by
    ``(step + 1) / warmup_steps`` during the first steps.
    """
    assert steps_per_epoch >= 1 and total_steps >= 1
    base = train.lr
    if train.schedule == "step":
        rate = base * train.lr_decay ** _step_decays(train, step // steps_per_epoch)
    elif train.schedule == "cosine":
        span = max(total_steps - train.warmup_steps, 1)
        progress = min(max(step - train.warmup_steps, 0) / span, 1.0)
        rate = 0.5 * base * (1.0 + math.cos(math.pi * progress))
    else:
        rate = base
    if train.warmup_steps > 0 and step < train.warmup_steps:
        rate *= (step + 1) / train.warmup_steps
    return rate


def floor_before_half(train: TrainConfig, epochs: int) -> float:
    """The lowest rate / ``train.lr`` (warm-up aside) before half of a run of ``epochs`` epochs.

    Step: the rate of the last epoch that starts before the midpoint. Cosine: 0.5, its
    value at the middle of its span (warm-up only delays the span). Constant: 1.
    """
    if train.schedule == "step":
        last = math.ceil(epochs / 2) - 1  # 0-based: the last epoch starting before the midpoint
        return train.lr_decay ** _step_decays(train, last)
    if train.schedule == "cosine":
        return 0.5
    return 1.0


def check_schedule(train: TrainConfig, epochs: Mapping[str, int], *, origin: str = "config") -> None:
    """Raise ConfigError if the rate falls below 1% of ``train.lr`` before half of any dataset's run.

    Args:
        train: the recipe.
        epochs: ``train.epochs`` (dataset -> epochs).
        origin: the config file, for the message.
    """
    for dataset, n in epochs.items():
        floor = floor_before_half(train, n)
        if floor < MIN_RATE_BEFORE_HALF:
            raise ConfigError(
                f"train.schedule: {train.schedule!r} with train.lr_decay={train.lr_decay}, "
                f"train.lr_decay_start_epoch={train.lr_decay_start_epoch}, train.lr_decay_every="
                f"{train.lr_decay_every} in {origin} falls to {floor:.3g} x train.lr before half of "
                f"{dataset}'s {n} epochs (train.epochs.{dataset}), below {MIN_RATE_BEFORE_HALF:.0%}, so the "
                "rest of the run would train at almost no rate; space the decays over the run or use schedule: cosine"
            )
