"""Users' own measurements against the toolkit's bounds and predictions (``mccc compare``).

The CSV has a header row; column names are case-insensitive. Two kinds of rows, told apart by
the ``kind`` column (or, without it, by which measurement column is present):

``kind = approximation`` (column ``error``)
    ``model``, ``family`` (``alibi``, ``smooth``, ``sharp`` or ``lookup``), ``m`` (modes or
    state dimension), ``N`` (source length), ``error`` (measured relative spectral error
    ``||W - W_hat||_2 / ||W||_2`` of the realised attention weights); optional ``n_queries``
    and ``width`` (default 12, the report's families). Checked against the read-once lower bound
    ``sigma_{m+1}(W) / sigma_1(W)`` (THEORY §4 T2): no m-dimensional memory can do better, so a
    smaller measured error is flagged as a violation (a bug in the measurement or a different
    definition of the weights).

``kind = recall`` (column ``recall``)
    ``model``, ``state_size`` (number of state scalars), ``d`` (key dimension), ``N`` (stored
    pairs), ``V`` (candidate values), ``recall`` (measured fraction in [0, 1]); optional
    ``bits`` (bits per state scalar, default 16) and ``memory``: the memory the row measured,
    one of ``linear``, ``delta``, ``least_squares``, ``mccc``, ``mccc/2``, ``mccc/4`` (the
    memories of ``mccc recall`` with an analytic predictor); with it the row is compared with
    that memory's conditional-Gaussian prediction for random keys in dimension ``d``
    (:func:`mccc_theory.recall.grid.predicted`), without it no prediction is shown. Every
    recall row is checked against the information bound
    :func:`fano_recall_bound`: a state of ``S = state_size * bits`` bits holding N independent
    uniform values from V cannot recall a fraction above the largest ``f`` with
    ``h(1 - f) + (1 - f) log2(V - 1) >= log2 V - S / N`` (Fano's inequality summed over the items),
    so measured recall above it is flagged.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import EmptyInputError, MethodError, PathError, ShapeError

__all__ = ["ComparisonRow", "Comparison", "compare_measurements", "read_measurements",
           "plot_comparison", "fano_recall_bound"]

_FAMILIES = ("alibi", "smooth", "sharp", "lookup")
_REQUIRED = {
    "approximation": ("model", "family", "m", "n", "error"),
    "recall": ("model", "state_size", "d", "n", "v", "recall"),
}


@dataclass
class ComparisonRow:
    """One measured point with the toolkit's bound (and prediction, for recall)."""

    kind: str
    model: str
    params: dict
    measured: float
    bound: float
    bound_kind: str  # "lower" (measured must be >= bound) or "upper"
    prediction: float | None = None

    @property
    def violates(self) -> bool:
        # a relative 1e-9 margin: the bound itself is computed to about n eps
        if self.bound_kind == "lower":
            return self.measured < self.bound * (1 - 1e-9)
        return self.measured > self.bound * (1 + 1e-9) + 1e-12


@dataclass
class Comparison:
    rows: list[ComparisonRow] = field(default_factory=list)

    @property
    def violations(self) -> list[ComparisonRow]:
        return [r for r in self.rows if r.violates]

    def to_json(self) -> list[dict]:
        return [{"kind": r.kind, "model": r.model, **r.params, "measured": r.measured,
                 "bound": r.bound, "bound_kind": r.bound_kind, "prediction": r.prediction,
                 "violates": r.violates} for r in self.rows]


