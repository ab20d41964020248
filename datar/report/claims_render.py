"""The claims table (:mod:`datar.report.claims`) as Markdown, LaTeX and CSV, with its reading guide."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from datar.report.claims import ClaimResult
from datar.report.intervals import level_text, z_quantile
from datar.report.render import DASH, tex_escape
from datar.report.tables import metric_label

TITLE = "Claims of the paper, checked against the runs"

READING_GUIDE = (
    "How to read this table. Each row is one claim the paper makes with a number. *Paper Δ* is the "
    "difference the paper reports; *reproduced Δ* is the same difference from our runs (mean over seeds), "
    "computed on the same test clips for both models (paired) unless the paper only cites the baseline "
    "(then our model is compared with the cited number, unpaired). The *{level} CI* covers both which test "
    "clips and which training seeds happened to be used; *p* tests \"no difference\". **reproduced**: the "
    "interval lies on the paper's side of zero; **not reproduced**: it excludes the paper's Δ; "
    "**inconclusive**: it holds both zero and the paper's Δ, so this test set cannot tell them apart — "
    "compare the *detectable Δ* (the smallest true difference this test set finds 80% of the time at "
    "α = {alpha:g}) with the paper's Δ: where it is larger, only more test clips or seeds can decide; **not run**: "
    "a side has no runs; **not comparable**: the config's table is on another dataset than the claim's, so "
    "the paper's numbers are not shown and no verdict is given (the reproduced Δ between the two rerun models "
    "still is). The last column is the interval the paper's own test-set size implies for its "
    "Δ: a paper Δ smaller than that is within the paper's own sampling noise."
)

LEGEND = (
    "Reproduced Δ = model − baseline in accuracy points (GMACs for compute), mean over seeds; in brackets the "
    "two accuracies. {level} CI: hierarchical percentile bootstrap ({resamples:,} resamples, seed {seed}) that "
    "draws each side's seeds with replacement, then the test clips with replacement (one draw shared by both "
    "sides, which keeps the pairing), from the runs' per-clip predictions.csv. p (paired): exact two-sided "
    "sign-flip permutation test over the test clips on the seed-averaged per-clip difference — with one seed "
    "per side this is the exact McNemar test; it conditions on the trained seeds, the CI does not. p (unpaired "
    "vs cited): bootstrap p with the cited accuracy resampled as Binomial(n, p)/n at the paper's test-set size n. "
    "Detectable Δ = (z({q}) + z(0.8)) × SE = {mdd_z} × the bootstrap standard error of Δ (\"planned\": from the "
    "paper's accuracies at our test-set size, for claims not run). ± at the paper's n = {z} × sqrt(p₁(1−p₁)/n + "
    "p₂(1−p₂)/n) for the paper's two accuracies (unpaired: the paper publishes no per-clip outputs; a paired "
    "interval would be narrower). Compute: MACs counted by datar.models.macs (convolutions and linear layers) "
    "at the config's input shape; an exact count has no sampling error."
)

COLUMNS = ("Claim", "Metric", "Paper Δ", "Reproduced Δ", "{level} CI", "p", "Test", "Detectable Δ (this test set)",
           "± at the paper's n", "Verdict", "Note")


def columns(confidence: float) -> tuple[str, ...]:
    """The printed column headers at the report's confidence level."""
    return tuple(c.format(level=level_text(confidence)) for c in COLUMNS)


def reading_guide(confidence: float) -> str:
    """:data:`READING_GUIDE` at the report's confidence level."""
    return READING_GUIDE.format(level=level_text(confidence), alpha=round(1 - confidence, 6))


def fmt_p(p: float | None) -> str:
    """``<0.001``, three decimals, or a dash."""
    if p is None:
        return DASH
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _g(x: float, *, sign: bool = False) -> str:
    """GMACs with two decimals, three below 1 G (the demo's tiny models)."""
    digits = 3 if abs(x) < 1 else 2
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


