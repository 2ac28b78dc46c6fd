"""Central finite differences: the gradient oracle of the reference VJP tests (independent of
the adjoint derivation that the references and the kernels share)."""

import numpy as np

STEP = 1e-6


def central_differences(f, args, cot, idx, step=STEP):
    """``d <cot, f(*args)> / d args[idx]``, one entry at a time, in float64.

    ``f(*args)`` returns a tuple of arrays, ``cot`` a tuple of cotangents of the same shapes;
    ``args`` may hold ``None`` (an absent optional argument). Each evaluation perturbs copies,
    so ``args`` is not modified.
    """
    def loss(a):
        return sum(np.sum(c * o) for c, o in zip(cot, f(*a), strict=True))

    fd = np.zeros_like(args[idx])
    for pos in np.ndindex(fd.shape):
        plus = [None if a is None else a.copy() for a in args]
        minus = [None if a is None else a.copy() for a in args]
        plus[idx][pos] += step
        minus[idx][pos] -= step
        fd[pos] = (loss(plus) - loss(minus)) / (2 * step)
    return fd


def assert_vjp_matches(f, args, cot, grads, names):
    """``grads[name]`` (the VJP of ``f`` at ``args`` with cotangent ``cot``) equals the central
    differences of every present argument, ``names`` naming ``args`` in order."""
    for idx, name in enumerate(names):
        if args[idx] is None:
            continue
        # truncation O(step^2 |f'''|) and cancellation O(eps |loss| / step) ~ 1e-9 on the O(10)
        # losses of these small float64 cases: far inside 1e-7 absolute, 1e-6 relative
        np.testing.assert_allclose(grads[name], central_differences(f, args, cot, idx),
                                   rtol=1e-6, atol=1e-7, err_msg=name)
