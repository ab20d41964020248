"""Training progress: a tqdm bar on a terminal, one plain line per epoch otherwise (log files)."""

from __future__ import annotations

import sys
import time
from typing import Any, Literal, TextIO

from tqdm import tqdm

Mode = Literal["bar", "lines", "off"]


def default_mode(stream: TextIO) -> Mode:
    """``"bar"`` when ``stream`` is a terminal, else ``"lines"``."""
    isatty = getattr(stream, "isatty", None)
    return "bar" if isatty is not None and isatty() else "lines"


class Progress:
    """Reports training progress over the whole run (all epochs).

    Args:
        total_steps: optimizer steps in the run.
        mode: ``"bar"``: a tqdm bar over all steps (rate, ETA, loss), epoch lines printed
            above it; ``"lines"``: one line per epoch and nothing in between (what a log
            file wants); ``"off"``: nothing. None picks by whether the stream is a terminal.
        stream: where to write (stderr by default, resolved at use, not import).
    """

    def __init__(self, total_steps: int, *, mode: Mode | None = None, stream: TextIO | None = None) -> None:
        self.total_steps = max(total_steps, 1)
        self.stream = stream
        self.mode = mode
        self._bar: Any = None
        self._t0: float | None = None
        self._step0 = 0

    def _out(self) -> TextIO:
        return self.stream if self.stream is not None else sys.stderr

    def _mode(self) -> Mode:
        return self.mode if self.mode is not None else default_mode(self._out())

    def start(self, step: int) -> None:
        """Begin at global step ``step`` (non-zero after a resume)."""
        self._t0, self._step0 = time.monotonic(), step
        if self._mode() == "bar":
            self._bar = tqdm(total=self.total_steps, initial=step, file=self._out(), unit="step",
                             dynamic_ncols=True, leave=False)

    def eta(self, step: int) -> float | None:
        """Seconds left, from the rate since :meth:`start`, or None before any step."""
        if self._t0 is None or step <= self._step0:
            return None
        rate = (step - self._step0) / max(time.monotonic() - self._t0, 1e-9)
        return (self.total_steps - step) / rate

    def update(self, step: int, epoch: int, epochs: int, loss: float) -> None:
        """After optimizer step ``step`` (1-based count of steps done)."""
        if self._bar is None:
            return
        self._bar.set_description(f"epoch {epoch}/{epochs}", refresh=False)
        self._bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        self._bar.update(step - self._bar.n)

    def epoch_end(self, row: dict[str, object], epochs: int, step: int) -> None:
        """Print the epoch's log row as one line (above the bar, if there is one)."""
        if self._mode() == "off":
            return
        eta = self.eta(step)
        val = row.get("val_top1")
        val_text = f" val_top1 {val:.2f}" if isinstance(val, float) else ""
        self._line(f"epoch {row['epoch']}/{epochs} step {row['step']} loss {row['train_loss']:.4f} "
                   f"lr {row['lr']:.3g}{val_text} {row['samples_per_s']:.1f} samples/s "
                   f"{row['seconds']:.1f}s eta {tqdm.format_interval(eta or 0)}")

    def message(self, text: str) -> None:
        """Print a line (shown in ``"lines"`` mode too)."""
        if self._mode() != "off":
            self._line(text.rstrip("\n"))

    def close(self) -> None:
        """Remove the bar (a no-op without one)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _line(self, text: str) -> None:
        if self._mode() == "bar":  # above every active bar, which tqdm redraws
            tqdm.write(text, file=self._out())
        else:
            out = self._out()
            out.write(text + "\n")
            out.flush()
