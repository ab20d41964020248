"""One training run (dataset x variant x seed): resumable, interruptible, deterministic on CPU.

Files in the run directory ``out`` (``docs/architecture.md``, "train"): ``checkpoint.pt``
(final model), ``last.ckpt`` (resume state, written atomically after every epoch and on a
stop signal), ``log.csv`` (one row per epoch), ``config.yaml`` (resolved config) and
``env.json`` (environment). Only rank 0 writes.

Identity: a run is its recipe (:func:`.state.recipe`: config sections, variant, seed and the
data version of ``version.json``). ``last.ckpt`` of another recipe, e.g. after the data
changed, is moved aside (``last.ckpt.stale-<hash>``, with the ``checkpoint.pt`` it produced)
and training starts over, saying what changed. A complete run of this recipe trains nothing
and rewrites whichever of ``checkpoint.pt`` / ``log.csv`` is missing (Snakemake deletes a
job's outputs before it reruns one).

Resume contract: the data order is a function of (seed, epoch) (:mod:`.sampler`), the
learning rate a function of the global step (:mod:`.schedule`), and ``last.ckpt`` holds the
model, optimizer, every RNG state and the position inside the epoch. A run stopped after
any step and resumed therefore takes the same steps as an uninterrupted one; on CPU the
final weights are bit-identical. Each clip's SpecAugment masks are seeded by (seed, epoch,
clip index) (:class:`datar.train.data.SeededItems`), so this holds with DataLoader workers
too; the workers persist across epochs.

The step never waits for the device: losses stay there (:class:`~datar.train.faults.LossLedger`)
and are read back every :data:`LOSS_CHECK_EVERY` steps, at the end of each epoch and before
any checkpoint, when a non-finite one stops the run naming its step and clips. Under DDP
the losses are averaged, and a stop signal reaching one rank is agreed on, at those points
only. ``train.max_steps`` caps the optimizer steps of a run (the schedule stays the full
run's); a capped run records ``capped_at_step`` in its log, checkpoint and metrics.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from datar.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from datar.config import Config, dump_config
from datar.errors import ConfigError, DataError, TrainingError
from datar.features.version import read_version
from datar.fingerprint import verb_fingerprint
from datar.gitinfo import code_state
from datar.io import write_json_atomic, write_text_atomic
from datar.runs import version_json
from datar.models import VARIANTS, build_model, model_options
from datar.train import state as st
from datar.train.data import SeededItems, SplitData, load_split, make_loader, resolve_workers
from datar.train.distributed import (DeviceFlag, DistInfo, any_rank, barrier, dist_from_env, init_distributed,
                                     pick_device, shutdown)
from datar.train.envinfo import env_info
from datar.train.faults import LossLedger, oom_guard
from datar.train.mixup import maybe_mix
from datar.train.progress import Mode, Progress
from datar.train.runlog import write_log
from datar.train.sampler import EpochSampler
from datar.train.schedule import lr_at
from datar.train.seeding import rng_state, seed_everything, set_deterministic, set_rng_state
from datar.train.signals import EXIT_INTERRUPTED, StopRequest

Status = Literal["completed", "already_complete", "interrupted"]

#: Steps between reads of the losses from the device (and, under DDP, stop-signal agreement).
LOSS_CHECK_EVERY = 50


@dataclass(frozen=True)
class RunSpec:
    """What to train and where.

    Attributes:
        dataset: a key of ``cfg.datasets``.
        variant: a key of ``datar.models.VARIANTS``.
        seed: run seed.
        out: run directory.
        device: ``auto``, ``cpu`` or ``cuda``.
        max_steps: overrides ``train.max_steps``: end the run after this many optimizer steps
            as if all epochs were done, the schedule unchanged (part of the recipe hash).
        argv: command line, for ``env.json``.
    """

    dataset: str
    variant: str
    seed: int
    out: Path
    device: DeviceFlag = "auto"
    max_steps: int | None = None
    argv: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RunResult:
    """How an invocation ended: ``epoch`` epochs and ``step`` steps done in total."""

    status: Status
    epoch: int
    step: int
    log: list[dict[str, Any]]

    @property
    def exit_code(self) -> int:
        """0 when the run is complete, :data:`EXIT_INTERRUPTED` when it must be resumed."""
        return EXIT_INTERRUPTED if self.status == "interrupted" else 0


@dataclass
class _Position:
    """Where training stands (saved in ``last.ckpt``)."""

    epoch: int = 0            # epochs completed
    batch: int = 0            # batches of the current epoch completed
    step: int = 0             # optimizer steps completed
    loss_sum: float = 0.0     # current epoch's summed batch loss x batch size
    samples: int = 0          # current epoch's samples so far (this rank)
    seconds: float = 0.0      # current epoch's training seconds so far
    log: list[dict[str, Any]] = field(default_factory=list)
    finished: bool = False


def _model_overrides(cfg: Config, variant: str) -> dict[str, Any]:
    """The ``model:`` settings as :func:`build_model` keywords (stored in checkpoints as ``overrides``)."""
    return model_options(cfg.model, variant)


def _load_pretrained(cfg: Config, variant: str, model: nn.Module, say: Progress) -> dict[str, Any] | None:
    """Load ``model.pretrained.{ast|dat}`` if set (:func:`datar.models.weights.load_weights_file`).

    Returns:
        The weights record (file name, sha256, load report) for the run's files, or None
        when training starts from scratch.
    """
    from datar.models.weights import load_weights_file

    family = VARIANTS[variant].family
    spec = cfg.model.pretrained.of(family)
    key = f"model.pretrained.{family}"
    if spec is None:
        say.message(f"{key} is not set: training from scratch")
        return None
    record = load_weights_file(model, spec.path, key=key, sha256=spec.sha256, size=cfg.model.size)
    say.message(f"{spec.path}: {record.summary}")
    return record.as_dict()


def _make_optimizer(cfg: Config, model: nn.Module, device: torch.device | None = None) -> torch.optim.Optimizer:
    """``train.optimizer`` with ``train.lr`` / ``train.weight_decay``; Adam betas (0.95, 0.999) as AST.

    Adam / AdamW use the fused (one kernel for all parameters) implementation on CUDA
    (``device``; default: where the model's parameters are).
    """
    t = cfg.train
    params = [p for p in model.parameters() if p.requires_grad]
    if device is None:
        device = params[0].device if params else torch.device("cpu")
    fused = {"fused": True} if device.type == "cuda" else {}
    if t.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=t.lr, weight_decay=t.weight_decay, betas=(0.95, 0.999), **fused)
    if t.optimizer == "adam":
        return torch.optim.Adam(params, lr=t.lr, weight_decay=t.weight_decay, betas=(0.95, 0.999), **fused)
    return torch.optim.SGD(params, lr=t.lr, weight_decay=t.weight_decay, momentum=0.9)


def _loss(logits: dict[str, torch.Tensor], labels: dict[str, torch.Tensor], mix: Any) -> torch.Tensor:
    """Cross-entropy summed over heads; mixed targets when ``mix`` is a MixPlan."""
    total = torch.zeros((), device=next(iter(logits.values())).device)
    for head, y in labels.items():
        z = logits[head].float()
        if mix is None:
            total = total + F.cross_entropy(z, y)
        else:
            total = total + mix.lam * F.cross_entropy(z, y) + (1.0 - mix.lam) * F.cross_entropy(z, y[mix.perm])
    return total


@torch.no_grad()
def _val_top1(model: nn.Module, split: SplitData, *, batch_size: int, device: torch.device,
              num_workers: int = 0) -> float:
    """Top-1 (percent) of the first head on the val split (the mean over heads for several)."""
    from datar.train.accuracy import percent, topk_hits

    model.eval()
    loader = make_loader(split.dataset, batch_size=batch_size, num_workers=num_workers, seed=0, device=device,
                         sampler=EpochSampler(len(split.dataset), seed=0, epoch=0, shuffle=False))
    hits: dict[str, list[torch.Tensor]] = {h: [] for h in split.classes}
    for batch in loader:
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            out = model(batch["fbank"].to(device, non_blocking=True))
        for h in hits:
            hits[h].append(topk_hits(out[h].float().cpu(), batch["labels"][h], 1))
    model.train()
    return sum(percent(torch.cat(v)) for v in hits.values()) / len(hits)


class Trainer:
    """Holds one run's parts; :meth:`run` trains until done or stopped.

    Built by :func:`train_run`; split out so each phase is a short method.
    """

    def __init__(self, cfg: Config, spec: RunSpec, *, info: DistInfo, device: torch.device,
                 progress_mode: Mode | None, stop: StopRequest, stop_after_steps: int | None,
                 data_version: str) -> None:
        self.cfg, self.spec, self.info, self.device = cfg, spec, info, device
        self.stop, self.stop_after_steps = stop, stop_after_steps
        self.out = Path(spec.out)
        self.epochs = cfg.epochs_for(spec.dataset)
        self.data_version = data_version
        self.recipe = st.recipe(cfg, dataset=spec.dataset, variant=spec.variant, seed=spec.seed,
                                max_steps=spec.max_steps, data_version=data_version)
        self.recipe_sha = st.recipe_sha256(self.recipe)
        self.max_steps = spec.max_steps if spec.max_steps is not None else cfg.train.max_steps
        self.progress_mode: Mode | None = progress_mode if info.is_main else "off"
        self.code = code_state(fingerprint=verb_fingerprint("train")).as_dict()  # the code that trains
        self.say = Progress(1, mode=self.progress_mode)

    # ------------------------------------------------------------------ setup
    def setup(self) -> None:
        """Seed, open the data, build model and optimizer, restore ``last.ckpt`` if present."""
        cfg, spec = self.cfg, self.spec
        seed_everything(spec.seed)
        set_deterministic(self.device.type)
        self.train_data = load_split(cfg, spec.dataset, "train", train=True)
        assert self.train_data is not None
        if self.train_data.data_version != self.data_version:
            raise DataError(f"{version_json(cfg.data_dir, spec.dataset)}: the data version changed while "
                            "the run started; rerun it")
        self.val_data = load_split(cfg, spec.dataset, "val", train=False, required=False)
        self.heads = self.train_data.heads
        self.overrides = _model_overrides(cfg, spec.variant)
        self.model = build_model(spec.variant, size=cfg.model.size, heads=self.heads,
                                 num_mel_bins=cfg.fbank.num_mel_bins, target_length=cfg.fbank.target_length,
                                 **self.overrides)
        self.weights = _load_pretrained(cfg, spec.variant, self.model, self.say)
        self.pretrained = self.weights is not None
        self.model.to(self.device)
        self.optimizer = _make_optimizer(cfg, self.model, self.device)
        self.ddp: nn.Module = self.model
        if self.info.world_size > 1:
            self.ddp = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        if cfg.train.compile:
            self.ddp = torch.compile(self.ddp)
        self.workers = resolve_workers(cfg.train.num_workers)
        n = len(self.train_data.dataset)
        per_rank = math.ceil(n / self.info.world_size)
        self.steps_per_epoch = max(math.ceil(per_rank / cfg.train.batch_size), 1)
        self.total_steps = self.epochs * self.steps_per_epoch  # the schedule's length, capped or not
        self.capped_at_step = (self.max_steps if self.max_steps is not None and self.max_steps < self.total_steps
                               else None)
        self.sampler = EpochSampler(n, seed=spec.seed, epoch=0, rank=self.info.rank,
                                    world_size=self.info.world_size, seeded=True)
        self.loader = make_loader(SeededItems(self.train_data.dataset), batch_size=cfg.train.batch_size,
                                  sampler=self.sampler, num_workers=self.workers, seed=spec.seed + 1,
                                  device=self.device, persistent=True)
        self.ledger = LossLedger(capacity=LOSS_CHECK_EVERY, device=self.device, where=str(self.out))
        self._shown_loss = math.nan
        self.pos = _Position()
        self._restore()

    def _restore(self) -> None:
        last = self.out / st.LAST
        if not last.exists():
            return
        payload = load_checkpoint(last, map_location="cpu")
        if payload.get("recipe_sha256") != self.recipe_sha:
            tag = str(payload.get("recipe_sha256", "unknown"))[:12]
            if self.info.is_main:
                st.move_aside(last, tag)
                st.move_aside(self.out / st.CHECKPOINT, tag)  # the model that state produced
            self.say.message(f"{last}: written for {st.recipe_changes(payload.get('recipe'), self.recipe)}; "
                             f"moved aside to {st.LAST}.stale-{tag}, training starts over")
            barrier(self.info)
            return
        try:
            self.model.load_state_dict(payload["model"])
            if "optimizer" in payload:  # a finished run's last.ckpt has none (nothing to resume)
                self.optimizer.load_state_dict(payload["optimizer"])
        except (RuntimeError, ValueError, KeyError) as exc:
            raise CheckpointError(f"{last}: cannot restore training state: {exc}") from None
        p = payload["position"]
        self.pos = _Position(epoch=int(p["epoch"]), batch=int(p["batch"]), step=int(p["step"]),
                             loss_sum=float(p["loss_sum"]), samples=int(p["samples"]),
                             seconds=float(p["seconds"]), log=list(payload.get("log", [])),
                             finished=bool(payload.get("finished", False)))
        self.pretrained = bool(payload.get("pretrained", self.pretrained))
        self.weights = payload.get("weights", self.weights)
        self.code = payload.get("code", self.code)
        set_rng_state(payload["rng"])
        self.say.message(f"resuming from {last}: epoch {self.pos.epoch}/{self.epochs}, "
                         f"batch {self.pos.batch}, step {self.pos.step}")

    # ------------------------------------------------------------------ files
    def _payload(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(), "variant": self.spec.variant, "size": self.cfg.model.size,
            "heads": dict(self.heads), "num_mel_bins": self.cfg.fbank.num_mel_bins,
            "target_length": self.cfg.fbank.target_length, "dataset": self.spec.dataset, "seed": self.spec.seed,
            "epoch": self.pos.epoch, "config": dict(self.cfg.raw), "pretrained": self.pretrained,
            "overrides": dict(self.overrides), "classes": dict(self.train_data.classes),
            "data_version": self.data_version, "recipe_sha256": self.recipe_sha,
            "capped_at_step": self.capped_at_step, "weights": self.weights, "code": self.code,
        }

    def save_last(self) -> None:
        """Write ``last.ckpt`` and ``log.csv`` (rank 0).

        A finished run's ``last.ckpt`` leaves out the optimizer state: nothing resumes a
        finished run (another recipe starts over), and AdamW's moments are twice the model.
        """
        if not self.info.is_main:
            return
        payload = self._payload()
        if not self.pos.finished:
            payload["optimizer"] = self.optimizer.state_dict()
        payload.update({
            "scheduler": {"schedule": self.cfg.train.schedule, "step": self.pos.step,
                          "steps_per_epoch": self.steps_per_epoch, "total_steps": self.total_steps},
            "global_step": self.pos.step,
            "position": {"epoch": self.pos.epoch, "batch": self.pos.batch, "step": self.pos.step,
                         "loss_sum": self.pos.loss_sum, "samples": self.pos.samples, "seconds": self.pos.seconds},
            "sampler": {"kind": "EpochSampler", "seed": self.spec.seed, "epoch": self.pos.epoch,
                        "start": self.pos.batch * self.cfg.train.batch_size},
            "rng": rng_state(), "log": list(self.pos.log), "finished": self.pos.finished,
            "recipe": self.recipe,
        })
        save_checkpoint(self.out / st.LAST, payload)
        write_log(self.out / st.LOG, self.pos.log)

    def save_final(self) -> None:
        """Write ``checkpoint.pt`` (rank 0)."""
        if self.info.is_main:
            payload = self._payload()
            payload["global_step"] = self.pos.step
            save_checkpoint(self.out / st.CHECKPOINT, payload)

    # ------------------------------------------------------------------ training
    def _stop_now(self, *, agree: bool) -> bool:
        """A stop was asked for (signal or ``stop_after_steps``); ranks agree only when ``agree``."""
        if self.stop_after_steps is not None and self.pos.step >= self.stop_after_steps:
            return True  # the same on every rank
        asked = self.stop.requested is not None
        if self.info.world_size == 1:
            return asked
        return any_rank(asked, self.info, self.device) if agree else False

    def _flush_losses(self) -> None:
        """Read the pending losses back (one sync); raise on a non-finite one."""
        reduce = None
        if self.info.world_size > 1:
            def reduce(t: torch.Tensor) -> None:
                torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.AVG)
        total, last = self.ledger.flush(reduce)
        self.pos.loss_sum += total
        if last is not None:
            self._shown_loss = last

    def _step(self, batch: dict[str, Any], epoch: int) -> torch.Tensor:
        """One optimizer step; returns the loss (on the device, not waited for)."""
        cfg, device = self.cfg, self.device
        step_no = self.pos.step + 1
        lr = lr_at(cfg.train, self.pos.step, steps_per_epoch=self.steps_per_epoch, total_steps=self.total_steps)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self._lr = lr
        x = batch["fbank"].to(device, non_blocking=True)
        labels = {h: y.to(device, non_blocking=True) for h, y in batch["labels"].items()}
        with oom_guard(batch_size=cfg.train.batch_size, size=cfg.model.size,
                       target_length=cfg.fbank.target_length, phase=f"epoch {epoch}, step {step_no}"):
            x, mix = maybe_mix(x, cfg.train.mixup)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                logits = self.ddp(x)
            loss = _loss(logits, labels, mix)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.train.grad_clip:
                nn.utils.clip_grad_norm_(self.model.parameters(), cfg.train.grad_clip)
            self.optimizer.step()
        return loss.detach()

    def _epoch(self, epoch0: int, bar: Progress) -> bool:
        """Train epoch ``epoch0`` (0-based) from ``self.pos.batch``; False if stopped inside it."""
        bs = self.cfg.train.batch_size
        self.sampler.set_epoch(epoch0, start=self.pos.batch * bs)
        self.ddp.train()
        t0 = time.perf_counter()
        for batch in self.loader:
            n = len(batch["clip_id"])
            loss = self._step(batch, epoch0 + 1)
            self.pos.step += 1
            self.pos.batch += 1
            self.pos.samples += n
            self.ledger.add(loss, epoch=epoch0 + 1, step=self.pos.step, clip_ids=batch["clip_id"], n=n)
            check = self.ledger.full or self.pos.step == 1
            if check:
                self._flush_losses()
            bar.update(self.pos.step, epoch0 + 1, self.epochs, self._shown_loss)
            if self.max_steps is not None and self.pos.step >= self.max_steps:
                break
            if self._stop_now(agree=check):
                self._flush_losses()
                self.pos.seconds += time.perf_counter() - t0
                return False
        self._flush_losses()
        self.pos.seconds += time.perf_counter() - t0
        return True

    def _end_epoch(self, epoch0: int, bar: Progress) -> None:
        val = None
        if self.val_data is not None and self.info.is_main:
            val = _val_top1(self.model, self.val_data, batch_size=self.cfg.train.batch_size, device=self.device,
                            num_workers=self.workers)
        samples_global = self.pos.samples * self.info.world_size
        row = {
            "epoch": epoch0 + 1, "step": self.pos.step,
            "train_loss": round(self.pos.loss_sum / max(self.pos.samples, 1), 6),
            "lr": getattr(self, "_lr", self.cfg.train.lr), "val_top1": None if val is None else round(val, 4),
            "samples_per_s": round(samples_global / max(self.pos.seconds, 1e-9), 2),
            "seconds": round(self.pos.seconds, 3),
        }
        if self.capped_at_step is not None and self.pos.step >= self.capped_at_step:
            row["capped_at_step"] = self.pos.step
        self.pos.log.append(row)
        self.pos.epoch = epoch0 + 1
        self.pos.batch = 0
        self.pos.loss_sum, self.pos.samples, self.pos.seconds = 0.0, 0, 0.0
        bar.epoch_end(row, self.epochs, self.pos.step)

    def run(self) -> RunResult:
        """Train to the end, or until a stop signal / ``stop_after_steps``; save state either way."""
        bar = Progress(self.total_steps, mode=self.progress_mode)
        bar.start(self.pos.step)
        try:
            return self._run(bar)
        finally:
            bar.close()

    def _run(self, bar: Progress) -> RunResult:
        saved_finished = False  # the last save_last already holds the finished state
        for epoch0 in range(self.pos.epoch, self.epochs):
            if self.pos.finished:
                break
            if not self._epoch(epoch0, bar):
                self.save_last()
                barrier(self.info)
                reason = self.stop.requested or f"stopped after step {self.pos.step}"
                self.say.message(f"{reason}: saved {self.out / st.LAST} at epoch {epoch0 + 1}, "
                                 f"step {self.pos.step}; rerun the same command to resume")
                return RunResult("interrupted", self.pos.epoch, self.pos.step, list(self.pos.log))
            self._end_epoch(epoch0, bar)
            if self.max_steps is not None and self.pos.step >= self.max_steps:
                self.pos.finished = True
            elif self.pos.epoch == self.epochs:
                self.pos.finished = True
            self.save_last()
            saved_finished = self.pos.finished
            barrier(self.info)
            if not self.pos.finished and self._stop_now(agree=True):
                reason = self.stop.requested or f"stopped after step {self.pos.step}"
                self.say.message(f"{reason}: saved {self.out / st.LAST} after epoch {self.pos.epoch}; "
                                 "rerun the same command to resume")
                return RunResult("interrupted", self.pos.epoch, self.pos.step, list(self.pos.log))
        self.pos.finished = True
        self.save_final()
        if not saved_finished:  # e.g. resumed from a finished last.ckpt: log.csv may be missing
            self.save_last()
        barrier(self.info)
        return RunResult("completed", self.pos.epoch, self.pos.step, list(self.pos.log))


# last.ckpt keys that only resuming needs; the rest is what checkpoint.pt holds.
_RESUME_ONLY = ("optimizer", "scheduler", "position", "sampler", "rng", "log", "finished", "recipe")


def _complete_run(out: Path, epochs: int, recipe_sha: str, *, write: bool) -> list[dict[str, Any]] | None:
    """The log of a finished run of this recipe in ``out``, else None.

    A finished ``last.ckpt`` of this recipe is a complete run: whichever of ``checkpoint.pt``
    and ``log.csv`` is missing is rewritten from it when ``write`` (rank 0; nothing is
    trained). Without a ``last.ckpt``, a ``checkpoint.pt`` of this recipe with a complete
    ``log.csv`` counts.
    """
    last, final = out / st.LAST, out / st.CHECKPOINT
    if last.is_file():
        try:
            payload = load_checkpoint(last)
        except CheckpointError:
            return None
        if not (payload.get("finished") and payload.get("recipe_sha256") == recipe_sha):
            return None
        log = list(payload.get("log", []))
        if not write:
            return log
        if not final.is_file():
            model = {k: v for k, v in payload.items() if k not in _RESUME_ONLY}
            save_checkpoint(final, model)
        if not st.log_complete(out, int(payload.get("position", {}).get("epoch", epochs))):
            write_log(out / st.LOG, log)
        return log
    if not final.is_file():
        return None
    try:
        same = load_checkpoint(final).get("recipe_sha256") == recipe_sha
    except CheckpointError:
        return None
    return [] if same and st.log_complete(out, epochs) else None


def _previous_envs(path: Path) -> list[dict[str, Any]]:
    """Earlier invocations recorded in ``env.json`` (a resumed run keeps its history)."""
    try:
        prev = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(prev, dict):
        return []
    history = list(prev.pop("previous_invocations", []) or [])
    return history + [prev]


def train_run(cfg: Config, spec: RunSpec, *, progress_mode: Mode | None = None,
              stop: StopRequest | None = None, stop_after_steps: int | None = None) -> RunResult:
    """Train one run, resuming from ``spec.out/last.ckpt`` when present.

    Args:
        cfg: the experiment config.
        spec: dataset, variant, seed, run directory, device, max_steps.
        progress_mode: ``bar`` / ``lines`` / ``off``; None picks by whether stderr is a TTY.
        stop: a stop request to honour (the CLI passes one with SIGTERM / SIGUSR1 handlers).
        stop_after_steps: behave as if stopped once this many steps are done in total
            (simulates an interruption in tests).

    Returns:
        The :class:`RunResult`; ``status == "interrupted"`` means rerun to resume.

    Raises:
        ConfigError: unknown variant or dataset, unreadable pretrained weights.
        DataError: missing or corrupt shards, stats or classes.
        CheckpointError: a corrupt ``last.ckpt``.
        TrainingError: non-finite loss (naming epoch, step and clip ids), out of memory.
    """
    if spec.variant not in VARIANTS:
        raise ConfigError(f"--variant: unknown variant {spec.variant!r}; choose from {sorted(VARIANTS)}")
    cfg.dataset(spec.dataset)
    if spec.max_steps is not None and spec.max_steps < 1:
        raise ConfigError(f"--max-steps: must be >= 1, got {spec.max_steps}")  # train.max_steps: the schema
    out = Path(spec.out)
    info = dist_from_env()
    device = pick_device(spec.device, info)
    epochs = cfg.epochs_for(spec.dataset)
    data_version = read_version(cfg.data_dir, spec.dataset)["data_version"]
    rec_sha = st.recipe_sha256(st.recipe(cfg, dataset=spec.dataset, variant=spec.variant, seed=spec.seed,
                                         max_steps=spec.max_steps, data_version=data_version))
    done = _complete_run(out, epochs, rec_sha, write=info.is_main)
    if done is not None:
        if info.is_main and progress_mode != "off":
            print(f"{out}: run already complete for data version {data_version[:12]} ({out / st.CHECKPOINT}); "
                  "nothing to train", file=sys.stderr)
        return RunResult("already_complete", epochs, -1, done)
    init_distributed(info, device)
    try:
        trainer = Trainer(cfg, spec, info=info, device=device, progress_mode=progress_mode,
                          stop=stop or StopRequest(), stop_after_steps=stop_after_steps, data_version=data_version)
        if info.is_main:
            out.mkdir(parents=True, exist_ok=True)
            write_text_atomic(out / st.CONFIG, dump_config(cfg))
            env = env_info(spec.argv, device=device, world_size=info.world_size)
            env["previous_invocations"] = _previous_envs(out / st.ENV)
            write_json_atomic(out / st.ENV, env)
        trainer.setup()
        if trainer.pos.finished:
            trainer.save_final()
            trainer.save_last()
            return RunResult("completed", trainer.pos.epoch, trainer.pos.step, list(trainer.pos.log))
        return trainer.run()
    finally:
        shutdown(info)


__all__ = ["RunResult", "RunSpec", "TrainingError", "train_run"]
