"""The shape of a manifest format (:mod:`datar.data.formats`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datar.data.rows import Entry, ParseContext, RowSink
    from datar.data.sources import ResolvedSource

Parser = Callable[[str, "ResolvedSource", "ParseContext", "RowSink", Counter], Iterator["Entry"]]


@dataclass(frozen=True)
class ManifestFormat:
    """One source-csv format.

    Attributes:
        name: the value of ``datasets.D.format``.
        parse: ``(text, source, context, sink, filtered) -> rows``; bad rows go to ``sink``,
            rows dropped on purpose (other classes) are counted in ``filtered`` per file.
        columns: the columns it reads (in order for a headerless format).
        header: whether the csv has a header line.
        check: ``(dataset config, "datasets.D") -> problem or None``: what the format needs
            from the config.
        class_list: ``(head, rows) -> class names`` when the format names its classes itself.
        uses_config_classes: whether ``datasets.D.classes`` filters or names the classes.
    """

    name: str
    parse: Parser
    columns: Sequence[str]
    header: bool = True
    check: Callable[[Any, str], str | None] | None = None
    class_list: Callable[[str, Sequence["Entry"]], list[str]] | None = None
    uses_config_classes: bool = True
