"""Per-class accuracy and the confusion matrix of one variant on one dataset, from ``predictions.csv``.

One row of two panels per head (EPIC-100: verb and noun): the accuracy of each true class
(pooled over seeds, with the chance level and the overall accuracy marked) and the confusion
matrix normalised per true class. The numbers go to a csv beside the figure.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from datar.config import Config
from datar.errors import DataError
from datar.io import write_text_atomic
from datar.report.fig_common import save_figure
from datar.report.kind import titled
from datar.runs import classes_json
from datar.report.predictions import heads_of, read_predictions
from datar.report.tables import row_label

#: Above this many classes the axes carry no class names (the csv has them).
MAX_TICK_LABELS = 40


def class_names(cfg: Config, dataset: str, head: str, seen: Sequence[str]) -> list[str]:
    """The head's classes in their index order (``classes.json``), else the names seen, sorted."""
    path = Path(classes_json(cfg.data_dir, dataset))
    if path.is_file():
        try:
            names = json.loads(path.read_text(encoding="utf-8"))["heads"][head]
            if isinstance(names, list) and all(isinstance(n, str) for n in names):
                return list(names) + sorted(set(seen) - set(names))
        except (json.JSONDecodeError, KeyError, TypeError):
            pass
    return sorted(set(seen))


def pooled(frames: Sequence[pd.DataFrame], head: str) -> pd.DataFrame:
    """``true`` and ``pred`` of ``head`` over every seed's clips (one row per clip and seed)."""
    return pd.concat([pd.DataFrame({"true": f[f"{head}_true"], "pred": f[f"{head}_pred"]}) for f in frames],
                     ignore_index=True)


