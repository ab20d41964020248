"""One job per GPU on a machine Snakemake schedules itself (a workstation): device leases.

Snakemake does not assign GPU ids to local jobs (snakemake/snakemake #281), and a job that
picks ``cuda:0`` shares GPU 0 with every other. ``python -m datar lease --gpus N -- CMD``
takes ``N`` distinct device ids of this machine, each by an exclusive lock on
``.datar/gpu/gpu<ID>.lock`` under the working directory, and replaces itself with ``CMD``
(``os.execvpe``) with ``CUDA_VISIBLE_DEVICES`` set to them. The lock's file descriptor is
inherited by ``CMD`` (and its torchrun workers), so the lease lasts exactly as long as the
job: released on exit, also on ``kill -9``, because the kernel drops a dead process's locks.
A job that finds fewer free devices than it needs waits (polling), it never shares.

Where a scheduler already assigned devices (``CUDA_VISIBLE_DEVICES`` set, as SLURM does for
``--gpus``/``--gres`` jobs) the lease keeps that assignment and locks nothing.

The number of devices is ``nvidia-smi -L``'s. ``DATAR_FAKE_GPUS_FOR_TESTS`` overrides it: the
test suite's way to lease fake devices on a machine without GPUs; nothing else sets it.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

LOCK_DIR = Path(".datar") / "gpu"
FAKE_ENV = "DATAR_FAKE_GPUS_FOR_TESTS"
POLL_S = 1.0


def machine_gpus() -> int:
    """GPUs of this machine (``nvidia-smi -L``; 0 without a driver); the test override if set."""
    fake = os.environ.get(FAKE_ENV)
    if fake is not None:
        return int(fake)
    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in out.stdout.splitlines() if line.startswith("GPU ")) if out.returncode == 0 else 0


def _try_lock(path: Path) -> int | None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def acquire(n: int, *, total: int, lock_dir: Path = LOCK_DIR, poll_s: float = POLL_S,
            say=lambda msg: print(msg, file=sys.stderr, flush=True)) -> tuple[list[int], list[int]]:  # noqa: ANN001
    """Lock ``n`` distinct device ids out of ``total``; wait while fewer are free.

    Returns:
        ``(ids, fds)``: the leased ids (sorted) and the open, locked file descriptors.

    Raises:
        ValueError: ``n`` is more than the machine has.
    """
    if n > total:
        raise ValueError(f"this job needs {n} GPU(s) but the machine has {total}")
    waited = 0.0
    while True:
        held: list[tuple[int, int]] = []
        for i in range(total):
            fd = _try_lock(lock_dir / f"gpu{i}.lock")
            if fd is not None:
                held.append((i, fd))
                if len(held) == n:
                    break
        if len(held) == n:
            ids = [i for i, _ in held]
            for i, fd in held:
                os.ftruncate(fd, 0)
                os.write(fd, json.dumps({"pid": os.getpid(), "since": _now()}).encode())
            if waited:
                say(f"lease: waited {waited:.0f} s for a free GPU")
            return ids, [fd for _, fd in held]
        for _, fd in held:  # all or nothing: never hold some devices while waiting for more
            os.close(fd)
        if waited == 0.0:
            say(f"lease: all {total} GPU(s) are leased by other jobs ({lock_dir}); waiting for {n} to be free")
        time.sleep(poll_s)
        waited += poll_s


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def lease_and_exec(n: int, command: Sequence[str], *, lock_dir: Path = LOCK_DIR) -> None:
    """Lease ``n`` GPUs and replace this process with ``command`` (CUDA_VISIBLE_DEVICES set)."""
    env = dict(os.environ)
    if n <= 0:
        os.execvpe(command[0], list(command), env)
    if env.get("CUDA_VISIBLE_DEVICES", "").strip():
        print(f"lease: keeping the scheduler's CUDA_VISIBLE_DEVICES={env['CUDA_VISIBLE_DEVICES']}",
              file=sys.stderr, flush=True)
        os.execvpe(command[0], list(command), env)
    total = machine_gpus()
    if total == 0:
        print("lease: no GPU on this machine; the job runs on the CPU", file=sys.stderr, flush=True)
        os.execvpe(command[0], list(command), env)
    ids, fds = acquire(n, total=total, lock_dir=lock_dir)
    for fd in fds:
        os.set_inheritable(fd, True)
    env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, ids))
    env["DATAR_GPU_LEASE"] = json.dumps({"ids": ids, "since": _now(), "lock_dir": str(lock_dir)})
    print(f"lease: GPU(s) {env['CUDA_VISIBLE_DEVICES']} of {total} (locks in {lock_dir})", file=sys.stderr, flush=True)
    os.execvpe(command[0], list(command), env)
