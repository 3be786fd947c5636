"""Headless Chromium driven over the DevTools protocol on a pipe, with the standard library only.

`--remote-debugging-pipe` makes Chromium read protocol messages (JSON, NUL-terminated) on file
descriptor 3 and answer on 4: no port to find or to collide on, no websocket library, and no
browser download (Playwright's Python package would bring a 40 MB driver and its own flags).
Debian's /usr/bin/chromium is a shell wrapper that adds flags from /etc/chromium.d (extensions,
GPU rasterisation, API keys); the browser is started from the binary it runs, so the flags are
exactly `FLAGS`, a fresh `--user-data-dir` and the pipe.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
DEBIAN_BINARY = Path("/usr/lib/chromium/chromium")


def chromium_executable() -> str | None:
    """The Chromium binary (Debian's real one when present), or None when none is installed."""
    if DEBIAN_BINARY.exists():
        return str(DEBIAN_BINARY)
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _above_nine(fd: int) -> int:
    """A copy of `fd` numbered 10 or more (the original is closed)."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class ChromiumError(RuntimeError):
    pass


class Chromium:
    """One browser with one page; `errors` collects every console error, uncaught exception and
    browser log error (CSP violations included), `requests` every URL the page asked for."""

    def __init__(self, executable: str, profile: Path, width: int = 1400, height: int = 900):
        profile.mkdir(parents=True, exist_ok=False)  # fresh: never a reused profile
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()
        # The browser's ends move above 9 first: were one of them already 3 or 4, the shell's
        # redirections below would overwrite it before moving it.
        to_browser_read, from_browser_write = (
            _above_nine(to_browser_read),
            _above_nine(from_browser_write),
        )
        # bash (dash takes single-digit descriptors only) moves the pipe ends to descriptors 3
        # and 4, closes the originals and execs the browser.
        moves = (
            f"3<&{to_browser_read} 4>&{from_browser_write} "
            f"{to_browser_read}<&- {from_browser_write}>&-"
        )
        self._process = subprocess.Popen(
            [
                "/bin/bash",
                "-c",
                f'exec "$0" "$@" {moves}',
                executable,
                *FLAGS,
                f"--user-data-dir={profile}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            pass_fds=(to_browser_read, from_browser_write),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        self._buffer = b""
        self._next_id = 0
        self._session: str | None = None
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.events: list[dict[str, Any]] = []
        try:
            targets = self.call("Target.getTargets", session=False)["targetInfos"]
            page = next(t for t in targets if t["type"] == "page")
            attached = self.call(
                "Target.attachToTarget", {"targetId": page["targetId"], "flatten": True}, False
            )
            self._session = attached["sessionId"]
            for domain in ("Runtime", "Log", "Page", "Network"):
                self.call(f"{domain}.enable")
            self.call(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            )
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._process.poll() is None:
            try:
                self._send("Browser.close", {}, session=False)
                self._process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()  # our own child only
                self._process.wait(timeout=10)
        for fd in (self._to_browser, self._from_browser):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _send(self, method: str, params: dict, session: bool) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session and self._session:
            message["sessionId"] = self._session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        return self._next_id

    def _read(self, timeout: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if not ready:
                return None
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise ChromiumError("the browser closed the DevTools pipe")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        message = json.loads(raw)
        if "method" in message:
            self._record(message)
        return message

    def _record(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            texts = [str(a.get("value", a.get("description", ""))) for a in params.get("args", [])]
            self.errors.append("console: " + " ".join(texts))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            description = details.get("exception", {}).get("description", details.get("text"))
            self.errors.append(f"exception: {description}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            self.errors.append(f"log ({entry.get('source')}): {entry.get('text')}")
        elif method == "Network.requestWillBeSent":
            self.requests.append(params.get("request", {}).get("url", ""))

    def call(self, method: str, params: dict | None = None, session: bool = True) -> dict:
        message_id = self._send(method, params or {}, session)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            message = self._read(deadline - time.monotonic())
            if message is not None and message.get("id") == message_id:
                if "error" in message:
                    raise ChromiumError(f"{method}: {message['error']}")
                return message.get("result", {})
        raise ChromiumError(f"{method}: no answer within 60 s")

    def drain(self, seconds: float) -> None:
        """Take the events the page sends during `seconds` (late console errors included)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self._read(left)

    def goto(self, url: str, timeout: float = 60) -> None:
        self.call("Page.navigate", {"url": url})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self._read(deadline - time.monotonic())
            if message is not None and message.get("method") == "Page.loadEventFired":
                return
        raise ChromiumError(f"{url} did not load within {timeout} s")

    def evaluate(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise ChromiumError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60) -> Any:
        """Poll `expression` until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            self.drain(0.1)
        raise ChromiumError(f"{expression!r} still false after {timeout} s")

    def screenshot(self, path: Path, width: int = 1400) -> Path:
        """A PNG of the whole page, not only the viewport."""
        metrics = self.call("Page.getLayoutMetrics")
        height = min(int(metrics["cssContentSize"]["height"]) + 1, 16_000)
        shot = self.call(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
            },
        )
        path.write_bytes(base64.b64decode(shot["data"]))
        return path
