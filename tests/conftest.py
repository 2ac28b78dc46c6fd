import os

# Triton kernels run on this CPU-only machine in the interpreter; set before triton is imported.
os.environ.setdefault("TRITON_INTERPRET", "1")

from mccc_theory.testing.profiles import load_profile  # noqa: E402

load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
