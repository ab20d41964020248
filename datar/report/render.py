"""Render a :class:`~datar.report.tables.Table` with its provenance as Markdown, LaTeX and CSV."""

from __future__ import annotations

import csv
import io

from datar.report.intervals import level_text
from datar.report.provenance import Provenance
from datar.report.tables import Cell, Row, Table, metric_label

NOT_RUN = "not run"
CITED = "cited, not rerun"
DASH = "—"

LEGEND = (
    "Paper = the number the paper reports. Reproduced = mean ± sample standard deviation over the "
    "seeds found (± — for a single seed), computed from the runs' metrics files; n = seeds found. "
    "Δ = reproduced − paper. Accuracies in %."
)


LEGEND_NOT_COMPARABLE = (
    "Reproduced = mean ± sample standard deviation over the seeds found (± — for a single seed), computed "
    "from the runs' metrics files; n = seeds found. Accuracies in %."
)


def legend(table: Table) -> str:
    """The column legend (without the paper and Δ columns when the table is not comparable)."""
    return LEGEND if table.comparable else LEGEND_NOT_COMPARABLE


def ci_label(table: Table) -> str:
    """``95% CI`` at the table's confidence level (``report.confidence``)."""
    return f"{level_text(table.confidence)} CI"


def ci_legend(table: Table) -> str:
    """How the intervals were computed (printed under every table)."""
    resamples, seed = table.bootstrap
    return (f"{ci_label(table)} = hierarchical percentile bootstrap of the reproduced mean ({resamples:,} resamples, "
            f"seed {seed}) from the runs' per-clip predictions.csv: each resample draws the seeds with "
            "replacement, then the test clips with replacement (the same clips for every seed), and "
            "averages the seeds' accuracies; so it counts both the test-set and the seed-to-seed variation "
            "(with one seed, the test clips only). — where a run has no predictions.csv.")


def fmt_ci(row: Row, cell: Cell) -> str:
    """``[low, high]`` of the cell's interval, ``—`` without one, empty for cited rows."""
    if row.kind == "cited":
        return ""
    return DASH if cell.ci is None else f"[{cell.ci.low:.1f}, {cell.ci.high:.1f}]"


def reference_line(table: Table) -> str | None:
    """Classes per head, chance level and majority-class rate of the columns shown."""
    if not table.references:
        return None
    heads = ", ".join(f"{h} {n if n is not None else 'unknown'}" for h, n in table.classes.items())
    parts = []
    for m in table.columns:
        ref = table.references.get(m)
        if ref is None:
            continue
        chance = DASH if ref.chance is None else f"{ref.chance:.1f}%"
        major = DASH if ref.majority is None else f"{ref.majority:.1f}%"
        parts.append(f"{metric_label(m)}: chance {chance}, majority class {major}")
    clips = next((r.clips for r in table.references.values() if r.clips), None)
    where = f" of the {clips} test clips" if clips else " (unknown: no predictions.csv)"
    return (f"Classes per head: {heads}. Reference rates — {'; '.join(parts)}. Chance = a uniform guess; "
            f"majority class = always answering the most frequent class{where}.")


def fmt_num(x: float | None) -> str:
    """One decimal, or an em dash for a missing number."""
    return DASH if x is None else f"{x:.1f}"


def fmt_diff(x: float | None) -> str:
    """Signed difference with one decimal, or an em dash."""
    return DASH if x is None else f"{x:+.1f}"


def fmt_reproduced(row: Row, cell: Cell) -> str:
    """The reproduced cell: ``mean ± std``, ``mean ± —`` (n=1), ``not run`` or empty (cited)."""
    if row.kind == "cited":
        return ""
    if cell.n == 0:
        return NOT_RUN
    std = DASH if cell.std is None else f"{cell.std:.1f}"
    return f"{cell.mean:.1f} ± {std}"


def row_note(table: Table, row: Row) -> str:
    """The note column: cited reference, missing runs, or missing seeds."""
    if row.kind == "cited":
        if not table.comparable:
            return f"{CITED} ({row.cited}), on the paper's dataset: not comparable"
        return f"{CITED} ({row.cited})"
    if not row.runs:
        return NOT_RUN
    missing = [s for s in table.configured_seeds if s not in row.seeds]
    found = f"seed{'s' if row.n > 1 else ''} {', '.join(map(str, row.seeds))}"
    capped = row.capped
    return (found + (f"; missing {', '.join(map(str, missing))}" if missing else "")
            + "".join(f"; seed {s} capped at step {step}" for s, step in sorted(capped.items())))


def weights_note(table: Table) -> str | None:
    """A line under the title when any shown run was trained from scratch (the paper fine-tunes)."""
    scratch = [row.label for row in table.rows if any(r.pretrained is False for r in row.runs)]
    if not scratch:
        return None
    who = "all reproduced rows" if len(scratch) == sum(1 for r in table.rows if r.runs) else ", ".join(scratch)
    return (f"Trained from scratch (no pretrained weights): {who}. "
            "The paper starts from ImageNet-1k weights.")


def _cells(table: Table, row: Row) -> list[str]:
    out = [row.label]
    for m in table.columns:
        c = row.cells[m]
        if table.comparable:
            out += [fmt_num(c.paper), fmt_reproduced(row, c), fmt_ci(row, c),
                    "" if row.kind == "cited" else fmt_diff(c.diff)]
        else:  # no paper column, no Δ: the paper's numbers are about another dataset
            out += [fmt_reproduced(row, c), fmt_ci(row, c)]
    out += ["" if row.kind == "cited" else str(row.n), row_note(table, row)]
    return out


