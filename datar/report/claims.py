"""The paper's claims, checked: reproduced Δ with an interval (``report.confidence``), a p-value and a verdict.

Each claim of ``config/paper.yaml`` (``claims:``) says "``model`` beats ``baseline`` by Δ".
:func:`check_claims` answers it from the runs' per-clip predictions:

- both sides rerun: the difference is **paired** on the clips both were tested on; Δ is
  the mean over seeds, the interval a hierarchical bootstrap over seeds and clips
  (:func:`datar.report.intervals.bootstrap_delta`), the p-value the exact sign-flip
  permutation test over clips (:func:`~datar.report.intervals.signflip_p`; exact McNemar
  with one seed each);
- the baseline only cited by the paper: our model against the cited number, **unpaired**
  (the cited accuracy resampled as a binomial at the paper's test-set size);
- compute: the MACs our own counter measures at the config's input shape (an exact count).

Verdicts: **reproduced** (same sign as the paper, interval excludes 0), **not reproduced**
(interval excludes the paper's Δ), **inconclusive** (interval holds both 0 and the paper's
Δ), **not run** (a side has no runs with predictions), **not comparable** (the config's table
is on another dataset than the one the claim is about: the reproduced Δ between the two rerun
models is still shown, the paper's numbers and a verdict about them are not).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from datar.config import Config
from datar.report.intervals import (
    Interval,
    binomial_halfwidth,
    bootstrap_delta,
    bootstrap_vs_constant,
    detectable_difference,
    signflip_p,
    unpaired_halfwidth,
    unpaired_se,
)
from datar.report.metrics import RunMetrics
from datar.report.paper import PaperClaim, PaperNumbers
from datar.report.predictions import HitMatrix, common_clips, hit_matrix
from datar.report.tables import row_label
from datar.runs import availability_file

if TYPE_CHECKING:
    import pandas as pd

Verdict = Literal["reproduced", "not reproduced", "inconclusive", "not run", "not comparable"]
Test = Literal["paired", "unpaired vs cited", "exact count", "none"]


@dataclass(frozen=True)
class ClaimResult:
    """The answer to one claim.

    Attributes:
        claim: the claim.
        dataset: the dataset it is tested on (accuracy claims).
        paper_model, paper_baseline: the paper's two numbers.
        model, baseline: our numbers (mean over seeds on the compared clips; GMACs for compute).
        delta: reproduced Δ = model − baseline, or None when not run.
        ci: its interval at ``report.confidence`` (None for compute and not run).
        p: two-sided p-value (None where there is no test).
        test: how Δ was compared.
        mdd: the smallest Δ this test set detects (α 0.05, power 0.8), points.
        mdd_basis: how ``mdd`` was obtained.
        paper_n: the paper's test-set size.
        paper_halfwidth: the half-width (``report.confidence``) of the paper's Δ implied by ``paper_n`` (unpaired).
        paper_halfwidths: the half-widths of the paper's two accuracies.
        seeds: seeds used per side.
        clips: clips compared.
        verdict: the verdict.
        note: what the reader needs besides the numbers (why not run, dropped clips, ...).
        incomparable: why the claim cannot be judged on this config's data (verdict
            ``not comparable``), e.g. ``table1 is on drums; the claim is about Kinetics-Sounds``.
    """

    claim: PaperClaim
    dataset: str | None
    paper_model: float
    paper_baseline: float
    model: float | None = None
    baseline: float | None = None
    delta: float | None = None
    ci: Interval | None = None
    p: float | None = None
    test: Test = "none"
    mdd: float | None = None
    mdd_basis: str = ""
    paper_n: int | None = None
    paper_halfwidth: float | None = None
    paper_halfwidths: tuple[float, float] | None = None
    seeds: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())
    clips: int | None = None
    verdict: Verdict = "not run"
    note: str = ""
    incomparable: str = ""

    @property
    def verdict_text(self) -> str:
        """The verdict as printed: ``not comparable (why)`` for a claim on another dataset."""
        return f"{self.verdict} ({self.incomparable})" if self.incomparable else self.verdict

    @property
    def unit(self) -> str:
        """``GMACs`` for compute claims, else ``points``."""
        return "GMACs" if self.claim.kind == "compute" else "points"


def verdict_for(paper_delta: float, low: float, high: float) -> Verdict:
    """The verdict of an interval ``[low, high]`` for a claimed difference ``paper_delta``.

    ``reproduced``: the interval lies wholly on the paper's side of 0; ``not reproduced``:
    it excludes the paper's Δ (and is not wholly on its side of 0); ``inconclusive``: it
    holds both 0 and the paper's Δ.
    """
    if paper_delta > 0 and low > 0 or paper_delta < 0 and high < 0:
        return "reproduced"
    if paper_delta < low or paper_delta > high:
        return "not reproduced"
    return "inconclusive"


def _paper_n(cfg: Config, paper: PaperNumbers, dataset: str) -> int | None:
    from datar.report.paper import paper_counts

    n = paper_counts(cfg, dataset, paper).get("test") if dataset in cfg.datasets else None
    return int(n) if n else None


def _our_test_clips(cfg: Config, dataset: str) -> int | None:
    from datar.errors import DataError
    from datar.report.availability import read_availability

    try:
        avail = read_availability(Path(availability_file(cfg.results_dir, dataset, "csv")))
    except DataError:
        return None
    return avail.available.get("test") if avail else None


def _matrix(runs: Mapping[tuple[str, str, int], "pd.DataFrame"], dataset: str, variant: str,
            metric: str) -> HitMatrix | None:
    frames = {seed: df for (d, v, seed), df in runs.items() if d == dataset and v == variant}
    return hit_matrix(frames, metric) if frames else None


def _accuracy_claim(cfg: Config, paper: PaperNumbers, claim: PaperClaim,
                    predictions: Mapping[tuple[str, str, int], "pd.DataFrame"]) -> ClaimResult:
    pm, pb = paper.value(claim, claim.model), paper.value(claim, claim.baseline)
    table = cfg.tables.get(claim.table or "")
    if table is None:
        return ClaimResult(claim=claim, dataset=None, paper_model=pm, paper_baseline=pb,
                           note=f"not run: {claim.table} is not a table of config {cfg.name!r}")
    dataset, metric = table.dataset, claim.metric or ""
    comparison = paper.compare(cfg, claim.table or "")
    if not comparison.comparable:
        return _not_comparable(cfg, paper, claim, predictions, pm, pb, comparison)
    n_paper = _paper_n(cfg, paper, dataset)
    base = dict(claim=claim, dataset=dataset, paper_model=pm, paper_baseline=pb, paper_n=n_paper)
    if n_paper:
        level = cfg.report.confidence
        base.update(paper_halfwidth=unpaired_halfwidth(pm, n_paper, pb, n_paper, confidence=level),
                    paper_halfwidths=(binomial_halfwidth(pm, n_paper, confidence=level),
                                      binomial_halfwidth(pb, n_paper, confidence=level)))
    cited = paper.tables[claim.table or ""][claim.baseline].cited is not None
    sides = [claim.model] if cited else [claim.model, claim.baseline]
    matrices = {v: _matrix(predictions, dataset, v, metric) for v in sides}
    missing_rows = [v for v in sides if v not in table.rows]
    absent = [v for v, m in matrices.items() if m is None]
    if missing_rows or absent:
        why = (f"{', '.join(missing_rows)} not a row of {claim.table} in config {cfg.name!r}" if missing_rows else
               f"no runs with predictions.csv of {', '.join(absent)} on {dataset}")
        return _not_run(cfg, base, why, cited=cited)
    key = f"claims/{claim.id}"
    a = matrices[claim.model]
    assert a is not None
    if cited:
        return _against_cited(cfg, base, a, key, paper)
    b = matrices[claim.baseline]
    assert b is not None
    return _paired(cfg, base, a, b, key)


def _not_comparable(cfg: Config, paper: PaperNumbers, claim: PaperClaim,
                    predictions: Mapping[tuple[str, str, int], "pd.DataFrame"], pm: float, pb: float,
                    comparison) -> ClaimResult:  # noqa: ANN001 - a datar.report.paper.Comparison
    """A claim whose table is on another dataset: no paper numbers, no verdict; the paired Δ if both sides ran."""
    table = cfg.tables[claim.table or ""]
    name = comparison.paper_dataset.name if comparison.paper_dataset else "the paper's dataset"
    why = f"{comparison.reason}; the claim is about {name}"
    base = dict(claim=claim, dataset=table.dataset, paper_model=pm, paper_baseline=pb, verdict="not comparable",
                incomparable=why)
    cited = paper.tables[claim.table or ""][claim.baseline].cited is not None
    if cited:
        return ClaimResult(**base, note=f"{row_label(claim.baseline, paper)} is only cited by the paper, on {name}: "
                                        "nothing to compare with here")
    a, b = (_matrix(predictions, table.dataset, v, claim.metric or "") for v in (claim.model, claim.baseline))
    if a is None or b is None or claim.model not in table.rows or claim.baseline not in table.rows:
        return ClaimResult(**base, note="a side has no runs with predictions.csv here")
    paired = _paired(cfg, {k: v for k, v in base.items() if k not in ("verdict", "incomparable")}, a, b,
                     f"claims/{claim.id}")
    return dataclasses.replace(paired, verdict="not comparable", incomparable=why,
                               note="; ".join(x for x in (f"reproduced Δ on {table.dataset}, not the paper's data",
                                                          paired.note) if x))


def _not_run(cfg: Config, base: dict, why: str, *, cited: bool) -> ClaimResult:
    """A claim without runs; the detectable Δ is planned from our test-set size and the paper's accuracies."""
    ours = _our_test_clips(cfg, base["dataset"])
    mdd, basis = None, ""
    if ours:
        n_other = base["paper_n"] if cited and base["paper_n"] else ours
        mdd = detectable_difference(unpaired_se(base["paper_model"], ours, base["paper_baseline"], n_other),
                                    confidence=cfg.report.confidence)
        basis = f"planned: {ours} test clips, the paper's accuracies, unpaired"
    return ClaimResult(**base, mdd=mdd, mdd_basis=basis, note=f"not run: {why}")


