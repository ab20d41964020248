"""``python -m datar macs``: parameters and GMACs of a model variant, with the counting convention."""

from __future__ import annotations

import argparse

from datar.cli._args import verb_parser

from datar.errors import ConfigError


def build_parser() -> argparse.ArgumentParser:
    from datar.models import SIZES, VARIANTS

    p = verb_parser("macs", __doc__)
    p.add_argument("--variant", required=True, choices=sorted(VARIANTS), help="registered model variant")
    p.add_argument("--size", required=True, choices=list(SIZES), help="backbone size")
    p.add_argument("--frames", type=int, required=True, help="input frames T (paper: 1024)")
    p.add_argument("--mel", type=int, default=128, help="mel bins M (default 128)")
    p.add_argument("--classes", type=int, default=309, help="classes of the single head (default 309, VGGSound)")
    p.add_argument("--paper", default="config/paper.yaml",
                   help="the paper's numbers, for its GMACs at 128 x 1024 (default config/paper.yaml)")
    p.add_argument("--json", dest="json_out", default=None, help="also write the result as JSON to this path")
    return p


def main(argv: list[str] | None = None) -> int:
    """Print a one-row table of parameters and GMACs (both conventions); optionally write JSON."""
    args = build_parser().parse_args(argv)
    from datar.io import write_json_atomic
    from datar.models import build_model, describe
    from datar.models.macs import count_macs
    from datar.report.paper import load_paper

    paper = load_paper(args.paper).compute_gmacs  # paper §4: VGGSound, 128 x 1024 input

    import torch

    try:
        with torch.device("meta"):  # shapes only: the counts of a real forward pass, in a fraction of its time
            model = build_model(args.variant, size=args.size, heads={"label": args.classes},
                                num_mel_bins=args.mel, target_length=args.frames)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    r = count_macs(model, (1, args.frames, args.mel))
    result = {
        "variant": args.variant, "size": args.size, "mel": args.mel, "frames": args.frames,
        "classes": args.classes, "params_M": r["params"] / 1e6,
        "gmacs_conv_linear": r["conv_linear"] / 1e9, "gmacs_attention": r["attention"] / 1e9,
        "gmacs_total": r["total"] / 1e9, "convention": r["convention"],
        "paper_gmacs": paper.get(args.variant) if (args.mel, args.frames) == (128, 1024) else None,
    }
    print(f"# {args.variant} ({describe(args.variant)}), size {args.size}, input 1 x {args.mel} x {args.frames}")
    print("| params (M) | GMACs conv+linear | GMACs attention products | GMACs total | paper GMACs |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    paper = "—" if result["paper_gmacs"] is None else f"{result['paper_gmacs']:.1f}"
    print(f"| {result['params_M']:.2f} | {result['gmacs_conv_linear']:.2f} | {result['gmacs_attention']:.2f} "
          f"| {result['gmacs_total']:.2f} | {paper} |")
    print(f"convention: {r['convention']}")
    if args.json_out:
        write_json_atomic(args.json_out, result)
    return 0
