"""Samples per second of a model family: measured on this machine, or given by the user.

Measured = a short timed loop of the training loop's own step on the real model at the
config's shape: ``datar.models.build_model`` at ``model.size`` and ``fbank`` (T x M), the
loop's optimizer and loss, forward + backward + optimizer step, bf16 autocast on CUDA (as
``python -m datar train``), then a timed no-grad forward loop for evaluation. The batch is
random data already on the device: data loading is not part of the figure.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from datar.config import Config
from datar.errors import ConfigError
from datar.plan.budget import EVAL_COST_FRACTION, Family

Source = Literal["measured", "given"]
# The variant timed for a family: the paper's model and its baseline. The other DAT variants
# differ by an input noise or a 3x3 adaptor convolution (benchmarks/rehearsal_cost.md).
FAMILY_VARIANT: dict[Family, str] = {"dat": "datar", "ast": "ast"}
# Names accepted in --samples-per-s for each family.
FAMILY_NAMES: dict[str, Family] = {"dat": "dat", "datar": "dat", "ast": "ast"}


@dataclass(frozen=True)
class Throughput:
    """Training and evaluation samples/s of one family, and how they were obtained.

    Attributes:
        family: ``dat`` or ``ast``.
        samples_per_s: training samples per second.
        eval_samples_per_s: evaluation (forward) samples per second.
        source: ``measured`` here or ``given`` with ``--samples-per-s``.
        device: where it was measured (``cpu``, the CUDA device name) or ``given``.
        variant: the variant timed (measured only).
        batch_size: the batch timed (measured only).
        steps: timed steps after warm-up (measured only).
        threads: torch CPU threads during the measurement (measured only).
    """

    family: Family
    samples_per_s: float
    eval_samples_per_s: float
    source: Source
    device: str
    variant: str | None = None
    batch_size: int | None = None
    steps: int | None = None
    threads: int | None = None

    def describe(self) -> str:
        """One line for the plan's header."""
        if self.source == "given":
            return (f"{self.family}: {self.samples_per_s:g} samples/s given with --samples-per-s; evaluation "
                    f"assumed {1 / EVAL_COST_FRACTION:g}x that ({self.eval_samples_per_s:g} samples/s)")
        return (f"{self.family}: {self.samples_per_s:.3g} train / {self.eval_samples_per_s:.3g} eval samples/s "
                f"measured on {self.device} ({self.variant}, batch {self.batch_size}, {self.steps} timed steps, "
                f"{self.threads} CPU thread(s))")


def parse_samples_per_s(text: str, needed: list[Family]) -> dict[Family, float]:
    """``--samples-per-s``: one number for every family, or ``datar=40,ast=25``.

    Raises:
        ConfigError: a value is not a positive number, a name is not a family, or a needed
            family has no value (all named in the message).
    """
    text = text.strip()
    out: dict[Family, float] = {}
    if "=" not in text:
        value = _positive(text, "--samples-per-s")
        return {f: value for f in needed}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        if not sep or name not in FAMILY_NAMES:
            raise ConfigError(f"--samples-per-s: {part.strip()!r} is not NAME=NUMBER with NAME one of "
                              f"{', '.join(sorted(FAMILY_NAMES))}")
        out[FAMILY_NAMES[name]] = _positive(value, f"--samples-per-s {name}")
    missing = [f for f in needed if f not in out]
    if missing:
        raise ConfigError(f"--samples-per-s: no value for {', '.join(missing)} (the config trains it); "
                          f"give e.g. {','.join(f'{f}=N' for f in needed)}")
    return out


def _positive(value: str, what: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise ConfigError(f"{what}: {value.strip()!r} is not a number") from None
    if not x > 0 or x == float("inf"):
        raise ConfigError(f"{what}: must be a positive number, got {value.strip()!r}")
    return x


def given(family: Family, samples_per_s: float) -> Throughput:
    """A user-given training rate; evaluation assumed ``1 / EVAL_COST_FRACTION`` times faster."""
    return Throughput(family, samples_per_s, samples_per_s / EVAL_COST_FRACTION, "given", "given")


def measure(cfg: Config, family: Family, *, device: str = "auto", batch_size: int | None = None,
            warmup: int | None = None, steps: int | None = None) -> Throughput:
    """Time the training step and the evaluation forward of ``family`` at the config's shape.

    Args:
        cfg: the config (``model``, ``fbank``, ``train`` sections).
        family: ``dat`` (times ``datar``) or ``ast``.
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda``.
        batch_size: batch to time; default ``train.batch_size`` on CUDA and at most 2 on CPU
            (a CPU step at batch 12 and size B takes minutes; samples/s changes little with
            the batch there).
        warmup: untimed steps first (default 3 on CUDA, 1 on CPU).
        steps: timed steps (default 10 on CUDA, 2 on CPU).

    Raises:
        ConfigError: ``device`` is ``cuda`` and CUDA is not available.
    """
    import torch

    from datar.models import build_model
    from datar.train.loop import _loss, _make_optimizer, _model_overrides

    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: CUDA is not available on this machine")
    dev = torch.device("cuda" if device == "cuda" or (device == "auto" and torch.cuda.is_available()) else "cpu")
    cuda = dev.type == "cuda"
    bs = batch_size or (cfg.train.batch_size if cuda else min(cfg.train.batch_size, 2))
    warmup = (3 if cuda else 1) if warmup is None else warmup
    steps = (10 if cuda else 2) if steps is None else steps
    if bs < 1 or steps < 1 or warmup < 0:
        raise ConfigError(f"plan: batch size and steps must be >= 1, warm-up >= 0 (got {bs}, {steps}, {warmup})")
    variant = FAMILY_VARIANT[family]
    torch.manual_seed(0)
    T, M = cfg.fbank.target_length, cfg.fbank.num_mel_bins
    model = build_model(variant, size=cfg.model.size, heads={"label": 100}, num_mel_bins=M, target_length=T,
                        **_model_overrides(cfg, variant)).to(dev).train()
    opt = _make_optimizer(cfg, model)
    x = torch.randn(bs, T, M, device=dev)
    labels = {"label": torch.randint(0, 100, (bs,), device=dev)}
    sync = torch.cuda.synchronize if cuda else (lambda: None)

    def train_step() -> None:
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=cuda):
            logits = model(x)
        loss = _loss(logits, labels, None)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def eval_step() -> None:
        with torch.no_grad(), torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=cuda):
            model(x)

    rates = []
    for fn in (train_step, eval_step):
        model.train(fn is train_step)
        for _ in range(warmup):
            fn()
        sync()
        t0 = time.perf_counter()
        for _ in range(steps):
            fn()
        sync()
        rates.append(bs * steps / (time.perf_counter() - t0))
    name = torch.cuda.get_device_name(dev) if cuda else "cpu"
    return Throughput(family, rates[0], rates[1], "measured", name, variant, bs, steps, torch.get_num_threads())
