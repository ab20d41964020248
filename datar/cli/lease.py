"""``python -m datar lease --gpus N -- CMD ...``: run CMD on N GPUs of this machine that no other job holds.

Each device is leased by an exclusive lock under ``.datar/gpu/`` (released when CMD ends,
also on kill -9) and CMD runs with ``CUDA_VISIBLE_DEVICES`` set to the leased ids; a job that
finds too few free devices waits. Where a scheduler set ``CUDA_VISIBLE_DEVICES`` (SLURM), its
assignment is kept. The workflow's train and evaluate rules start through it.
"""

from __future__ import annotations

from datar.cli._args import verb_parser


def main(argv: list[str] | None = None) -> int:
    """Lease and exec (never returns on success)."""
    ap = verb_parser("lease", __doc__)
    ap.add_argument("--gpus", type=int, required=True, help="devices the command needs (0: run it as it is)")
    ap.add_argument("command", nargs="+", help="the command (after --)")
    args = ap.parse_args(argv)
    from datar.gpu_lease import lease_and_exec

    lease_and_exec(args.gpus, args.command)
    return 0  # pragma: no cover - exec does not return
