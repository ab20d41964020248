"""A real headless Chromium, driven over the DevTools protocol, for checking the HTML report.

Chromium is started with ``--remote-debugging-pipe`` (DevTools messages as NUL-terminated
JSON on file descriptors 3 and 4), so no port, no websocket library and no network are
needed. :class:`Browser` opens a page, clicks like a user (``element.click()`` on what the
report's menu shows), reads the *rendered* text (``innerText``, which leaves out anything
hidden by CSS), checks that an element is on screen and not covered (``elementFromPoint``),
also inside the report's iframes (via an isolated world per frame), and takes screenshots.

Debian's ``chromium-headless-shell`` or ``chromium`` (``apt-get install chromium-headless-shell``;
``.ci/run`` installs it); ``DATAR_CHROMIUM`` names another binary.

As a script, it writes the README's screenshots of a built report::

    python tests/browser.py results/report.html --front docs/report_front.png \\
        --item Tables table4 docs/report_table4.png
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
         "--disable-dev-shm-usage", "--remote-debugging-pipe"]
CANDIDATES = ("chromium-headless-shell", "chromium", "chromium-browser")


def find_chromium() -> str | None:
    """The Chromium binary to use, or None."""
    env = os.environ.get("DATAR_CHROMIUM")
    if env:
        return env
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    for path in ("/usr/lib/chromium/chromium-headless-shell", "/usr/lib/chromium/chromium"):
        if os.access(path, os.X_OK):
            return path
    return None


class BrowserError(RuntimeError):
    """The browser failed, a DevTools call returned an error, or a wait timed out."""


# JavaScript helpers evaluated in the page (or a frame): find by text, prove visibility, click.
_JS = r"""
(() => {
  const norm = s => (s || "").replace(/\s+/g, " ").trim();
  window.__datar = {
    // the element whose rendered text is `text` (else the smallest that contains it), outermost first
    find(text, selector) {
      const all = Array.from(document.querySelectorAll(selector || "body *"));
      const exact = all.filter(el => norm(el.innerText) === text);
      if (exact.length) return exact[0];
      const hits = all.filter(el => norm(el.innerText).includes(text));
      hits.sort((a, b) => norm(a.innerText).length - norm(b.innerText).length);
      return hits[0] || null;
    },
    // on screen, not hidden, not covered by another element
    visible(el) {
      if (!el) return {ok: false, why: "not found"};
      const r = el.getBoundingClientRect();
      const s = getComputedStyle(el);
      if (r.width < 1 || r.height < 1) return {ok: false, why: "zero size"};
      if (s.visibility === "hidden" || s.display === "none" || Number(s.opacity) === 0)
        return {ok: false, why: "hidden by CSS"};
      const x = Math.min(Math.max(r.left + Math.min(r.width, 40) / 2, 0), innerWidth - 1);
      const y = Math.min(Math.max(r.top + Math.min(r.height, 20) / 2, 0), innerHeight - 1);
      if (r.bottom < 0 || r.right < 0 || r.top > innerHeight || r.left > innerWidth)
        return {ok: false, why: "outside the viewport " + JSON.stringify(r)};
      const top = document.elementFromPoint(x, y);
      if (!top || !(top === el || el.contains(top) || top.contains(el)))
        return {ok: false, why: "covered by " + (top ? top.outerHTML.slice(0, 80) : "nothing")};
      return {ok: true, why: ""};
    },
  };
  return true;
})()
"""


class Browser:
    """One headless Chromium with one page (a fresh profile per instance).

    Args:
        binary: the Chromium executable (default :func:`find_chromium`).
        width, height: the viewport in CSS pixels.
        timeout: seconds to wait for any one answer or event.
    """

    def __init__(self, binary: str | None = None, *, width: int = 1280, height: int = 800,
                 timeout: float = 60.0) -> None:
        self.binary = binary or find_chromium()
        self.width, self.height, self.timeout = width, height, timeout
        self.proc: subprocess.Popen | None = None
        self._next = 0
        self._buf = b""
        self._events: list[dict[str, Any]] = []
        self.session: str | None = None

    # ---------------------------------------------------------------- process and protocol

    def __enter__(self) -> "Browser":
        if not self.binary:
            raise BrowserError("no Chromium found (apt-get install chromium-headless-shell, or set DATAR_CHROMIUM)")
        self._profile = tempfile.TemporaryDirectory(prefix="datar-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        to_child_r, from_child_w = (self._high(fd) for fd in (to_child_r, from_child_w))  # never 3 or 4 themselves
        args = [self.binary, *FLAGS, f"--user-data-dir={self._profile.name}",
                f"--window-size={self.width},{self.height}", "about:blank"]
        # The protocol wants fd 3 (commands in) and fd 4 (answers out): bash moves the pipes there.
        script = f'exec "$0" "$@" 3<&{to_child_r} 4>&{from_child_w} {to_child_r}<&- {from_child_w}>&-'
        self.proc = subprocess.Popen(["/bin/bash", "-c", script, *args], pass_fds=(to_child_r, from_child_w),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        os.close(to_child_r)
        os.close(from_child_w)
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "DOM"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False})
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.proc is not None:
            try:
                self._send({"id": self._id(), "method": "Browser.close"})
            except OSError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            if self.proc.stderr:
                self.proc.stderr.close()
        for fd in (getattr(self, "_to_child", None), getattr(self, "_from_child", None)):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        if hasattr(self, "_profile"):
            self._profile.cleanup()

    @staticmethod
    def _high(fd: int) -> int:
        """``fd`` moved to a number of at least 10 (inheritable by the child)."""
        import fcntl

        high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
        os.close(fd)
        return high

    def _id(self) -> int:
        self._next += 1
        return self._next

    def _send(self, msg: dict[str, Any]) -> None:
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")

    def _read(self, deadline: float) -> dict[str, Any]:
        import select

        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("timed out waiting for Chromium")
            ready, _, _ = select.select([self._from_child], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                err = self.proc.stderr.read().decode(errors="replace")[-2000:] if self.proc and self.proc.stderr else ""
                raise BrowserError(f"Chromium closed the DevTools pipe: {err}")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: dict[str, Any] | None = None, *, session: bool = True) -> dict[str, Any]:
        """Send one DevTools command (to the page's session once attached) and return its result."""
        mid = self._id()
        msg: dict[str, Any] = {"id": mid, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        self._send(msg)
        deadline = time.monotonic() + self.timeout
        while True:
            answer = self._read(deadline)
            if answer.get("id") == mid:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            if "method" in answer:
                self._events.append(answer)

    def wait_event(self, method: str) -> dict[str, Any]:
        """Wait for (and consume) the next event named ``method``."""
        deadline = time.monotonic() + self.timeout
        while True:
            for i, ev in enumerate(self._events):
                if ev.get("method") == method:
                    return self._events.pop(i)
            msg = self._read(deadline)
            if "method" in msg:
                self._events.append(msg)

    # ---------------------------------------------------------------- page

    def open(self, url: str) -> None:
        """Navigate and wait for the load event."""
        self._events.clear()
        self.call("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression: str, *, context: int | None = None) -> Any:
        """Evaluate JavaScript (in the page, or in an execution ``context``) and return its value."""
        params: dict[str, Any] = {"expression": expression, "returnByValue": True, "awaitPromise": True}
        if context is not None:
            params["contextId"] = context
        res = self.call("Runtime.evaluate", params)
        if "exceptionDetails" in res:
            raise BrowserError(f"JavaScript error: {res['exceptionDetails']}")
        return res.get("result", {}).get("value")

    def frame_context(self, url_prefix: str) -> int:
        """An execution context in the first child frame whose URL starts with ``url_prefix``."""
        deadline = time.monotonic() + self.timeout
        while True:
            tree = self.call("Page.getFrameTree")["frameTree"]
            for child in tree.get("childFrames", []):
                frame = child["frame"]
                if frame.get("url", "").startswith(url_prefix):
                    world = self.call("Page.createIsolatedWorld", {"frameId": frame["id"], "worldName": "datar"})
                    ctx = world["executionContextId"]
                    state = self.evaluate("document.readyState", context=ctx)
                    if state == "complete":
                        return ctx
            if time.monotonic() > deadline:
                raise BrowserError(f"no frame with a URL starting {url_prefix!r}")
            time.sleep(0.2)

    def wait_for_text(self, text: str, *, context: int | None = None) -> str:
        """Wait until the rendered text holds ``text``; return the rendered text."""
        deadline = time.monotonic() + self.timeout
        while True:
            body = self.evaluate("document.body ? document.body.innerText : ''", context=context) or ""
            if text in body:
                return body
            if time.monotonic() > deadline:
                raise BrowserError(f"{text!r} never appeared; the page shows: {body[:1500]!r}")
            time.sleep(0.2)

    def visible(self, text: str, *, selector: str | None = None, context: int | None = None) -> dict[str, Any]:
        """Whether the smallest element showing ``text`` is on screen and uncovered (``{"ok", "why"}``).

        The element is scrolled into view first, as a reader would scroll to it.
        """
        self.evaluate(_JS, context=context)
        sel = json.dumps(selector) if selector else "null"
        return self.evaluate(
            f"(() => {{ const el = window.__datar.find({json.dumps(text)}, {sel});"
            " if (el) el.scrollIntoView({block: 'center'});"
            " return window.__datar.visible(el); })()", context=context)

    def visible_image(self) -> dict[str, Any]:
        """Whether the page's largest image is loaded (``naturalWidth`` > 0), on screen and uncovered."""
        self.evaluate(_JS)
        return self.evaluate(
            "(() => { const imgs = Array.from(document.querySelectorAll('img'))"
            ".filter(i => i.complete && i.naturalWidth > 0);"
            " if (!imgs.length) return {ok: false, why: 'no loaded image'};"
            " imgs.sort((a, b) => b.width * b.height - a.width * a.height);"
            " const r = window.__datar.visible(imgs[0]);"
            " return {...r, width: imgs[0].naturalWidth, height: imgs[0].naturalHeight}; })()")

    def click_text(self, text: str, *, selector: str = "a, button") -> None:
        """Click the link or button showing ``text`` (as a user would)."""
        self.evaluate(_JS)
        ok = self.evaluate(f"(() => {{ const el = window.__datar.find({json.dumps(text)}, {json.dumps(selector)});"
                           " if (!el) return false; el.click(); return true; })()")
        if not ok:
            raise BrowserError(f"nothing to click showing {text!r}")

    def wait_for_rows(self, row_text: str) -> None:
        """Wait until a table row (the report's result list) shows ``row_text``."""
        deadline = time.monotonic() + self.timeout
        expr = f"Array.from(document.querySelectorAll('tr')).some(r => r.innerText.includes({json.dumps(row_text)}))"
        while not self.evaluate(expr):
            if time.monotonic() > deadline:
                raise BrowserError(f"no result row showing {row_text!r}")
            time.sleep(0.2)

    def click_view_button(self, row_text: str) -> None:
        """Click the view (eye) button of the report's result row showing ``row_text``."""
        ok = self.evaluate(
            "(() => { const rows = Array.from(document.querySelectorAll('tr'))"
            f".filter(r => r.innerText.includes({json.dumps(row_text)}));"
            " if (!rows.length) return false; const a = rows[0].querySelector('td:last-child a');"
            " if (!a) return false; a.click(); return true; })()")
        if not ok:
            raise BrowserError(f"no result row showing {row_text!r} with a view button")

    def screenshot(self, path: str | os.PathLike[str], *, colors: int = 256) -> Path:
        """Save the viewport as a palette PNG (small enough to commit)."""
        from PIL import Image

        data = base64.b64decode(self.call("Page.captureScreenshot", {"format": "png"})["data"])
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        raw = out.with_suffix(".raw.png")
        raw.write_bytes(data)
        with Image.open(raw) as im:
            im.convert("RGB").quantize(colors=colors).save(out, optimize=True)
        raw.unlink()
        return out


def open_report_item(browser: Browser, category: str, row_text: str) -> int:
    """In an open Snakemake report, open ``category``, view the item whose row shows ``row_text``.

    Returns:
        The execution context of the item's frame.
    """
    browser.click_text(category)
    browser.wait_for_rows(row_text)
    browser.click_view_button(row_text)
    return browser.frame_context("data:")


def main(argv: list[str] | None = None) -> int:
    """Screenshots of a built report: the front page, and items opened from the menu."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("report", help="the report HTML file")
    p.add_argument("--front", help="PNG of the front page")
    p.add_argument("--item", nargs=3, action="append", default=[], metavar=("CATEGORY", "ROW_TEXT", "PNG"),
                   help="open CATEGORY, view the item whose row shows ROW_TEXT, save PNG")
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=800)
    args = p.parse_args(argv)
    url = Path(args.report).resolve().as_uri()
    with Browser(width=args.width, height=args.height) as b:
        b.open(url)
        b.wait_for_text("Regenerate one table")
        if args.front:
            print(b.screenshot(args.front))
        for category, row, png in args.item:
            b.open(url)
            b.wait_for_text("Regenerate one table")
            ctx = open_report_item(b, category, row)
            b.wait_for_text("Provenance", context=ctx)
            time.sleep(0.5)
            print(b.screenshot(png))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
