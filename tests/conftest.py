import os

import pytest
from threadpoolctl import threadpool_limits

# Triton kernels run on this CPU-only machine in the interpreter; set before triton is imported.
os.environ.setdefault("TRITON_INTERPRET", "1")

from mccc_theory.testing.profiles import load_profile  # noqa: E402

load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def one_blas_thread():
    """One BLAS thread: small dense factorizations only oversubscribe the shared CI cores."""
    with threadpool_limits(limits=1):
        yield
