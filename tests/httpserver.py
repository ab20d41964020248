"""A small, real HTTP media server on 127.0.0.1 for download tests (not a mock).

Files are served at ``/{mode}/{name}``; the mode says how the server misbehaves:

- ``ok``: byte ranges honoured (``206`` with ``Content-Range``), ``HEAD`` supported.
- ``norange``: ignores ``Range`` and always sends the whole file with ``200``.
- ``trunc``: announces the full ``Content-Length`` but sends only half the body, then closes.
- ``404`` / ``403`` / ``410``: that status, always.
- ``429x{n}`` / ``500x{n}`` / ``503x{n}``: that status for the first ``n`` requests of the
  path, then behaves as ``ok`` (``n`` large = always failing).
- ``reset``: accepts the request and resets the connection (RST) without answering.
- ``slow``: sends the body in small chunks with a pause between them.
- ``gate``: answers ``gate_status`` (e.g. 429, with ``Retry-After``) while the server's
  ``gate_status`` attribute is set, then behaves as ``ok``: a server that keeps refusing
  until it recovers.
- ``botcheck``: ``403`` with YouTube's bot-check sentence as the reason phrase, so yt-dlp's
  error carries it ("HTTP Error 403: Sign in to confirm you're not a bot").

Every request is logged (method, path, Range header) so tests can count what was fetched.
Usage::

    with MediaServer({"a.mp4": data}) as srv:
        url = srv.url("ok", "a.mp4")
        srv.count("a.mp4")
"""

from __future__ import annotations

import re
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

BOT_CHECK = "Sign in to confirm you're not a bot"
_FAIL_RE = re.compile(r"^(\d{3})x(\d+)$")
_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass(frozen=True)
class Request:
    """One logged request."""

    method: str
    mode: str
    name: str
    range: str | None


class MediaServer:
    """Threaded HTTP server with failure modes; a context manager that starts and stops it.

    Args:
        files: file name -> bytes served under every mode.
        slow_chunk: bytes per chunk in ``slow`` mode.
        slow_pause: seconds between chunks in ``slow`` mode.
    """

    def __init__(self, files: dict[str, bytes], *, slow_chunk: int = 4096, slow_pause: float = 0.05) -> None:
        self.files = dict(files)
        self.slow_chunk = slow_chunk
        self.slow_pause = slow_pause
        self.log: list[Request] = []
        self.gate_status: int | None = None
        self._fails: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> MediaServer:
        server = self

        class Handler(_Handler):
            media = server

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self._httpd is not None
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def port(self) -> int:
        """The port the server listens on."""
        assert self._httpd is not None
        return self._httpd.server_address[1]

    def url(self, mode: str, name: str) -> str:
        """URL of ``name`` served in ``mode``."""
        return f"http://127.0.0.1:{self.port}/{mode}/{name}"

    # ------------------------------------------------------------------ inspection
    def count(self, name: str | None = None, *, mode: str | None = None, method: str | None = None) -> int:
        """Number of logged requests matching ``name``, ``mode`` and ``method`` (None = any)."""
        with self._lock:
            return sum(1 for r in self.log
                       if (name is None or r.name == name) and (mode is None or r.mode == mode)
                       and (method is None or r.method == method))

    def names(self) -> set[str]:
        """Names of all files requested at least once."""
        with self._lock:
            return {r.name for r in self.log}

    def _record(self, req: Request) -> int:
        with self._lock:
            self.log.append(req)
            key = f"{req.mode}/{req.name}"
            self._fails[key] += 1
            return self._fails[key]


