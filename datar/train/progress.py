"""Progress: a small bar with rate and ETA on a terminal, one plain line per epoch otherwise."""

from __future__ import annotations

import sys
import time
from typing import Literal, TextIO

Mode = Literal["bar", "lines", "off"]


def format_seconds(seconds: float) -> str:
    """``3725.0`` -> ``"1:02:05"``; ``65`` -> ``"1:05"``."""
    seconds = max(int(round(seconds)), 0)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def default_mode(stream: TextIO) -> Mode:
    """``"bar"`` when ``stream`` is a terminal, else ``"lines"``."""
    isatty = getattr(stream, "isatty", None)
    return "bar" if isatty is not None and isatty() else "lines"


class Progress:
    """Reports training progress over the whole run (all epochs).

    Args:
        total_steps: optimizer steps in the run.
        mode: ``"bar"`` redraws one line with ``\\r``; ``"lines"`` prints only at epoch ends
            (what a log file wants); ``"off"`` prints nothing.
        stream: where to write (stderr by default, resolved at use, not import).
        width: bar width in characters.
    """

    def __init__(self, total_steps: int, *, mode: Mode | None = None, stream: TextIO | None = None,
                 width: int = 30) -> None:
        self.total_steps = max(total_steps, 1)
        self.stream = stream
        self.mode = mode
        self.width = width
        self._t0: float | None = None
        self._step0 = 0
        self._last_draw = 0.0

    def _out(self) -> TextIO:
        return self.stream if self.stream is not None else sys.stderr

    def _mode(self) -> Mode:
        return self.mode if self.mode is not None else default_mode(self._out())

    def start(self, step: int) -> None:
        """Begin timing at global step ``step`` (non-zero after a resume)."""
        self._t0 = time.monotonic()
        self._step0 = step

    def eta(self, step: int) -> float | None:
        """Seconds left, from the rate since :meth:`start`, or None before any step."""
        if self._t0 is None or step <= self._step0:
            return None
        rate = (step - self._step0) / max(time.monotonic() - self._t0, 1e-9)
        return (self.total_steps - step) / rate

    def update(self, step: int, epoch: int, epochs: int, loss: float) -> None:
        """After optimizer step ``step`` (1-based count of steps done)."""
        if self._mode() != "bar":
            return
        now = time.monotonic()
        if now - self._last_draw < 0.1 and step < self.total_steps:
            return
        self._last_draw = now
        frac = min(step / self.total_steps, 1.0)
        filled = int(frac * self.width)
        eta = self.eta(step)
        eta_text = format_seconds(eta) if eta is not None else "?"
        bar = "#" * filled + "-" * (self.width - filled)
        self._out().write(f"\repoch {epoch}/{epochs} |{bar}| {step}/{self.total_steps} "
                          f"loss {loss:.4f} eta {eta_text}  ")
        self._out().flush()

    def epoch_end(self, row: dict[str, object], epochs: int, step: int) -> None:
        """Print the epoch's log row as one line (after clearing the bar)."""
        mode = self._mode()
        if mode == "off":
            return
        out = self._out()
        if mode == "bar":
            out.write("\r" + " " * (self.width + 60) + "\r")
        eta = self.eta(step)
        val = row.get("val_top1")
        val_text = f" val_top1 {val:.2f}" if isinstance(val, float) else ""
        out.write(f"epoch {row['epoch']}/{epochs} step {row['step']} loss {row['train_loss']:.4f} "
                  f"lr {row['lr']:.3g}{val_text} {row['samples_per_s']:.1f} samples/s "
                  f"{row['seconds']:.1f}s eta {format_seconds(eta) if eta is not None else '0:00'}\n")
        out.flush()

    def message(self, text: str) -> None:
        """Print a line (not suppressed by ``"lines"`` mode)."""
        if self._mode() == "off":
            return
        self._out().write(text.rstrip("\n") + "\n")
        self._out().flush()
