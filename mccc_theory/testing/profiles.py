"""Hypothesis settings profiles shared by ``make test``, ``mccc prove`` and users' own suites.

* ``ci``: derandomized (the same examples every run), no deadline (kernels and the Triton
  interpreter have unpredictable first-call costs), a bounded number of examples.
* ``thorough``: random, many examples, for long runs (``mccc prove --profile thorough``).

Select one with ``HYPOTHESIS_PROFILE=thorough pytest`` or ``mccc prove --profile``.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

__all__ = ["PROFILES", "register_profiles", "load_profile"]

PROFILES = {
    "ci": dict(derandomize=True, deadline=None, max_examples=25, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]),
    "thorough": dict(derandomize=False, deadline=None, max_examples=400, print_blob=True,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]),
}


def register_profiles() -> None:
    """Register every profile in :data:`PROFILES` with Hypothesis (idempotent)."""
    for name, kwargs in PROFILES.items():
        settings.register_profile(name, **kwargs)


def load_profile(name: str) -> None:
    """Register the profiles and make ``name`` the active one."""
    from ..validation import check_choice

    check_choice(name, "profile", PROFILES)
    register_profiles()
    settings.load_profile(name)