def _metric(r: ClaimResult) -> str:
    return "GMACs" if r.claim.kind == "compute" else metric_label(r.claim.metric or "")


def _reproduced(r: ClaimResult) -> str:
    if r.delta is None:
        return "not run"
    if r.claim.kind == "compute":
        return f"{_g(r.delta, sign=True)} ({_g(r.model)} vs {_g(r.baseline)})"
    if r.test == "unpaired vs cited":
        return f"{r.delta:+.1f} ({r.model:.1f} vs cited {r.baseline:.1f})"
    return f"{r.delta:+.1f} ({r.model:.1f} vs {r.baseline:.1f})"


def _ci(r: ClaimResult) -> str:
    if r.ci is None:
        return "exact count" if r.test == "exact count" else DASH
    return f"[{r.ci.low:+.1f}, {r.ci.high:+.1f}]"


def _test(r: ClaimResult) -> str:
    if r.test == "paired":
        ka, kb = len(r.seeds[0]), len(r.seeds[1])
        return f"paired, {r.clips} clips, {ka} + {kb} seeds"
    if r.test == "unpaired vs cited":
        return f"unpaired vs cited, {r.clips} clips, {len(r.seeds[0])} seed{'s' if len(r.seeds[0]) != 1 else ''}"
    return r.test if r.test != "none" else DASH


def _mdd(r: ClaimResult) -> str:
    if r.mdd is None:
        return DASH
    return f"{r.mdd:.1f}" + (" (planned)" if r.mdd_basis.startswith("planned") else "")


def _paper_half(r: ClaimResult) -> str:
    if r.paper_halfwidth is None or r.paper_n is None or r.incomparable:
        return DASH
    return f"±{r.paper_halfwidth:.1f} (n = {r.paper_n:,})"


def _paper_delta(r: ClaimResult) -> str:
    if r.incomparable:
        return DASH
    return f"{r.claim.delta:+.2f}" if r.claim.kind == "compute" else f"{r.claim.delta:+.1f}"


def cells(r: ClaimResult) -> list[str]:
    """One row's printed cells, in :data:`COLUMNS` order."""
    return [r.claim.text, _metric(r), _paper_delta(r), _reproduced(r), _ci(r), fmt_p(r.p), _test(r), _mdd(r),
            _paper_half(r), r.verdict_text, r.note]


def _legend(resamples: int, seed: int, confidence: float) -> str:
    z = z_quantile(0.5 + confidence / 2)
    return LEGEND.format(resamples=resamples, seed=seed, level=level_text(confidence), z=f"{z:.2f}",
                         q=f"{0.5 + confidence / 2:g}", mdd_z=f"{z + z_quantile(0.8):.2f}")


def to_markdown(title: str, results: Sequence[ClaimResult], provenance: Sequence[tuple[str, str]], *,
                resamples: int, seed: int, confidence: float) -> str:
    """The claims table as Markdown: title, reading guide, table, legend, provenance."""
    lines = [f"# {title}", "", reading_guide(confidence), ""]
    lines.append("| " + " | ".join(columns(confidence)) + " |")
    align = [":---", ":---", "---:", "---:", "---:", "---:", ":---", "---:", "---:", ":---", ":---"]
    lines.append("| " + " | ".join(align) + " |")
    for r in results:
        row = cells(r)
        row[9] = f"**{row[9]}**"
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
    lines += ["", _legend(resamples, seed, confidence), "", "## Provenance", ""]
    lines += [f"- {label}: {text}" for label, text in provenance]
    return "\n".join(lines) + "\n"


