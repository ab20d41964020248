"""The GPU check fails fast and clearly where there is no GPU (CI never has one)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import torch

from conftest import REPO

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present: the check would run")


def test_script_without_gpu_exits_at_once_with_a_clear_message(tmp_path):
    out = tmp_path / "gpu.json"
    t0 = time.perf_counter()
    proc = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_check.sh"), str(out)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2
    assert "no NVIDIA GPU" in proc.stderr and "nothing was measured" in proc.stderr
    assert time.perf_counter() - t0 < 10 and not out.exists()


def test_python_part_without_cuda_exits_2(tmp_path, capsys):
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import gpu_check
    finally:
        sys.path.pop(0)
    assert gpu_check.main(["--json", str(tmp_path / "g.json")]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err and not (tmp_path / "g.json").exists()
    assert gpu_check.peak_tflops("NVIDIA H100 80GB HBM3", None) == 989.0  # the SXM part
    assert gpu_check.peak_tflops("NVIDIA H100 PCIe", None) == 756.0
    assert gpu_check.peak_tflops("Some GPU", None) is None and gpu_check.peak_tflops("Some GPU", 100.0) == 100.0
