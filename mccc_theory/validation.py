"""Argument validation shared by every public function.

Each helper takes the argument's public name so that messages say which argument was wrong,
what was expected and what was found.
"""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Integral

import numpy as np

from .errors import (
    DTypeError,
    EmptyInputError,
    MethodError,
    NonFiniteError,
    OrderError,
    ShapeError,
    UnstableError,
)

__all__ = [
    "as_array",
    "check_finite",
    "check_choice",
    "check_positive_int",
    "check_horizon",
    "check_log_eigenvalues",
]


def as_array(x, name: str, *, ndim: int | None = None, complex_ok: bool = True,
             allow_empty: bool = False, finite: bool = True) -> np.ndarray:
    """Return ``x`` as a float64 or complex128 array after checking kind, rank and finiteness."""
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise ShapeError(f"{name}: expected an array-like, could not convert ({exc})") from exc
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise DTypeError(f"{name}: expected a numeric array, found dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        if not complex_ok:
            raise DTypeError(
                f"{name}: expected a real array, found complex dtype {arr.dtype}; "
                "pass the real and imaginary parts separately")
        arr = arr.astype(np.complex128, copy=False)
    else:
        arr = arr.astype(np.float64, copy=False)
    if ndim is not None and arr.ndim != ndim:
        raise ShapeError(f"{name}: expected a {ndim}-d array, found shape {arr.shape}")
    if not allow_empty and arr.size == 0:
        raise EmptyInputError(f"{name}: expected a non-empty array, found shape {arr.shape}")
    if finite:
        check_finite(arr, name)
    return arr


def check_finite(arr: np.ndarray, name: str) -> None:
    """Raise :class:`NonFiniteError` naming the first NaN/inf entry of ``arr``."""
    bad = ~np.isfinite(arr)
    if np.any(bad):
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise NonFiniteError(
            f"{name}: expected finite values, found {arr[idx]} at index {idx} "
            f"({int(bad.sum())} non-finite entries)")


def check_choice(value, name: str, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``; else raise :class:`MethodError`."""
    choices = tuple(choices)
    if value not in choices:
        raise MethodError(f"{name}: expected one of {', '.join(map(repr, choices))}, found {value!r}")
    return value


def check_positive_int(value, name: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    """Return ``value`` as int if it is an integer in ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, Integral | np.integer):
        raise DTypeError(f"{name}: expected an integer, found {type(value).__name__} {value!r}")
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" and <= {maximum}"
        raise OrderError(f"{name}: expected an integer >= {minimum}{upper}, found {value}")
    return value


def check_horizon(horizon, name: str = "horizon") -> int | None:
    """``None`` (infinite horizon) or a positive integer number of steps."""
    if horizon is None:
        return None
    return check_positive_int(horizon, name)


def check_log_eigenvalues(s, name: str = "s") -> np.ndarray:
    """Validate log-eigenvalues ``s = log(lambda)``: 1-d, complex128, Re s < 0, no NaN.

    ``Re s = -inf`` (lambda = 0) is allowed; ``+inf`` and NaN are not.
    """
    arr = as_array(s, name, ndim=1, finite=False).astype(np.complex128)
    if np.any(np.isnan(arr.real) | np.isnan(arr.imag) | np.isinf(arr.imag)
              | (np.isinf(arr.real) & (arr.real > 0))):
        bad = int(np.argmax(np.isnan(arr.real) | np.isnan(arr.imag) | np.isinf(arr.imag)
                            | (np.isinf(arr.real) & (arr.real > 0))))
        raise NonFiniteError(f"{name}: expected finite log-eigenvalues (Re s = -inf allowed for "
                             f"lambda = 0), found {arr[bad]} at index {bad}")
    unstable = arr.real >= 0
    if np.any(unstable):
        i = int(np.argmax(unstable))
        raise UnstableError(
            f"{name}: mode {i} has |lambda| = exp(Re s) = {np.exp(arr[i].real):.17g} >= 1 "
            f"(Re s = {arr[i].real:.3g}); MCCC needs |lambda| < 1 for every mode. "
            "Use the log-polar parametrization (ModalSystem.from_params) to keep modes stable")
    return arr
