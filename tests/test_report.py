"""`mccc report --quick` end to end (the CI path of `make report`): one self-contained HTML file
with the summary first, every section, versions and machine; a PNG preview; the JSON summary;
exit codes."""

import json
import re

import pytest

import mccc_theory.report.benchmarks as bench_section
from mccc_theory.cli import main
from mccc_theory.report.build import SECTIONS
from mccc_theory.report.document import SummaryRow


def _saved_bench(path, ok):
    """A saved ``make bench`` run with one table and one check (``ok`` as given).

    The benchmarks section reads reports/bench.json, a measurement of one machine that ``make
    bench`` rewrites; the report tests must not pass or fail with whatever that file holds, so
    they point the section at a file of their own."""
    path.write_text(json.dumps({
        "measured_at": "2026-01-01 00:00 UTC", "machine": "test fixture", "quick": False,
        "tables": [{"title": "fixture table", "header": ["N", "ratio"], "rows": [[8, "1.5x"]],
                    "notes": ["a note"],
                    "checks": [{"item": "fixture ratio", "value": "1.5x", "target": "<= 2x",
                                "ok": ok}]}]}))
    return path


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bench_section, "BENCH_JSON", _saved_bench(out / "bench.json", ok=True))
        rc = main(["report", "--quick", "--out", str(out), "--json", str(out / "summary.json")])
    return rc, out, json.loads((out / "summary.json").read_text())


def test_quick_report_exits_0_and_every_item_holds(quick_report):
    rc, _, data = quick_report
    missed = [(r["section"], r["item"], r["value"], r["target"]) for r in data["summary"]
              if not r["ok"]]
    assert rc == 0 and data["ok"] and not missed, missed
    assert data["quick"] is True


def test_every_section_has_summary_rows(quick_report):
    _, _, data = quick_report
    assert {r["section"] for r in data["summary"]} == set(SECTIONS)


def test_html_is_self_contained_with_summary_first_and_versions(quick_report):
    _, out, data = quick_report
    text = (out / "mccc-report.html").read_text()
    assert text.index(">Summary</h2>") < min(text.index(f'<section id="{s}">') for s in SECTIONS)
    assert f"{len(data['summary'])} checked items, 0 missed" in text
    assert "Versions and machine" in text and "cpu cores" in text
    for mod in ("numpy", "scipy", "jax", "torch"):
        assert data["versions"][mod] != "not installed"
    # self-contained: every image is embedded, nothing is fetched
    sources = re.findall(r'(?:src|href)="([^"#][^"]*)"', text)
    assert sources and all(s.startswith("data:image/svg+xml;base64,") for s in sources)


def test_maths_and_code_are_typeset_everywhere(quick_report):
    """Every ``$...$`` of a paragraph, caption, table or summary became MathML and every
    ```...``` a ``<code>``: a ``$`` or a backtick left in the page is an unpaired delimiter."""
    _, out, _ = quick_report
    text = (out / "mccc-report.html").read_text()
    assert text.count("<math") >= 10  # every section with formulas typesets them
    rest = re.sub(r"<math.*?</math>", "", text, flags=re.S)
    for mark in ("$", "`"):
        at = rest.find(mark)
        assert at < 0, f"unpaired {mark!r} in the report: ...{rest[max(0, at - 80):at + 80]}..."


def test_preview_is_a_png(quick_report):
    _, out, _ = quick_report
    assert (out / "mccc-report-preview.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_capacity_items(quick_report):
    _, _, data = quick_report
    items = " ".join(r["item"] for r in data["summary"] if r["section"] == "capacity")
    for what in ("linear attention: worst |predicted - measured|", "delta:", "least_squares:",
                 "mccc:", "mccc/4:", "MQAR", "DPFP", "1 - m/N"):
        assert what in items


def test_missed_item_exits_1_and_is_named(tmp_path, monkeypatch, capsys):
    # A section whose check fails must turn the exit code to 1 and be named on stderr; the
    # report is still written.
    real = bench_section.build

    def failing(ctx):
        sec = real(ctx)
        sec.summary.append(SummaryRow("deliberately failing item", "2", "<= 1", False))
        return sec

    monkeypatch.setattr(bench_section, "build", failing)
    monkeypatch.setattr(bench_section, "BENCH_JSON", _saved_bench(tmp_path / "b.json", ok=True))
    rc = main(["report", "--quick", "--only", "benchmarks", "--out", str(tmp_path)])
    assert rc == 1
    assert re.search(r"MISSED: \[benchmarks\] deliberately failing item", capsys.readouterr().err)
    assert "1 missed" in (tmp_path / "mccc-report.html").read_text()


def test_saved_benchmark_miss_is_a_missed_item(tmp_path, monkeypatch, capsys):
    # A target missed in the saved full-size run is a miss of the report too (exit 1, named),
    # not hidden because it was measured earlier.
    monkeypatch.setattr(bench_section, "BENCH_JSON", _saved_bench(tmp_path / "b.json", ok=False))
    rc = main(["report", "--quick", "--only", "benchmarks", "--out", str(tmp_path)])
    assert rc == 1
    assert re.search(r"MISSED: \[benchmarks\] fixture ratio", capsys.readouterr().err)
    html = (tmp_path / "mccc-report.html").read_text()
    assert "1 missed" in html and "fixture table" in html and "test fixture" in html


@pytest.mark.parametrize("argv, match", [
    (["--only", "nonsense"], r"--only: unknown section 'nonsense'; choose from theorems"),
    (["--workers", "0"], r"workers: expected an integer >= 1, found 0"),
])
def test_usage_errors_exit_2(tmp_path, capsys, argv, match):
    assert main(["report", "--quick", "--out", str(tmp_path)] + argv) == 2
    assert re.search(match, capsys.readouterr().err)
