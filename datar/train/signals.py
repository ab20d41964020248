"""SIGTERM / SIGUSR1 (SLURM time limit, preemption) -> a flag the loop checks after each step."""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType

#: Exit status of a run stopped by a signal after saving ``last.ckpt`` (EX_TEMPFAIL):
#: non-zero, so Snakemake / SLURM retries start it again and it resumes.
EXIT_INTERRUPTED = 75

STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGUSR1)


class StopRequest:
    """Context manager that turns stop signals into ``self.requested``.

    Handlers are installed on ``__enter__`` (main thread only; elsewhere it is a no-op) and
    the previous handlers restored on ``__exit__``. The current training step finishes; the
    loop then saves ``last.ckpt`` and exits with :data:`EXIT_INTERRUPTED`.
    """

    def __init__(self) -> None:
        self.requested: str | None = None
        self._previous: dict[signal.Signals, object] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.requested = signal.Signals(signum).name

    def request(self, reason: str) -> None:
        """Ask the loop to stop as a signal would (used by ``--max-steps`` style stops)."""
        self.requested = reason

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        self._previous.clear()
