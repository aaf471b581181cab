"""Headless Chromium for the page tests: a screenshot, the page's requests, its width.

Shared by tests/test_report.py and tests/test_pages_browser.py. Every function
skips the calling test, with the reason, where Chromium is not installed.
"""

import html
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

#: A phone's and a laptop's window, in CSS pixels (width, height).
PHONE = (390, 900)
LAPTOP = (1280, 900)

# The page's measures, written into the page by a script appended to a copy of it
# (never to the page a user gets, which has no script) once everything has loaded;
# in a frame, it sends them to the frame's parent (_FRAME), which writes them.
_PROBE = """
<script>
window.addEventListener("load", function () {
  var columns = 0;
  document.querySelectorAll(".figures").forEach(function (grid) {
    var lefts = new Set();
    grid.querySelectorAll("figure").forEach(function (figure) {
      lefts.add(Math.round(figure.getBoundingClientRect().left));
    });
    columns = Math.max(columns, lefts.size);
  });
  var text = JSON.stringify({scroll_width: document.documentElement.scrollWidth,
                             inner_width: window.innerWidth, grid_columns: columns});
  if (window.parent !== window) { window.parent.postMessage(text, "*"); return; }
  var out = document.createElement("output");
  out.id = "mixfit-probe";
  out.textContent = text;
  document.body.appendChild(out);
});
</script>
"""

_FRAME = """<!DOCTYPE html><html><body style="margin:0">
<iframe src="page/index.html" style="border:0;width:{width}px;height:{height}px"></iframe>
<script>
window.addEventListener("message", function (event) {{
  var out = document.createElement("output");
  out.id = "mixfit-probe";
  out.textContent = event.data;
  document.body.appendChild(out);
}});
</script></body></html>
"""


def chromium():
    """The path of Chromium; skips the test where it is not installed."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium)")
    return browser


def _workspace(tmp_path):
    # A folder of its own for each run, so that a test may render twice in one tmp_path.
    tmp_path.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=tmp_path))


def _run(tmp_path, url, size, *options):
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}",
               f"--window-size={size[0]},{size[1]}",
               # Nothing may leave the machine, even if the page asked: names resolve nowhere.
               "--host-resolver-rules=MAP * ~NOTFOUND", *options, url]
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)


#: Chromium's windows are never narrower than this, headless or not: a narrower
#: page is shown in a frame of the asked width (a frame's width is its page's
#: viewport, media queries included).
MIN_WINDOW_WIDTH = 500


def _open(folder, tmp_path, size, probe=False):
    """A copy of folder/index.html to open at ``size``: (its URL, the window's size)."""
    copy = tmp_path / "page"
    shutil.copytree(folder, copy)
    if probe:
        index = copy / "index.html"
        text = index.read_text(encoding="utf-8")
        index.write_text(text.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    if size[0] >= MIN_WINDOW_WIDTH:
        return (copy / "index.html").as_uri(), size
    frame = tmp_path / "frame.html"
    frame.write_text(_FRAME.format(width=size[0], height=size[1]), encoding="utf-8")
    return frame.as_uri(), (MIN_WINDOW_WIDTH, size[1])


def render(folder, tmp_path, size=(1000, 1400)):
    """Open folder/index.html in headless Chromium: its screenshot and the page's requests.

    ``size`` is the window's (width, height) in CSS pixels. The requests are
    read from Chromium's network log: those whose top frame is the file://
    page (the browser's own background requests, to update servers and the
    like, have another site and are not the page's doing).
    """
    work = _workspace(tmp_path)
    shot, log = work / "shot.png", work / "net.json"
    url, window = _open(folder, work, size)
    _run(work, url, window, f"--screenshot={shot}", f"--log-net-log={log}")
    events = json.loads(log.read_text())
    start_job = events["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    requests = [event["params"]["url"] for event in events["events"]
                if event["type"] == start_job
                and event["params"].get("network_isolation_key", "").startswith("file://")]
    return shot, requests


def measure(folder, tmp_path, size=PHONE):
    """The page's layout at ``size``, once its images have loaded, as a dict.

    ``scroll_width``: the page's full width, and ``inner_width``: its window's,
    in CSS pixels (a page wider than its window scrolls sideways: on a phone, a
    page that does not fit); ``grid_columns``: the most figures side by side in
    a grid of figures (0 without one). A copy of ``folder`` gets the measuring
    script; the page itself is not changed.
    """
    work = _workspace(tmp_path)
    url, window = _open(folder, work, size, probe=True)
    # The virtual time budget lets the page load (and the script run) before the dump.
    done = _run(work, url, window, "--dump-dom", "--virtual-time-budget=5000")
    found = re.search(r'<output id="mixfit-probe">(.*?)</output>', done.stdout)
    assert found, f"the measuring script did not run: {done.stdout[-500:]!r}"
    return json.loads(html.unescape(found.group(1)))
