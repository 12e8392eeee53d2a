"""A real headless Chromium driven over the DevTools protocol on a pipe.

Why not ``chromium --screenshot``: it shoots when a budget of *virtual* time runs
out, but video decoding runs in real time, so on a busy machine the shot can come
before a seeked video frame is on screen. Here the test waits, in real time and
with a deadline, for the page to say it is ready, then shoots. The pipe
(``--remote-debugging-pipe``: commands in on fd 3, replies out on fd 4, each a JSON
message ending in a NUL byte) needs no extra package and no port.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import selectors
import shutil
import signal
import tempfile
import time

import numpy as np
import pytest


def chromium_or_skip() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    return found


class Page:
    """One tab in a fresh headless Chromium (software WebGL), ``width`` x ``height`` CSS pixels."""

    def __init__(self, browser: str, width: int = 1000, height: int = 900, timeout: float = 120.0):
        commands_read, self._commands = os.pipe()
        self._replies, replies_write = os.pipe()
        flags = ["--headless", "--no-sandbox", "--use-gl=swiftshader", "--enable-unsafe-swiftshader",
                 "--hide-scrollbars", "--mute-audio", f"--window-size={width},{height}",
                 "--remote-debugging-pipe", "about:blank"]
        self._log = tempfile.TemporaryFile()
        # posix_spawn puts the pipe ends on the fd numbers Chromium reads and writes, in order
        # (a pipe end already on 3 or 4 is duplicated first, so neither overwrites the other).
        moved = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (commands_read, replies_write)]
        for fd in (commands_read, replies_write):
            os.close(fd)
        self._pid = os.posix_spawn(browser, [browser, *flags], os.environ, file_actions=[
            (os.POSIX_SPAWN_DUP2, moved[0], 3), (os.POSIX_SPAWN_DUP2, moved[1], 4),
            (os.POSIX_SPAWN_DUP2, self._log.fileno(), 2)])
        for fd in moved:
            os.close(fd)
        self._timeout = timeout
        self._buffer = b""
        self._next_id = 0
        self._session: str | None = None  # browser-level commands until the tab is attached
        self.events: list[dict] = []
        try:
            target = self._send("Target.createTarget", {"url": "about:blank"})["targetId"]
            self._session = self._send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log"):
                self._send(f"{domain}.enable")
            self._send("Emulation.setDeviceMetricsOverride",
                       {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        except BaseException:
            self.__exit__()  # no browser left running when the tab cannot be set up
            raise

    def __enter__(self) -> "Page":
        return self

    def __exit__(self, *exc) -> None:
        os.kill(self._pid, signal.SIGKILL)
        os.waitpid(self._pid, 0)
        self._log.close()
        os.close(self._commands)
        os.close(self._replies)

    def _receive(self, deadline: float) -> dict:
        with selectors.DefaultSelector() as selector:
            selector.register(self._replies, selectors.EVENT_READ)
            while b"\0" not in self._buffer:
                if not selector.select(max(0.0, deadline - time.monotonic())):
                    raise TimeoutError("Chromium did not answer in time")
                chunk = os.read(self._replies, 1 << 20)
                if not chunk:
                    self._log.seek(0)
                    raise RuntimeError(f"Chromium exited: {self._log.read()[-2000:]!r}")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def _send(self, method: str, params: dict | None = None) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if self._session is not None:
            message["sessionId"] = self._session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self._timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("id") != self._next_id:
                self.events.append(reply)
            elif "error" in reply:
                raise RuntimeError(f"{method}: {reply['error']}")
            else:
                return reply["result"]

    def open(self, url: str) -> None:
        self._send("Page.navigate", {"url": url})

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self._send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                  "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, condition: str, timeout: float = 120.0) -> None:
        """Polls a JavaScript condition until it holds; on a timeout, says which one."""
        deadline = time.monotonic() + timeout
        while not self.evaluate(f"Boolean({condition})"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the page never reached: {condition}")
            time.sleep(0.1)

    def screenshot(self) -> np.ndarray:
        """What the tab shows now, as a BGR image, after two more animation frames are drawn."""
        import cv2

        self.evaluate("new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
        png = base64.b64decode(self._send("Page.captureScreenshot", {"format": "png"})["data"])
        return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)

    def errors(self) -> list[str]:
        """Uncaught exceptions, console errors and logged errors the page produced so far."""
        found = []
        for event in self.events:
            params = event.get("params", {})
            if event.get("method") == "Runtime.exceptionThrown":
                found.append(json.dumps(params["exceptionDetails"])[:500])
            elif event.get("method") == "Runtime.consoleAPICalled" and params["type"] == "error":
                found.append(json.dumps(params["args"])[:500])
            elif event.get("method") == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(params["entry"]["text"][:500])
        return found
