"""Cost against input length: GMACs and CPU forward latency of DATAR-T/S/B and AST-B, before/after.

Rerun (from the repository root):

    .venv/bin/python benchmarks/models_cost.py --before 1af4918:main --before 5e1937d:dat-exact

Writes ``benchmarks/models_cost.md`` (tables, machine, growth, profile) and
``benchmarks/models_cost.png``. Every model version runs in its own worker process
(``PYTHONPATH`` = a ``git archive`` of that revision's ``datar/`` for ``--before REV:LABEL``,
this checkout for ``now``), with ``torch.set_num_threads(2)``. Latency: forward pass,
batch 1, no grad, after one untimed pass (the MAC count); the first timed pass and the
minimum of ``--repeats`` passes. The comparison (``--compare-models`` x ``--compare-frames``)
runs first: per length, every version holds every compared model, and each round times
model 1 in every version, then model 2 in every version, ..., so that a load change on the
shared machine hits all of them alike and the DATAR-B / AST-B ratio of a version is taken
under one load. Outputs are compared on the same weights (``now``'s state dict loaded
strictly into the other version) where the parameter names match.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MODELS = [("DATAR-T", "datar", "T"), ("DATAR-S", "datar", "S"), ("DATAR-B", "datar", "B"), ("AST-B", "ast", "B")]
FRAMES = [256, 512, 1024, 2048, 4096]
MEL = 128
THREADS = 2

# The worker: one model version, its models by name; JSON lines in, JSON lines out.
WORKER = r"""
import json, sys, time, torch
torch.set_num_threads(int(sys.argv[1]))
from datar.models import build_model
from datar.models.macs import CONVENTION, count_macs
models, inputs = {}, {}
def reply(**kw):
    sys.stdout.write(json.dumps(kw) + "\n"); sys.stdout.flush()
for line in sys.stdin:
    cmd = json.loads(line)
    op, name = cmd["op"], cmd.get("name")
    try:
        if op == "build":
            models.pop(name, None)
            torch.manual_seed(0)
            model = build_model(cmd["variant"], size=cmd["size"], heads={"label": 309}, num_mel_bins=cmd["mel"],
                                target_length=cmd["frames"]).eval()
            loaded = None
            if cmd.get("state"):
                try:
                    model.load_state_dict(torch.load(cmd["state"], weights_only=True), strict=True)
                    loaded = True
                except RuntimeError:
                    loaded = False
            if cmd.get("save_state"):
                torch.save(model.state_dict(), cmd["save_state"])
            x = torch.load(cmd["input"], weights_only=True)
            macs = count_macs(model, tuple(x.shape))
            models[name], inputs[name] = model, x
            reply(ok=True, loaded=loaded, params=macs["params"], conv_linear=macs["conv_linear"], total=macs["total"],
                  convention=CONVENTION)
        elif op == "time":
            with torch.no_grad():
                c0, t0 = time.process_time(), time.perf_counter(); models[name](inputs[name])
                reply(ok=True, s=time.perf_counter() - t0, cpu=time.process_time() - c0)
        elif op == "output":
            with torch.no_grad():
                torch.save(models[name](inputs[name])["label"], cmd["path"])
            reply(ok=True)
        elif op == "profile":
            from torch.profiler import ProfilerActivity, profile
            with torch.no_grad():
                models[name](inputs[name])
                with profile(activities=[ProfilerActivity.CPU]) as prof:
                    t0 = time.perf_counter(); models[name](inputs[name]); wall = time.perf_counter() - t0
            rows = [{"op": e.key, "self_s": e.self_cpu_time_total / 1e6, "calls": e.count}
                    for e in prof.key_averages()]
            rows.sort(key=lambda r: -r["self_s"])
            reply(ok=True, wall=wall, rows=rows[:40])
        elif op == "free":
            models.pop(name, None); inputs.pop(name, None); reply(ok=True)
    except Exception as exc:
        models.pop(name, None)
        reply(ok=False, error=f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}")
