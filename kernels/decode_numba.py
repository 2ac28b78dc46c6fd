"""One decode step of :class:`mccc_kernels.nn.MCCCDecoder` compiled for the CPU with numba.

The per-source cache folds the readout into ``y = b_o + a(x) M`` (see the class); for one token
of one sequence that is two small products around a softmax::

    a = bias + x W_t          (d_model -> k: k = m for the softmax mix, 2m for the linear mix)
    a = softmax(a)            (softmax mix only)
    z = a M                   (k -> d_model, plus the normaliser column with normalize=True)
    y = z[:d] / z[d] + b_o    (normalize=True),   y = z + b_o   (otherwise)

In torch these are three operator calls of about 3.5 us each on a 2.4 GHz core, nearly all of
it dispatch for 2 x 16k multiply-adds (d_model = 256, m = 64); here they are one call. Both
products run as ``axpy`` sweeps over the contiguous rows of ``W_t`` (d_model, k) and ``M`` (k,
n): the inner loop has no reduction, so LLVM vectorizes it without reassociating, and each sum
is accumulated in the order ``k = 0, 1, ...`` in the data's dtype (float32 or float64), a
rounding order of the same class as BLAS's. The softmax subtracts the maximum before ``exp``, as
``torch.softmax`` does.

Compiled once per dtype signature and cached on disk (``cache=True``).
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba import types
from numba.extending import intrinsic

__all__ = ["decode_token"]


@intrinsic
def _pointer_like(typingctx, address, like):  # pragma: no cover (compiled)
    """The integer ``address`` as a pointer to ``like``'s dtype (a torch ``data_ptr()``)."""
    sig = types.CPointer(like.dtype)(address, like)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(signature.return_type))

    return sig, codegen


@nb.njit(cache=True, nogil=True)
def decode_token(x_ptr, y_ptr, W_t, bias, M, b_o, softmax, normalize):  # pragma: no cover
    """Write one decoded token at ``y_ptr``.

    Parameters
    ----------
    x_ptr, y_ptr : int
        ``data_ptr()`` of C-contiguous CPU tensors of ``d_model`` entries in the dtype of the
        arrays below (the input token and the output; the caller checks dtype, device, layout
        and keeps both alive for the call). Addresses, not arrays: converting a tensor to and
        from NumPy costs about 1 us each, a third of the arithmetic.
    W_t : (d_model, k) C-contiguous
    bias : (k,)
    M : (k, n) C-contiguous, ``n = d_model (+1 with normalize)``
    b_o : (d_model,)
    softmax, normalize : bool
    """
    d, k = W_t.shape
    x = nb.carray(_pointer_like(x_ptr, W_t), d)
    y = nb.carray(_pointer_like(y_ptr, W_t), d)
    a = bias.copy()
    for j in range(d):
        xj = x[j]
        for i in range(k):
            a[i] += xj * W_t[j, i]
    if softmax:
        top = a[0]
        for i in range(1, k):
            top = max(top, a[i])
        total = a.dtype.type(0.0)
        for i in range(k):
            a[i] = np.exp(a[i] - top)
            total += a[i]
        for i in range(k):
            a[i] /= total
    n = M.shape[1]
    z = np.zeros(n, M.dtype)
    for i in range(k):
        ai = a[i]
        for j in range(n):
            z[j] += ai * M[i, j]
    if normalize:
        den = z[d]
        for j in range(d):
            y[j] = z[j] / den + b_o[j]
    else:
        for j in range(d):
            y[j] = z[j] + b_o[j]
