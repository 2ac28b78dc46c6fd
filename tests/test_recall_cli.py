"""`mccc recall`: codebook comparison, MQAR, listing, JSON, exit codes."""

import json

from mccc_theory.cli import main


def test_codebook_run_with_json_and_plot(tmp_path, capsys):
    out, png = tmp_path / "r.json", tmp_path / "r.png"
    rc = main(["recall", "--memory", "linear", "--memory", "least_squares", "--d", "16",
               "--N", "8", "--V", "32", "--trials", "100", "--check", "--json", str(out),
               "--plot", str(png)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "worst |predicted - measured|" in text
    rows = json.loads(out.read_text())["rows"]
    assert {r["memory"] for r in rows} == {"linear", "least_squares"}
    ls = next(r for r in rows if r["memory"] == "least_squares")
    assert ls["predicted"] == 1.0 and ls["measured"] == 1.0  # N <= d: exact
    assert png.stat().st_size > 0


def test_mqar_run(capsys):
    rc = main(["recall", "--task", "mqar", "--memory", "softmax", "--memory", "mccc/4",
               "--d", "16", "--trials", "5"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "zoology-fig2-L64" in text and "state size" in text


def test_list_and_usage_errors(capsys):
    assert main(["recall", "--list"]) == 0
    assert "zoology-fig2-L256" in capsys.readouterr().out
    assert main(["recall", "--memory", "hopfield"]) == 2
    assert "unknown ['hopfield']" in capsys.readouterr().err
    assert main(["recall", "--d", "1"]) == 2
    assert main(["recall", "--task", "mqar", "--config", "zoology-fig9"]) == 2
