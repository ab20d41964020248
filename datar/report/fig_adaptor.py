"""Fig. 1: the learnable input adaptor on a few test clips (input, adapted input, what it added)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from datar.config import Config
from datar.errors import CheckpointError
from datar.report.fig_common import (
    load_run_model,
    sample_test_clips,
    save_figure,
    seconds,
    spectrogram_extent,
    window_note,
)
from datar.report.kind import titled
from datar.runs import classes_json


def adaptor_figure(x: torch.Tensor, adapted: torch.Tensor, added: torch.Tensor, *, clip_ids: list[str],
                   frame_shift_ms: float, lam: float, title: str, row_titles: list[str] | None = None,
                   n_frames: list[int | None] | None = None) -> Figure:
    """Draw K rows x 3 panels: input, adapted input (shared colour scale), adapted - input.

    The time axis is the model's input window (T frames); where a clip's audio is shorter
    than the window the zero padding is shaded, where it was longer the title says cropped.

    Args:
        x: ``(K, T, M)`` normalised input fbank.
        adapted: ``(K, T, M)`` adaptor output.
        added: ``(K, T, M)`` = adapted - x.
        clip_ids: K clip ids for the row titles.
        frame_shift_ms: fbank frame shift (time axis in seconds).
        lam: the adaptor's lambda (for the caption).
        title: figure title.
        row_titles: K titles (clip, true and predicted class); default the clip ids.
        n_frames: K frame counts before pad / crop (None entries: unknown).
    """
    k, t, m = x.shape
    fig = Figure(figsize=(15, 2.6 * k + 0.9), layout="constrained")
    axes = fig.subplots(k, 3, squeeze=False)
    extent = spectrogram_extent(t, m, frame_shift_ms)
    both = torch.cat([x.flatten(), adapted.flatten()]).numpy()
    vmin, vmax = (float(v) for v in np.percentile(both, [0.5, 99.5]))
    for i in range(k):
        lim = float(added[i].abs().max()) or 1e-12
        panels = [
            (x[i], "input log-mel (normalised)", dict(cmap="magma", vmin=vmin, vmax=vmax)),
            (adapted[i], "adapted input", dict(cmap="magma", vmin=vmin, vmax=vmax)),
            (added[i], "adaptor added (adapted − input)", dict(cmap="RdBu_r", vmin=-lim, vmax=lim)),
        ]
        frames = n_frames[i] if n_frames else None
        note = window_note(frames, t, frame_shift_ms)
        head = row_titles[i] if row_titles else clip_ids[i]
        for j, (img, name, kw) in enumerate(panels):
            ax = axes[i][j]
            im = ax.imshow(img.T.numpy(), origin="lower", aspect="auto", extent=extent, interpolation="nearest", **kw)
            ax.set_title(f"{head}\n{name}" + (f" [{note}]" if note and j == 0 else ""), fontsize=9, loc="left")
            if frames is not None and frames < t:
                ax.axvspan(seconds(frames - 0.5, frame_shift_ms), extent[1], facecolor="none", edgecolor="0.6",
                           hatch="//", lw=0)
            ax.set_xlabel("time in the model's input window (s)")
            ax.set_ylabel("mel bin")
            cb = fig.colorbar(im, ax=ax, pad=0.01)
            cb.set_label("value (shared scale)" if j < 2 else "added value", fontsize=8)
    fig.suptitle(f"{title}\nadapted = x + λ·(b + W∗x), λ = {lam:g}; input and adapted input share one colour scale; "
                 "the difference has its own symmetric scale", fontsize=10)
    return fig


def render_adaptor_figure(cfg: Config, run_dir: str | os.PathLike[str], out_prefix: str | os.PathLike[str], *,
                          clips: int | None = None) -> list[Path]:
    """Load a run's checkpoint and test clips; save Fig. 1 as ``{out_prefix}.png`` and ``.pdf``.

    Args:
        cfg: the experiment config (data directory, frame shift, demo flag).
        run_dir: the run directory holding ``checkpoint.pt`` (a variant with an adaptor).
        out_prefix: output path without suffix.
        clips: number of test clips (default ``figures.fig1.clips`` or 3).

    Raises:
        CheckpointError: the run's model has no input adaptor.
    """
    from datar.models import adapted_input

    model, payload = load_run_model(run_dir)
    if getattr(model, "adaptor", None) is None:
        raise CheckpointError(f"{Path(run_dir) / 'checkpoint.pt'}: variant {payload['variant']!r} has no input adaptor")
    dataset = payload.get("dataset")
    if not dataset:
        raise CheckpointError(f"{Path(run_dir) / 'checkpoint.pt'}: checkpoint does not record its dataset")
    k = clips if clips is not None else (cfg.figures.fig1.clips if cfg.figures.fig1 else 3)
    data = sample_test_clips(cfg, dataset, list(payload["heads"]), k,
                      target_length=int(payload["target_length"]), num_mel_bins=int(payload["num_mel_bins"]))
    adapted, added = adapted_input(model, data.fbank)
    title = titled(cfg, f"Fig. 1 (reproduced): learnable input adaptor, {payload['variant']} on {dataset} test clips"
                        f" [{run_dir}]")
    rows = row_titles(model, data.fbank, data.clip_ids, data.labels, _class_names(cfg, dataset, list(payload["heads"])))
    fig = adaptor_figure(data.fbank, adapted, added, clip_ids=data.clip_ids, frame_shift_ms=cfg.fbank.frame_shift_ms,
                         lam=float(model.adaptor.lam), title=title, row_titles=rows, n_frames=data.n_frames)
    return save_figure(fig, out_prefix)


def _class_names(cfg: Config, dataset: str, heads: list[str]) -> dict[str, list[str]] | None:
    from datar.errors import DataError
    from datar.features.labels import load_classes

    try:
        return load_classes(Path(classes_json(cfg.data_dir, dataset)), heads)
    except DataError:
        return None


@torch.no_grad()
def row_titles(model: torch.nn.Module, fbank: torch.Tensor, clip_ids: list[str], labels: dict[str, list[int]],
               names: dict[str, list[str]] | None) -> list[str]:
    """``clip: true X, predicted Y (right|wrong)`` per clip, for every head (class names where known).

    Args:
        model: the run's model (eval mode).
        fbank: ``(K, T, M)`` the clips as the model sees them.
        clip_ids: K clip ids.
        labels: head -> K true class indices.
        names: head -> class names, or None (indices are printed).
    """
    model.eval()
    out = model(fbank)
    titles = []
    for i, cid in enumerate(clip_ids):
        parts = []
        for head, true in labels.items():
            pred = int(out[head][i].argmax())
            t, p = true[i], pred
            if names and head in names:
                t, p = names[head][t], names[head][p]
            prefix = "" if head == "label" else f"{head} "
            parts.append(f"{prefix}true: {t}, predicted: {p} ({'right' if pred == true[i] else 'wrong'})")
        titles.append(f"{cid} — " + "; ".join(parts))
    return titles