"""


class Worker:
    """A model version in its own process."""

    def __init__(self, label: str, pythonpath: Path) -> None:
        self.label = label
        env = {**os.environ, "PYTHONPATH": str(pythonpath), "OMP_NUM_THREADS": str(THREADS)}
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER, str(THREADS)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env, cwd=str(pythonpath))

    def ask(self, **cmd) -> dict:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.label} died")
        return json.loads(line)

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


def checkout(rev: str, dest: Path) -> Path:
    """``datar/`` of git revision ``rev`` extracted under ``dest`` (returned: the PYTHONPATH)."""
    dest.mkdir(parents=True, exist_ok=True)
    blob = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "datar", "workflow/schemas"], check=True,
                          capture_output=True).stdout
    tar = dest / "src.tar"
    tar.write_bytes(blob)
    with tarfile.open(tar) as tf:
        tf.extractall(dest, filter="data")
    tar.unlink()
    return dest


def machine() -> str:
    import torch

    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal")).split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, StopIteration):
        pass
    return (f"{cpu}, {os.cpu_count()} logical CPUs visible{mem}; torch {torch.__version__} "
            f"(threads {THREADS} per worker), Python {platform.python_version()}, {platform.system()}")


def _build_cell(workers: list[Worker], label: str, variant: str, size: str, frames: int, tmp: Path) -> dict:
    """Build (label, frames) in every worker on ``now``'s weights; rows per version (no times yet)."""
    import torch

    torch.manual_seed(1)
    inp = tmp / f"x-{label}-{frames}.pt"
    torch.save(torch.randn(1, frames, MEL), inp)
    state = tmp / f"state-{label}-{frames}.pt"
    cell = {}
    for i, wk in enumerate(workers):
        r = wk.ask(op="build", name=label, variant=variant, size=size, mel=MEL, frames=frames, input=str(inp),
                   save_state=str(state) if i == 0 else None, state=str(state) if i > 0 else None)
        row = {"version": wk.label, "model": label, "variant": variant, "size": size, "frames": frames,
               "load_1min": os.getloadavg()[0]}
        if r["ok"]:
            row.update(params_M=r["params"] / 1e6, gmacs_conv_linear=r["conv_linear"] / 1e9,
                       gmacs_total=r["total"] / 1e9, same_weights=r["loaded"], times=[], cpu=[])
        else:
            row["note"] = f"skipped: {r['error']}"
        cell[wk.label] = row
    return cell


def _finish_cell(workers: list[Worker], cell: dict, label: str, tmp: Path) -> list[dict]:
    """Compare outputs with ``now``'s, free the models, summarise the times."""
    import torch

    live = [wk for wk in workers if "note" not in cell[wk.label]]
    if len(live) > 1 and live[0] is workers[0]:
        outs = {}
        for wk in live:
            path = tmp / f"out-{wk.label}.pt"
            wk.ask(op="output", name=label, path=str(path))
            outs[wk.label] = torch.load(path, weights_only=True)
        ref = outs[workers[0].label]
        for wk in live[1:]:
            if cell[wk.label]["same_weights"]:
                cell[wk.label]["output_rel_diff_vs_now"] = float((outs[wk.label] - ref).abs().max() / ref.abs().max())
    rows = []
    for wk in workers:
        wk.ask(op="free", name=label)
        row = cell[wk.label]
        if row.get("times"):
            row["latency_first_s"], row["latency_s"] = row["times"][0], min(row["times"])
            row["cpu_s"] = min(row["cpu"])
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k not in ("times", "cpu")}), flush=True)
    return rows


def measure_compare(workers: list[Worker], *, models, frames: int, repeats: int, tmp: Path) -> list[dict]:
    """Every version x every model at one length, all passes interleaved: round r times
    model 1 in version 1, 2, ..., then model 2 in version 1, 2, ... (ratios under one load)."""
    cells = {label: _build_cell(workers, label, variant, size, frames, tmp) for label, variant, size in models}
    for _ in range(repeats):
        for label, _, _ in models:
            for wk in workers:
                row = cells[label][wk.label]
                if "note" in row:
                    continue
                r = wk.ask(op="time", name=label)
                row["times"].append(r["s"] if r["ok"] else math.nan)
                row["cpu"].append(r["cpu"] if r["ok"] else math.nan)
    rows = []
    for label, _, _ in models:
        rows += _finish_cell(workers, cells[label], label, tmp)
    return rows


