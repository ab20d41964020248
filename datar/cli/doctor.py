"""``python -m datar doctor --config C [--profile slurm] [--offline]``: is this machine ready? One table of checks.

Python, torch's CUDA build against the NVIDIA driver, GPUs and their memory (or the CPU hours
training would take), ffmpeg / ffprobe, yt-dlp's age, the source lists (reachable, pinned
sha256; --offline skips the network), local copies and archives, pretrained weights (layout
and hash), free disk against ``datar plan``'s bytes, and with ``--profile``: sinfo, sacct,
the profile's partitions and account. Each check is ok, warning or blocker with its fix;
exit status 1 when any is a blocker.
"""

from __future__ import annotations

from pathlib import Path

from datar.cli._args import verb_parser


def main(argv: list[str] | None = None) -> int:
    """Print the table; 1 on a blocker."""
    ap = verb_parser("doctor", __doc__)
    ap.add_argument("--config", required=True, help="the experiment config (YAML)")
    ap.add_argument("--profile", default=None, help="a SLURM profile directory to check (e.g. slurm)")
    ap.add_argument("--offline", action="store_true", help="do not contact the source URLs")
    args = ap.parse_args(argv)
    from datar.config import load_config
    from datar.doctor import render, run_checks

    cfg = load_config(args.config)
    checks = run_checks(cfg, offline=args.offline, profile=Path(args.profile) if args.profile else None)
    print(render(checks), end="")
    return 1 if any(c.status == "blocker" for c in checks) else 0
