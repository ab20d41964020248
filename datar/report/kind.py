"""What kind of run an output comes from (``paper``, ``demo`` or ``rehearsal``) and the banner it carries.

``Config.run_kind`` decides: ``kind:`` in the config if set, else ``demo: true`` means demo.
Every table, figure and report page of a demo or rehearsal run says so in its title.
"""

from __future__ import annotations

from datar.config import Config, RunKind

BANNERS: dict[str, str] = {
    "demo": "DEMO — synthetic data, not the paper's experiment",
    "rehearsal": "REHEARSAL — a reduced-scale rehearsal of the paper's setting, not the paper's experiment",
}


def banner(kind: RunKind | str) -> str | None:
    """The title banner of ``kind`` (None for the paper's experiment)."""
    return BANNERS.get(kind)


def titled(cfg: Config, title: str, *, kind: RunKind | str | None = None) -> str:
    """``title`` prefixed with the banner of the run kind (``cfg.run_kind`` unless ``kind`` is given)."""
    b = banner(kind or cfg.run_kind)
    return f"{b}. {title}" if b else title