def measure_now(now: Worker, *, models, frames_list, skip: set[tuple[str, int]], max_seconds: float, repeats: int,
                tmp: Path) -> list[dict]:
    """The full table for this checkout; cells in ``skip`` were measured in the comparison."""
    rows = []
    for label, variant, size in models:
        slow = False
        for frames in frames_list:
            if (label, frames) in skip:
                continue
            if slow:
                rows.append({"version": now.label, "model": label, "frames": frames,
                             "note": f"skipped: previous length took > {max_seconds:.0f} s"})
                continue
            cell = _build_cell([now], label, variant, size, frames, tmp)
            row = cell[now.label]
            if "note" not in row:
                for _ in range(repeats):
                    r = now.ask(op="time", name=label)
                    row["times"].append(r["s"] if r["ok"] else math.nan)
                    row["cpu"].append(r["cpu"] if r["ok"] else math.nan)
                    if row["times"][0] > max_seconds:
                        break
            rows += _finish_cell([now], cell, label, tmp)
            slow = rows[-1].get("latency_s", math.inf) > max_seconds
    return rows


def profile_now(now: Worker, *, variant: str, size: str, frames: int, tmp: Path) -> dict:
    import torch

    torch.manual_seed(1)
    inp = tmp / "x.pt"
    torch.save(torch.randn(1, frames, MEL), inp)
    now.ask(op="build", name="profile", variant=variant, size=size, mel=MEL, frames=frames, input=str(inp))
    r = now.ask(op="profile", name="profile")
    now.ask(op="free", name="profile")
    return {"variant": variant, "size": size, "frames": frames, **r}


def growth(rows: list[dict], model: str, key: str) -> str:
    pts = sorted((r["frames"], r[key]) for r in rows if r["model"] == model and key in r and r["version"] == "now")
    if len(pts) < 2:
        return "n/a"
    slopes = [math.log(b[1] / a[1]) / math.log(b[0] / a[0]) for a, b in zip(pts, pts[1:])]
    return ", ".join(f"{s:.2f}" for s in slopes)


def _cell(rows, version, model, frames):
    return next((r for r in rows if r["version"] == version and r["model"] == model and r["frames"] == frames), None)