class _QuietServer(ThreadingHTTPServer):
    """Clients hanging up mid-response (ffmpeg probing, yt-dlp) are normal, not errors."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass


class _Handler(BaseHTTPRequestHandler):
    media: MediaServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
        self._serve(head=True)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._serve(head=False)

    def _serve(self, *, head: bool) -> None:
        parts = self.path.split("?", 1)[0].strip("/").split("/", 1)
        if len(parts) != 2:
            self._status(404)
            return
        mode, name = parts
        n = self.media._record(Request(self.command, mode, name, self.headers.get("Range")))
        if mode in {"404", "403", "410"}:
            self._status(int(mode))
            return
        if m := _FAIL_RE.match(mode):
            status, times = int(m.group(1)), int(m.group(2))
            if n <= times:
                self._status(status, retry_after=status == 429)
                return
            mode = "ok"
        if mode == "gate":
            status = self.media.gate_status
            if status is not None:
                self._status(status, retry_after=status == 429)
                return
            mode = "ok"
        if mode == "botcheck":
            self._status(403, phrase=BOT_CHECK)
            return
        if mode == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        data = self.media.files.get(name)
        if data is None:
            self._status(404)
            return
        self._send_file(data, mode=mode, head=head)

    def _status(self, status: int, *, retry_after: bool = False, phrase: str | None = None) -> None:
        body = f"status {status}\n".encode()
        self.send_response(status, phrase)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        if retry_after:
            self.send_header("Retry-After", "0")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_file(self, data: bytes, *, mode: str, head: bool) -> None:
        total = len(data)
        start, end = 0, total - 1
        rng = self.headers.get("Range")
        partial = False
        if rng and mode not in {"norange", "trunc"} and (m := _RANGE_RE.match(rng.strip())):
            a, b = m.group(1), m.group(2)
            if a:
                start = int(a)
                end = min(int(b), total - 1) if b else total - 1
            elif b:
                start, end = max(total - int(b), 0), total - 1
            if start >= total:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{total}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            partial = True
        body = data[start:end + 1]
        self.send_response(206 if partial else 200)
        self.send_header("Content-Type", _content_type(self.path))
        self.send_header("Content-Length", str(len(body)))
        if mode not in {"norange", "trunc"}:
            self.send_header("Accept-Ranges", "bytes")
        if partial:
            self.send_header("Content-Range", f"bytes {start}-{end}/{total}")
        if mode == "trunc":
            self.send_header("Connection", "close")
        self.end_headers()
        if head:
            return
        try:
            if mode == "trunc":
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            if mode == "slow":
                step = self.media.slow_chunk
                for i in range(0, len(body), step):
                    self.wfile.write(body[i:i + step])
                    self.wfile.flush()
                    time.sleep(self.media.slow_pause)
                return
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def _content_type(path: str) -> str:
    for ext, ctype in ((".mp4", "video/mp4"), (".m4a", "audio/mp4"), (".wav", "audio/wav"),
                       (".flac", "audio/flac"), (".ogg", "audio/ogg")):
        if path.endswith(ext):
            return ctype
    return "application/octet-stream"


# ---------------------------------------------------------------------- test media helpers


def make_media(path: str, *, seconds: float, rate: int = 44100, channels: int = 1,
               freq: float = 440.0, volume: float = 0.5, video: bool = False) -> bytes:
    """Write a real media file with ffmpeg (a sine tone; ``.mp4`` = AAC + optional H.264) and return its bytes.

    ``volume`` 0 gives digital silence. The container follows ``path``'s extension.
    """
    import ffmpeg

    layout = "mono" if channels == 1 else "stereo"
    tone = ffmpeg.input(f"sine=frequency={freq}:duration={seconds}:sample_rate={rate}", f="lavfi")
    audio = tone.audio.filter("volume", volume).filter("aformat", channel_layouts=layout)
    streams = [audio]
    kwargs: dict[str, object] = {}
    if path.endswith(".mp4"):
        kwargs.update(acodec="aac", movflags="+faststart")
        if video:
            streams.append(ffmpeg.input(f"color=c=black:s=32x32:d={seconds}:r=10", f="lavfi").video)
            kwargs.update(vcodec="libx264", pix_fmt="yuv420p")
    (ffmpeg.output(*streams, path, **kwargs).global_args("-hide_banner", "-loglevel", "error", "-nostdin")
     .overwrite_output().run(capture_stdout=True, capture_stderr=True))
    with open(path, "rb") as fh:
        return fh.read()