def _against_cited(cfg: Config, base: dict, a: HitMatrix, key: str, paper: PaperNumbers) -> ClaimResult:
    """Our model vs a number the paper only cites: unpaired, the cited side resampled at the paper's n."""
    claim, pb, n_paper = base["claim"], base["paper_baseline"], base["paper_n"]
    size_note = ""
    n_cited = n_paper
    if not n_paper:
        n_cited = a.hits.shape[1]
        size_note = f"the paper's test-set size is unknown: the cited number is resampled at our {n_cited} clips"
    ci, p = bootstrap_vs_constant(a.hits, pb, n_cited, resamples=cfg.report.bootstrap_resamples,
                                  seed=cfg.report.bootstrap_seed, key=key, confidence=cfg.report.confidence)
    note = "; ".join(x for x in (
        f"{row_label(claim.baseline, paper)} is only cited by the paper (not rerun): our {row_label(claim.model)} "
        f"vs its {pb:.1f}, unpaired", size_note, _dropped(a)) if x)
    return ClaimResult(**base, model=ci.estimate + pb, baseline=pb, delta=ci.estimate, ci=ci, p=p,
                       test="unpaired vs cited", mdd=detectable_difference(ci.se, confidence=cfg.report.confidence),
                       mdd_basis="bootstrap standard error, unpaired", seeds=(a.seeds, ()), clips=ci.clips,
                       verdict=verdict_for(claim.delta, ci.low, ci.high), note=note)