def _csv_text(path: Path) -> str:
    """The file's text: UTF-8 with or without a byte-order mark (Excel's "CSV UTF-8")."""
    if not path.is_file():
        what = "a folder" if path.is_dir() else "no such file"
        raise PathError(f"--measured: expected a CSV file, found {what} {str(path)!r}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PathError(f"--measured: cannot read {str(path)!r} ({exc.strerror or exc})") from None
    # UTF-32 LE's mark begins with UTF-16 LE's: both are refused the same way
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or data[:4] == b"\x00\x00\xfe\xff":
        raise PathError(f"--measured: {str(path)!r} is UTF-16/32 text; save it as UTF-8 (in Excel: "
                        "'CSV UTF-8')")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PathError(f"--measured: {str(path)!r} is not UTF-8 text (byte {exc.start} is "
                        f"0x{data[exc.start]:02x}); pass a CSV file saved as UTF-8") from None
    if "\x00" in text:
        raise PathError(f"--measured: {str(path)!r} contains NUL bytes: a binary file, not a CSV")
    return text


def read_measurements(path: str | Path) -> list[dict]:
    """Rows of the CSV as dicts with lower-case keys; validates the columns per kind.

    The file is UTF-8 text, with or without a byte-order mark.

    Raises
    ------
    PathError
        Not a readable file, or not UTF-8 text (UTF-16, binary).
    ShapeError, MethodError, EmptyInputError
        Missing columns, an unknown ``kind``, no data rows.
    """
    path = Path(path)
    reader = csv.DictReader(io.StringIO(_csv_text(path), newline=""))
    rows = [{k.strip().lower(): (v or "").strip() for k, v in r.items() if k} for r in reader]
    if not rows:
        raise EmptyInputError(f"--measured: {path} has no data rows (a header row and at least "
                              "one measurement are needed)")
    for i, row in enumerate(rows, start=2):
        kind = row.get("kind") or ("recall" if "recall" in row else "approximation")
        if kind not in _REQUIRED:
            raise MethodError(f"{path}:{i}: kind: expected 'approximation' or 'recall', "
                              f"found {kind!r}")
        missing = [c for c in _REQUIRED[kind] if not row.get(c)]
        if missing:
            raise ShapeError(f"{path}:{i}: a {kind} row needs columns {', '.join(_REQUIRED[kind])};"
                             f" missing or empty: {', '.join(missing)}")
        row["kind"] = kind
        row["_line"] = i
    return rows


def _number(row, key, path, *, integer=False, lo=None, hi=None):
    try:
        value = float(row[key])
    except ValueError:
        raise ShapeError(f"{path}:{row['_line']}: {key}: expected a number, found "
                         f"{row[key]!r}") from None
    if not math.isfinite(value) or (integer and value != int(value)):
        raise ShapeError(f"{path}:{row['_line']}: {key}: expected a finite "
                         f"{'integer' if integer else 'number'}, found {row[key]!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ShapeError(f"{path}:{row['_line']}: {key}: expected a value in "
                         f"[{lo}, {hi if hi is not None else 'inf'}], found {value:g}")
    return int(value) if integer else value


def _approximation(row, path, cache):
    from .attention import standard_families, weight_singular_values

    family = row["family"].lower()
    if family not in _FAMILIES:
        raise MethodError(f"{path}:{row['_line']}: family: expected one of "
                          f"{', '.join(_FAMILIES)}, found {row['family']!r}")
    m = _number(row, "m", path, integer=True, lo=0)
    N = _number(row, "n", path, integer=True, lo=1)
    Q = _number(row, "n_queries", path, integer=True, lo=1) if row.get("n_queries") else 12
    width = _number(row, "width", path, integer=True, lo=1) if row.get("width") else 12
    error = _number(row, "error", path, lo=0)
    key = (family, N, Q, width)
    if key not in cache:
        W = standard_families(n=N, n_queries=Q, width=width)[family].weights
        cache[key] = weight_singular_values(W)
    sv = cache[key]
    bound = float(sv[m] / sv[0]) if m < len(sv) else 0.0
    return ComparisonRow("approximation", row["model"],
                         {"family": family, "m": m, "N": N, "n_queries": Q, "width": width},
                         error, bound, "lower")


def fano_recall_bound(state_bits: float, n_items: int, n_values: int) -> float:
    """Largest mean recall of ``n_items`` uniform values from ``n_values`` with ``state_bits`` bits.

    Fano: ``H(X_i | state) <= h(e_i) + e_i log2(V - 1)`` for the error rate ``e_i`` of item i;
    summing, by concavity in the mean error ``e``, ``N log2 V - S <= N (h(e) + e log2(V - 1))``.
    The right side decreases in the recall ``f = 1 - e`` on ``[1/V, 1]``; the bound is the ``f``
    where equality holds (found by bisection to 1e-12), or 1 when ``S >= N log2 V``.
    """
    V, N, S = n_values, n_items, float(state_bits)
    need = math.log2(V) - S / N
    if need <= 0:
        return 1.0

    def slack(f):
        e = 1.0 - f
        h = 0.0 if e in (0.0, 1.0) else -(e * math.log2(e) + (1 - e) * math.log2(1 - e))
        return h + e * math.log2(V - 1) - need

    lo, hi = 1.0 / V, 1.0  # slack(1/V) = log2 V - need >= 0 and slack(1) = -need < 0
    while hi - lo > 1e-12:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if slack(mid) >= 0 else (lo, mid)
    return lo


def _recall(row, path):
    from .recall.grid import ANALYTIC, make_memory, predicted
    from .recall.tasks import CodebookTask

    S = _number(row, "state_size", path, lo=1)
    d = _number(row, "d", path, integer=True, lo=1)
    N = _number(row, "n", path, integer=True, lo=1)
    V = _number(row, "v", path, integer=True, lo=2)
    recall = _number(row, "recall", path, lo=0, hi=1)
    bits = _number(row, "bits", path, lo=1) if row.get("bits") else 16.0
    bound = fano_recall_bound(S * bits, N, V)
    memory = row.get("memory", "").lower() or None
    prediction = None
    if memory is not None:
        if memory not in ANALYTIC:
            raise MethodError(f"{path}:{row['_line']}: memory: expected one of "
                              f"{', '.join(ANALYTIC)} (the memories with an analytic prediction), "
                              f"found {row['memory']!r}; leave it empty for no prediction")
        task = CodebookTask(d, N, V)
        prediction = float(predicted(memory, make_memory(memory, d, N), task,
                                     method="conditional")[0])
    return ComparisonRow("recall", row["model"],
                         {"state_size": S, "d": d, "N": N, "V": V, "bits": bits,
                          "memory": memory}, recall, bound, "upper", prediction)


def compare_measurements(path: str | Path) -> Comparison:
    """Read ``path`` (CSV, see the module docstring) and attach bounds and predictions."""
    rows = read_measurements(path)
    cache: dict = {}
    out = Comparison()
    for row in rows:
        if row["kind"] == "approximation":
            out.rows.append(_approximation(row, path, cache))
        else:
            out.rows.append(_recall(row, path))
    return out


def plot_comparison(comp: Comparison):
    """One figure: approximation errors against the T2 bound, recall against prediction/bound."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    approx = [r for r in comp.rows if r.kind == "approximation"]
    recall = [r for r in comp.rows if r.kind == "recall"]
    panels = [p for p in (approx, recall) if p]
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.5), squeeze=False)
    for ax, rows in zip(axes[0], panels, strict=True):
        if rows is approx:
            for fam in sorted({r.params["family"] for r in rows}):
                sel = sorted((r for r in rows if r.params["family"] == fam),
                             key=lambda r: r.params["m"])
                m = [r.params["m"] for r in sel]
                # a zero bound (m >= rank W: exact fits exist) has no place on a log axis
                pos = [r for r in sel if r.bound > 0]
                line, = ax.semilogy([r.params["m"] for r in pos], [r.bound for r in pos], "--",
                                    label=f"{fam}: lower bound sigma_(m+1)/sigma_1 (> 0)")
                ax.semilogy(m, [max(r.measured, 1e-17) for r in sel], "o",
                            color=line.get_color(), label=f"{fam}: measured")
            bad = [r for r in rows if r.violates]
            ax.semilogy([r.params["m"] for r in bad], [max(r.measured, 1e-17) for r in bad], "x",
                        color="red", ms=12, label="violates the bound")
            ax.set_xlabel("modes m")
            ax.set_ylabel("relative error")
            ax.set_title("Approximation error against the read-once lower bound")
        else:
            x = np.arange(len(rows))
            ax.plot(x, [r.measured for r in rows], "o", label="measured recall")
            pred = [i for i, r in enumerate(rows) if r.prediction is not None]
            ax.plot(pred, [rows[i].prediction for i in pred], "s", mfc="none",
                    label="predicted for the row's memory")
            ax.plot(x, [r.bound for r in rows], "_", ms=20, color="k", label="Fano upper bound")
            bad = [i for i, r in enumerate(rows) if r.violates]
            ax.plot(bad, [rows[i].measured for i in bad], "x", color="red", ms=12,
                    label="violates the bound")
            ax.set_xticks(x, [f"{r.model}\nd={r.params['d']} N={r.params['N']}" for r in rows],
                          fontsize=7, rotation=35, ha="right")
            ax.set_ylim(-0.02, 1.05)
            ax.set_title("Recall against prediction and information bound")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
