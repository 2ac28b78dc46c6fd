"""Deliberate bugs that certification must catch, every one (the mutant test runs them all).

Each mutant is a textual edit of one backend module: :func:`load_mutant` applies it to the
module's source, loads the result under the module's own name (so relative imports and the
Triton JIT work) and returns it, ready for :func:`mccc_kernels.certify.swap_modules`. The
production sources are never modified.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Mutant", "MUTANTS", "load_mutant"]

PKG = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Mutant:
    """``edits``: (old, new, occurrence) replacements in ``module`` (relative to the package)."""

    id: str
    description: str
    kernel: str
    backend: str  # the backend whose certification must fail
    module: str  # e.g. "modal_scan.triton"
    edits: tuple

    @property
    def fullname(self) -> str:
        return f"mccc_kernels.{self.module}"


MUTANTS = (
    Mutant("scan.triton.adjoint_no_conj", "sequential reverse scan multiplies by lambda, not "
           "conj(lambda)", "modal_scan", "triton", "modal_scan.triton",
           (("_mul_add(lr, -li, a_re, a_im, gr, gi)", "_mul_add(lr, li, a_re, a_im, gr, gi)", 0),)),
    Mutant("scan.triton.chunk_adjoint_no_conj", "chunk-parallel reverse scan uses powers of "
           "lambda", "modal_scan", "triton", "modal_scan.triton",
           (("    if CONJ:\n        th = -th", "    if CONJ:\n        th = th", 0),)),
    Mutant("scan.triton.off_by_one_time_mask", "chunk-parallel tiles drop the last time step",
           "modal_scan", "triton", "modal_scan.triton",
           (("tmask = (tau < L)[:, None] & mask[None, :]",
             "tmask = (tau < L - 1)[:, None] & mask[None, :]", 0),)),
    Mutant("scan.triton.off_by_one_mode_mask", "sequential forward skips the last mode",
           "modal_scan", "triton", "modal_scan.triton",
           (("    mask = offs < M\n    rate, th, lr, li = _lam(nu_ptr, th_ptr, offs, mask)\n"
             "    h_re, h_im = _initial_state(",
             "    mask = offs < M - 1\n    rate, th, lr, li = _lam(nu_ptr, th_ptr, offs, mask)\n"
             "    h_re, h_im = _initial_state(", 0),)),
    Mutant("scan.triton.wrong_chunk_carry", "a chunk's summary is taken at its K-th row even "
           "when the last chunk is partial", "modal_scan", "triton", "modal_scan.triton",
           (("last = tl.minimum(L - 1 - c * K, K - 1)", "last = K - 1", 0),)),
    Mutant("scan.triton.carry_full_steps", "the carry across chunks decays by lambda^K also "
           "after a partial last chunk", "modal_scan", "triton", "modal_scan.triton",
           (("steps = tl.minimum(L - c * K, K)", "steps = K + 0 * L", 0),)),
    Mutant("scan.triton.final_cotangent_late", "final-state cotangent injected one step late",
           "modal_scan", "triton", "modal_scan.triton",
           (("gr = tl.where(i == 0, gT_re, 0.0)", "gr = tl.where(i == 1, gT_re, 0.0)", 0),
            ("gi = tl.where(i == 0, gT_im, 0.0)", "gi = tl.where(i == 1, gT_im, 0.0)", 0))),
    Mutant("scan.triton.dlam_uses_h_t", "chunk-parallel dlambda pairs G_t with h_t instead of "
           "h_{t-1}",
           "modal_scan", "triton", "modal_scan.triton",
           (("row = jj - 1  # dlambda", "row = jj + 0  # dlambda", 0),)),
    Mutant("scan.torch.adjoint_no_conj", "pure-torch reverse scan with lambda, not conj(lambda)",
           "modal_scan", "torch", "modal_scan.torch",
           (("G_re, G_im = TorchCore.forward(g_re.flip(1), g_im.flip(1), nu, -theta,",
             "G_re, G_im = TorchCore.forward(g_re.flip(1), g_im.flip(1), nu, theta,", 0),
            ("_powers(k, torch.exp(nu), -theta)", "_powers(k, torch.exp(nu), theta)", 0))),
    Mutant("scan.torch.wrong_chunk_carry", "chunk carry taken from the second-to-last row",
           "modal_scan", "torch", "modal_scan.torch",
           (("loc_re[:, c, K - 1] + W_re[K - 1] * c_re", "loc_re[:, c, K - 2] + W_re[K - 1] * c_re",
             0),)),
    Mutant("scan.torch.dropped_h0_grad", "no gradient for the initial state",
           "modal_scan", "torch", "modal_scan.torch",
           (("dh0_re = (lr * G_re[:, 0] + li * G_im[:, 0])", "dh0_re = (0 * G_re[:, 0])", 0),
            ("dh0_im = (lr * G_im[:, 0] - li * G_re[:, 0])", "dh0_im = (0 * G_im[:, 0])", 0))),
    Mutant("scan.torch.dtheta_sign", "dtheta with the wrong sign", "modal_scan", "torch",
           "modal_scan.torch",
           (("dtheta = (dl_im * lr - dl_re * li)", "dtheta = (dl_re * li - dl_im * lr)", 0),)),
    Mutant("scan.torch.dlam_uses_h_next", "dlambda pairs G_t with h_{t+1}", "modal_scan", "torch",
           "modal_scan.torch",
           (("h0_re[:, None], H_re[:, :-1]], 1)", "h0_re[:, None], H_re[:, 1:]], 1)", 0),
            ("h0_im[:, None], H_im[:, :-1]], 1)", "h0_im[:, None], H_im[:, 1:]], 1)", 0))),
    Mutant("scan.jax.adjoint_no_conj", "JAX reverse scan with lambda, not conj(lambda)",
           "modal_scan", "jax", "modal_scan.jax",
           (("return _forward(g[:, ::-1], nu, -theta, zero", "return _forward(g[:, ::-1], nu, "
             "theta, zero", 0),
            ("_powers(jnp.arange(L - 1, -1, -1)[:, None], rate, -theta)",
             "_powers(jnp.arange(L - 1, -1, -1)[:, None], rate, theta)", 0))),
    Mutant("scan.jax.wrong_chunk_carry", "JAX chunk carry from the wrong row", "modal_scan", "jax",
           "modal_scan.jax", (("return H[K - 1], H", "return H[K - 2], H", 0),)),
    Mutant("scan.jax.dropped_h0_grad", "JAX drops the initial state's gradient", "modal_scan",
           "jax", "modal_scan.jax",
           (("dh0 = jnp.conj(lam) * G[:, 0]", "dh0 = jnp.zeros_like(G[:, 0])", 0),)),
    Mutant("scan.jax.dnu_missing_rate", "dnu without the factor exp(nu)", "modal_scan", "jax",
           "modal_scan.jax", (("dnu = jnp.where(r == 0, 0.0, -rate * proj)",
                               "dnu = jnp.where(r == 0, 0.0, -proj)", 0),)),
    Mutant("scan.numba.adjoint_no_conj", "compiled reverse scan multiplies by lambda, not "
           "conj(lambda)", "modal_scan", "numba", "modal_scan.numba",
           (("_mul_add(lr[i], -li[i], a_re[b, i]", "_mul_add(lr[i], li[i], a_re[b, i]", 0),)),
    Mutant("scan.numba.dlam_ignores_h0", "compiled dlambda recomputes the states from zero, "
           "not from the initial state", "modal_scan", "numba", "modal_scan.numba",
           (("h_re, h_im = _state(h0_re, h0_im, batch, m, np.float64)",
             "h_re, h_im = _state(None, None, batch, m, np.float64)", 0),)),
    Mutant("readout.triton.softmax_bwd_no_shift", "softmax backward without the sum term",
           "modal_readout", "triton", "modal_readout.triton",
           (("dl = a * (ga - dot[:, None])", "dl = a * ga", 0),)),
    Mutant("readout.triton.masked_modes_in_softmax", "padding modes counted in the softmax "
           "normaliser (mode count not a multiple of the block)", "modal_readout", "triton",
           "modal_readout.triton",
           (("                     other=float(\"-inf\")).to(mx.dtype)\n        s += ",
             "                     other=0.0).to(mx.dtype)\n        s += ", 0),)),
    Mutant("readout.torch.linear_dC_im_sign", "gradient of Im C with the wrong sign",
           "modal_readout", "torch", "modal_readout.torch",
           (("dCi = -core.mix_backward_w(Ci, Hi", "dCi = core.mix_backward_w(Ci, Hi", 0),)),
    Mutant("readout.jax.gain_grad_sign", "gradient of Im g with the wrong sign", "modal_readout",
           "jax", "modal_readout.jax",
           (('jnp.einsum("bmv,bmv->m", gZ, H_re), -jnp.einsum("bmv,bmv->m", gZ, H_im))',
             'jnp.einsum("bmv,bmv->m", gZ, H_re), jnp.einsum("bmv,bmv->m", gZ, H_im))', 0),)),
    Mutant("encode.torch.power_off_by_one", "exponents N - t + 1: every token decayed once too "
           "often", "modal_encode", "torch", "modal_encode.torch",
           (("torch.arange(N - 1, -1, -1, device=device", "torch.arange(N, 0, -1, device=device",
             0),)),
    Mutant("encode.torch.db_no_conj", "the gain's gradient multiplies by lambda^e, not its "
           "conjugate", "modal_encode", "torch", "modal_encode.torch",
           (("t_re = Lr * W_re + Li * W_im", "t_re = Lr * W_re - Li * W_im", 0),
            ("t_im = Lr * W_im - Li * W_re", "t_im = Lr * W_im + Li * W_re", 0))),
    Mutant("encode.torch.sigma_no_conj", "dtheta pairs W with P, not conj(P)", "modal_encode",
           "torch", "modal_encode.torch",
           (("sig_im += (ec * (P_re * W_im - P_im * W_re))",
             "sig_im += (ec * (P_re * W_im + P_im * W_re))", 0),)),
    Mutant("encode.jax.power_off_by_one", "JAX exponents N - t + 1", "modal_encode", "jax",
           "modal_encode.jax",
           (("e = jnp.arange(N - 1, -1, -1, dtype=pd)", "e = jnp.arange(N, 0, -1, dtype=pd)", 0),)),
    Mutant("encode.jax.db_no_conj", "JAX gain gradient without the conjugate", "modal_encode",
           "jax", "modal_encode.jax",
           (("t_re, t_im = L_re * W_re + L_im * W_im, L_re * W_im - L_im * W_re",
             "t_re, t_im = L_re * W_re - L_im * W_im, L_re * W_im + L_im * W_re", 0),)),
)

@functools.cache
def _mutant_dir() -> Path:
    """One temporary folder per process for the mutated sources, made on first use (importing
    this module has no side effect) and removed when the process exits."""
    path = tempfile.mkdtemp(prefix="mccc-mutants-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return Path(path)


def mutated_source(mutant: Mutant) -> str:
    """The module's source with the mutant's edits applied (each edit must match)."""
    path = PKG / (mutant.module.replace(".", "/") + ".py")
    src = path.read_text()
    for old, new, occurrence in mutant.edits:
        start = -1
        for _ in range(occurrence + 1):
            start = src.find(old, start + 1)
            if start < 0:
                raise LookupError(f"mutant {mutant.id}: {old!r} (occurrence {occurrence}) not "
                                  f"found in {path.name}; update the mutant with the code")
        src = src[:start] + new + src[start + len(old):]
    return src


def load_mutant(mutant: Mutant):
    """Load the mutated module under its real name (not installed in ``sys.modules``)."""
    target = _mutant_dir() / f"{mutant.id.replace('.', '_')}.py"
    target.write_text(mutated_source(mutant))
    spec = importlib.util.spec_from_file_location(mutant.fullname, target)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
