"""``mccc compare``: your measured recall or approximation errors against the toolkit's bounds."""

from __future__ import annotations

import json

HELP = "plot your own measurements (CSV) against the toolkit's bounds and predictions"
EPILOG = """CSV columns (header row, case-insensitive; see mccc_theory.compare):
  approximation rows: model,family,m,N,error[,n_queries,width]
      family in alibi|smooth|sharp|lookup; error = ||W - W_hat||_2 / ||W||_2
  recall rows:        model,state_size,d,N,V,recall[,bits,memory]
      memory in linear|delta|least_squares|mccc|mccc/2|mccc/4 selects the prediction
  UTF-8 text, with or without a byte-order mark (Excel's "CSV UTF-8").
  an optional 'kind' column (approximation|recall) overrides the detection.

examples:
  mccc compare --measured runs.csv
  mccc compare --measured runs.csv --out compare.svg --json compare.json

exit status: 0 no point violates a bound, 1 some point does (listed), 2 bad input.
"""


def add_arguments(p) -> None:
    p.add_argument("--measured", required=True, metavar="FILE.csv", help="your measurements")
    p.add_argument("--out", default="build/compare.png", metavar="PLOT",
                   help="where to write the plot: .png, .svg or .pdf (default build/compare.png)")
    p.add_argument("--json", metavar="FILE", help="also write the rows with bounds as JSON")


def run(args) -> int:
    from ..compare import compare_measurements, plot_comparison
    from .paths import output_file

    out = output_file(args.out, "--out", suffixes=(".png", ".svg", ".pdf"))
    json_path = output_file(args.json, "--json") if args.json else None
    comp = compare_measurements(args.measured)
    width = max([len("model")] + [len(r.model) for r in comp.rows])
    print(f"{'model':<{width}} {'kind':<13} {'measured':>9} {'bound':>9} {'predicted':>9}  status")
    for r in comp.rows:
        pred = "-" if r.prediction is None else f"{r.prediction:9.3g}"
        status = "VIOLATES " + ("lower" if r.bound_kind == "lower" else "upper") + " bound" \
            if r.violates else "ok"
        print(f"{r.model:<{width}} {r.kind:<13} {r.measured:9.3g} {r.bound:9.3g} {pred:>9}  "
              f"{status}")
    if any(r.kind == "recall" and r.prediction is None for r in comp.rows):
        print("predicted '-' on a recall row: the row names no 'memory', so there is no "
              "prediction (see --help)")
    plot_comparison(comp).savefig(out, dpi=110, bbox_inches="tight")
    print(f"plot written to {out}; {len(comp.violations)} of {len(comp.rows)} points violate a "
          "bound")
    if json_path:
        json_path.write_text(json.dumps(comp.to_json(), indent=2))
    return 1 if comp.violations else 0
