"""The reports in a real headless Chromium: no console error, no request (not even a failed one), every plot laid
out with a size, and a screenshot that is not blank.

A copy of each report gets a small probe script at the top of its <head> (the reports themselves have no
script): it records script errors and failed loads as they happen and, on load, the resources the page fetched
and the laid-out size of every <svg>, into a <pre id="probe"> that ``--dump-dom`` returns. Chromium is driven by
its command line (no driver, no download); CI installs Debian's ``chromium`` (.ci/run).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

PROBE = """<script>
window.__probe = {errors: [], failed: []};
window.addEventListener("error", function (e) {
  var t = e.target;
  if (t && t !== window && (t.src || t.href)) { window.__probe.failed.push(String(t.src || t.href)); }
  else { window.__probe.errors.push(String(e.message)); }
}, true);
window.addEventListener("load", function () {
  var p = window.__probe;
  p.resources = performance.getEntriesByType("resource").map(function (e) { return e.name; });
  p.svgs = Array.prototype.map.call(document.querySelectorAll("svg.plot"), function (s) {
    var r = s.getBoundingClientRect(); return [r.width, r.height];
  });
  p.sections = document.querySelectorAll("section.kind").length;
  var out = document.createElement("pre"); out.id = "probe"; out.textContent = JSON.stringify(p);
  document.body.appendChild(out);
});
</script>"""
WIDTH, HEIGHT = 1280, 900


@pytest.fixture(scope="session")
def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("chromium is not installed (CI installs Debian's chromium through .ci/run: apt-get install chromium)")


def open_in_chromium(chromium: str, page: Path, tmp_path: Path) -> tuple[dict, list[str], Path]:
    """Load ``page`` with the probe; returns the probe's record, the console lines and a screenshot."""
    probed = tmp_path / f"probed-{page.name}"
    html = page.read_text(encoding="utf-8")
    probed.write_text(html.replace("<head>", "<head>\n" + PROBE, 1), encoding="utf-8")
    shot = tmp_path / f"{page.stem}.png"
    argv = [
        chromium,
        "--headless=new",
        "--no-sandbox",  # tests run as root in containers; the page is our own file
        "--disable-gpu",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # a request to anywhere fails (and the probe would see it)
        "--enable-logging=stderr",
        "--v=0",
        f"--window-size={WIDTH},{HEIGHT}",
        f"--screenshot={shot}",
        "--dump-dom",
        probed.as_uri(),
    ]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    match = re.search(r'<pre id="probe">(.*?)</pre>', result.stdout, flags=re.S)
    assert match, "the page did not finish loading: " + result.stderr[-2000:]
    from html import unescape

    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    return json.loads(unescape(match[1])), console, shot


def assert_not_blank(shot: Path) -> None:
    from PIL import Image, ImageStat

    with Image.open(shot) as image:
        assert image.size == (WIDTH, HEIGHT)
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 20) or []
        spread = ImageStat.Stat(rgb).stddev
    assert len(colours) > 50 and min(spread) > 20, f"a blank-looking screenshot: {len(colours)} colours, sd {spread}"


@pytest.mark.parametrize("name", ["demo", "sweep"])
def test_report_renders_cleanly_in_chromium(chromium, name, reports, tmp_path):  # chromium first: skip before building
    page, html, _ = reports(name)
    probe, console, shot = open_in_chromium(chromium, page, tmp_path)
    assert probe["errors"] == [] and console == []
    assert probe["failed"] == [] and probe["resources"] == [], "the page makes no request"
    assert len(probe["svgs"]) == html.count('<svg class="plot"') > 0
    small = [size for size in probe["svgs"] if size[0] < 100 or size[1] < 60]
    assert not small, f"plots laid out without a size: {small}"
    assert probe["sections"] >= 2
    assert_not_blank(shot)


def test_the_probe_sees_errors_and_requests(chromium, tmp_path):
    """The checks above are not vacuous: a page with a broken image, a remote one and a failing script is caught."""
    page = tmp_path / "broken.html"
    page.write_text(
        '<!DOCTYPE html><html><head><title>x</title></head><body><svg class="plot" width="10" height="10"></svg>'
        '<img src="missing.png"><img src="https://example.invalid/x.png"><script>nosuch();</script></body></html>'
    )
    probe, console, _ = open_in_chromium(chromium, page, tmp_path)
    assert any("nosuch" in e for e in probe["errors"]) and any("nosuch" in line for line in console)
    assert {Path(u).name for u in probe["failed"]} == {"missing.png", "x.png"}
    assert probe["svgs"] == [[10, 10]]
