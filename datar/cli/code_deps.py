"""``python -m datar code-deps [--check | --write] [dvc.yaml]``: code fingerprints and dvc.yaml's code deps.

Without ``--check`` / ``--write`` it prints each verb's code fingerprint and the package files
it runs (:mod:`datar.fingerprint`: the import closure inside ``datar``; the fingerprint
ignores docstrings, comments and layout). ``--write`` rewrites the generated code
dependencies of every ``dvc.yaml`` stage from the rules the stage runs
(:mod:`datar.versioning.code_deps`); ``--check`` exits 1 naming the stages that are stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from datar.cli._args import verb_parser
from datar.fingerprint import module_file, verb_fingerprint, verb_modules


def main(argv: list[str] | None = None) -> int:
    """Print, check or write."""
    ap = verb_parser("code-deps", __doc__)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 if dvc.yaml's generated code deps are stale")
    mode.add_argument("--write", action="store_true", help="rewrite dvc.yaml's generated code deps")
    ap.add_argument("dvc_yaml", nargs="?", default="dvc.yaml", help="the dvc.yaml (default: ./dvc.yaml)")
    ap.add_argument("--verb", action="append", help="only these verbs (printing)")
    args = ap.parse_args(argv)
    if not (args.check or args.write):
        from datar.cli import VERBS

        for verb in args.verb or sorted(VERBS):
            files = [module_file(m) for m in verb_modules(verb)]
            print(f"{verb} {verb_fingerprint(verb)} {len(files)} files: {' '.join(files)}")
        return 0
    from datar.versioning.code_deps import check, generated
    from datar.io import write_text_atomic

    path = Path(args.dvc_yaml)
    if args.write:
        write_text_atomic(path, generated(path))
        print(f"{path}: code dependencies rewritten")
        return 0
    stale = check(path)
    for line in stale:
        print(f"{path}: stale code dependencies: {line} (run python -m datar code-deps --write)", file=sys.stderr)
    return 1 if stale else 0
