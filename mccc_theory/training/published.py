"""Published trained-model figures (package data) to hold the toolkit's training runs against.

:func:`schlag_setting1` reads ``data/schlag2021_setting1.csv``: the best evaluation loss of
trained linear attention (elu+1, d_dot = 64) and DPFP-1/2/3 (d_dot = 128/256/384) against the
number of keys S in Schlag, Irie & Schmidhuber 2021, synthetic setting 1 (the file's header
cites the source).

References
----------
I. Schlag, K. Irie, J. Schmidhuber, "Linear Transformers Are Secretly Fast Weight Programmers",
ICML 2021, §6.1.
"""

from __future__ import annotations

import csv
from importlib import resources

__all__ = ["schlag_setting1", "SCHLAG_CITATION"]

SCHLAG_CITATION = ("I. Schlag, K. Irie, J. Schmidhuber, \"Linear Transformers Are Secretly Fast "
                   "Weight Programmers\", ICML 2021, §6.1")


def schlag_setting1() -> list[dict]:
    """Rows ``{"memory", "d_dot", "S", "loss"}`` of the published setting-1 losses."""
    text = resources.files(__package__).joinpath("data/schlag2021_setting1.csv").read_text()
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return [{"memory": r["memory"], "d_dot": int(r["d_dot"]), "S": int(r["S"]),
             "loss": float(r["loss"])} for r in rows]
