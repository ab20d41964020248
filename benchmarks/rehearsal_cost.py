"""CPU cost of the paper's models at the paper's shape (size B, 128 mel x 1024 frames).

What the rehearsal (``config/rehearsal.yaml``) must pay per run, measured on this machine:
model build time, the first and the best later training step at batch 1 and 2, one
evaluation batch, checkpoint write time and size (``checkpoint.pt`` = weights,
``last.ckpt`` = weights + AdamW state), and the peak RSS of the process.

Rerun (from the repo root; ~15-25 minutes on a quiet 2-core machine):

    .venv/bin/python benchmarks/rehearsal_cost.py --json benchmarks/rehearsal_cost.json
    .venv/bin/python benchmarks/rehearsal_cost.py --variants datar ast --rounds 1   # a quick look

A "step" is what ``python -m datar train`` does per batch with the paper's recipe: forward,
summed cross-entropy, backward, AdamW step (no gradient clipping: ``train.grad_clip: null``),
float32 on CPU, on a batch already in memory. Each variant runs in its own process (so its
peak RSS is its own) with ``torch.set_num_threads(--threads)``; the default 1 thread is what
the workflow's train and evaluate rules use (``threads: 1``, two jobs at a time on 2 cores).
Variants are measured in ``--rounds`` interleaved rounds and the minimum per figure is kept:
the machine is shared, and the best of several tries is the least disturbed one. The load
average is recorded with every round.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

VARIANTS = ("dat_deform", "ast", "dat_fixed", "dat_deform_gauss", "dat_deform_laplace", "datar_l0.2", "datar")


def measure_one(variant: str, *, mel: int, frames: int, classes: int, threads: int, repeats: int,
                eval_batch: int) -> dict[str, Any]:
    """Measure one variant in this process; return its figures (seconds, bytes, KiB)."""
    t, c = time.perf_counter(), time.process_time()
    import torch
    import torch.nn.functional as F

    from datar.checkpoint import model_from_checkpoint, save_checkpoint
    from datar.models import build_model

    imported = {"import_s": time.perf_counter() - t, "import_cpu_s": time.process_time() - c}
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    t0, c0 = time.perf_counter(), time.process_time()
    model = build_model(variant, size="B", heads={"label": classes}, num_mel_bins=mel, target_length=frames)
    build_s, build_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=5e-7, betas=(0.95, 0.999))
    g = torch.Generator().manual_seed(0)
    out: dict[str, Any] = {"variant": variant, "params_m": round(params / 1e6, 3), "build_s": build_s,
                          "build_cpu_s": build_cpu_s}
    out.update(imported)

    def step(batch: int) -> tuple[float, float]:
        x = torch.randn(batch, frames, mel, generator=g)
        y = torch.randint(0, classes, (batch,), generator=g)
        t, c = time.perf_counter(), time.process_time()
        logits = model(x)["label"]
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return time.perf_counter() - t, time.process_time() - c

    def record(name: str, times: list[tuple[float, float]]) -> None:
        out[f"{name}_first_s"], out[f"{name}_first_cpu_s"] = times[0]
        out[f"{name}_s"] = min(w for w, _ in times[1:])
        out[f"{name}_cpu_s"] = min(c for _, c in times[1:])

    model.train()
    for batch in (1, 2):
        record(f"train_b{batch}", [step(batch) for _ in range(repeats + 1)])
    model.eval()
    with torch.no_grad():
        x = torch.randn(eval_batch, frames, mel, generator=g)
        times = []
        for _ in range(repeats + 1):
            t, c = time.perf_counter(), time.process_time()
            model(x)
            times.append((time.perf_counter() - t, time.process_time() - c))
    out["eval_batch"] = eval_batch
    record(f"eval_b{eval_batch}", times)
    with tempfile.TemporaryDirectory() as tmp:
        for name, payload in (("checkpoint", {"model": model.state_dict()}),
                              ("last", {"model": model.state_dict(), "optimizer": opt.state_dict()})):
            path = Path(tmp) / ("checkpoint.pt" if name == "checkpoint" else "last.ckpt")
            payload.update(variant=variant, size="B", heads={"label": classes}, num_mel_bins=mel,
                           target_length=frames)
            t, c = time.perf_counter(), time.process_time()
            save_checkpoint(path, payload)
            out[f"save_{name}_s"], out[f"save_{name}_cpu_s"] = time.perf_counter() - t, time.process_time() - c
            out[f"{name}_bytes"] = path.stat().st_size
        t, c = time.perf_counter(), time.process_time()
        model_from_checkpoint(Path(tmp) / "checkpoint.pt")
        out["load_checkpoint_s"], out["load_checkpoint_cpu_s"] = time.perf_counter() - t, time.process_time() - c
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the rounds (one subprocess per variant and round), print and write the figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2, help="timed steps per batch size after the first")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--mel", type=int, default=128)
    ap.add_argument("--frames", type=int, default=1024)
    ap.add_argument("--classes", type=int, default=32)
    ap.add_argument("--eval-batch", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        res = measure_one(args.one, mel=args.mel, frames=args.frames, classes=args.classes, threads=args.threads,
                          repeats=args.repeats, eval_batch=args.eval_batch)
        print(json.dumps(res))
        return 0
    rounds: list[list[dict[str, Any]]] = []
    for r in range(args.rounds):
        order = args.variants if r % 2 == 0 else list(reversed(args.variants))
        this = []
        for v in order:
            load = os.getloadavg()[0]
            cmd = [sys.executable, __file__, "--one", v, "--repeats", str(args.repeats), "--threads", str(args.threads),
                   "--mel", str(args.mel), "--frames", str(args.frames), "--classes", str(args.classes),
                   "--eval-batch", str(args.eval_batch)]
            env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            res["load_before"] = load
            res["round"] = r
            this.append(res)
            print(json.dumps(res), flush=True)
        rounds.append(this)
    best: dict[str, dict[str, Any]] = {}
    for res in (x for rr in rounds for x in rr):
        b = best.setdefault(res["variant"], dict(res))
        for k, val in res.items():
            if k.endswith("_s") and k != "load_before":
                b[k] = min(b[k], val)
            elif k == "peak_rss_mib":
                b[k] = max(b[k], val)
    doc = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "threads": args.threads},
           "shape": {"size": "B", "mel": args.mel, "frames": args.frames, "classes": args.classes},
           "rounds": rounds, "best": best,
           "load_range": [min(x["load_before"] for rr in rounds for x in rr),
                          max(x["load_before"] for rr in rounds for x in rr)]}
    timed = ["import", "build", "train_b1_first", "train_b1", "train_b2_first", "train_b2",
             f"eval_b{args.eval_batch}_first", f"eval_b{args.eval_batch}", "save_checkpoint", "save_last",
             "load_checkpoint"]
    cols = [f"{k}_cpu_s" for k in timed] + [f"{k}_s" for k in timed] + ["checkpoint_bytes", "last_bytes",
                                                                       "peak_rss_mib"]
    print("| variant | params (M) | " + " | ".join(cols) + " |")
    print("|---|---|" + "---|" * len(cols))
    for v, b in best.items():
        vals = [f"{b[c] / 2**20:.0f} MiB" if c.endswith("bytes") else f"{b[c]:.2f}" for c in cols]
        print(f"| {v} | {b['params_m']} | " + " | ".join(vals) + " |")
    print(f"load average (1 min) before each measurement: {doc['load_range'][0]:.1f} - {doc['load_range'][1]:.1f}")
    if args.json:
        args.json.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
