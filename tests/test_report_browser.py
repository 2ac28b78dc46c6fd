"""The report in a real headless browser (Chromium from Debian; `make test` installs it): no
horizontal overflow at 800 px or 1400 px, every image decodes, no console error or uncaught
exception, MathML present, figures numbered, screenshots written, and the PDF export's page
count. A report of two quick sections keeps this to seconds of browser time."""

import json
import re
import subprocess

import pytest

from mccc_theory.report.build import HEADLESS_FLAGS, browser_executable, write_pdf, write_report

# The probe runs first in the page: it records console errors and uncaught exceptions, then,
# after load, measures overflow and image decoding and writes the result into the DOM, which
# `--dump-dom` prints.
PROBE = """<script>
window.__errors = [];
const _err = console.error;
console.error = (...a) => { window.__errors.push(a.join(' ')); _err(...a); };
window.addEventListener('error', e => window.__errors.push(String(e.message)));
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const res = {
    width: window.innerWidth,
    scrollWidth: document.documentElement.scrollWidth,
    images: imgs.length,
    broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
    wideFigures: imgs.filter(i => i.getBoundingClientRect().right > window.innerWidth + 1).length,
    math: document.getElementsByTagName('math').length,
    errors: window.__errors,
  };
  const pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(res);
  document.body.appendChild(pre);
});
</script>"""


@pytest.fixture(scope="module")
def chromium():
    exe = browser_executable()
    if exe is None:
        pytest.fail("Chromium is not installed: `make test` installs it (make browser)")
    return exe


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    res = write_report(out, quick=True, only=["gramians", "reduction"])
    return res.path


def _probe(chromium, page, width):
    proc = subprocess.run([chromium, *HEADLESS_FLAGS, f"--window-size={width},1000",
                           "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=180)
    m = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, flags=re.S)
    assert m, f"the probe did not run: {proc.stderr[-500:]}"
    return json.loads(m.group(1).replace("&quot;", '"'))


@pytest.mark.parametrize("width", [800, 1400])
def test_layout_images_and_console(chromium, report, tmp_path, width):
    page = tmp_path / "probed.html"
    page.write_text(report.read_text(encoding="utf-8").replace("<head>", "<head>" + PROBE, 1),
                    encoding="utf-8")
    res = _probe(chromium, page, width)
    assert res["width"] == width
    assert res["scrollWidth"] <= width, "the page scrolls horizontally"
    assert res["images"] >= 4 and res["broken"] == [] and res["wideFigures"] == 0
    assert res["math"] >= 1  # maths typeset as MathML, not ASCII
    assert res["errors"] == []
    shot = tmp_path / f"report-{width}.png"
    subprocess.run([chromium, *HEADLESS_FLAGS, f"--window-size={width},1600",
                    f"--screenshot={shot}", report.as_uri()], capture_output=True, timeout=180,
                   check=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_structure(report):
    doc = report.read_text(encoding="utf-8")
    # table of contents before the summary, the summary before the first section
    assert doc.index('<nav class="toc">') < doc.index(">Summary</h2>") < doc.index('id="gramians"')
    numbers = [int(n) for n in re.findall(r"<b>Figure (\d+)\.</b>", doc)]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 4
    assert "data:image/svg+xml;base64," in doc and "data:image/png" not in doc  # vector figures
    assert "@media print" in doc


def test_pdf_page_count(report, tmp_path):
    pdf = write_pdf(report, tmp_path / "report.pdf")
    data = pdf.read_bytes()
    assert data[:5] == b"%PDF-"
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", data))
    # two quick sections: a title page with the summary, then a page or more per section with
    # its figures (each section starts a page); a page per figure at most
    assert 3 <= pages <= 12, pages
