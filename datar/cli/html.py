"""``python -m datar html``: a Markdown output (table, availability report) as a self-contained HTML page."""

from __future__ import annotations

import argparse

from datar.cli._args import verb_parser


def build_parser() -> argparse.ArgumentParser:
    """The verb's argument parser."""
    p = verb_parser("html", __doc__)
    p.add_argument("markdown", help="the Markdown file, e.g. results/data/vggsound_availability.md")
    p.add_argument("html", help="the HTML page to write, e.g. results/data/vggsound_availability.html")
    return p


def main(argv: list[str] | None = None) -> int:
    """Write the page; return 0."""
    args = build_parser().parse_args(argv)
    from datar.report.html import write_markdown_html

    print(write_markdown_html(args.markdown, args.html))
    return 0
