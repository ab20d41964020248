"""The GPU check: is the paper-scale training step fast and sound on this GPU?

Run through ``benchmarks/gpu_check.sh`` (or ``python benchmarks/gpu_check.py --json OUT``).
Without a CUDA GPU it stops at once with exit code 2. On one GPU it takes a few minutes
(under 8 on an H100-class GPU) and prints, and writes as JSON:

1. samples/s and MFU of DATAR-B (variant ``datar``) and AST-B at 128 x 1024, bf16 autocast,
   batch 12 (the paper's) and 32, for the training step ``python -m datar train`` takes
   (forward, summed cross-entropy, backward, clip, fused AdamW), with
   ``MFU = 3 x forward MACs x 2 x samples/s / peak bf16 FLOP/s`` in both MAC conventions of
   :func:`datar.models.macs.count_macs` (``conv_linear`` and ``total`` with the attention
   products); peak memory of each;
2. bf16-vs-fp32 parity of one deformable layer (DATAR-B's stage 3: 8 x 64 map, 512 channels,
   16 heads, 4 groups): sampling points, position bias, output;
3. a 50-step loss curve of each model on one fixed random batch (it must go down).

Peak bf16 dense TFLOP/s comes from ``--peak-tflops`` or, for known GPUs, from the table
below (vendor datasheets, dense, no sparsity); unknown GPUs get no MFU.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Dense bf16 tensor-core peak (TFLOP/s) by a substring of ``torch.cuda.get_device_name()``,
#: most specific first ("NVIDIA H100 80GB HBM3" is the SXM part).
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100 NVL": 835.0, "H100 PCIe": 756.0, "H100": 989.0, "A100": 312.0,
                    "L40S": 362.0, "A10G": 70.0, "L4": 121.0, "RTX 4090": 165.0}

MEL, FRAMES, CLASSES = 128, 1024, 309
MODELS = (("DATAR-B", "datar"), ("AST-B", "ast"))


def peak_tflops(name: str, given: float | None) -> float | None:
    if given:
        return given
    for key, value in PEAK_BF16_TFLOPS.items():
        if key in name:
            return value
    return None


def train_step(model, opt, x, y):
    """What the training loop does per batch, bf16 autocast; returns the loss (not synced)."""
    import torch
    import torch.nn.functional as F

    with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
        logits = model(x)["label"]
    loss = F.cross_entropy(logits.float(), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    opt.step()
    return loss.detach()


def build(variant: str, device):
    import torch

    from datar.models import build_model

    torch.manual_seed(0)
    model = build_model(variant, size="B", heads={"label": CLASSES}, num_mel_bins=MEL, target_length=FRAMES)
    model = model.to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.95, 0.999), weight_decay=5e-7, fused=True)
    return model, opt


def throughput(variant: str, batch: int, *, device, peak: float | None, warmup: int, steps: int, rounds: int,
               macs: dict) -> dict:
    import torch

    model, opt = build(variant, device)
    g = torch.Generator().manual_seed(batch)
    x = torch.randn(batch, FRAMES, MEL, generator=g).to(device)
    y = torch.randint(0, CLASSES, (batch,), generator=g).to(device)
    torch.cuda.reset_peak_memory_stats(device)
    for _ in range(warmup):
        train_step(model, opt, x, y)
    torch.cuda.synchronize(device)
    rates = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(steps):
            train_step(model, opt, x, y)
        torch.cuda.synchronize(device)
        rates.append(steps * batch / (time.perf_counter() - t0))
    rate = sorted(rates)[len(rates) // 2]
    row = {"variant": variant, "batch": batch, "samples_per_s": round(rate, 2),
           "samples_per_s_rounds": [round(r, 2) for r in rates],
           "peak_memory_gib": round(torch.cuda.max_memory_allocated(device) / 2**30, 2),
           "fwd_gmacs_conv_linear": round(macs["conv_linear"] / 1e9, 2), "fwd_gmacs_total": round(macs["total"] / 1e9, 2)}
    for conv in ("conv_linear", "total"):
        row[f"mfu_{conv}"] = round(3 * macs[conv] * 2 * rate / (peak * 1e12), 4) if peak else None
    del model, opt
    torch.cuda.empty_cache()
    return row


def deformable_parity(device) -> dict:
    """One DATAR-B stage-3 deformable layer: bf16 autocast against float32 on the same input."""
    import torch

    from datar.models.deformable_attention import DeformableAttention

    torch.manual_seed(0)
    h, w = MEL // 16, FRAMES // 16
    layer = DeformableAttention(dim=512, num_heads=16, groups=4, fmap_size=(h, w)).to(device).eval()
    with torch.no_grad():
        layer.rpe_table.normal_(std=0.5)
        layer.offset_net.pointwise.weight.mul_(20.0)  # offsets of about a pixel, as trained ones reach
    x = torch.randn(12, h, w, 512, device=device)
    layer.record_points = True
    with torch.no_grad():
        out32 = layer(x)
        pos32 = layer.last_points.clone()
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
            out16 = layer(x)
            pos16 = layer.last_points.clone()
            bias16 = layer.position_bias(pos16.flatten(0, 1))
        bias32 = layer.position_bias(pos16.flatten(0, 1))
    px = torch.tensor([(h - 1) / 2, (w - 1) / 2], device=device)
    return {
        "layer": f"DeformableAttention(dim=512, heads=16, groups=4, fmap={h}x{w}), batch 12",
        "points_dtype_under_autocast": str(pos16.dtype).replace("torch.", ""),
        "bias_dtype_under_autocast": str(bias16.dtype).replace("torch.", ""),
        "mean_offset_px": round(float(((pos32 - layer.last_reference) * px).abs().mean()), 4),
        "points_max_diff_px": round(float(((pos16 - pos32) * px).abs().max()), 5),
        "bf16_rounded_points_max_err_px": round(float(((pos32.bfloat16().float() - pos32) * px).abs().max()), 5),
        "bias_max_abs_diff_vs_fp32_sampling": float((bias16 - bias32).abs().max()),
        "output_rel_err": float((out16.float() - out32).abs().max() / out32.abs().max()),
    }


def loss_curve(variant: str, *, device, steps: int = 50, batch: int = 12) -> dict:
    import torch

    model, opt = build(variant, device)
    g = torch.Generator().manual_seed(7)
    x = torch.randn(batch, FRAMES, MEL, generator=g).to(device)
    y = torch.randint(0, CLASSES, (batch,), generator=g).to(device)
    losses = torch.stack([train_step(model, opt, x, y) for _ in range(steps)]).tolist()  # one sync
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    del model, opt
    torch.cuda.empty_cache()
    return {"variant": variant, "batch": batch, "lr": 1e-4, "losses": [round(v, 4) for v in losses],
            "first5_mean": round(first, 4), "last5_mean": round(last, 4),
            "goes_down": bool(math.isfinite(last) and last < 0.9 * first)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "gpu_check.json", help="where to write the results")
    p.add_argument("--peak-tflops", type=float, default=None, help="the GPU's dense bf16 peak (default: by name)")
    p.add_argument("--batches", default="12,32")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--steps", type=int, default=10, help="steps per timed round")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print("gpu_check: no CUDA GPU is visible here (torch.cuda.is_available() is False); nothing was "
              "measured. Run it on a GPU node, e.g. srun --gres=gpu:1 bash benchmarks/gpu_check.sh", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    from datar.models import build_model
    from datar.models.macs import CONVENTION, count_macs

    device = torch.device("cuda", 0)
    name = torch.cuda.get_device_name(device)
    peak = peak_tflops(name, args.peak_tflops)
    t_start = time.perf_counter()
    result = {"gpu": name, "torch": torch.__version__, "cuda": torch.version.cuda, "peak_bf16_tflops": peak,
              "input": f"{MEL} mel x {FRAMES} frames", "mac_convention": CONVENTION, "throughput": []}
    print(f"gpu_check on {name} (peak bf16 {peak or 'unknown'} TFLOP/s), torch {torch.__version__}", flush=True)
    macs = {}
    for label, variant in MODELS:
        m = build_model(variant, size="B", heads={"label": CLASSES}, num_mel_bins=MEL, target_length=FRAMES)
        macs[variant] = count_macs(m.to(device), (1, FRAMES, MEL))
        del m
    print("| model | batch | samples/s | MFU conv+linear | MFU with attention | peak memory (GiB) |", flush=True)
    print("| --- | ---: | ---: | ---: | ---: | ---: |", flush=True)
    for batch in (int(b) for b in args.batches.split(",")):
        for label, variant in MODELS:
            row = throughput(variant, batch, device=device, peak=peak, warmup=args.warmup, steps=args.steps,
                             rounds=args.rounds, macs=macs[variant])
            row["model"] = label
            result["throughput"].append(row)
            mfu = [f"{row[k]:.1%}" if row[k] is not None else "n/a" for k in ("mfu_conv_linear", "mfu_total")]
            print(f"| {label} | {batch} | {row['samples_per_s']} | {mfu[0]} | {mfu[1]} | {row['peak_memory_gib']} |",
                  flush=True)
    result["deformable_parity"] = deformable_parity(device)
    print("deformable layer, bf16 vs fp32:", json.dumps(result["deformable_parity"]), flush=True)
    result["loss_curves"] = [loss_curve(v, device=device) for _, v in MODELS]
    for c in result["loss_curves"]:
        print(f"loss curve {c['variant']}: {c['first5_mean']} -> {c['last5_mean']} "
              f"({'goes down' if c['goes_down'] else 'DOES NOT GO DOWN'})", flush=True)
    result["seconds"] = round(time.perf_counter() - t_start, 1)
    ok = (all(c["goes_down"] for c in result["loss_curves"])
          and result["deformable_parity"]["points_dtype_under_autocast"] == "float32")
    result["ok"] = ok
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1))
    print(f"wrote {args.json} ({result['seconds']} s); {'OK' if ok else 'FAILED'}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