def render(data: dict, out_md: Path, out_png: Path) -> None:
    rows, versions, meta = data["rows"], data["versions"], data["meta"]
    order = {m: i for i, (m, _, _) in enumerate(MODELS)}
    now_rows = sorted((r for r in rows if r["version"] == "now"), key=lambda r: (order[r["model"]], r["frames"]))
    lines = [
        "# Model cost against input length",
        "",
        "GMACs and CPU forward latency of DATAR (variant `datar`: deformable + adaptor) at sizes T/S/B",
        f"and the AST baseline (ViT-B/16, patch stride 10), input 1 x {MEL} mel x T frames, 309 classes.",
        "",
        f"Rerun from the repository root: `{meta['command']}`",
        "",
        f"Machine: {meta['machine']}. Measured {meta['date']}.",
        "",
        f"Counting convention: {meta['convention']}.",
        "Latency: forward pass, batch 1, no grad, 2 threads, after one untimed pass (the MAC count); the first",
        f"timed pass and the minimum over {meta['repeats']} passes. Cells are skipped if the previous length of",
        f"the same model took more than {meta['max_seconds']:.0f} s or the pass failed. The machine is shared by",
        "other jobs (the load column is the 1-minute load average when the cell ran): compare latencies",
        "within one table row group (interleaved, same load), and GMACs (exact) anywhere.",
        "",
        "## Before / after (one run, interleaved)",
        "",
        "Versions: " + "; ".join(f"`{v['label']}` = {v['what']}" for v in versions) + ".",
        "Each version runs in its own process and holds both models; each round times DATAR-B in every",
        "version, then AST-B in every version (so each version's ratio is measured under one load).",
        "Outputs: max |logits - logits(now)| / max |logits(now)| on the same weights and input.",
        "",
        "| model | frames | version | GMACs conv+linear | GMACs total | latency min (s) | latency first (s) | CPU time min (s) | load | outputs vs now |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    compare = [(m, f) for m, f in data["compare"]]
    for m, f in compare:
        for v in versions:
            r = _cell(rows, v["label"], m, f)
            if r is None:
                continue
            if "latency_s" not in r:
                lines.append(f"| {m} | {f} | {v['label']} | | | | | | | {r.get('note', '')} |")
                continue
            diff = ("—" if v["label"] == "now" else
                    f"{r['output_rel_diff_vs_now']:.1e}" if "output_rel_diff_vs_now" in r else
                    "n/a (other parameters: another function)")
            lines.append(f"| {m} | {f} | {v['label']} | {r['gmacs_conv_linear']:.2f} | {r['gmacs_total']:.2f} | "
                         f"{r['latency_s']:.2f} | {r['latency_first_s']:.2f} | {r.get('cpu_s', math.nan):.2f} | "
                         f"{r['load_1min']:.1f} | {diff} |")
    lines += ["", "DATAR-B / AST-B forward latency (min of passes; in brackets: of process CPU time, less "
              "sensitive to other jobs), within each version:", "",
              "| frames | " + " | ".join(v["label"] for v in versions) + " | MAC ratio (total, now) |",
              "| ---: |" + " ---: |" * (len(versions) + 1)]
    for f in sorted({f for _, f in compare}):
        cells = []
        for v in versions:
            d, a = _cell(rows, v["label"], "DATAR-B", f), _cell(rows, v["label"], "AST-B", f)
            ok = d and a and "latency_s" in d and "latency_s" in a
            cpu = f" ({d['cpu_s'] / a['cpu_s']:.2f})" if ok and "cpu_s" in d and "cpu_s" in a else ""
            cells.append(f"{d['latency_s'] / a['latency_s']:.2f}{cpu}" if ok else "—")
        d, a = _cell(rows, "now", "DATAR-B", f), _cell(rows, "now", "AST-B", f)
        mac = f"{d['gmacs_total'] / a['gmacs_total']:.2f}" if d and a and "gmacs_total" in d and "gmacs_total" in a else "—"
        lines.append(f"| {f} | " + " | ".join(cells) + f" | {mac} |")
    prof = data.get("profile")
    if prof:
        total = sum(r["self_s"] for r in prof["rows"])
        lines += ["", f"## Where DATAR-{prof['size']}'s time goes now ({prof['frames']} frames)", "",
                  f"torch.profiler, one forward pass (wall {prof['wall']:.2f} s under the profiler), self CPU time "
                  "per op (top 12):", "", "| op | self CPU (s) | share | calls |", "| --- | ---: | ---: | ---: |"]
        for r in prof["rows"][:12]:
            lines.append(f"| `{r['op']}` | {r['self_s']:.3f} | {r['self_s'] / total:.0%} | {r['calls']} |")
        lines += ["", data.get("profile_note", "")]
    lines += [
        "",
        "## All sizes now",
        "",
        "| model | frames | params (M) | GMACs conv+linear | GMACs total (with attention) | latency, one run (s) | latency, min of runs (s) | load | note |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in now_rows:
        if "latency_s" in r:
            lines.append(f"| {r['model']} | {r['frames']} | {r['params_M']:.1f} | {r['gmacs_conv_linear']:.1f} | "
                         f"{r['gmacs_total']:.1f} | {r['latency_first_s']:.2f} | {r['latency_s']:.2f} | "
                         f"{r['load_1min']:.1f} | |")
        else:
            lines.append(f"| {r['model']} | {r['frames']} | | | | | | | {r.get('note', '')} |")
    lines += [
        "",
        "## How each grows (now)",
        "",
        "Log-log slope between successive lengths (1 = linear in T, 2 = quadratic):",
        "",
        "| model | GMACs conv+linear | GMACs total | latency |",
        "| --- | --- | --- | --- |",
    ]
    for label, _, _ in MODELS:
        lines.append(f"| {label} | {growth(rows, label, 'gmacs_conv_linear')} | {growth(rows, label, 'gmacs_total')} "
                     f"| {growth(rows, label, 'latency_s')} |")
    lines += [
        "",
        "At 128 x 1024 the paper reports 103.4 GMACs (AST) and 93.3 GMACs (DATAR, size not named);",
        "the AST row reproduces its figure under the conv+linear convention, DATAR-B does not",
        "(see DESIGN.md §4: DAT-B at 128 x 1024 is about 40 GMACs).",
        "",
        "![cost against input length](models_cost.png)",
        "",
    ]
    for note in data.get("notes", []):
        lines += [note, ""]
    out_md.write_text("\n".join(lines))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for label, _, _ in MODELS:
        pts = [r for r in now_rows if r["model"] == label and "latency_s" in r]
        if not pts:
            continue
        f = [r["frames"] for r in pts]
        (line,) = axes[0].plot(f, [r["gmacs_total"] for r in pts], "o-", label=f"{label} total")
        axes[0].plot(f, [r["gmacs_conv_linear"] for r in pts], "x--", color=line.get_color(), label=f"{label} conv+linear")
        axes[1].plot(f, [r["latency_s"] for r in pts], "o-", color=line.get_color(), label=label)
    for ax, title, ylabel in [(axes[0], "compute", "GMACs"), (axes[1], "CPU latency (batch 1, 2 threads, min of runs)", "seconds")]:
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(f"input frames T ({MEL} mel bins)")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before", action="append", default=[], metavar="REV:LABEL",
                   help="an earlier version to time beside this checkout (repeatable)")
    p.add_argument("--compare-models", default="DATAR-B,AST-B", help="models timed in every version")
    p.add_argument("--compare-frames", default="1024,4096", help="lengths timed in every version")
    p.add_argument("--models", default=",".join(m for m, _, _ in MODELS), help="models of the full table")
    p.add_argument("--frames", default=",".join(map(str, FRAMES)), help="lengths of the full table")
    p.add_argument("--profile", default="DATAR-B:4096", help="MODEL:FRAMES to profile now ('' for none)")
    p.add_argument("--max-seconds", type=float, default=60.0, help="skip longer inputs once a pass exceeds this")
    p.add_argument("--repeats", type=int, default=3, help="timed passes per cell")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "models_cost.md")
    p.add_argument("--raw", type=Path, default=None, help="also write the raw results as JSON")
    p.add_argument("--from-raw", type=Path, default=None, help="render a previous run's raw JSON; no measuring")
    p.add_argument("--note", action="append", default=[], help="paragraph appended to the report (repeatable)")
    p.add_argument("--profile-note", default="", help="paragraph under the profile table")
    args = p.parse_args(argv)
    if args.from_raw:
        data = json.loads(args.from_raw.read_text())
    else:
        sel = [m for m in MODELS if m[0] in args.models.split(",")]
        frames = [int(f) for f in args.frames.split(",")]
        cmp_models = args.compare_models.split(",")
        cmp_frames = [int(f) for f in args.compare_frames.split(",")] if args.compare_frames else []
        compare = {(m, f) for m in cmp_models for f in cmp_frames}
        frames = sorted(set(frames) | set(cmp_frames))
        sel = [m for m in MODELS if m[0] in {s[0] for s in sel} | set(cmp_models)]
        versions = [{"label": "now", "what": "this checkout"}]
        with tempfile.TemporaryDirectory(prefix="models_cost_") as td:
            tmp = Path(td)
            workers = [Worker("now", ROOT)]
            for spec in args.before:
                rev, _, label = spec.partition(":")
                label = label or rev
                path = checkout(rev, tmp / f"rev-{label}")
                commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", rev], check=True,
                                        capture_output=True, text=True).stdout.strip()
                versions.append({"label": label, "what": f"`datar/` at {commit}"})
                workers.append(Worker(label, path))
            try:
                cmp_sel = [m for m in MODELS if m[0] in cmp_models]
                rows = []
                for f in cmp_frames:
                    rows += measure_compare(workers, models=cmp_sel, frames=f, repeats=args.repeats, tmp=tmp)
                rows += measure_now(workers[0], models=sel, frames_list=frames, skip=compare,
                                    max_seconds=args.max_seconds, repeats=args.repeats, tmp=tmp)
                prof = None
                if args.profile:
                    name, _, f = args.profile.partition(":")
                    m = next(m for m in MODELS if m[0] == name)
                    prof = profile_now(workers[0], variant=m[1], size=m[2], frames=int(f), tmp=tmp)
            finally:
                for wk in workers:
                    wk.close()
        from datar.models.macs import CONVENTION  # noqa: E402  (this checkout)

        data = {"rows": rows, "versions": versions, "compare": sorted(compare, key=lambda c: (c[1], c[0])),
                "profile": prof,
                "meta": {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "repeats": args.repeats,
                         "max_seconds": args.max_seconds, "convention": CONVENTION,
                         "command": ".venv/bin/python benchmarks/models_cost.py " + " ".join(argv or sys.argv[1:])}}
    if args.note:
        data["notes"] = args.note
    if args.profile_note:
        data["profile_note"] = args.profile_note
    if args.raw:
        args.raw.write_text(json.dumps(data, indent=1))
    render(data, args.out, args.out.with_suffix(".png"))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
