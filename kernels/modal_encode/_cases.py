"""The encode's certification cases (used by :func:`mccc_kernels.certify.certify`).

Corners: N = 1 and lengths that are not a multiple of the block, m = 1 and d_v = 1,
``1 - |lambda|`` down to 1e-6, ``lambda`` near -1 and ``lambda = 0``, per-mode and per-token
gains, padding masks (with an all-masked row) and packed sequences (with an empty one), with
and without an initial state, float32 / float64 / bf16 values, float64 and float32 sums.
"""

from __future__ import annotations

import numpy as np

#: explicit cases run first by every certification of the encode
EXAMPLES = (
    dict(batch=2, N=33, d_v=3, m=17, dtype="float32", per_token=False, layout="none", h0=True,
         accumulate="auto", chunk=8, kinds=["random", "edge6", "zero", "minus1"], seed=1),
    dict(batch=1, N=1, d_v=1, m=1, dtype="float32", per_token=False, layout="none", h0=False,
         accumulate="auto", chunk=None, kinds=["edge6"], seed=2),
    dict(batch=3, N=50, d_v=2, m=5, dtype="float64", per_token=True, layout="mask", h0=True,
         accumulate="auto", chunk=16, kinds=["minus1", "edge", "random", "fast"], seed=3),
    dict(batch=1, N=40, d_v=4, m=3, dtype="float32", per_token=True, layout="packed", h0=True,
         accumulate="float32", chunk=7, kinds=["edge6", "random", "zero"], seed=4),
    dict(batch=2, N=17, d_v=5, m=16, dtype="bfloat16", per_token=False, layout="mask", h0=False,
         accumulate="auto", chunk=None, kinds=["random", "edge"], seed=5),
)

_GRADS = ("v", "nu", "theta", "b_re", "b_im", "h0_re", "h0_im")


def strategy(backend):
    from hypothesis import strategies as st

    kind = st.sampled_from(("random", "edge", "edge6", "zero", "fast", "minus1"))
    return st.fixed_dictionaries({
        "batch": st.integers(1, 3),
        "N": st.sampled_from((1, 2, 3, 7, 16, 17, 33, 64, 100)),
        "d_v": st.sampled_from((1, 2, 5)),
        "m": st.sampled_from((1, 3, 5, 16)),
        "dtype": st.sampled_from(("float32", "float64", "bfloat16")),
        "per_token": st.booleans(),
        "layout": st.sampled_from(("none", "mask", "packed")),
        "h0": st.booleans(),
        "accumulate": st.sampled_from(("auto", "float32") if backend == "torch" else ("auto",)),
        "chunk": st.sampled_from((None, 4, 16)),
        "kinds": st.lists(kind, min_size=1, max_size=4),
        "seed": st.integers(0, 2**32 - 1),
    })


def data(case):
    """NumPy float64 data, cotangent and layout (mask or cu_seqlens) of one case."""
    rng = np.random.default_rng(case["seed"])
    b, N, d, m = case["batch"], case["N"], case["d_v"], case["m"]
    if case["layout"] == "packed":
        b = 1
    kinds = [case["kinds"][i % len(case["kinds"])] for i in range(m)]
    nu, theta = np.empty(m), rng.uniform(-np.pi, np.pi, m)
    for i, k in enumerate(kinds):
        gap = {"edge": 1e-5, "edge6": 1e-6, "minus1": 1e-3}.get(k, 10.0 ** rng.uniform(-5, 0))
        nu[i] = np.inf if k == "zero" else rng.uniform(0.0, 3.0) if k == "fast" \
            else np.log(-np.log1p(-gap))
        if k == "minus1":
            theta[i] = np.pi - 1e-3
    mask = cu = None
    n_out = b
    if case["layout"] == "mask":
        mask = rng.random((b, N)) < 0.7
        if b > 1:
            mask[-1] = False  # a row with no token keeps its initial state
    elif case["layout"] == "packed":
        cuts = np.sort(rng.integers(0, N + 1, size=2))
        cu = np.array([0, cuts[0], cuts[0], cuts[1], N])  # an empty sequence in the middle
        n_out = 4
    bshape = (b, N, m) if case["per_token"] else (m,)
    d_ = {"v": rng.standard_normal((b, N, d)), "nu": nu, "theta": theta,
          "b_re": rng.standard_normal(bshape), "b_im": rng.standard_normal(bshape),
          "h0_re": rng.standard_normal((n_out, m, d)) if case["h0"] else None,
          "h0_im": rng.standard_normal((n_out, m, d)) if case["h0"] else None}
    cot = (rng.standard_normal((n_out, m, d)), rng.standard_normal((n_out, m, d)))
    return d_, cot, {"mask": mask, "cu_seqlens": cu}