def _paired(cfg: Config, base: dict, a: HitMatrix, b: HitMatrix, key: str) -> ClaimResult:
    """Both sides rerun: the difference on the clips both were tested on."""
    claim = base["claim"]
    clips = common_clips(a, b)
    if not clips:
        return ClaimResult(**base, note=f"not run: {claim.model} and {claim.baseline} share no test clip ids")
    ha, hb = a.on(clips), b.on(clips)
    ci = bootstrap_delta(ha, hb, resamples=cfg.report.bootstrap_resamples, seed=cfg.report.bootstrap_seed, key=key,
                         confidence=cfg.report.confidence)
    left = max(len(a.clip_ids), len(b.clip_ids)) - len(clips)
    note = "; ".join(x for x in (
        _dropped(a), _dropped(b), f"{left} clips only one side was tested on are left out" if left else "",
        "one seed per side: the interval covers the test clips, not seed-to-seed variation"
        if ha.shape[0] == hb.shape[0] == 1 else "") if x)
    return ClaimResult(**base, model=100.0 * float(ha.mean(1).mean()), baseline=100.0 * float(hb.mean(1).mean()),
                       delta=ci.estimate, ci=ci, p=signflip_p(ha, hb), test="paired",
                       mdd=detectable_difference(ci.se, confidence=cfg.report.confidence),
                       mdd_basis="bootstrap standard error, paired", seeds=(a.seeds, b.seeds), clips=len(clips),
                       verdict=verdict_for(claim.delta, ci.low, ci.high), note=note)


