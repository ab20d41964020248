#!/usr/bin/env bash
# The GPU check (benchmarks/gpu.md): throughput and MFU of DATAR-B and AST-B at 128 x 1024 in
# bf16 (batch 12 and 32), peak memory, bf16-vs-fp32 parity of a deformable layer, and a
# 50-step loss curve of each model. Under 8 minutes on one GPU; exits 2 at once without one.
#
#   bash benchmarks/gpu_check.sh [OUT.json]      # default benchmarks/gpu_check.json
#
# Environment: PYTHON (default .venv/bin/python), extra arguments in GPU_CHECK_ARGS
# (e.g. "--peak-tflops 989").
set -euo pipefail
cd "$(dirname "$0")/.."
# Fail fast, before importing torch: no NVIDIA driver / GPU, no check.
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
    echo "gpu_check: no NVIDIA GPU here (nvidia-smi missing or lists no GPU); nothing was measured." >&2
    echo "gpu_check: run it on a GPU node, e.g. srun --gres=gpu:1 bash benchmarks/gpu_check.sh" >&2
    exit 2
fi
PY="${PYTHON:-.venv/bin/python}"
if ! command -v "$PY" >/dev/null 2>&1; then
    echo "gpu_check: $PY not found; run bash scripts/setup.sh first or set PYTHON" >&2
    exit 2
fi
# shellcheck disable=SC2086
exec "$PY" benchmarks/gpu_check.py --json "${1:-benchmarks/gpu_check.json}" ${GPU_CHECK_ARGS:-}
