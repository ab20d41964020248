"""One job per GPU on a workstation (issue 22): device leases under a real Snakemake run.

The machine has no GPU; ``DATAR_FAKE_GPUS_FOR_TESTS`` (the test-only override of the device
count) gives it four. Jobs train on the CPU, but each one's lease is real: an exclusive lock
per device id, held by the job's process for its lifetime.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from conftest import one_dataset_config, run_snakemake, work_copy, write_config

VARIANTS = ["dat_fixed", "dat_deform", "dat_deform_gauss", "dat_deform_laplace", "datar"]


def _env(run: Path) -> dict:
    return json.loads((run / "env.json").read_text())


@pytest.mark.slow
def test_five_jobs_on_four_devices_lease_distinct_ids_and_the_fifth_waits(kinetics_data, tmp_path):
    work = work_copy(kinetics_data, tmp_path / "work")
    cfg = write_config(work / "cfg.yaml", one_dataset_config(VARIANTS))
    fake = {"DATAR_FAKE_GPUS_FOR_TESTS": "4"}
    runs = {v: work / f"results/runs/kinetics_sounds/{v}/seed0" for v in VARIANTS}
    targets = [str(r.relative_to(work) / "checkpoint.pt") for r in runs.values()]
    proc = run_snakemake(work, cfg, "--cores", "5", *targets, env=fake, timeout=900)
    assert "rule download" not in proc.stdout + proc.stderr, "the copied data was rebuilt"
    leases = {v: _env(r)["gpu_lease"] for v, r in runs.items()}
    assert all(lease and len(lease["ids"]) == 1 for lease in leases.values()), leases
    logs = {v: (work / f"results/logs/train/kinetics_sounds/{v}/seed0.log").read_text() for v in VARIANTS}
    waited = [v for v, text in logs.items() if "all 4 GPU(s) are leased by other jobs" in text]
    assert len(waited) == 1, {v: t[:300] for v, t in logs.items()}
    first = [v for v in VARIANTS if v not in waited]
    ids = [leases[v]["ids"][0] for v in first]
    assert sorted(ids) == [0, 1, 2, 3], leases  # the four jobs that ran together held four devices
    for v in VARIANTS:
        assert _env(runs[v])["cuda_visible_devices"] == str(leases[v]["ids"][0])
    # the fifth started only after a device was free: after some first job finished
    fifth = datetime.fromisoformat(leases[waited[0]]["since"]).timestamp()
    ends = [(runs[v] / "checkpoint.pt").stat().st_mtime for v in first]
    assert fifth >= min(ends) - 1.0, (fifth, ends)
    # a job asking for two devices leases two (torchrun, one process per device)
    shutil.rmtree(runs["datar"])
    run_snakemake(work, cfg, "--cores", "2", targets[-1], "--set-resources", "train:gpu=2", env=fake, timeout=900)
    env = _env(runs["datar"])
    assert len(env["gpu_lease"]["ids"]) == 2 and len(set(env["gpu_lease"]["ids"])) == 2, env["gpu_lease"]
    assert env["world_size"] == 2 and env["cuda_visible_devices"] == ",".join(map(str, env["gpu_lease"]["ids"]))


def test_a_lease_dies_with_its_process_even_on_kill9(tmp_path):
    lock_dir = tmp_path / "gpu"
    code = ("import sys, time; from pathlib import Path; from datar.gpu_lease import acquire; "
            f"ids, fds = acquire(2, total=2, lock_dir=Path({str(lock_dir)!r})); print(ids, flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "[0, 1]"
    from datar.gpu_lease import acquire

    messages = []
    t0 = time.monotonic()
    import threading

    got = {}
    th = threading.Thread(target=lambda: got.update(r=acquire(1, total=2, lock_dir=lock_dir, poll_s=0.1,
                                                              say=messages.append)))
    th.start()
    time.sleep(0.5)
    assert "r" not in got and messages and "waiting" in messages[0]  # both held: it waits, never shares
    os.kill(holder.pid, 9)
    holder.wait()
    th.join(timeout=10)
    assert got["r"][0] == [0] and time.monotonic() - t0 < 10
    for fd in got["r"][1]:
        os.close(fd)
    with pytest.raises(ValueError, match="needs 3 GPU"):
        acquire(3, total=2, lock_dir=lock_dir)