def class_table(data: pd.DataFrame, names: Sequence[str], seeds: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-class accuracy and the row-normalised confusion matrix.

    Returns:
        ``(per_class, confusion)``: per class ``clips`` (per seed), ``correct`` (pooled),
        ``accuracy`` (%), ``most_confused_with``; the confusion matrix indexed by true class,
        columns = predicted class, rows summing to 1 (NaN rows for classes absent from the test split).
    """
    counts = pd.crosstab(pd.Categorical(data["true"], categories=names),
                         pd.Categorical(data["pred"], categories=names), dropna=False)
    counts.index, counts.columns = list(names), list(names)
    total = counts.sum(axis=1)
    correct = pd.Series(np.diag(counts.to_numpy()), index=counts.index)
    off = counts.to_numpy().copy()
    np.fill_diagonal(off, 0)
    worst = [names[int(j)] if off[i].max() > 0 else "" for i, j in enumerate(off.argmax(axis=1))]
    per_class = pd.DataFrame({
        "clips": (total / seeds).round(2), "correct": correct,
        "accuracy": (100.0 * correct / total.where(total > 0)).round(2), "most_confused_with": worst,
    }, index=counts.index)
    per_class.index.name = "class"
    confusion = counts.div(total.where(total > 0), axis=0)
    return per_class, confusion


def classes_figure(panels: Sequence[tuple[str, pd.DataFrame, pd.DataFrame, float]], *, title: str) -> Figure:
    """Draw one row per head: per-class accuracy bars and the confusion matrix.

    Args:
        panels: ``(head, per_class, confusion, overall accuracy %)`` per head.
        title: figure title.
    """
    sizes = [len(pc) for _, pc, _, _ in panels]
    heights = [min(max(3.2, 0.22 * n + 1.2), 16.0) for n in sizes]
    fig = Figure(figsize=(14, sum(heights) + 0.8), layout="constrained")
    grid = fig.add_gridspec(len(panels), 2, height_ratios=heights, width_ratios=[1, 1.25])
    for i, (head, per_class, confusion, overall) in enumerate(panels):
        n = len(per_class)
        labels = n <= MAX_TICK_LABELS
        ax = fig.add_subplot(grid[i, 0])
        y = np.arange(n)
        acc = per_class["accuracy"].to_numpy(dtype=float)
        ax.barh(y, np.nan_to_num(acc), color="#4c72b0")
        chance = 100.0 / n
        ax.axvline(chance, color="#c44e52", ls="--", lw=1, label=f"chance {chance:.1f}%")
        ax.axvline(overall, color="#55a868", ls="-", lw=1, label=f"overall {overall:.1f}%")
        ax.set_xlim(0, 100)
        ax.set_ylim(n - 0.5, -0.5)
        ax.set_yticks(y if labels else [])
        if labels:
            ax.set_yticklabels([f"{c} ({per_class['clips'].iloc[k]:g})" for k, c in enumerate(per_class.index)],
                               fontsize=7)
        ax.set_xlabel("accuracy of the true class (%)")
        ax.set_title(f"{head}: per-class accuracy ({n} classes; clips per class in brackets)" if labels
                     else f"{head}: per-class accuracy ({n} classes, in class order; names in the csv)", fontsize=9)
        ax.legend(loc="lower right", fontsize=7)
        ax.grid(axis="x", alpha=0.3)
        cx = fig.add_subplot(grid[i, 1])
        im = cx.imshow(confusion.to_numpy(dtype=float), cmap="Blues", vmin=0, vmax=1, aspect="auto",
                       interpolation="nearest")
        cx.set_xticks(y if labels else [])
        cx.set_yticks(y if labels else [])
        if labels:
            cx.set_xticklabels(list(confusion.columns), rotation=90, fontsize=7)
            cx.set_yticklabels(list(confusion.index), fontsize=7)
        cx.set_xlabel("predicted class")
        cx.set_ylabel("true class")
        cx.set_title(f"{head}: confusion matrix (each true-class row sums to 1)", fontsize=9)
        fig.colorbar(im, ax=cx, pad=0.01).set_label("fraction of the true class", fontsize=8)
    fig.suptitle(title, fontsize=11)
    return fig


def render_classes_figure(cfg: Config, dataset: str, variant: str, prediction_paths: Sequence[str | os.PathLike[str]],
                          out_prefix: str | os.PathLike[str]) -> list[Path]:
    """Write ``{out_prefix}.png``, ``.pdf`` and ``.csv`` for one dataset x variant.

    Raises:
        DataError: no predictions given, a file is unreadable, or the files disagree on the heads.
    """
    if not prediction_paths:
        raise DataError(f"figure-classes: no predictions.csv given for {dataset}/{variant}")
    frames = [read_predictions(p) for p in prediction_paths]
    heads = heads_of(frames[0])
    for f, p in zip(frames, prediction_paths):
        if heads_of(f) != heads:
            raise DataError(f"{p}: heads {heads_of(f)} differ from {prediction_paths[0]}'s {heads}")
    panels, tables = [], []
    for head in heads:
        data = pooled(frames, head)
        names = class_names(cfg, dataset, head, pd.concat([data["true"], data["pred"]]).unique().tolist())
        per_class, confusion = class_table(data, names, len(frames))
        overall = 100.0 * float((data["true"] == data["pred"]).mean())
        panels.append((head, per_class, confusion, overall))
        tables.append(per_class.reset_index().assign(head=head))
    n_clips = len(frames[0])
    title = titled(cfg, f"Per-class accuracy and confusion: {row_label(variant)} on {dataset} "
                        f"({n_clips} test clips x {len(frames)} seed{'s' if len(frames) != 1 else ''}, pooled)")
    outs = save_figure(classes_figure(panels, title=title), out_prefix, formats=("png",))
    prefix = Path(out_prefix)
    csv_path = prefix.with_name(prefix.name + ".csv")
    table = pd.concat(tables, ignore_index=True)[["head", "class", "clips", "correct", "accuracy", "most_confused_with"]]
    write_text_atomic(csv_path, table.to_csv(index=False, lineterminator="\n"))
    return outs + [csv_path]