def _dropped(m: HitMatrix) -> str:
    return f"{m.dropped} clips not evaluated by every seed are left out" if m.dropped else ""


MacsCounter = Callable[[str], float]


def _compute_claim(cfg: Config, paper: PaperNumbers, claim: PaperClaim, macs: MacsCounter | None,
                   shape: str) -> ClaimResult:
    pm, pb = paper.value(claim, claim.model), paper.value(claim, claim.baseline)
    if macs is None:
        return ClaimResult(claim=claim, dataset=None, paper_model=pm, paper_baseline=pb,
                           note="MACs not measured (--no-macs)")
    ours_m, ours_b = macs(claim.model), macs(claim.baseline)
    delta = ours_m - ours_b
    same = delta != 0 and math.copysign(1, delta) == math.copysign(1, claim.delta)
    return ClaimResult(claim=claim, dataset=None, paper_model=pm, paper_baseline=pb, model=ours_m, baseline=ours_b,
                       delta=delta, test="exact count", verdict="reproduced" if same else "not reproduced",
                       note=(f"our counter (datar.models.macs, conv + linear) at {shape}: {claim.model} {ours_m:.4g}, "
                             f"{claim.baseline} {ours_b:.4g} GMACs; the paper: {pm:.1f} vs {pb:.1f} on VGGSound at "
                             "1 x 1024 x 128"))


def default_macs_counter(cfg: Config) -> tuple[MacsCounter, str]:
    """GMACs (conv + linear) of a variant at the config's input shape and model size, and the shape in words.

    The head is sized for the compute dataset (VGGSound's slot if configured, as in the paper).
    """
    from datar.report.provenance import head_sizes, measure_model

    dataset = "vggsound" if "vggsound" in cfg.datasets else sorted(cfg.datasets)[0]
    heads, _ = head_sizes(cfg, dataset)
    mel, frames = cfg.fbank.num_mel_bins, cfg.fbank.target_length

    def count(variant: str) -> float:
        m = measure_model(cfg, variant, cfg.model.size, heads)
        return m["conv_linear"] / 1e9

    return count, f"size {cfg.model.size}, input 1 x {frames} frames x {mel} mel, {dataset}'s classes"


def check_claims(cfg: Config, paper: PaperNumbers, predictions: Mapping[tuple[str, str, int], "pd.DataFrame"], *,
                 macs: MacsCounter | None = None, macs_shape: str = "") -> list[ClaimResult]:
    """Answer every claim of ``paper`` from the runs' per-clip predictions.

    Args:
        cfg: the experiment config (tables, bootstrap settings).
        paper: the paper's numbers and claims.
        predictions: per-clip predictions keyed ``(dataset, variant, seed)``.
        macs: GMACs of a variant (compute claims); None leaves them not run.
        macs_shape: the shape ``macs`` counts at, in words.
    """
    out = []
    for claim in paper.claims:
        if claim.kind == "compute":
            out.append(_compute_claim(cfg, paper, claim, macs, macs_shape))
        else:
            out.append(_accuracy_claim(cfg, paper, claim, predictions))
    return out


def runs_used(results: Iterable[ClaimResult], runs: Iterable[RunMetrics]) -> list[RunMetrics]:
    """The runs that some claim compared (for the provenance)."""
    wanted = {(r.dataset, v) for r in results if r.dataset for v in (r.claim.model, r.claim.baseline)}
    return [r for r in runs if (r.dataset, r.variant) in wanted]
