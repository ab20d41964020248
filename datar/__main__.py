"""Entry point: ``python -m datar <verb> [args]``."""

from __future__ import annotations

import importlib
import sys

from datar.cli import VERBS
from datar.errors import DatarError


def main(argv: list[str] | None = None) -> int:
    """Dispatch to ``datar.cli.<verb>.main``; user errors exit 2 with one clear line."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"}:
        print("usage: python -m datar <verb> [args]\n\nverbs:\n  " + "\n  ".join(sorted(VERBS)))
        return 0 if args else 2
    verb, rest = args[0], args[1:]
    if verb not in VERBS:
        print(f"error: unknown verb {verb!r}; known: {', '.join(sorted(VERBS))}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"datar.cli.{VERBS[verb]}")
    try:
        return int(module.main(rest) or 0)
    except DatarError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
