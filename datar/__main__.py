"""Entry point: ``python -m datar <verb> [args]``."""

from __future__ import annotations

import ast
import difflib
import importlib
import importlib.util
import sys
from pathlib import Path

from datar.cli import VERBS
from datar.cli._args import summary
from datar.errors import DatarError


def verb_summaries() -> dict[str, str]:
    """verb -> the first line of its module's docstring, read without importing the module (no torch)."""
    out = {}
    for verb, module in sorted(VERBS.items()):
        spec = importlib.util.find_spec(f"datar.cli.{module}")
        source = Path(spec.origin).read_text(encoding="utf-8") if spec and spec.origin else ""
        out[verb] = summary(ast.get_docstring(ast.parse(source)) if source else "")
    return out


def usage() -> str:
    """The ``--help`` text: every verb with one line of what it does."""
    lines = [f"  {verb:<15} {text}" for verb, text in verb_summaries().items()]
    return ("usage: python -m datar <verb> [args]   (python -m datar <verb> --help for its arguments)\n\n"
            "verbs:\n" + "\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    """Dispatch to ``datar.cli.<verb>.main``; user errors exit 2 with one clear line."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"}:
        print(usage())
        return 0 if args else 2
    verb, rest = args[0], args[1:]
    if verb not in VERBS:
        close = difflib.get_close_matches(verb, list(VERBS), n=1, cutoff=0.5)
        hint = f"did you mean {close[0]}? " if close else ""
        print(f"error: unknown verb {verb!r}; {hint}(python -m datar --help lists the verbs)", file=sys.stderr)
        return 2
    module = importlib.import_module(f"datar.cli.{VERBS[verb]}")
    try:
        return int(module.main(rest) or 0)
    except DatarError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