def _subcolumns(table: Table) -> list[str]:
    return ["paper", "reproduced", ci_label(table), "Δ"] if table.comparable else ["reproduced", ci_label(table)]


def _header(table: Table) -> list[str]:
    head = ["Model"]
    for m in table.columns:
        lab = metric_label(m)
        head += [f"{lab} {sub}" for sub in _subcolumns(table)]
    return head + ["n", "Note"]


def _preamble(table: Table) -> list[str]:
    """Lines under the title: weights, reference rates, notes."""
    out = []
    note = weights_note(table)
    if note:
        out.append(note)
    ref = reference_line(table)
    if ref:
        out.append(ref)
    out += list(table.notes)
    return out


def to_markdown(table: Table, prov: Provenance) -> str:
    """The table as Markdown, with legend and provenance."""
    lines = [f"# {table.title}", ""]
    for note in _preamble(table):
        lines += [f"*{note}*", ""]
    for w in prov.warnings:
        lines.append(f"> **WARNING: {w}**")
    if prov.warnings:
        lines.append("")
    head = _header(table)
    lines.append("| " + " | ".join(head) + " |")
    lines.append("| " + " | ".join([":---"] + ["---:"] * (len(head) - 2) + [":---"]) + " |")
    for row in table.rows:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in _cells(table, row)) + " |")
    lines += ["", legend(table) + " " + ci_legend(table), "", "## Provenance", ""]
    lines += [f"- {label}: {text}" for label, text in prov.items]
    return "\n".join(lines) + "\n"


_TEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "±": r"$\pm$", "λ": r"$\lambda$", "Δ": r"$\Delta$", "—": "---", "−": "$-$", "×": r"$\times$",
    "<": r"\textless{}", ">": r"\textgreater{}",
}


def tex_escape(text: str) -> str:
    """Escape LaTeX specials and map the few non-ASCII symbols the tables use."""
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in text)


def to_latex(table: Table, prov: Provenance) -> str:
    """The table as a LaTeX ``table`` (booktabs), with legend and provenance as a footnote block."""
    k = len(_subcolumns(table))
    ncols = 1 + k * len(table.columns) + 2
    spec = "l" + "r" * k * len(table.columns) + "rl"
    lines = [
        "% Generated by `python -m datar table`; needs \\usepackage{booktabs} and \\usepackage{graphicx}.",
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{tex_escape(table.title)}}}",
        rf"\label{{tab:{tex_escape(table.name)}}}",
        r"\resizebox{\linewidth}{!}{%",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
    ]
    group = ["Model"] + [rf"\multicolumn{{{k}}}{{c}}{{{tex_escape(metric_label(m))}}}" for m in table.columns] + ["", ""]
    lines.append(" & ".join(group) + r" \\")
    rules = " ".join(rf"\cmidrule(lr){{{2 + k * i}-{1 + k * (i + 1)}}}" for i in range(len(table.columns)))
    lines.append(rules)
    sub = [""] + [tex_escape(c) for c in _subcolumns(table)] * len(table.columns) + ["n", "note"]
    lines.append(" & ".join(sub) + r" \\")
    lines.append(r"\midrule")
    for row in table.rows:
        lines.append(" & ".join(tex_escape(c) for c in _cells(table, row)) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}}", "", r"\smallskip", r"\begin{minipage}{\linewidth}\footnotesize"]
    for w in prov.warnings:
        lines.append(rf"\textbf{{WARNING: {tex_escape(w)}}}\\")
    for note in _preamble(table):
        lines.append(rf"\textit{{{tex_escape(note)}}}\\")
    lines.append(tex_escape(legend(table) + " " + ci_legend(table)) + r"\\")
    for label, text in prov.items:
        lines.append(rf"\textit{{{tex_escape(label)}}}: {tex_escape(text)}\\")
    lines += [r"\end{minipage}", r"\end{table}"]
    assert ncols == len(sub)
    return "\n".join(lines) + "\n"


def _csv_num(x: float | None) -> str:
    return "" if x is None else f"{x:.4f}"


def to_csv(table: Table, prov: Provenance) -> str:
    """One line per table row: paper / mean / std / n / diff per metric, machine readable.

    Provenance is not repeated per row; the Markdown and LaTeX files carry it.
    """
    buf = io.StringIO()
    fields = ["table", "demo", "kind", "comparable", "row", "label", "status", "cited", "n", "seeds",
              "capped_at_step"]
    for m in table.csv_columns:
        fields += [f"{m}_paper", f"{m}_mean", f"{m}_std", f"{m}_n", f"{m}_diff", f"{m}_ci_low", f"{m}_ci_high",
                   f"{m}_classes", f"{m}_chance", f"{m}_majority"]
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(fields)
    for row in table.rows:
        capped = " ".join(f"{s}:{step}" for s, step in sorted(row.capped.items()))
        line: list[str] = [table.name, str(table.demo).lower(), table.kind, str(table.comparable).lower(),
                           row.key, row.label, row.status,
                           row.cited or "", "" if row.kind == "cited" else str(row.n), " ".join(map(str, row.seeds)),
                           capped]
        for m in table.csv_columns:
            c = row.cells[m]
            ref = table.references.get(m)
            line += [_csv_num(c.paper), _csv_num(c.mean), _csv_num(c.std), "" if row.kind == "cited" else str(c.n),
                     _csv_num(c.diff), _csv_num(c.ci.low if c.ci else None), _csv_num(c.ci.high if c.ci else None),
                     "" if ref is None or ref.classes is None else str(ref.classes),
                     _csv_num(ref.chance if ref else None), _csv_num(ref.majority if ref else None)]
        w.writerow(line)
    return buf.getvalue()
