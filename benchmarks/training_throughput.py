"""Training throughput (samples/s) of DATAR and AST, side by side in one run.

Rerun (from the repo root):

    .venv/bin/python benchmarks/training_throughput.py --mode cpu
    .venv/bin/python benchmarks/training_throughput.py --mode cpu --threads 1
    .venv/bin/python benchmarks/training_throughput.py --mode cuda --peak-tflops 989   # H100 SXM bf16 dense

``cpu``: the demo's input (config/demo.yaml: 64 mel x 256 frames, batch 16), size ``tiny``,
variants ``datar`` and ``ast``, float32. ``cuda`` (only where CUDA is present): size ``B``,
128 mel x 1024 frames, bf16 autocast, plus model FLOP utilisation

    MFU = 3 x forward MACs x 2 x samples/s / peak bf16 FLOP/s

(3 = forward + backward, 2 FLOPs per MAC), with forward MACs per sample from
``datar.models.macs.count_macs`` in both of its conventions (``conv_linear`` and ``total``).

One measured "step" is what the training loop does per batch: forward, summed
cross-entropy, backward, gradient clipping, AdamW step; the batch is already in memory
(data loading is measured by benchmarks/features.py). The variants are measured in
alternating rounds after a warm-up, and the median round is reported, so a machine
shared with other work slows both alike.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from datar.models import build_model
from datar.models.macs import count_macs

Mode = Literal["cpu", "cuda"]


def make(variant: str, *, size: str, mel: int, frames: int, classes: int, device: torch.device) -> nn.Module:
    """A variant in training mode on ``device``."""
    torch.manual_seed(0)
    model = build_model(variant, size=size, heads={"label": classes}, num_mel_bins=mel, target_length=frames)
    return model.to(device).train()


def time_steps(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, *,
               steps: int, bf16: bool) -> float:
    """Seconds for ``steps`` training steps on the batch ``x`` (B, T, M), labels ``y`` (B,)."""
    sync = torch.cuda.synchronize if x.is_cuda else (lambda: None)
    sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(x)["label"]
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
    sync()
    return time.perf_counter() - t0


def run(mode: Mode, *, variants: list[str], size: str, mel: int, frames: int, batch: int, classes: int,
        warmup: int, steps: int, rounds: int, peak_tflops: float | None) -> dict:
    """Measure every variant; return the result table as a dict."""
    device = torch.device("cuda" if mode == "cuda" else "cpu")
    bf16 = mode == "cuda"
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, frames, mel, generator=g).to(device)
    y = torch.randint(0, classes, (batch,), generator=g).to(device)
    parts = {}
    for v in variants:
        model = make(v, size=size, mel=mel, frames=frames, classes=classes, device=device)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.95, 0.999), weight_decay=5e-7)
        macs = count_macs(model, (1, frames, mel))
        time_steps(model, opt, x, y, steps=warmup, bf16=bf16)
        parts[v] = {"model": model, "opt": opt, "macs": macs, "rates": []}
    for _ in range(rounds):
        for v, p in parts.items():
            sec = time_steps(p["model"], p["opt"], x, y, steps=steps, bf16=bf16)
            p["rates"].append(steps * batch / sec)
    rows = []
    for v, p in parts.items():
        rate = statistics.median(p["rates"])
        row = {
            "variant": v, "size": size, "input": f"{mel} mel x {frames} frames", "batch": batch,
            "dtype": "bf16 autocast" if bf16 else "float32", "samples_per_s": round(rate, 2),
            "samples_per_s_rounds": [round(r, 2) for r in p["rates"]],
            "fwd_gmacs_conv_linear": round(p["macs"]["conv_linear"] / 1e9, 3),
            "fwd_gmacs_total": round(p["macs"]["total"] / 1e9, 3),
            "params_m": round(p["macs"]["params"] / 1e6, 3),
        }
        if peak_tflops:
            for conv in ("conv_linear", "total"):
                flops = 3 * p["macs"][conv] * 2 * rate
                row[f"mfu_{conv}"] = round(flops / (peak_tflops * 1e12), 4)
        rows.append(row)
    return {
        "mode": mode, "rows": rows, "torch": torch.__version__, "threads": torch.get_num_threads(),
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "device": torch.cuda.get_device_name(0) if mode == "cuda" else platform.processor() or platform.machine(),
        "load_avg_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "peak_tflops": peak_tflops, "warmup_steps": warmup, "steps_per_round": steps, "rounds": rounds,
    }


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, measure, print a markdown table and (optionally) JSON."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--variants", nargs="+", default=["datar", "ast"])
    p.add_argument("--size", default=None, help="model size (default: tiny on cpu, B on cuda)")
    p.add_argument("--mel", type=int, default=None, help="mel bins (default: 64 cpu, 128 cuda)")
    p.add_argument("--frames", type=int, default=None, help="frames (default: 256 cpu, 1024 cuda)")
    p.add_argument("--batch", type=int, default=None, help="batch (default: 16 cpu, 32 cuda)")
    p.add_argument("--classes", type=int, default=8)
    p.add_argument("--warmup", type=int, default=None)
    p.add_argument("--steps", type=int, default=None, help="steps per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--peak-tflops", type=float, default=None,
                   help="the accelerator's peak dense bf16 TFLOP/s, for MFU (e.g. 989 for H100 SXM)")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    p.add_argument("--json", default=None, help="also write the result here")
    a = p.parse_args(argv)
    if a.threads is not None:
        torch.set_num_threads(a.threads)
    if a.mode == "cuda" and not torch.cuda.is_available():
        print("--mode cuda: no CUDA device here; nothing measured")
        return 1
    cpu = a.mode == "cpu"
    result = run(a.mode, variants=a.variants, size=a.size or ("tiny" if cpu else "B"),
                 mel=a.mel or (64 if cpu else 128), frames=a.frames or (256 if cpu else 1024),
                 batch=a.batch or (16 if cpu else 32), classes=a.classes,
                 warmup=a.warmup if a.warmup is not None else (2 if cpu else 10),
                 steps=a.steps or (5 if cpu else 20), rounds=a.rounds, peak_tflops=a.peak_tflops)
    cols = ["variant", "size", "input", "batch", "dtype", "samples_per_s", "fwd_gmacs_conv_linear",
            "fwd_gmacs_total", "params_m"] + [c for c in ("mfu_conv_linear", "mfu_total") if c in result["rows"][0]]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in result["rows"]:
        print("| " + " | ".join(str(r[c]) for c in cols) + " |")
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}))
    print(json.dumps({r["variant"]: r["samples_per_s_rounds"] for r in result["rows"]}))
    if a.json:
        with open(a.json, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
