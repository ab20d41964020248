"""Per-clip predictions of the runs (``predictions.csv`` beside ``metrics.json``) as hit matrices.

``evaluate`` writes one row per test clip: ``clip_id``, then per head ``{head}_true``,
``{head}_pred`` and ``{head}_top5`` (class names, the top 5 joined with ``|``, best first).
From it every accuracy the tables show is recomputed per clip: ``top1`` / ``top5`` for a
single head, ``{head}_top1`` / ``{head}_top5`` and ``action_top1`` (both heads right) for
verb + noun. ``action_top5`` needs the joint scores, which the file does not keep.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from datar.errors import DataError
from datar.report.metrics import RunMetrics

PREDICTIONS = "predictions.csv"


def predictions_path(run: RunMetrics) -> Path:
    """``predictions.csv`` beside the run's ``metrics.json``."""
    return Path(run.path).with_name(PREDICTIONS)


def read_predictions(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a ``predictions.csv``; all columns as strings, indexed by ``clip_id``.

    Raises:
        DataError: missing file, no ``clip_id`` column, a head without its three columns,
            or a repeated clip id (the message names the file).
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: predictions file not found (rerun the evaluate job of this run)")
    try:
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{p}: not a readable predictions csv ({exc})") from None
    if "clip_id" not in df.columns:
        raise DataError(f"{p}: predictions csv has no clip_id column (columns: {', '.join(df.columns)})")
    heads = [c[: -len("_true")] for c in df.columns if c.endswith("_true")]
    for h in heads:
        for suffix in ("pred", "top5"):
            if f"{h}_{suffix}" not in df.columns:
                raise DataError(f"{p}: head {h!r} lacks the column {h}_{suffix}")
    if not heads:
        raise DataError(f"{p}: predictions csv has no {{head}}_true column")
    dup = df["clip_id"][df["clip_id"].duplicated()]
    if len(dup):
        raise DataError(f"{p}: clip id {dup.iloc[0]!r} appears more than once")
    out = df.set_index("clip_id")
    out.attrs["heads"] = heads
    out.attrs["path"] = str(p)
    return out


def heads_of(df: pd.DataFrame) -> list[str]:
    """The label heads of a predictions frame (``label``; ``verb``, ``noun``)."""
    return list(df.attrs.get("heads") or [c[: -len("_true")] for c in df.columns if c.endswith("_true")])


def clip_hits(df: pd.DataFrame, metric: str) -> pd.Series | None:
    """Per-clip hits (bool Series indexed by clip id) for ``metric``, None if the file cannot give it.

    ``top1``/``top5`` use the single head; ``{head}_top1``/``{head}_top5`` that head;
    ``action_top1`` is "verb and noun right".
    """
    heads = heads_of(df)

    def top1(h: str) -> pd.Series:
        return df[f"{h}_true"] == df[f"{h}_pred"]

    def top5(h: str) -> pd.Series:
        tops = df[f"{h}_top5"].str.split("|")
        return pd.Series([t in set(s) for t, s in zip(df[f"{h}_true"], tops)], index=df.index)

    if metric in ("top1", "top5"):
        if len(heads) != 1:
            return None
        return top1(heads[0]) if metric == "top1" else top5(heads[0])
    if metric == "action_top1":
        if not {"verb", "noun"} <= set(heads):
            return None
        return top1("verb") & top1("noun")
    head, _, kind = metric.rpartition("_")
    if head in heads and kind in ("top1", "top5"):
        return top1(head) if kind == "top1" else top5(head)
    return None


@dataclass(frozen=True)
class HitMatrix:
    """Hits of one model (all its seeds) on a common set of test clips.

    Attributes:
        hits: ``(k, n)`` bool, rows in ``seeds`` order, columns in ``clip_ids`` order.
        seeds: the k seeds.
        clip_ids: the n clips (sorted).
        dropped: clips some seed lacked (left out so every seed is scored on the same clips).
    """

    hits: np.ndarray
    seeds: tuple[int, ...]
    clip_ids: tuple[str, ...]
    dropped: int = 0

    def on(self, clip_ids: Sequence[str]) -> np.ndarray:
        """The hits restricted to ``clip_ids`` (a subset of this matrix's clips), in that order."""
        pos = pd.Index(self.clip_ids).get_indexer(list(clip_ids))
        if (pos < 0).any():
            raise ValueError("clip ids outside the matrix")
        return self.hits[:, pos]


def hit_matrix(frames: Mapping[int, pd.DataFrame], metric: str) -> HitMatrix | None:
    """Stack the per-seed hits of ``metric`` on the clips every seed has; None if not computable.

    Args:
        frames: seed -> predictions frame (:func:`read_predictions`).
        metric: a table metric key.
    """
    cols = {}
    for seed in sorted(frames):
        s = clip_hits(frames[seed], metric)
        if s is None:
            return None
        cols[seed] = s
    if not cols:
        return None
    table = pd.DataFrame(cols)  # union of clips; NaN where a seed lacks one
    complete = table.dropna()
    if complete.empty:
        return None
    complete = complete.sort_index()
    return HitMatrix(hits=complete.to_numpy(dtype=bool).T.copy(), seeds=tuple(cols), clip_ids=tuple(complete.index),
                     dropped=int(len(table) - len(complete)))


def common_clips(*matrices: HitMatrix) -> tuple[str, ...]:
    """Clip ids every matrix holds, sorted."""
    common = set(matrices[0].clip_ids)
    for m in matrices[1:]:
        common &= set(m.clip_ids)
    return tuple(sorted(common))


def load_run_predictions(runs: Iterable[RunMetrics]) -> tuple[dict[tuple[str, str, int], pd.DataFrame], list[str]]:
    """Predictions of each run that has them, keyed ``(dataset, variant, seed)``, and notes on the rest."""
    out: dict[tuple[str, str, int], pd.DataFrame] = {}
    notes: list[str] = []
    for r in runs:
        path = predictions_path(r)
        if not path.is_file():
            notes.append(f"{path}: absent, so {r.variant} seed {r.seed} has no interval")
            continue
        out[(r.dataset, r.variant, r.seed)] = read_predictions(path)
    return out, notes


def check_against_metrics(run: RunMetrics, df: pd.DataFrame, *, tol: float = 0.01) -> list[str]:
    """Problems where the accuracy recomputed from ``predictions.csv`` differs from ``metrics.json``."""
    problems = []
    for metric, value in sorted(run.metrics.items()):
        hits = clip_hits(df, metric)
        if hits is None or not len(hits):
            continue
        mine = 100.0 * float(hits.mean())
        if abs(mine - value) > tol + 1e-9:
            problems.append(f"{predictions_path(run)}: {metric} from the per-clip predictions is {mine:.4f}, "
                            f"metrics.json says {value:.4f}: the two files are not from the same evaluation")
    if run.n_clips is not None and run.n_clips != len(df):
        problems.append(f"{predictions_path(run)}: {len(df)} clips, metrics.json says n_clips = {run.n_clips}")
    return problems


def class_counts(df: pd.DataFrame) -> dict[str, pd.Series]:
    """Test clips per true class, per head (and ``action``: per (verb, noun) pair when both exist)."""
    out = {h: df[f"{h}_true"].value_counts() for h in heads_of(df)}
    if {"verb", "noun"} <= set(out):
        out["action"] = (df["verb_true"] + " / " + df["noun_true"]).value_counts()
    return out
