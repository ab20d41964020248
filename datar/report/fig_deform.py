"""Deformable sampling points over the spectrogram (the paper's Fig. 3 idea), from a checkpoint.

In DAT-style deformable attention the offsets are query-agnostic: one offset field per
group, computed from the whole query map, moves a uniform grid of reference points; every
query of the layer attends to the keys sampled at the moved points. The figure therefore
shows, per deformable layer, every sampled point (dots, one colour per group) and, for a
few reference points, an arrow from the reference point to where the network samples.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.figure import Figure

from datar.config import Config
from datar.errors import CheckpointError
from datar.report.fig_common import (
    load_run_model,
    sample_test_clips,
    save_figure,
    seconds,
    spectrogram_extent,
)
from datar.report.kind import titled


def to_input_coords(pts: torch.Tensor, fmap_size: tuple[int, int], *, n_mel: int, n_frames: int) -> np.ndarray:
    """Map (y, x) in [-1, 1] on an H x W feature map to (mel bin, frame) of the M x T input.

    -1 / +1 are the centres of the first / last feature-map cell (``collect_sampling_points``),
    and cell i of H covers input bins [i M / H, (i + 1) M / H).

    Args:
        pts: ``(..., 2)`` (y, x) points.
        fmap_size: (H, W) of the layer's feature map.
        n_mel: M.
        n_frames: T.

    Returns:
        ``(..., 2)`` array of (mel, frame) floats.
    """
    h, w = fmap_size
    p = pts.detach().double().numpy()
    mel = ((p[..., 0] + 1) / 2 * (h - 1) + 0.5) * n_mel / h - 0.5
    frame = ((p[..., 1] + 1) / 2 * (w - 1) + 0.5) * n_frames / w - 0.5
    return np.stack([mel, frame], axis=-1)


def highlight_indices(hk: int, wk: int, n: int = 6) -> list[tuple[int, int]]:
    """A few reference points spread over the key grid (rows x columns)."""
    rows = sorted({round(r) for r in np.linspace(0, hk - 1, min(hk, 2))})
    cols = sorted({round(c) for c in np.linspace(0, wk - 1, min(wk, max(1, n // len(rows))) + 2)[1:-1]})
    return [(r, c) for r in rows for c in cols] or [(0, 0)]


def deform_figure(x: torch.Tensor, layers: list[dict], *, clip_id: str, frame_shift_ms: float, title: str,
                  max_layers: int = 4) -> Figure:
    """Draw one panel per deformable layer (the last ``max_layers``) over the clip's spectrogram.

    Args:
        x: ``(T, M)`` normalised fbank of one clip.
        layers: :func:`datar.models.collect_sampling_points` output for a batch whose first
            item is this clip.
        clip_id: the clip's id.
        frame_shift_ms: fbank frame shift (time axis in seconds).
        title: figure title.
        max_layers: draw at most this many layers (the deepest ones).
    """
    t, m = x.shape
    shown = layers[-max_layers:]
    fig = Figure(figsize=(13, 3.2 * len(shown) + 0.9), layout="constrained")
    axes = fig.subplots(len(shown), 1, squeeze=False)[:, 0]
    extent = spectrogram_extent(t, m, frame_shift_ms)
    for ax, layer in zip(axes, shown):
        pts = to_input_coords(layer["points"][0], layer["fmap_size"], n_mel=m, n_frames=t)  # (G, Hk, Wk, 2)
        ref = to_input_coords(layer["reference"], layer["fmap_size"], n_mel=m, n_frames=t)  # (Hk, Wk, 2)
        im = ax.imshow(x.T.numpy(), origin="lower", aspect="auto", extent=extent, cmap="gray", interpolation="nearest")
        fig.colorbar(im, ax=ax, pad=0.01).set_label("normalised log-mel", fontsize=8)
        g, hk, wk, _ = pts.shape
        ax.scatter(seconds(ref[..., 1], frame_shift_ms).ravel(), ref[..., 0].ravel(), s=10, marker="+",
                   color="white", linewidths=0.6, label="reference grid")
        cmap = colormaps["tab10"]
        for gi in range(g):
            colour = cmap(gi % 10)
            ax.scatter(seconds(pts[gi, ..., 1], frame_shift_ms).ravel(), pts[gi, ..., 0].ravel(), s=9,
                       color=colour, alpha=0.8, label=f"sampled, group {gi}")
            for r, c in highlight_indices(hk, wk):
                y0, f0 = ref[r, c]
                y1, f1 = pts[gi, r, c]
                ax.annotate("", xy=(seconds(f1, frame_shift_ms), y1), xytext=(seconds(f0, frame_shift_ms), y0),
                            arrowprops=dict(arrowstyle="->", color=colour, lw=1.4))
        ax.set_xlim(extent[0], extent[1])
        ax.set_ylim(extent[2], extent[3])
        ax.set_xlabel("time (s)")
        ax.set_ylabel("mel bin")
        ax.set_title(f"{clip_id}: layer {layer['name']} (feature map {layer['fmap_size'][0]} x {layer['fmap_size'][1]}, "
                     f"{g} offset groups, {hk} x {wk} sampled keys per group); arrows: reference → sampled point",
                     fontsize=9)
        ax.legend(loc="upper right", fontsize=7, ncol=min(g + 1, 5), framealpha=0.6)
    fig.suptitle(title + "\nOffsets are query-agnostic (DAT): every query of a layer attends to the keys sampled "
                 "at these points; points outside the map read zeros.", fontsize=10)
    return fig


def render_deform_figure(cfg: Config, run_dir: str | os.PathLike[str], out_prefix: str | os.PathLike[str], *,
                         clips: int = 1) -> list[Path]:
    """Save the sampling-point figure(s) of a run's checkpoint as ``{out_prefix}.png`` / ``.pdf``.

    With ``clips`` > 1, files ``{out_prefix}_clip{i}.png`` / ``.pdf`` are written for the
    other clips as well.

    Raises:
        CheckpointError: the run's model has no deformable attention layers.
    """
    from datar.models import collect_sampling_points

    ckpt = Path(run_dir) / "checkpoint.pt"
    model, payload = load_run_model(run_dir)
    dataset = payload.get("dataset")
    if not dataset:
        raise CheckpointError(f"{ckpt}: checkpoint does not record its dataset")
    data = sample_test_clips(cfg, dataset, list(payload["heads"]), clips,
                      target_length=int(payload["target_length"]), num_mel_bins=int(payload["num_mel_bins"]))
    layers = collect_sampling_points(model, data.fbank)
    if not layers:
        raise CheckpointError(f"{ckpt}: variant {payload['variant']!r} has no deformable attention layers")
    outs: list[Path] = []
    for i, clip_id in enumerate(data.clip_ids):
        one = [{**ly, "points": ly["points"][i : i + 1]} for ly in layers]
        title = titled(cfg, f"Deformable sampling points, {payload['variant']} on {dataset} [{run_dir}]")
        fig = deform_figure(data.fbank[i], one, clip_id=clip_id, frame_shift_ms=cfg.fbank.frame_shift_ms, title=title)
        outs += save_figure(fig, out_prefix if i == 0 else f"{out_prefix}_clip{i}")
    return outs
