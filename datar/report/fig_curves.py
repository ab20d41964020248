"""Training curves per run (train loss, and validation top-1 where logged) from ``log.csv`` files."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib import colormaps
from matplotlib.figure import Figure

from datar.errors import DataError
from datar.report.fig_common import DEMO_NOTE, save_figure

REQUIRED_COLUMNS = ("epoch", "step", "train_loss")


@dataclass(frozen=True)
class Curve:
    """One run's logged curve.

    Attributes:
        label: ``variant seed N`` (from ``.../{variant}/seed{N}/log.csv``) or the path.
        variant: variant name (for colours), or the label.
        epoch: epoch per logged row.
        step: global step per logged row.
        train_loss: training loss per row (NaN where empty).
        val_top1: validation top-1 per row (NaN where not logged).
    """

    label: str
    variant: str
    epoch: list[float]
    step: list[float]
    train_loss: list[float]
    val_top1: list[float]


def _float(value: str | None) -> float:
    try:
        return float(value) if value not in (None, "") else math.nan
    except ValueError:
        return math.nan


def read_log(path: str | os.PathLike[str]) -> Curve:
    """Read a run's ``log.csv``.

    Raises:
        DataError: the file is missing, empty, or lacks ``epoch``, ``step`` or ``train_loss``.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: training log not found")
    with open(p, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        rows = list(reader)
    missing = [c for c in REQUIRED_COLUMNS if c not in cols]
    if missing:
        raise DataError(f"{p}: training log lacks column(s) {', '.join(missing)} (has: {', '.join(cols)})")
    if not rows:
        raise DataError(f"{p}: training log has no rows")
    seed_dir = p.parent
    if seed_dir.name.startswith("seed"):
        variant = seed_dir.parent.name
        label = f"{variant} seed {seed_dir.name[4:]}"
    else:
        variant = label = str(p)
    return Curve(
        label=label,
        variant=variant,
        epoch=[_float(r.get("epoch")) for r in rows],
        step=[_float(r.get("step")) for r in rows],
        train_loss=[_float(r.get("train_loss")) for r in rows],
        val_top1=[_float(r.get("val_top1")) for r in rows],
    )


def curves_figure(curves: Sequence[Curve], *, title: str) -> Figure:
    """Train loss (left) and validation top-1 (right, or a note when none was logged) per run."""
    fig = Figure(figsize=(13, 4.5), layout="constrained")
    ax_loss, ax_val = fig.subplots(1, 2)
    variants = sorted({c.variant for c in curves})
    cmap = colormaps["tab10"]
    styles = ["-", "--", ":", "-."]
    seen: dict[str, int] = {}
    any_val = False
    for c in curves:
        colour = cmap(variants.index(c.variant) % 10)
        style = styles[seen.get(c.variant, 0) % len(styles)]
        seen[c.variant] = seen.get(c.variant, 0) + 1
        # x: epochs when each row is one epoch, else global steps
        x, xlabel = (c.epoch, "epoch") if len(set(c.epoch)) == len(c.epoch) else (c.step, "step")
        ax_loss.plot(x, c.train_loss, style, color=colour, label=c.label, lw=1.3)
        ax_loss.set_xlabel(xlabel)
        pts = [(xi, v) for xi, v in zip(x, c.val_top1) if not math.isnan(v)]
        if pts:
            any_val = True
            ax_val.plot([p[0] for p in pts], [p[1] for p in pts], style, marker="o", ms=3, color=colour, label=c.label)
            ax_val.set_xlabel(xlabel)
    ax_loss.set_ylabel("training loss (cross-entropy)")
    ax_loss.set_title("training loss", fontsize=10)
    ax_loss.legend(fontsize=7)
    ax_loss.grid(alpha=0.3)
    ax_val.set_title("validation top-1 (%)", fontsize=10)
    if any_val:
        ax_val.set_ylabel("top-1 accuracy (%)")
        ax_val.legend(fontsize=7)
        ax_val.grid(alpha=0.3)
    else:
        ax_val.text(0.5, 0.5, "no validation accuracy logged\n(no validation split: manifest.val_fraction = 0)",
                    ha="center", va="center", transform=ax_val.transAxes)
        ax_val.set_axis_off()
    fig.suptitle(title, fontsize=11)
    return fig


def render_curves_figure(log_paths: Sequence[str | os.PathLike[str]], out_prefix: str | os.PathLike[str], *,
                         demo: bool, title: str | None = None) -> list[Path]:
    """Read the runs' logs and save the curves as ``{out_prefix}.png`` and ``.pdf``.

    Raises:
        DataError: no logs given, or one is missing or malformed.
    """
    if not log_paths:
        raise DataError("figure-curves: no log.csv files given")
    curves = [read_log(p) for p in log_paths]
    if title is None:
        datasets = sorted({Path(p).parent.parent.parent.name for p in log_paths if Path(p).parent.name.startswith("seed")})
        title = f"Training curves{': ' + ', '.join(datasets) if datasets else ''}"
    if demo:
        title = f"{DEMO_NOTE}. {title}"
    return save_figure(curves_figure(curves, title=title), out_prefix)
