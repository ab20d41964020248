"""``python -m datar archive --config C --dataset D --archive KEY``: read one archive in place into its audio store.

One streaming pass over ``datasets.D.local_source.archives``' archive ``KEY`` (its file name
without ``.tar.gz``): the members the manifest wants are decoded to FLAC into
``{data_dir}/{D}/archives/KEY.tar`` with the index ``KEY.json``; nothing is extracted. An
archive that breaks part-way keeps what was read before the break (the index says where).
"""

from __future__ import annotations

from datar.cli._args import stage_parser


def main(argv: list[str] | None = None) -> int:
    """Scan the archive; print what it held."""
    p = stage_parser("archive", __doc__)
    p.add_argument("--archive", required=True, help="the archive's key (file name without .tar.gz / .tgz / .tar)")
    p.add_argument("--workers", type=int, default=2, help="parallel ffmpeg decoders (default 2)")
    args = p.parse_args(argv)
    from datar.config import load_config
    from datar.data.archives import scan_archive

    cfg = load_config(args.config)
    s = scan_archive(cfg, args.dataset, args.archive, workers=args.workers)
    print(f"{args.dataset}/{args.archive}: {s.members} members read ({s.files} files), {s.wanted} wanted by the manifest: "
          f"{s.ok} decoded, {s.invalid} undecodable" + ("" if s.complete else f"; ARCHIVE BREAKS: {s.error}"))
    return 0
