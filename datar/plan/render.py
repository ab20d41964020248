"""The plan as a JSON-ready dict and as markdown tables."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from datar.config import Config
from datar.plan.budget import (DatasetCounts, Family, RunPlan, audio_bytes, feature_bytes, run_hours)
from datar.plan.throughput import Throughput

GB = 1e9


def plan_dict(cfg: Config, counts: Mapping[str, DatasetCounts], runs: Sequence[RunPlan],
              rates: Mapping[Family, Throughput]) -> dict[str, Any]:
    """Everything the plan says, as plain JSON types (bytes, samples and hours unrounded)."""
    datasets = []
    for name in sorted(counts):
        c = counts[name]
        datasets.append({
            "dataset": name, "splits": dict(c.splits), "clips": c.clips, "counts_from": c.source,
            "feature_bytes": feature_bytes(cfg, c.clips), "audio_seconds": c.audio_seconds,
            "audio_pcm_bytes": audio_bytes(cfg, c.audio_seconds),
        })
    rows = []
    for r in runs:
        tp = rates[r.family]
        rows.append({
            **dataclasses.asdict(r), "seeds": list(r.seeds), "runs": len(r.seeds),
            "samples_all_seeds": r.samples * len(r.seeds), "steps_all_seeds": r.steps * len(r.seeds),
            "hours": run_hours(r, samples_per_s=tp.samples_per_s, eval_samples_per_s=tp.eval_samples_per_s),
        })
    by_family: dict[str, float] = {}
    for row in rows:
        by_family[row["family"]] = by_family.get(row["family"], 0.0) + row["hours"]
    return {
        "config": {"name": cfg.name, "sha256": cfg.sha256},
        "shape": {"size": cfg.model.size, "num_mel_bins": cfg.fbank.num_mel_bins,
                  "target_length": cfg.fbank.target_length},
        "batch_size": cfg.train.batch_size, "max_steps": getattr(cfg.train, "max_steps", None),
        "seeds": list(cfg.seeds),
        "throughput": {f: dataclasses.asdict(tp) for f, tp in rates.items()},
        "datasets": datasets, "runs": rows,
        "totals": {
            "runs": sum(r["runs"] for r in rows), "steps": sum(r["steps_all_seeds"] for r in rows),
            "samples": sum(r["samples_all_seeds"] for r in rows),
            "eval_samples": sum(r["eval_samples"] * r["runs"] for r in rows),
            "feature_bytes": sum(d["feature_bytes"] for d in datasets),
            "audio_pcm_bytes": sum(d["audio_pcm_bytes"] for d in datasets),
            "hours": sum(by_family.values()), "hours_by_family": by_family,
        },
    }


def _n(x: float) -> str:
    return f"{x:,.0f}"


def _h(x: float) -> str:
    return f"{x:,.1f}" if x >= 10 else f"{x:,.2f}" if x >= 0.1 else f"{x:.3g}"


def render_markdown(plan: Mapping[str, Any], rates: Mapping[Family, Throughput]) -> str:
    """The plan as two markdown tables (data, then runs) with a header that states the rates."""
    shape = plan["shape"]
    cap = f", train.max_steps {plan['max_steps']}" if plan["max_steps"] is not None else ""
    measured = {tp.device for tp in rates.values() if tp.source == "measured"}
    unit = f"{'/'.join(sorted(measured))}-hours" if measured else "device-hours"
    lines = [
        f"# Plan: config {plan['config']['name']!r} ({plan['config']['sha256'][:12]}), size {shape['size']}, "
        f"{shape['num_mel_bins']} x {shape['target_length']}, batch {plan['batch_size']}, "
        f"seeds {plan['seeds']}{cap}",
        "",
        *(f"- {tp.describe()}" for tp in rates.values()),
        "",
        "| dataset | clips train / val / test | counts from | features (GB, float16) | audio (GB, 16-bit PCM bound) |",
        "| --- | ---: | --- | ---: | ---: |",
    ]
    for d in plan["datasets"]:
        s = d["splits"]
        split_text = " / ".join(_n(s.get(k, 0)) for k in ("train", "val", "test"))
        lines.append(f"| {d['dataset']} | {split_text} | {d['counts_from']} | {d['feature_bytes'] / GB:,.1f} "
                     f"| {d['audio_pcm_bytes'] / GB:,.1f} |")
    t = plan["totals"]
    lines += [f"| total | {_n(sum(d['clips'] for d in plan['datasets']))} | | {t['feature_bytes'] / GB:,.1f} "
              f"| {t['audio_pcm_bytes'] / GB:,.1f} |", "",
              f"| dataset | variant | runs | epochs | steps / run | samples (all runs) | eval samples (all runs) "
              f"| {unit} |",
              "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in plan["runs"]:
        lines.append(f"| {r['dataset']} | {r['variant']} | {r['runs']} | {r['epochs']} | {_n(r['steps'])} "
                     f"| {_n(r['samples_all_seeds'])} | {_n(r['eval_samples'] * r['runs'])} | {_h(r['hours'])} |")
    fam = ", ".join(f"{f} {_h(h)}" for f, h in t["hours_by_family"].items())
    lines += [f"| total | | {t['runs']} | | {_n(t['steps'])} (all runs) | {_n(t['samples'])} "
              f"| {_n(t['eval_samples'])} | {_h(t['hours'])} ({fam}) |", ""]
    return "\n".join(lines)
