"""Learning-rate schedule: linear warm-up, then step (AST-like), cosine or constant.

The rate is a pure function of the global step, so resuming needs only the step count.
"""

from __future__ import annotations

import math

from datar.config import TrainConfig


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
    (1-based) and again after every ``lr_decay_every`` epochs that follow. ``cosine``: half a cosine from ``lr`` to 0 over the steps after
    warm-up. Warm-up multiplies by ``(step + 1) / warmup_steps`` during the first steps.
    """
    assert steps_per_epoch >= 1 and total_steps >= 1
    base = train.lr
    if train.schedule == "step":
        done = step // steps_per_epoch  # epochs completed before this step
        n_decays = 0
        if done >= train.lr_decay_start_epoch:
            n_decays = (done - train.lr_decay_start_epoch) // max(train.lr_decay_every, 1) + 1
        rate = base * train.lr_decay**n_decays
    elif train.schedule == "cosine":
        span = max(total_steps - train.warmup_steps, 1)
        progress = min(max(step - train.warmup_steps, 0) / span, 1.0)
        rate = 0.5 * base * (1.0 + math.cos(math.pi * progress))
    else:
        rate = base
    if train.warmup_steps > 0 and step < train.warmup_steps:
        rate *= (step + 1) / train.warmup_steps
    return rate
