#!/usr/bin/env python3
"""Checks a kube-grpc scenario HTML report against the run's JSON summary, then
renders it in headless Chromium.

usage: check_html_report.py REPORT.html SUMMARY.json CHROMIUM
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser


class Report(HTMLParser):
    def __init__(self):
        super().__init__()
        self.svgs = []            # ids, in order
        self.series = {}          # svg id -> [data-series]
        self.paths = {}           # svg id -> [path data]
        self.ticks = {}           # svg id -> [tick labels]
        self.bars = {}            # svg id -> [(label, value)]
        self.cells = {}           # td id -> text
        self.data = None
        self._svg = None
        self._td = None
        self._script = False
        self._tick = False
        self._text = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg":
            self._svg = a.get("id")
            self.svgs.append(self._svg)
        elif tag == "path" and self._svg and a.get("class") == "series":
            self.series.setdefault(self._svg, []).append(a.get("data-series"))
            self.paths.setdefault(self._svg, []).append(a.get("d", ""))
        elif tag == "rect" and self._svg and a.get("class") == "bar":
            self.bars.setdefault(self._svg, []).append((a["data-label"], float(a["data-value"])))
        elif tag == "text" and self._svg and "tick" in a.get("class", ""):
            self._tick = True
        elif tag == "td" and "id" in a:
            self._td, self._text = a["id"], []
        elif tag == "script" and a.get("id") == "kube-grpc-data":
            self._script, self._text = True, []

    def handle_endtag(self, tag):
        if tag == "text":
            self._tick = False
        if tag == "svg":
            self._svg = None
        elif tag == "td" and self._td:
            self.cells[self._td] = "".join(self._text).strip()
            self._td = None
        elif tag == "script" and self._script:
            self.data = json.loads("".join(self._text))
            self._script = False

    def handle_data(self, data):
        if self._td or self._script:
            self._text.append(data)
        if self._svg and self._tick:
            self.ticks.setdefault(self._svg, []).append(data.strip())


def main():
    html_path, summary_path, chromium = sys.argv[1:4]
    with open(html_path, encoding="utf-8") as f:
        html = f.read()
    with open(summary_path, encoding="utf-8") as f:
        summary = json.load(f)
    r = Report()
    r.feed(html)

    assert r.svgs == ["calls-per-pod", "failures", "convergence"], r.svgs
    assert r.data == summary, "embedded data differs from the run's summary"
    # The numbers shown agree with the summary and with each other.
    assert int(r.cells["ok"]) == summary["ok"], (r.cells, summary["ok"])
    assert int(r.cells["failed"]) == summary["failed"]
    assert int(r.cells["pods"]) == len(summary["by_pod"])
    assert sorted(r.series["calls-per-pod"]) == sorted(summary["by_pod"]), r.series
    # Pods in natural order (web-2 before web-10).
    def natural(name):
        import re
        return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]
    assert r.series["calls-per-pod"] == sorted(r.series["calls-per-pod"], key=natural), r.series
    # Round axis ticks: seconds on the x axis are multiples of 1, 2 or 5 x 10^k,
    # and the failed-calls axis counts whole calls.
    import re
    number = re.compile(r"^[0-9.]+$")
    for label in r.ticks["calls-per-pod"]:
        if label.endswith("s") and number.match(label[:-1]):
            v = float(label[:-1])
            assert abs(v * 10 - round(v * 10)) < 1e-6, f"x tick {label}"
    for label in r.ticks["failures"]:
        if number.match(label):
            assert float(label) == int(float(label)), f"failed-calls tick {label}"
    assert r.series["failures"] == ["failed"]
    assert len(r.bars["convergence"]) == len(summary["steps"])
    assert sum(sum(i.values()) for i in summary["timeline"]) == summary["ok"]
    assert sum(summary["failed_timeline"]) == summary["failed"]
    assert sum(summary["by_pod"].values()) == summary["ok"]
    assert len(summary["timeline"]) == len(summary["failed_timeline"])
    assert summary["ok"] > 0
    print(f"structure ok: {summary['ok']} calls, {len(summary['by_pod'])} pods, "
          f"{len(summary['steps'])} steps, {len(summary['events'])} events")

    # Headless Chromium parses and lays it out (no network, no script needed).
    with tempfile.TemporaryDirectory(dir=os.environ.get("TEST_TMPDIR")) as profile:
        common = [chromium, "--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-dev-shm-usage", "--no-first-run", "--user-data-dir=" + profile]
        url = "file://" + os.path.abspath(html_path)
        dom = subprocess.run(common + ["--dump-dom", url], capture_output=True, text=True,
                             timeout=180)
        assert dom.returncode == 0, dom.stderr[-2000:]
        rendered = Report()
        rendered.feed(dom.stdout)
        assert rendered.svgs == r.svgs, rendered.svgs
        assert rendered.series == r.series
        shot = os.path.join(profile, "report.png")
        png = subprocess.run(common + ["--window-size=1000,2400", "--screenshot=" + shot, url],
                             capture_output=True, text=True, timeout=180)
        assert png.returncode == 0 and os.path.exists(shot), png.stderr[-2000:]
        size = os.path.getsize(shot)
        assert size > 20000, f"screenshot of {size} bytes: blank?"
        keep = os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR")
        if keep:
            shutil.copy(shot, os.path.join(keep, "report.png"))
        print(f"chromium rendered it: DOM has the {len(rendered.svgs)} charts; screenshot {size} bytes")


if __name__ == "__main__":
    main()
