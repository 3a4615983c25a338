#!/usr/bin/env python3
"""The reproduce protocol as a user runs it, then its report checked (ctest Reproduce.QuickDemo, label slow).

usage: reproduce_quick_check.py LAYERSCOPE_CLI SOURCE_DIR [OUT_DIR]
       reproduce_quick_check.py --report-only REPORT_DIR

Runs `layerscope-cli reproduce --quick` on the bundled demo model with the fixture benchmark directory
(tests/data/fixtures/benchmarks, GPQA missing) into a fresh folder, then checks report/: report.html parses
(python's html.parser), every tag opened is closed, no src/href names a file or URL (only data: URIs), no script or
link element, every section is present, the demo model is called a different model; report.pdf starts with %PDF-
and its page tree's /Count equals its page objects; every data file the report names exists. Exit status 0 when
all hold; otherwise each failure is printed and the status is 1.
"""
import html.parser
import json
import os
import re
import subprocess
import sys
import tempfile
import time

SECTIONS = ["summary", "paper-vs-run", "profiles", "heatmap", "scatter", "top-k", "ablation", "humaneval",
            "provenance", "data"]
VOID = {"meta", "br", "img", "hr", "input", "link"}


class ReportParser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.sections, self.refs, self.tags, self.stack, self.errors, self.svgs = [], [], set(), [], [], 0

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if tag == "section":
            self.sections.append(dict(attrs).get("id"))
        if tag == "svg":
            self.svgs += 1
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "data", "action", "poster"):
                self.refs.append(value or "")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):  # <x/>: opened and closed
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else 'nothing'}> at line {self.getpos()[0]}")
            return
        self.stack.pop()


def check_report(report_dir):
    failures = []
    html_file = os.path.join(report_dir, "report.html")
    pdf_file = os.path.join(report_dir, "report.pdf")
    for f in (html_file, pdf_file):
        if not os.path.isfile(f):
            return [f"{f} missing"]
    text = open(html_file, encoding="utf-8").read()
    p = ReportParser()
    p.feed(text)
    p.close()
    failures += p.errors[:5]
    if p.stack:
        failures.append(f"unclosed elements at the end: {p.stack[:5]}")
    if p.sections != SECTIONS:
        failures.append(f"sections {p.sections}, expected {SECTIONS}")
    bad = [r[:60] for r in p.refs if not r.startswith("data:") and not r.startswith("#")]
    if bad:
        failures.append(f"external references: {bad[:5]}")
    for tag in ("script", "link", "iframe", "object", "embed"):
        if tag in p.tags:
            failures.append(f"<{tag}> element in a self-contained report")
    if p.svgs < 4:
        failures.append(f"{p.svgs} inline SVG figures, expected 4")
    if "Different model" not in text or "not comparable: different model" not in text:
        failures.append("the demo model is not called a different model")
    for paper in ("-0.735", "1.66e-06", "23-31", "0-9", "67.1%"):
        if paper not in text:
            failures.append(f"paper value {paper} missing")
    for name in re.findall(r"<li><code>([^<]+)</code></li>", text):
        if not os.path.isfile(os.path.join(report_dir, name)) or os.path.getsize(os.path.join(report_dir, name)) == 0:
            failures.append(f"data file {name} missing or empty")
    pdf = open(pdf_file, "rb").read()
    if not pdf.startswith(b"%PDF-"):
        failures.append("report.pdf does not start with %PDF-")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    counts = [int(c) for c in re.findall(rb"/Count\s+(\d+)", pdf)]
    if pages < 2 or counts != [pages]:
        failures.append(f"report.pdf: {pages} page objects, page tree /Count {counts}")
    print(f"report: {len(text)} bytes HTML, {len(p.sections)} sections, {p.svgs} SVG figures; PDF {pages} pages")
    return failures


def main(argv):
    if len(argv) == 3 and argv[1] == "--report-only":
        failures = check_report(argv[2])
    elif len(argv) in (3, 4):
        cli, src = argv[1], argv[2]
        out = argv[3] if len(argv) == 4 else os.path.join(tempfile.mkdtemp(prefix="layerscope-reproduce-"), "run")
        cmd = [cli, "reproduce", "--model", os.path.join(src, "resources/models/demo"),
               "--benchmarks", os.path.join(src, "tests/data/fixtures/benchmarks"), "--train", "demo:64", "--quick",
               "--out", out]
        env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
        t0 = time.monotonic()
        run = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        print(f"{' '.join(cmd)}: exit {run.returncode} after {time.monotonic() - t0:.0f} s")
        if run.returncode != 0:
            print(run.stdout[-4000:])
            return 1
        summary = json.load(open(os.path.join(out, "summary.json")))
        failures = []
        if summary.get("missing_benchmarks") != ["gpqa"]:
            failures.append(f"missing benchmarks {summary.get('missing_benchmarks')}, expected ['gpqa']")
        if len(summary.get("humaneval", {})) != 6:
            failures.append(f"HumanEval arms {list(summary.get('humaneval', {}))}, expected base, C1-C4, C5-s0")
        failures += check_report(os.path.join(out, "report"))
        if not failures and len(argv) == 3:
            subprocess.run(["rm", "-rf", os.path.dirname(out)])
    else:
        print(__doc__)
        return 2
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
