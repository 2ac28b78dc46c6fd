"""docs/theory.md is the project's own mathematical contract: it names every registered theorem
family (and no theorem that does not exist), and no tracked file points outside the repository."""

import re
import subprocess
from pathlib import Path

from mccc_proofs import all_theorems

ROOT = Path(__file__).resolve().parents[1]
THEORY = (ROOT / "docs" / "theory.md").read_text()
# theorem ids as the document writes them: `family.name` in backticks
LISTED = set(re.findall(r"`([a-z0-9]+\.[a-z0-9_]+)`", THEORY))


def test_every_theorem_family_is_documented():
    families = {t.split(".")[0] for t in all_theorems()}
    documented = {t.split(".")[0] for t in LISTED if t.split(".")[0] in families}
    assert families == documented, f"docs/theory.md does not list {families - documented}"


def test_every_documented_theorem_exists():
    registered = set(all_theorems())
    families = {t.split(".")[0] for t in registered}
    phantom = {t for t in LISTED if t.split(".")[0] in families} - registered
    assert not phantom, f"docs/theory.md lists ids that are not registered: {phantom}"


def test_documented_theorems_name_the_file_that_checks_them():
    # each table row: | `id` | statement | `proofs/<file>.py` |; the id must be registered there
    rows = re.findall(r"^\| `([\w.]+)` \|.*\| `(proofs/\w+\.py)` \|$", THEORY, flags=re.M)
    assert rows
    for tid, path in rows:
        assert f'id="{tid}"' in (ROOT / path).read_text(), f"{tid} is not registered in {path}"


def test_no_tracked_file_names_a_path_outside_the_repository():
    # the patterns are assembled so that this file does not match itself
    outside = re.compile("|".join([re.escape("/wo" + "rk/"), re.escape("../sha" + "red"),
                                   "sha" + "red folder", re.escape("THEORY" + ".md")]))
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    hits = []
    for name in files:
        path = ROOT / name
        if not path.is_file() or path.suffix in (".png", ".pdf"):
            continue
        for no, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if outside.search(line):
                hits.append(f"{name}:{no}: {line.strip()[:100]}")
    assert not hits, "\n".join(hits)
