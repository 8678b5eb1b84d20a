"""The real dashboard (``python -m streamlit run dashboard/app.py`` as ``evalkit dashboard``
starts it) in headless Chromium, driven over the DevTools protocol with a small stdlib-only
client: every page loads from its URL, finishes running, shows the checkpoints, and renders a
non-blank screenshot (kept under artifacts/screenshots/); model text with ``<script>`` and
``<img onerror>`` is displayed, never executed.

Needs the ``chromium`` binary (Debian package ``chromium``; ``.ci/run`` installs it).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium is not installed (Debian: apt-get install -y "
    "chromium; .ci/run installs it) — the dashboard's browser test needs it")

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
VIEWPORT = (1400, 1000)


# --------------------------------------------------------------------------- DevTools client

class WebSocket:
    """Just enough RFC 6455 for the DevTools protocol: text frames out (masked), text frames
    in (fragmented or not), pings answered."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        parts = urllib.parse.urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                           ).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("DevTools closed the connection during the handshake")
            head += chunk
        head, self._buf = head.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"websocket handshake refused: {head[:200]!r}")

    def _read(self, n: int) -> bytes:
        while len(self._buf) < n:
            chunk = self.sock.recv(max(65536, n - len(self._buf)))
            if not chunk:
                raise ConnectionError("DevTools closed the connection")
            self._buf += chunk
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def _frame(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 1 << 16:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + body)

    def send(self, text: str) -> None:
        self._frame(0x1, text.encode())

    def recv(self) -> str:
        message = b""
        while True:
            b0, b1 = self._read(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack(">H", self._read(2))
            elif n == 127:
                (n,) = struct.unpack(">Q", self._read(8))
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x9:
                self._frame(0xA, payload)
                continue
            if opcode == 0x8:
                raise ConnectionError("DevTools closed the websocket")
            if opcode in (0x0, 0x1, 0x2):
                message += payload
                if b0 & 0x80:
                    return message.decode()

    def close(self) -> None:
        try:
            self._frame(0x8, b"")
        except OSError:
            pass
        self.sock.close()


class Browser:
    """Headless Chromium with one page, driven over the DevTools protocol."""

    def __init__(self, workdir: Path) -> None:
        profile = Path(tempfile.mkdtemp(prefix="chromium-", dir=workdir))
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--mute-audio",
             f"--user-data-dir={profile}", "--remote-debugging-port=0",
             f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("Chromium did not start its DevTools endpoint")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/json/list")
        targets = json.loads(conn.getresponse().read())
        page = next(t for t in targets if t["type"] == "page")
        self.ws = WebSocket(page["webSocketDebuggerUrl"])
        self._id = 0
        self.events: list[dict[str, Any]] = []
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=VIEWPORT[0],
                  height=VIEWPORT[1], deviceScaleFactor=1, mobile=False)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)
                if msg["method"] == "Page.javascriptDialogOpening":  # never leave it blocking
                    self.ws.send(json.dumps({"id": 0, "method": "Page.handleJavaScriptDialog",
                                             "params": {"accept": True}}))

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def goto(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def wait_ready(self, must_contain: list[str], timeout: float = 45.0) -> str:
        """Poll until the app has rendered and finished running (no status widget, the page
        title drawn, nothing loading), twice in a row; returns the page's text."""
        deadline = time.monotonic() + timeout
        state, stable = "", 0
        while time.monotonic() < deadline:
            state = self.evaluate(READY_JS)
            text = self.evaluate("document.body ? document.body.innerText : ''") or ""
            if state == "ready" and all(s in text for s in must_contain):
                stable += 1
                if stable >= 2:
                    return text
            else:
                stable = 0
            time.sleep(0.25)
        missing = [s for s in must_contain if s not in (text or "")]
        raise AssertionError(f"page not ready after {timeout:.0f} s: state={state!r}, "
                             f"missing text {missing}")

    def screenshot(self, path: Path) -> bytes:
        png = base64.b64decode(self.call("Page.captureScreenshot", format="png",
                                         optimizeForSpeed=True)["data"])
        path.write_bytes(png)
        return png

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


READY_JS = """(() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app) return 'no app';
  if (document.querySelector('[data-testid="stStatusWidget"]')) return 'running';
  if (document.querySelector('[data-testid="stSkeleton"]')) return 'skeleton';
  const main = document.querySelector('[data-testid="stMain"]') || app;
  if (!main.querySelector('h1')) return 'no title';
  const charts = main.querySelectorAll('[data-testid="stVegaLiteChart"]');
  const shown = (e) => !e.closest('details:not([open])');
  for (const c of charts) {
    if (shown(c) && !c.querySelector('canvas, svg')) return 'chart drawing';
  }
  const frames = main.querySelectorAll('[data-testid="stDataFrame"]');
  for (const f of frames) {
    if (shown(f) && !f.querySelector('canvas, table')) return 'table drawing';
  }
  return 'ready';
})()"""


# --------------------------------------------------------------------------- PNG check

def png_pixels(png: bytes) -> tuple[int, int, int, bytes]:
    """Decode an 8-bit, non-interlaced PNG (what Chromium writes) with zlib only: returns
    (width, height, channels, raw pixel bytes)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos:pos + 4])
        kind, body = png[pos + 4:pos + 8], png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0, "only 8-bit non-interlaced PNGs"
            channels = {0: 1, 2: 3, 4: 2, 6: 4}[color]
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    out = bytearray(stride * height)
    prev = bytearray(stride)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if ftype == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 0xFF
        elif ftype == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev, strict=True))
        elif ftype == 3:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif ftype == 4:
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b, c = prev[i], prev[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 0xFF
        out[y * stride:(y + 1) * stride] = line
        prev = line
    return width, height, channels, bytes(out)


def assert_not_blank(png: bytes) -> None:
    width, height, channels, pixels = png_pixels(png)
    assert (width, height) == VIEWPORT
    grey = [sum(pixels[i:i + 3]) // 3 for i in range(0, len(pixels), channels * 7)]
    mean = sum(grey) / len(grey)
    variance = sum((g - mean) ** 2 for g in grey) / len(grey)
    dark = sum(g < 128 for g in grey) / len(grey)
    colours = len({pixels[i:i + 3] for i in range(0, len(pixels), channels * 13)})
    assert variance > 100 and colours > 50 and dark > 0.005, (
        f"screenshot looks blank: variance {variance:.0f}, {colours} colours, "
        f"{dark:.2%} dark pixels")


# --------------------------------------------------------------------------- fixtures

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from test_dashboard_apptest import build_dashboard_store

    return build_dashboard_store(tmp_path_factory.getbasetemp() / "dashboard-store")


@pytest.fixture(scope="module")
def server(store: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The dashboard as `evalkit dashboard` starts it (evalkit.dashboard_launch.command)."""
    from evalkit.dashboard_launch import command

    port = _free_port()
    log = tmp_path_factory.mktemp("streamlit") / "streamlit.log"
    home = tmp_path_factory.mktemp("streamlit-home")
    env = {**os.environ, "HOME": str(home), "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none"}
    env.pop("EVALKIT_DB", None)
    with open(log, "w") as out:
        proc = subprocess.Popen(command(str(store["db"]), port=port), stdout=out,
                                stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/_stcore/health")
            if conn.getresponse().status == 200:
                break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the dashboard did not start:\n{log.read_text()}")
        time.sleep(0.2)
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    b = Browser(tmp_path_factory.mktemp("chromium"))
    yield b
    b.close()


# --------------------------------------------------------------------------- tests

def url(base: str, path: str, **params: str) -> str:
    return f"{base}/{path}" + ("?" + urllib.parse.urlencode(params) if params else "")


def test_every_page_loads_finishes_and_renders(server: str, browser: Browser,
                                               store: dict[str, Any]) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {SCREENSHOTS}", file=sys.stderr)
    runs = store["runs"]
    top = runs[("mid", "top")]["comparison_id"]
    pages = [
        ("leaderboard", "", {"pool": "small", "judge": "sim"},
         ["Leaderboard", "Ranked first: top", "base", "mid"]),
        ("compare", "compare", {"pool": "small", "judge": "sim", "comparison": top},
         ["Compare A vs B", "top (candidate) vs mid (baseline)", "Win rate", "By tag"]),
        ("samples", "samples", {"pool": "small", "judge": "sim", "comparison": top,
                                "outcome": "win"},
         ["Samples", "Baseline: mid", "Candidate: top", "Judge verdicts"]),
        ("trajectory", "trajectory", {"pool": "small", "judge": "sim"},
         ["Trajectory", "base → mid → top"]),
        ("provenance", "provenance", {"pool": "small", "judge": "sim", "comparison": top},
         ["Provenance", "Timings and tokens", "Failures", "Checkpoints (sampling settings)"]),
    ]
    for name, path, params, expected in pages:
        browser.goto(url(server, path, **params))
        text = browser.wait_ready(expected)
        assert "Traceback" not in text and "Error" not in text.split("\n")[0]
        assert browser.evaluate("document.querySelectorAll("
                                "'[data-testid=\"stException\"]').length") == 0
        png = browser.screenshot(SCREENSHOTS / f"{name}.png")
        assert_not_blank(png)
        if name in ("leaderboard", "compare", "trajectory"):
            assert browser.evaluate("document.querySelectorAll("
                                    "'[data-testid=\"stVegaLiteChart\"]').length") >= 1
        # the URL keeps the selection (shareable)
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(
            browser.evaluate("location.href")).query)
        assert query["pool"] == ["small"] and query["judge"] == ["sim"]
        if "comparison" in params:
            assert query["comparison"] == [params["comparison"]]


def test_model_html_is_displayed_not_executed(server: str, browser: Browser,
                                              store: dict[str, Any]) -> None:
    from test_dashboard_apptest import XSS_RATIONALE, XSS_RESPONSE

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    html = store["html"]
    browser.events.clear()
    browser.goto(url(server, "samples", pool="htmlpool", judge="imported-judge",
                     comparison=html["comparison_id"]))
    text = browser.wait_ready(["Samples", "Candidate: html-b", "<script>alert(1)</script>"])
    browser.evaluate("document.querySelectorAll('[data-testid=\"stCode\"]')[1]"
                     ".scrollIntoView({block: 'start'})")  # the responses, for the artifact
    time.sleep(0.3)
    assert_not_blank(browser.screenshot(SCREENSHOTS / "samples-html.png"))
    assert "<script>alert(1)</script>" in text
    assert "<img src=x onerror=\"document.title='pwned'\">" in text
    assert "<script>document.title='pwned'</script>" in text
    assert XSS_RESPONSE in browser.evaluate(
        "[...document.querySelectorAll('[data-testid=\"stCode\"]')]"
        ".map(e => e.innerText).join('\\n')")
    assert XSS_RATIONALE.split("<script>")[0] in text
    time.sleep(0.5)  # give an injected handler every chance to fire
    assert browser.evaluate("document.title") != "pwned"
    assert browser.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    assert browser.evaluate("[...document.scripts].filter(s => "
                            "s.textContent.includes('alert(1)') || "
                            "s.textContent.includes('pwned')).length") == 0
    assert not [e for e in browser.events if e["method"] == "Page.javascriptDialogOpening"]
