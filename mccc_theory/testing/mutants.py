"""Realistic bugs in the core numerics that the theorems must catch (issue 12, defect 11).

Each :class:`Mutant` is a textual edit of one module of :mod:`mccc_theory` (never the kernels:
those have ``kernels/mutants.py``). :func:`applied` compiles the edited source in memory under the
module's own name (relative imports work; no file is written, importing this module does
nothing) and installs it for the duration of a ``with`` block: in ``sys.modules``, in the parent
package, and in every loaded ``mccc_theory``/``mccc_proofs`` module that imported a name from it.
Classes keep their identity (``isinstance`` checks elsewhere stay valid): only their methods
whose code the edit changed are swapped. ``tests/test_core_mutants.py`` runs every mutant
against the theorems it names (``killers``) and requires at least one to fail.

A mutant listed with ``equivalent`` set is provably harmless (the reason is the string) and is
not required to die.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import types
from dataclasses import dataclass

__all__ = ["Mutant", "CORE_MUTANTS", "mutated_source", "applied"]


@dataclass(frozen=True)
class Mutant:
    """``edits``: ``(old, new)`` pairs for ``module``; each ``old`` must occur exactly once."""

    id: str
    description: str
    module: str  # e.g. "mccc_theory.gramians"
    edits: tuple
    killers: tuple  # theorem ids (``mccc prove --list``) expected to fail on the mutant
    equivalent: str = ""
    survives: str = ""  # a known survivor (a gap in the checks, reason given): strict xfail


def _m(id, description, module, edits, killers, equivalent="", survives=""):
    return Mutant(id, description, "mccc_theory." + module, tuple(edits), tuple(killers), equivalent,
                  survives)


CORE_MUTANTS = (
    # ---- gramians.py: modal closed form, angle wrap, factors --------------------------------
    _m("gramians.angle_low_sign", "the low part of 2 pi enters the angle wrap with the wrong sign",
       "gramians", [("- (tj + _PI_HI) - 2 * _PI_LO, d)", "- (tj + _PI_HI) + 2 * _PI_LO, d)"),
                    ("- (tj - _PI_HI) + 2 * _PI_LO, d)", "- (tj - _PI_HI) - 2 * _PI_LO, d)")],
       ["gramian.matches_mpmath"]),
    _m("gramians.no_wrap", "angle differences past +-pi are not wrapped", "gramians",
       [("    hi = d > _PI_HI\n    lo = d < -_PI_HI", "    hi = d > 9.0\n    lo = d < -9.0")],
       ["gramian.matches_mpmath"]),
    _m("gramians.expm1_full_angle", "complex expm1 uses sin^2(y) for the half-angle term",
       "gramians", [("h = np.sin(0.5 * y)", "h = np.sin(y)")],
       ["gramian.closed_form_equals_series", "gramian.matches_mpmath"]),
    _m("gramians.expm1_imag_no_decay", "complex expm1 drops e^x from the imaginary part",
       "gramians", [("out.imag = (r_i * r_j) * (2.0 * h * c)", "out.imag = 2.0 * h * c")],
       ["gramian.matches_mpmath", "gramian.closed_form_equals_series"]),
    _m("gramians.expm1_real_cos_dropped", "complex expm1 drops cos y from the real part",
       "gramians", [("out.real = A * (1.0 - h2) - h2", "out.real = A - h2")],
       ["gramian.matches_mpmath", "gramian.closed_form_equals_series"]),
    _m("gramians.expm1_modulus_product_dropped", "expm1(x_i + x_j) taken as expm1(x_i) + expm1(x_j)",
       "gramians", [("A = a_i + r_i * a_j", "A = a_i + a_j")],
       ["gramian.matches_mpmath", "gramian.closed_form_equals_series"]),
    _m("gramians.near_mirror_no_conj", "recomputed near entries mirrored without the conjugate",
       "gramians", [("flat[j * m + i] = near.conj()", "flat[j * m + i] = near")],
       ["gramian.matches_mpmath", "gramian.stein_residual", "gramian.positive_semidefinite"]),
    _m("gramians.kernel_sign", "infinite-horizon kernel 1/(lambda_i conj lambda_j - 1), sign lost",
       "gramians", [("W /= _one_minus_outer(s, 1)", "W /= -_one_minus_outer(s, 1)")],
       ["gramian.stein_residual", "gramian.positive_semidefinite"]),
    _m("gramians.no_near_recompute", "entries near 1 are never recomputed from log-eigenvalues",
       "gramians", [("np.abs(out) < 0.5)", "np.abs(out) < 0.0)")],
       ["gramian.matches_mpmath"]),
    _m("gramians.horizon_angle_unscaled", "lambda^N takes the angle theta instead of N theta",
       "gramians", [("phi = theta if scale == 1 else _scaled_angles(theta, scale)", "phi = theta")],
       ["gramian.closed_form_equals_series"]),
    _m("gramians.horizon_modulus_unscaled", "lambda^N takes the modulus |lambda| instead of |lambda|^N",
       "gramians", [("x = scale * s.real", "x = s.real")],
       ["gramian.closed_form_equals_series"]),
    _m("gramians.hammarling_modal_d", "modal Hammarling factor uses 1 - |lambda| for 1 - |lambda|^2",
       "gramians", [("d = -np.expm1(2 * s.real)\n        return _hammarling",
                     "d = -np.expm1(s.real)\n        return _hammarling")],
       ["hsv.modal_equals_real_realization", "hsv.similarity_invariant"]),
    _m("gramians.hsv_no_conj", "Hankel singular values of Lo^T Lc (conjugate missing)", "gramians",
       [("sv = np.linalg.svd(Lo.conj().T @ Lc", "sv = np.linalg.svd(Lo.T @ Lc")],
       ["hsv.modal_equals_real_realization", "hsv.similarity_invariant", "gramian.matches_mpmath"]),
    _m("gramians.reduce_angle_no_low", "angle reduction ignores the low part of 2 pi", "gramians",
       [("- k[big] * (2 * _PI_LO)", "- 0 * k[big] * (2 * _PI_LO)")],
       ["gramian.matches_mpmath"],
       equivalent="for |theta| <= pi (every accepted angle but a user's unreduced one) k = round(theta / "
       "2 pi) = 0 and the branch never runs; for |theta| > pi the dropped k * 2.4e-16 is below "
       "half an ulp of theta itself (ulp(2 pi k) >= 4.4e-16 k), i.e. within the input's own "
       "rounding: no accuracy the module documents can tell the two apart"),
    # ---- systems.py --------------------------------------------------------------------------
    _m("systems.modal_powers_no_decay", "lambda^tau keeps only the rotation", "systems",
       [("out = np.exp(tau * s.real) * np.exp(1j * (tau * s.imag))",
         "out = np.exp(s.real) * np.exp(1j * (tau * s.imag))")],
       ["gramian.closed_form_equals_series", "attention.t1_exact_realization",
        "attention.streaming_equals_batch"]),
    _m("systems.modal_powers_conj", "lambda^tau rotates the wrong way", "systems",
       [("out = np.exp(tau * s.real) * np.exp(1j * (tau * s.imag))",
         "out = np.exp(tau * s.real) * np.exp(-1j * (tau * s.imag))")],
       ["gramian.closed_form_equals_series", "attention.t1_exact_realization",
        "attention.streaming_equals_batch"]),
    # ---- eigen.py: log-polar, ZOH, bilinear -----------------------------------------------------
    _m("eigen.log_polar_conj", "log_polar returns -e^nu - i theta", "eigen",
       [("return -np.exp(nu) + 1j * theta", "return -np.exp(nu) - 1j * theta")],
       ["eigen.log_polar_roundtrip_stable"]),
    _m("eigen.eigenvalues_modulus", "|lambda| = e^{-nu} instead of exp(-e^nu)", "eigen",
       [("np.exp(-np.exp(nu)) * np.exp(1j * theta)", "np.exp(-nu) * np.exp(1j * theta)")],
       ["eigen.log_polar_roundtrip_stable"]),
    _m("eigen.inverse_angle_sign", "log_polar_inverse returns -Im s", "eigen",
       [("return np.log(-s.real), s.imag", "return np.log(-s.real), -s.imag")],
       ["eigen.log_polar_roundtrip_stable"]),
    _m("eigen.bilinear_sign", "bilinear map log(1+z/2) + log(1-z/2)", "eigen",
       [("return _complex_log1p(z / 2) - _complex_log1p(-z / 2)",
         "return _complex_log1p(z / 2) + _complex_log1p(-z / 2)")],
       ["eigen.discretization_inverse"]),
    _m("eigen.bilinear_half_step", "bilinear map with z = dt lambda_c instead of dt lambda_c / 2",
       "eigen", [("return _complex_log1p(z / 2) - _complex_log1p(-z / 2)",
                  "return _complex_log1p(z) - _complex_log1p(-z)")],
       ["eigen.discretization_inverse"]),
    _m("eigen.undiscretize_tanh_arg", "inverse bilinear tanh(s) instead of tanh(s/2)", "eigen",
       [("(2 / dt) * np.tanh(s / 2)", "(2 / dt) * np.tanh(s)")],
       ["eigen.discretization_inverse"]),
    _m("eigen.undiscretize_zoh_times", "inverse ZOH s * dt instead of s / dt", "eigen",
       [("        return s / dt\n", "        return s * dt\n")],
       ["eigen.discretization_inverse"]),
    _m("eigen.log1p_branch", "complex log1p takes atan2(y, x) instead of atan2(y, 1 + x)", "eigen",
       [("np.arctan2(y, 1 + x)", "np.arctan2(y, x)")],
       ["eigen.discretization_inverse"]),
    _m("eigen.log1p_modulus", "complex log1p with |1+z|^2 = 1 + 2x + x^2 - y^2", "eigen",
       [("np.log1p(2 * x + x * x + y * y)", "np.log1p(2 * x + x * x - y * y)")],
       ["eigen.discretization_inverse"]),
    # ---- reduction/balanced.py ------------------------------------------------------------------
    _m("balanced.bound_no_factor_two", "BT bound sum_{i>r} sigma_i without the factor 2",
       "reduction.balanced", [("float(2 * np.sum(tail[first]))", "float(np.sum(tail[first]))")],
       ["reduction.bt_bound_chain"]),
    _m("balanced.bound_only_repeated", "BT bound counts only values equal to their predecessor",
       "reduction.balanced", [("first = np.r_[True, g[1:] != g[:-1]]",
                               "first = np.r_[True, g[1:] == g[:-1]]")],
       ["reduction.bt_bound_chain"]),
    _m("balanced.group_rtol_loose", "distinct values within 10% merged into one", "reduction.balanced",
       [("GROUP_RTOL = 1e-9", "GROUP_RTOL = 1e-1")],
       ["reduction.bt_bound_chain"]),
    _m("balanced.bound_tail_off_by_one", "the bound's tail starts at sigma_{r+2}",
       "reduction.balanced", [("    tail = hsv[order:]\n    if tail.size == 0:\n        return 0.0, 0.0\n"
                               "    g = _groups(hsv)[order:]",
                               "    tail = hsv[order + 1:]\n    if tail.size == 0:\n"
                               "        return 0.0, 0.0\n    g = _groups(hsv)[order + 1:]")],
       ["reduction.bt_bound_chain"]),
    # ---- reduction/read_once.py -----------------------------------------------------------------
    _m("read_once.scale_not_sqrt", "balancing scale 1/sigma instead of 1/sqrt(sigma)",
       "reduction.read_once", [("S = 1 / np.sqrt(sig[:r])", "S = 1 / sig[:r]")],
       ["reduction.read_once_attains_eckart_young", "attention.t2_read_once_projection_attains"]),
    _m("read_once.projection_no_conj", "projection P = (U S)^T Loh (conjugate missing)",
       "reduction.read_once", [("P = (U[:, :r] * S).conj().T @ Loh", "P = (U[:, :r] * S).T @ Loh")],
       ["reduction.read_once_attains_eckart_young", "attention.t2_read_once_projection_attains"]),
    _m("read_once.tail_off_by_one", "reported errors start at sigma_{r+2}", "reduction.read_once",
       [("tail = sig[r:rank]", "tail = sig[r + 1:rank]")],
       ["reduction.read_once_attains_eckart_young", "attention.t2_read_once_projection_attains"]),
    # ---- attention/bounds.py ---------------------------------------------------------------------
    _m("attention_bounds.frobenius_as_sum", "Frobenius lower bound sum sigma_i for (sum sigma_i^2)^1/2",
       "attention.bounds", [("float(np.sqrt(np.sum(tail ** 2)))", "float(np.sum(tail))")],
       ["attention.t2_read_once_lower_bound"]),
    _m("attention_bounds.spectral_off_by_one", "T2 spectral bound sigma_m instead of sigma_{m+1}",
       "attention.bounds", [("    sv = weight_singular_values(weights)\n    tail = sv[order:]",
                             "    sv = weight_singular_values(weights)\n    tail = sv[max(order - 1, 0):]")],
       ["attention.t2_read_once_lower_bound"]),
    _m("attention_bounds.streaming_no_factor_two", "T3 upper bound without the factor 2",
       "attention.bounds", [("return lower, 2.0 * distinct_tail_sum(v, order)",
                             "return lower, distinct_tail_sum(v, order)")],
       ["attention.t3_bt_bound_chain"]),
    _m("attention_bounds.distinct_first_only", "distinct tail sum keeps only the first value",
       "attention.bounds", [("if last is None or abs(x - last) > tol:", "if last is None:")],
       ["attention.t3_bt_bound_chain"]),
    _m("attention_bounds.streaming_lower_off_by_one", "T3 lower bound sigma_m instead of sigma_{m+1}",
       "attention.bounds", [("lower = float(v[order]) if order < v.size else 0.0",
                             "lower = float(v[max(order - 1, 0)]) if order < v.size else 0.0")],
       ["attention.t3_bt_bound_chain"]),
    # ---- capacity ---------------------------------------------------------------------------------
    _m("capacity.overlap_variance", "overlap variance 1/(d-1) instead of 1/d", "capacity.exact",
       [("return 0.0, 1.0 / d, 3.0 / (d * (d + 2))", "return 0.0, 1.0 / (d - 1), 3.0 / (d * (d + 2))")],
       ["capacity.overlap_moments", "capacity.conditional_predictor_accuracy"]),
    _m("capacity.overlap_fourth", "fourth moment 3/d^2 instead of 3/(d(d+2))", "capacity.exact",
       [("return 0.0, 1.0 / d, 3.0 / (d * (d + 2))", "return 0.0, 1.0 / d, 3.0 / (d * d)")],
       ["capacity.overlap_moments", "capacity.conditional_predictor_accuracy"]),
    _m("capacity.welch_denominator", "Welch bound (N - d)/(d N)", "capacity.exact",
       [("return (n - d) / (d * (n - 1))", "return (n - d) / (d * n)")],
       ["capacity.welch_bound"]),
    _m("capacity.frame_potential_no_floor", "frame potential n^2/d without the max(n, .) floor",
       "capacity.exact", [("return float(max(n, n * n / d))", "return float(n * n / d)")],
       ["capacity.frame_potential_bound"]),
    _m("capacity.rank_bound_off_by_one", "relative MSE bound 1 - (m - 1)/N", "capacity.bounds",
       [("return max(0.0, 1.0 - m / n)", "return max(0.0, 1.0 - (m - 1) / n)")],
       ["capacity.linear_memory_rank_bound"]),
    _m("capacity.counting_off_by_one", "counting bound 2^b / V^(L-1)", "capacity.bounds",
       [("log2p = bits - L * math.log2(V)", "log2p = bits - (L - 1) * math.log2(V)")],
       ["capacity.counting_bound"]),
    # ---- norms.py ---------------------------------------------------------------------------------
    _m("norms.curvature_understated", "the cells' curvature bound sum j (j-1) |G_j| eta^j / 2 taken "
       "100 times too small", "norms", [("out = norms @ w / 2 + C", "out = norms @ w / 200 + C")],
       ["norms.hinf_bracket_contains_sweep"]),
)


def mutated_source(mutant: Mutant) -> str:
    """The module's source with ``mutant``'s edits applied; each ``old`` must occur exactly once."""
    spec = importlib.util.find_spec(mutant.module)
    with open(spec.origin, encoding="utf-8") as f:
        src = f.read()
    for old, new in mutant.edits:
        count = src.count(old)
        if count != 1:
            raise LookupError(f"mutant {mutant.id}: {old!r} occurs {count} times in {mutant.module} "
                              "(expected exactly once); update the mutant with the code")
        src = src.replace(old, new)
    return src


def _load(mutant: Mutant, original: types.ModuleType) -> types.ModuleType:
    mod = types.ModuleType(mutant.module, original.__doc__)
    mod.__file__ = original.__file__
    mod.__package__ = original.__package__
    mod.__spec__ = original.__spec__
    exec(compile(mutated_source(mutant), original.__file__, "exec"), mod.__dict__)
    return mod


def _same_code(f, g) -> bool:
    f, g = getattr(f, "__func__", f), getattr(g, "__func__", g)
    if isinstance(f, property) and isinstance(g, property):
        return all(_same_code(a, b) for a, b in ((f.fget, g.fget), (f.fset, g.fset)))
    cf, cg = getattr(f, "__code__", None), getattr(g, "__code__", None)
    if cf is None or cg is None:
        return True  # not a Python function (a constant, a slot): nothing the edit can change
    return cf.co_code == cg.co_code and cf.co_consts == cg.co_consts and cf.co_names == cg.co_names


@contextlib.contextmanager
def applied(mutant: Mutant):
    """Install the mutated module everywhere the original is reachable; undo on exit."""
    original = importlib.import_module(mutant.module)
    mutated = _load(mutant, original)
    undo = []

    def setattr_saved(obj, name, value):
        undo.append((obj, name, obj.__dict__[name] if name in vars(obj) else None))
        setattr(obj, name, value)

    # classes keep their identity: changed methods go onto the original class
    for name, obj in vars(original).items():
        if isinstance(obj, type) and obj.__module__ == mutant.module:
            for attr, new in vars(mutated.__dict__[name]).items():
                old = vars(obj).get(attr)
                if old is not None and not _same_code(old, new):
                    setattr_saved(obj, attr, new)
            mutated.__dict__[name] = obj
    # functions (and the module itself) replaced wherever they were imported
    swap = {id(original): mutated}
    for name, obj in vars(original).items():
        if (callable(obj) and not isinstance(obj, type)
                and getattr(obj, "__module__", None) == mutant.module and name in vars(mutated)):
            swap[id(obj)] = mutated.__dict__[name]
    saved_module = sys.modules[mutant.module]
    sys.modules[mutant.module] = mutated
    try:
        for modname, mod in list(sys.modules.items()):
            if mod is None or not modname.startswith(("mccc_theory", "mccc_proofs")):
                continue
            if mod is mutated:
                continue
            for attr, val in list(vars(mod).items()):
                if id(val) in swap and swap[id(val)] is not val:
                    setattr_saved(mod, attr, swap[id(val)])
        yield mutated
    finally:
        sys.modules[mutant.module] = saved_module
        for obj, name, val in reversed(undo):
            if val is None:
                delattr(obj, name)
            else:
                setattr(obj, name, val)
