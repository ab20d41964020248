"""Shared pieces of the figures: a run's model, its test clips, axes in seconds, saving.

Figures are drawn on :class:`matplotlib.figure.Figure` objects directly (no ``pyplot``, no
global backend switch), so importing or calling these functions changes no global state.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matplotlib.figure import Figure

from datar.config import Config
from datar.errors import DataError
from datar.io import atomic_write
from datar.report.kind import BANNERS
from datar.runs import fbank_dir, stats_json

if TYPE_CHECKING:  # torch is imported where it is used: figures from csv files do not need it
    import torch
    from torch import nn

DEMO_NOTE = BANNERS["demo"]  # kept for importers; titles use datar.report.kind.titled


@dataclass(frozen=True)
class Clips:
    """A few test clips, normalised as the model sees them.

    Attributes:
        fbank: ``(K, T, M)`` float32, ``(x - mean) / (2 * std)``.
        clip_ids: the K clip ids.
        labels: head -> K class indices.
        n_frames: K frame counts of the audio before padding / cropping to T (None if unknown).
    """

    fbank: torch.Tensor
    clip_ids: list[str]
    labels: dict[str, list[int]]
    n_frames: list[int | None] | None = None


def load_run_model(run_dir: str | os.PathLike[str]) -> tuple[nn.Module, dict[str, Any]]:
    """The trained model of a run (``{run_dir}/checkpoint.pt``, checksum checked), in eval mode."""
    from datar.checkpoint import model_from_checkpoint

    return model_from_checkpoint(Path(run_dir) / "checkpoint.pt")


def sample_test_clips(cfg: Config, dataset: str, heads: Sequence[str], k: int, *, target_length: int,
               num_mel_bins: int) -> Clips:
    """``k`` test clips of ``dataset``, evenly spread over its test split, normalised with its stats.

    Raises:
        DataError: no test shards / clips, or the shards' shape differs from the model's input.
    """
    from datar.features.dataset import FbankShardDataset
    from datar.features.layout import shard_paths
    from datar.features.stats import load_stats

    if k < 1:
        raise DataError(f"--clips: need at least one clip, got {k}")
    paths = shard_paths(cfg.data_dir, dataset, "test")
    stats = load_stats(Path(stats_json(cfg.data_dir, dataset)))
    ds = FbankShardDataset(paths, stats=stats, heads=list(heads), train=False,
                           freq_mask=cfg.fbank.freq_mask, time_mask=cfg.fbank.time_mask, specaugment=False)
    n = len(ds)
    if n == 0:
        raise DataError(f"{fbank_dir(cfg.data_dir, dataset)}: no test clips in the test shards")
    idx = sorted({round(i * (n - 1) / max(k - 1, 1)) for i in range(min(k, n))})
    items = [ds[i] for i in idx]
    import torch

    fb = torch.stack([it["fbank"] for it in items]).float()
    if tuple(fb.shape[1:]) != (target_length, num_mel_bins):
        raise DataError(
            f"{paths[0]}: clips are {tuple(fb.shape[1:])} (frames, mel) but the model expects "
            f"({target_length}, {num_mel_bins})"
        )
    labels = {h: [int(it["labels"][h]) for it in items] for h in heads}
    ids = [str(it["clip_id"]) for it in items]
    frames = frame_counts(paths)
    return Clips(fbank=fb, clip_ids=ids, labels=labels, n_frames=[frames.get(c) for c in ids])


def frame_counts(paths: Sequence[str | os.PathLike[str]]) -> dict[str, int]:
    """Clip id -> frames before pad / crop (the shards' ``n_frames``), reading only that tensor."""
    from datar.features.shards import open_shard, read_header

    out: dict[str, int] = {}
    for p in paths:
        hdr = read_header(p)
        if hdr.n == 0:
            continue
        with open_shard(hdr.path) as f:
            n = f.get_tensor("n_frames").tolist()
        out.update(zip(hdr.clip_ids, (int(x) for x in n)))
    return out


def window_note(n_frames: int | None, target_length: int, frame_shift_ms: float) -> str:
    """How the clip fits the model's input window: padded, cropped or exact (``""`` if unknown)."""
    if n_frames is None:
        return ""
    have, window = seconds(n_frames, frame_shift_ms), seconds(target_length, frame_shift_ms)
    if n_frames < target_length:
        return f"{have:.2f} s of audio, zero-padded to the {window:.2f} s window"
    if n_frames > target_length:
        return f"cropped to the first {window:.2f} s of {have:.2f} s"
    return f"{window:.2f} s, exactly the window"


def seconds(frames: float, frame_shift_ms: float) -> float:
    """Frame index -> seconds."""
    return frames * frame_shift_ms / 1000.0


def spectrogram_extent(n_frames: int, n_mel: int, frame_shift_ms: float) -> tuple[float, float, float, float]:
    """``imshow`` extent (seconds, mel bins) so that pixel centres sit at frame / bin indices."""
    return (seconds(-0.5, frame_shift_ms), seconds(n_frames - 0.5, frame_shift_ms), -0.5, n_mel - 0.5)


def save_figure(fig: Figure, out_prefix: str | os.PathLike[str], *,
                formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """Save ``fig`` as ``{out_prefix}.png`` (150 dpi) and ``.pdf`` (or the ``formats`` given), each atomically."""
    prefix = Path(out_prefix)
    outs = []
    for fmt in formats:
        path = prefix.with_name(f"{prefix.name}.{fmt}")
        with atomic_write(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=150, bbox_inches="tight")
        outs.append(path)
    return outs