def run(backend, case, data_, cot, layout, dtype_of, out_dtype):
    """(observed outputs, observed grads, oracle outputs, oracle grads, tolerances)."""
    from . import reference as R

    args = [data_[k] for k in _GRADS]
    H = R.modal_encode(*args, **layout)
    ref_out = {"H_re": H[0], "H_im": H[1]}
    ref_grad = R.modal_encode_vjp(*args, *cot, **layout)
    if backend == "jax":
        import jax
        with jax.enable_x64(case["dtype"] == "float64"):
            obs = _run_jax(data_, cot, layout, dtype_of, case)
        power = acc = out_dtype
    else:
        obs = _run_torch(data_, cot, layout, dtype_of, case)
        power = "float64"
        # "auto" on the CPU (certification builds CPU tensors) sums in float64
        acc = "float64" if case["accumulate"] == "auto" else case["accumulate"]
    tol = R.error_model(*args, *cot, **layout, power=power, accumulate=acc, out=out_dtype)
    return obs[0], obs[1], ref_out, ref_grad, tol


def _run_torch(data_, cot, layout, dtype_of, case):
    import torch

    from .torch import modal_encode

    tens = {k: None if v is None else torch.tensor(v, dtype=getattr(torch, dtype_of(k)),
                                                    requires_grad=True) for k, v in data_.items()}
    mask = None if layout["mask"] is None else torch.as_tensor(layout["mask"])
    out = modal_encode(**tens, mask=mask, cu_seqlens=layout["cu_seqlens"], chunk=case["chunk"],
                       accumulate=case["accumulate"])
    loss = (out[0] * torch.tensor(cot[0], dtype=out[0].dtype)).sum() + \
        (out[1] * torch.tensor(cot[1], dtype=out[1].dtype)).sum()
    loss.backward()
    as_np = lambda t: t.detach().double().numpy()  # noqa: E731
    return ({"H_re": as_np(out[0]), "H_im": as_np(out[1])},
            {k: as_np(t.grad) for k, t in tens.items() if t is not None})


def _run_jax(data_, cot, layout, dtype_of, case):
    import jax
    import jax.numpy as jnp

    from .jax import modal_encode

    names = [k for k, v in data_.items() if v is not None]
    arrays = [jnp.asarray(data_[k], dtype=getattr(jnp, dtype_of(k))) for k in names]
    mask = None if layout["mask"] is None else jnp.asarray(layout["mask"])

    def f(*xs):
        return modal_encode(**dict(zip(names, xs, strict=True)), mask=mask,
                            cu_seqlens=layout["cu_seqlens"], chunk=case["chunk"])

    out, vjp = jax.vjp(f, *arrays)
    grads = vjp((jnp.asarray(cot[0], out[0].dtype), jnp.asarray(cot[1], out[1].dtype)))
    to64 = lambda x: np.asarray(jnp.asarray(x, jnp.float32) if x.dtype == jnp.bfloat16 else x,  # noqa: E731
                                dtype=np.float64)
    return ({"H_re": to64(out[0]), "H_im": to64(out[1])},
            {k: to64(g) for k, g in zip(names, grads, strict=True)})


def gradcheck(error):
    """``torch.autograd.gradcheck`` (float64) of every layout and both gains; ``error`` is the
    exception class to raise on failure."""
    import torch

    from .torch import modal_encode

    rng = np.random.default_rng(7)
    t = lambda x: torch.tensor(x, dtype=torch.float64, requires_grad=True)  # noqa: E731
    nu = np.log(-np.log1p(-np.array([1e-3, 0.5])))  # 1 - |lambda| = 1e-3 and 0.5
    runs = 0
    for per_token in (False, True):
        for layout in ("none", "mask", "packed"):
            b, N = (1, 5) if layout == "packed" else (2, 4)
            n_out = 3 if layout == "packed" else b
            bshape = (b, N, 2) if per_token else (2,)
            args = [t(rng.standard_normal((b, N, 2))), t(nu), t(rng.uniform(-3, 3, 2)),
                    t(rng.standard_normal(bshape)), t(rng.standard_normal(bshape)),
                    t(rng.standard_normal((n_out, 2, 2))), t(rng.standard_normal((n_out, 2, 2)))]
            kw = {"chunk": 3}
            if layout == "mask":
                kw["mask"] = torch.tensor([[True, False, True, True], [False, True, True, False]])
            elif layout == "packed":
                kw["cu_seqlens"] = [0, 2, 2, 5]

            def f(*a, kw=kw):
                return modal_encode(*a, **kw)
            if not torch.autograd.gradcheck(f, args, eps=1e-6, atol=1e-7, rtol=1e-6):
                raise error(f"gradcheck failed: per_token={per_token}, layout={layout}")
            runs += 1
    return f"passed ({runs} configurations, float64)"
