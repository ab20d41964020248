"""Small self-contained HTML pages of the Markdown outputs, for Snakemake's report.

Snakemake's report shows images, HTML and PDF inline and offers everything else as a
download, so each table, the claims table and each availability report also exist as an
HTML page rendered from the Markdown file of record (one source: the page cannot say
anything the ``.md`` does not). The page carries its own CSS and nothing external, so it
works offline inside the report's frame.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

from markdown_it import MarkdownIt

from datar.errors import DataError
from datar.io import write_text_atomic

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       font-size: 14px; line-height: 1.45; color: #1f2328; margin: 1.2em 1.6em; max-width: 100em; }
h1 { font-size: 1.35em; margin: 0 0 .6em; }
h2 { font-size: 1.1em; margin: 1.4em 0 .4em; border-bottom: 1px solid #d0d7de; }
table { border-collapse: collapse; margin: .6em 0 1em; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #d0d7de; padding: .25em .55em; vertical-align: top; }
th { background: #f6f8fa; text-align: left; }
tbody tr:nth-child(even) { background: #fafbfc; }
td[style*="right"] { white-space: nowrap; }
td:first-child { min-width: 12em; }
blockquote { margin: .6em 0; padding: .3em .9em; border-left: 4px solid #cf222e; background: #fff5f5; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .92em; background: #f6f8fa;
       padding: 0 .25em; border-radius: 3px; overflow-wrap: anywhere; }
em { color: #424a53; }
li { margin: .15em 0; overflow-wrap: anywhere; }
"""

_MD = MarkdownIt("commonmark", {"html": False}).enable("table")


def _title_of(markdown: str) -> str:
    m = re.search(r"^#\s+(.+)$", markdown, flags=re.M)
    return m.group(1).strip() if m else "datar-repro"


def markdown_to_html(markdown: str, *, title: str | None = None) -> str:
    """A whole HTML document for ``markdown`` (CommonMark + pipe tables; raw HTML is escaped).

    Args:
        markdown: the Markdown text.
        title: the page title (default: the first ``#`` heading).
    """
    body = _MD.render(markdown)
    page_title = html.escape(title or _title_of(markdown))
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{page_title}</title>\n"
            f"<style>{_CSS}</style>\n</head>\n<body>\n{body}</body>\n</html>\n")


def write_markdown_html(md_path: str | os.PathLike[str], html_path: str | os.PathLike[str]) -> Path:
    """Render the Markdown file ``md_path`` to ``html_path`` (atomically).

    Raises:
        DataError: ``md_path`` is missing or not UTF-8 (the message names it).
    """
    src = Path(md_path)
    if not src.is_file():
        raise DataError(f"{src}: Markdown file not found")
    try:
        text = src.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{src}: not UTF-8 ({exc})") from None
    out = Path(html_path)
    write_text_atomic(out, markdown_to_html(text))
    return out
