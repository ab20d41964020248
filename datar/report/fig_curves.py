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
from datar.report.fig_common import save_figure
from datar.report.kind import banner
from datar.report.tables import row_label

REQUIRED_COLUMNS = ("epoch", "step", "train_loss")


@dataclass(frozen=True)
class Curve:
    """One run's logged curve.

    Attributes:
        label: ``<row name>, seed N`` (from ``.../{variant}/seed{N}/log.csv``; the tables' row names) or the path.
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
        label = f"{row_label(variant)}, seed {seed_dir.name[4:]}"
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


def loss_label(heads: Sequence[str]) -> str:
    """The loss axis label: cross-entropy, summed over the heads when there are several."""
    if len(heads) > 1:
        return f"training loss (sum of cross-entropy over heads {' + '.join(heads)})"
    return "training loss (cross-entropy)"


def curves_figure(curves: Sequence[Curve], *, title: str, heads: Sequence[str] = ("label",)) -> Figure:
    """Train loss per run, and validation top-1 in a second panel only when some run logged it.

    The legend sits outside the panels, on the right; one colour per variant, one line style per seed.
    """
    variants = sorted({c.variant for c in curves})
    any_val = any(not math.isnan(v) for c in curves for v in c.val_top1)
    fig = Figure(figsize=(13 if any_val else 10, 4.5), layout="constrained")
    axes = fig.subplots(1, 2 if any_val else 1, squeeze=False)[0]
    ax_loss = axes[0]
    ax_val = axes[1] if any_val else None
    cmap = colormaps["tab10"]
    styles = ["-", "--", ":", "-."]
    seen: dict[str, int] = {}
    for c in curves:
        colour = cmap(variants.index(c.variant) % 10)
        style = styles[seen.get(c.variant, 0) % len(styles)]
        seen[c.variant] = seen.get(c.variant, 0) + 1
        # x: epochs when each row is one epoch, else global steps
        x, xlabel = (c.epoch, "epoch") if len(set(c.epoch)) == len(c.epoch) else (c.step, "step")
        ax_loss.plot(x, c.train_loss, style, color=colour, label=c.label, lw=1.3)
        ax_loss.set_xlabel(xlabel)
        pts = [(xi, v) for xi, v in zip(x, c.val_top1) if not math.isnan(v)]
        if pts and ax_val is not None:
            ax_val.plot([p[0] for p in pts], [p[1] for p in pts], style, marker="o", ms=3, color=colour)
            ax_val.set_xlabel(xlabel)
    ax_loss.set_ylabel(loss_label(heads))
    ax_loss.set_title("training loss" + ("" if any_val else " (no validation split: manifest.val_fraction = 0)"),
                      fontsize=10)
    ax_loss.grid(alpha=0.3)
    if ax_val is not None:
        ax_val.set_title("validation top-1 (%)", fontsize=10)
        ax_val.set_ylabel("top-1 accuracy (%)")
        ax_val.grid(alpha=0.3)
    fig.legend(*ax_loss.get_legend_handles_labels(), loc="outside right center", fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=11)
    return fig


def write_curves_csv(curves: Sequence[Curve], path: str | os.PathLike[str]) -> Path:
    """Every run's curve in one long csv (``run, epoch, step, train_loss, val_top1``), for ``dvc plots``."""
    import csv
    import io

    from datar.io import write_text_atomic

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["run", "epoch", "step", "train_loss", "val_top1"])
    for c in curves:
        for e, st, loss, val in zip(c.epoch, c.step, c.train_loss, c.val_top1):
            w.writerow([c.label, int(e), int(st), "" if math.isnan(loss) else loss, "" if math.isnan(val) else val])
    write_text_atomic(path, buf.getvalue())
    return Path(path)


def render_curves_figure(log_paths: Sequence[str | os.PathLike[str]], out_prefix: str | os.PathLike[str], *,
                         demo: bool = False, title: str | None = None, kind: str | None = None,
                         heads: Sequence[str] = ("label",), csv_path: str | os.PathLike[str] | None = None
                         ) -> list[Path]:
    """Read the runs' logs and save the curves as ``{out_prefix}.png`` and ``.pdf``.

    Args:
        log_paths: the runs' ``log.csv`` files.
        out_prefix: output path without suffix.
        demo: mark the title DEMO (when ``kind`` is not given).
        title: figure title (default: "Training curves: <datasets>").
        kind: ``paper``, ``demo`` or ``rehearsal`` (the banner in the title).
        heads: the dataset's label heads (the loss is summed over them).
        csv_path: also write the curves there (:func:`write_curves_csv`).

    Raises:
        DataError: no logs given, or one is missing or malformed.
    """
    if not log_paths:
        raise DataError("figure-curves: no log.csv files given")
    curves = [read_log(p) for p in log_paths]
    extra = [write_curves_csv(curves, csv_path)] if csv_path is not None else []
    if title is None:
        datasets = sorted({Path(p).parent.parent.parent.name for p in log_paths if Path(p).parent.name.startswith("seed")})
        title = f"Training curves{': ' + ', '.join(datasets) if datasets else ''}"
    b = banner(kind or ("demo" if demo else "paper"))
    if b:
        title = f"{b}. {title}"
    return save_figure(curves_figure(curves, title=title, heads=heads), out_prefix) + extra