def to_latex(title: str, results: Sequence[ClaimResult], provenance: Sequence[tuple[str, str]], *,
             resamples: int, seed: int, confidence: float) -> str:
    """The claims table as a LaTeX ``table`` (booktabs); notes, legend and provenance in a footnote block."""
    head = [tex_escape(c) for c in columns(confidence)[:-1]]
    lines = [
        "% Generated by `python -m datar claims`; needs \\usepackage{booktabs} and \\usepackage{graphicx}.",
        r"\begin{table}[t]", r"\centering", rf"\caption{{{tex_escape(title)}}}", r"\label{tab:claims}",
        r"\resizebox{\linewidth}{!}{%", r"\begin{tabular}{llrrrrrrrl}", r"\toprule",
        " & ".join(head) + r" \\", r"\midrule",
    ]
    for r in results:
        lines.append(" & ".join(tex_escape(c) for c in cells(r)[:-1]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}}", "", r"\smallskip", r"\begin{minipage}{\linewidth}\footnotesize"]
    lines.append(tex_escape(reading_guide(confidence).replace("**", "").replace("*", "")) + r"\\")
    for r in results:
        if r.note:
            lines.append(rf"\textit{{{tex_escape(r.claim.id)}}}: {tex_escape(r.note)}\\")
    lines.append(tex_escape(_legend(resamples, seed, confidence)) + r"\\")
    for label, text in provenance:
        lines.append(rf"\textit{{{tex_escape(label)}}}: {tex_escape(text)}\\")
    lines += [r"\end{minipage}", r"\end{table}"]
    return "\n".join(lines) + "\n"


CSV_COLUMNS = (
    "claim", "text", "kind", "claim_kind", "table", "dataset", "metric", "unit", "model", "baseline", "paper_model",
    "paper_baseline", "paper_delta", "reproduced_model", "reproduced_baseline", "reproduced_delta", "ci_low",
    "ci_high", "p", "test", "seeds_model", "seeds_baseline", "clips", "bootstrap_se", "detectable_delta",
    "detectable_basis", "paper_n", "paper_halfwidth_delta", "paper_halfwidth_model", "paper_halfwidth_baseline",
    "verdict", "note",
)


def _num(x: float | None, digits: int = 4) -> str:
    return "" if x is None else f"{x:.{digits}f}"


def to_csv(results: Sequence[ClaimResult], *, kind: str) -> str:
    """One line per claim, machine readable (numbers with 4 decimals, p with 6)."""
    rows = []
    for r in results:
        half = r.paper_halfwidths or (None, None)
        rows.append({
            "claim": r.claim.id, "text": r.claim.text, "kind": kind, "claim_kind": r.claim.kind,
            "table": r.claim.table or "", "dataset": r.dataset or "", "metric": r.claim.metric or "",
            "unit": r.unit, "model": r.claim.model, "baseline": r.claim.baseline,
            "paper_model": "" if r.incomparable else _num(r.paper_model),
            "paper_baseline": "" if r.incomparable else _num(r.paper_baseline),
            "paper_delta": "" if r.incomparable else _num(r.claim.delta), "reproduced_model": _num(r.model),
            "reproduced_baseline": _num(r.baseline), "reproduced_delta": _num(r.delta),
            "ci_low": _num(r.ci.low if r.ci else None), "ci_high": _num(r.ci.high if r.ci else None),
            "p": _num(r.p, 6), "test": r.test, "seeds_model": " ".join(map(str, r.seeds[0])),
            "seeds_baseline": " ".join(map(str, r.seeds[1])), "clips": "" if r.clips is None else str(r.clips),
            "bootstrap_se": _num(r.ci.se if r.ci else None), "detectable_delta": _num(r.mdd),
            "detectable_basis": r.mdd_basis, "paper_n": "" if r.paper_n is None else str(r.paper_n),
            "paper_halfwidth_delta": _num(r.paper_halfwidth), "paper_halfwidth_model": _num(half[0]),
            "paper_halfwidth_baseline": _num(half[1]), "verdict": r.verdict_text, "note": r.note,
        })
    return pd.DataFrame(rows, columns=CSV_COLUMNS).to_csv(index=False, lineterminator="\n")
