"""`mccc compare`: users' measurements against the bounds, with violations flagged."""

import json
import math

import numpy as np
import pytest

from mccc_theory.attention import fit_modal, standard_families
from mccc_theory.cli import main
from mccc_theory.compare import compare_measurements, fano_recall_bound


def _csv(tmp_path, text):
    path = tmp_path / "m.csv"
    path.write_text(text)
    return path


def test_fano_bound_limits():
    # no information: the best strategy guesses, recall 1/V exactly. The Fano function has its
    # maximum there (zero slope), so a rounding of eps in it moves the root by ~sqrt(eps).
    assert abs(fano_recall_bound(0.0, 10, 64) - 1 / 64) <= 10 * np.sqrt(np.finfo(float).eps)
    # enough bits for every value: no limit
    assert fano_recall_bound(10 * math.log2(64), 10, 64) == 1.0
    # monotone in the number of bits
    vals = [fano_recall_bound(b, 32, 64) for b in np.linspace(0, 32 * 6, 20)]
    assert all(a <= b + 1e-12 for a, b in zip(vals, vals[1:], strict=False))


def test_fano_bound_is_attained_by_storing_a_fraction():
    # Storing k of N values exactly and guessing the rest gives recall (k + (N-k)/V)/N with
    # k log2 V bits: the bound must not be below this achievable strategy.
    N, V = 40, 16
    for k in range(0, N + 1, 5):
        achievable = (k + (N - k) / V) / N
        assert fano_recall_bound(k * math.log2(V), N, V) >= achievable - 1e-9


def test_approximation_rows_against_the_read_once_bound(tmp_path):
    W = standard_families()["smooth"].weights
    fit = fit_modal(W, order=4, method="bt")
    text = ("model,family,m,N,error\n"
            f"bt,smooth,4,160,{float(fit.error_2 / np.linalg.norm(W, 2))!r}\n"
            "too-good,smooth,4,160,1e-6\n")
    comp = compare_measurements(_csv(tmp_path, text))
    ok, bad = comp.rows
    assert not ok.violates and bad.violates
    # the bound is sigma_5(W)/sigma_1(W) of the same family
    sv = np.linalg.svd(W, compute_uv=False)
    assert abs(ok.bound - sv[4] / sv[0]) <= 1e-12


def test_recall_rows_flag_impossible_recall(tmp_path, capsys):
    text = ("model,state_size,d,N,V,recall,memory\nbig,4096,64,32,64,0.9,linear\n"
            "tiny,4,64,128,64,0.9,\n")
    out_png = tmp_path / "c.png"
    out_json = tmp_path / "c.json"
    code = main(["compare", "--measured", str(_csv(tmp_path, text)), "--out", str(out_png),
                 "--json", str(out_json)])
    assert code == 1  # the 64-bit state cannot hold 128 values from 64 at recall 0.9
    rows = json.loads(out_json.read_text())
    assert [r["violates"] for r in rows] == [False, True]
    assert 0 <= rows[0]["prediction"] <= 1
    assert rows[1]["prediction"] is None  # no memory named: no prediction is made up
    assert out_png.stat().st_size > 0
    out = capsys.readouterr().out
    assert "VIOLATES upper bound" in out
    assert "the row names no 'memory', so there is no prediction" in out


@pytest.mark.parametrize("text, pattern", [
    ("model,family,m,N\nx,smooth,4,160\n", r"needs columns .*missing or empty: error"),
    ("model,family,m,N,error\nx,wobbly,4,160,0.1\n", r"family: expected one of alibi"),
    ("model,family,m,N,error\nx,smooth,four,160,0.1\n", r"m: expected a number, found 'four'"),
    ("model,state_size,d,N,V,recall\nx,10,8,4,16,1.5\n", r"recall: expected a value in \[0, 1\]"),
    ("model,family,m,N,error\n", r"has no data rows"),
    ("kind,model\nweird,x\n", r"kind: expected 'approximation' or 'recall'"),
])
def test_bad_csv_is_a_usage_error(tmp_path, capsys, text, pattern):
    assert main(["compare", "--measured", str(_csv(tmp_path, text)),
                 "--out", str(tmp_path / "c.png")]) == 2
    assert __import__("re").search(pattern, capsys.readouterr().err)


def test_missing_file_is_a_usage_error(tmp_path, capsys):
    assert main(["compare", "--measured", str(tmp_path / "nope.csv")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_recall_prediction_follows_the_rows_memory(tmp_path):
    from mccc_theory.capacity import predict_recall

    text = ("model,state_size,d,N,V,recall,memory\n"
            "a,1024,32,32,64,0.5,linear\nb,256,32,32,64,0.5,mccc/4\n")
    lin, quarter = compare_measurements(_csv(tmp_path, text)).rows
    # linear attention: the capacity module's own predictor, called independently
    assert lin.prediction == predict_recall("linear", 32, 32, 64)
    # 8 modes holding 32 items must predict far less than a 32 x 32 linear-attention state: the
    # row's memory was used (the old code predicted linear attention for every row)
    assert quarter.prediction < lin.prediction - 0.2


def test_recall_row_with_unknown_memory_is_a_usage_error(tmp_path, capsys):
    text = "model,state_size,d,N,V,recall,memory\nx,1024,32,32,64,0.5,softmax\n"
    assert main(["compare", "--measured", str(_csv(tmp_path, text)),
                 "--out", str(tmp_path / "c.png")]) == 2
    assert __import__("re").search(r"memory: expected one of linear, .*found 'softmax'",
                                   capsys.readouterr().err)


def test_utf8_with_byte_order_mark_reads_like_plain_utf8(tmp_path):
    text = "model,family,m,N,error\nbt,smooth,4,160,0.7\n"
    plain = _csv(tmp_path, text)
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode())  # Excel's "CSV UTF-8"
    assert compare_measurements(bom).to_json() == compare_measurements(plain).to_json()
