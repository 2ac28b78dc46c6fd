"""``MCCCCrossConditioning``: a torch module to use in place of cross-attention.

The source is compressed into the MCCC memory (CONTRIBUTING's shared definitions, THEORY §0)::

    v_t = W_v u_t  (d_v),     H = sum_t Lambda^(N-t) b v_t^T   (m, d_v) complex
    lambda = exp(-exp(nu) + i theta)   (log-polar: stable for every real nu)

and each decoder position ``x_q`` reads a query-dependent mix of modes::

    softmax mix: c(q) = softmax(W_c x_q) * g      linear mix: c(q) = (W_c^re + i W_c^im) x_q
    y_q = W_o Re(c(q)^T H)

Memory is O(m d_v) per sequence whatever the source length N, and decoding costs
O(d_model m + m d_v + d_v d_model) per token against O(N d) for cross-attention over a KV cache.
The memory is a fixed-size summary: it realises lag weights ``Re(c_i(q) b_i lambda_i^tau)``
(sums of m damped exponentials, THEORY §4), not exact token retrieval.

Both scan and readout run through the certified kernels (:mod:`mccc_kernels.modal_scan.torch`,
:mod:`mccc_kernels.modal_readout.torch`) with the one dispatch rule (Triton on CUDA, pure torch
elsewhere). For variable-length sources, left-pad with zeros: zero inputs before the first
token leave the zero initial state unchanged, so the result is exact.
"""

from __future__ import annotations

import math

from mccc_theory.eigen import lru_ring_init
from mccc_theory.errors import BackendUnavailableError, ShapeError

try:
    import torch
    from torch import nn
except ModuleNotFoundError as exc:  # an optional extra: say which one
    raise BackendUnavailableError("mccc_kernels.nn needs PyTorch, which is not installed: "
                                  "pip install 'mccc-theory[torch]' (CPU build: pip install "
                                  "torch --index-url https://download.pytorch.org/whl/cpu)") from exc

from .modal_readout.torch import modal_readout
from .modal_scan.torch import modal_scan

__all__ = ["MCCCCrossConditioning"]


class MCCCCrossConditioning(nn.Module):
    """Cross-conditioning of ``x`` (batch, Q, d_model) on ``source`` (batch, N, d_source).

    Parameters
    ----------
    d_model : int
        Width of the decoder stream (input and output).
    n_modes : int
        Number of modal channels m.
    d_source : int, optional
        Width of the source (encoder output); default ``d_model``.
    d_value : int, optional
        Width of the memory values d_v; default ``d_model``.
    mix : {"softmax", "linear"}
        How a query mixes the modes (see the module docstring).
    r_min, r_max, theta_max : float
        LRU ring initialisation of the eigenvalues.
    method, chunk, backend :
        Passed to the scan (``"chunked"``/``"sequential"``) and to the dispatch rule.
    """

    def __init__(self, d_model: int, n_modes: int = 64, d_source: int | None = None,
                 d_value: int | None = None, *, mix: str = "softmax", r_min: float = 0.9,
                 r_max: float = 0.999, theta_max: float = math.pi, method: str = "chunked",
                 chunk: int = 16, backend: str = "auto", generator=None):
        super().__init__()
        if mix not in ("softmax", "linear"):
            from mccc_theory.errors import MethodError
            raise MethodError(f"mix: expected 'softmax' or 'linear', found {mix!r}")
        d_source = d_model if d_source is None else d_source
        d_value = d_model if d_value is None else d_value
        self.d_model, self.n_modes, self.d_source, self.d_value = d_model, n_modes, d_source, d_value
        self.mix, self.method, self.chunk, self.backend = mix, method, chunk, backend
        # the toolkit's LRU ring (mccc_theory.eigen), seeded from torch's generator so that
        # torch.manual_seed makes the initialisation reproducible
        seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
        nu, theta = (torch.from_numpy(a).float() for a in lru_ring_init(
            n_modes, r_min=r_min, r_max=r_max, theta_max=theta_max, rng=seed))
        self.nu = nn.Parameter(nu)
        self.theta = nn.Parameter(theta)
        # input gain normalised by sqrt(1 - |lambda|^2) so that every mode starts at unit power
        gamma = torch.sqrt(1 - torch.exp(-2 * torch.exp(nu)))
        self.b_re = nn.Parameter(gamma.clone())
        self.b_im = nn.Parameter(torch.zeros(n_modes))
        self.value = nn.Linear(d_source, d_value, bias=False)
        self.score = nn.Linear(d_model, n_modes)
        if mix == "softmax":
            self.g_re = nn.Parameter(torch.ones(n_modes))
            self.g_im = nn.Parameter(torch.zeros(n_modes))
        else:
            self.score_im = nn.Linear(d_model, n_modes)
            with torch.no_grad():  # a linear mix of m modes: keep the output variance O(1)
                self.score.weight.mul_(1 / math.sqrt(n_modes))
                self.score_im.weight.mul_(1 / math.sqrt(n_modes))
        self.out = nn.Linear(d_value, d_model)

    def encode(self, source, state=None):
        """The memory ``H`` after consuming ``source`` (batch, N, d_source), as planes
        ``(H_re, H_im)`` of shape (batch, m, d_v). Pass a previous ``state`` to continue a
        stream chunk by chunk (the result equals encoding the concatenation)."""
        if source.dim() != 3 or source.shape[-1] != self.d_source:
            raise ShapeError(f"source: expected (batch, N, {self.d_source}), found "
                             f"{tuple(source.shape)}")
        v = self.value(source)  # (b, N, d_v)
        b, N, d_v = v.shape
        u = v.transpose(1, 2).reshape(b * d_v, N, 1).contiguous()  # one channel per value dim
        h0 = (None, None)
        if state is not None:
            h0 = tuple(s.transpose(1, 2).reshape(b * d_v, self.n_modes).contiguous()
                       for s in state)
        h_re, h_im = modal_scan(u, self.nu, self.theta, self.b_re[:, None].contiguous(),
                                self.b_im[:, None].contiguous(), *h0, return_all=False,
                                method=self.method, chunk=self.chunk, backend=self.backend)
        to_H = lambda h: h.reshape(b, d_v, self.n_modes).transpose(1, 2).contiguous()  # noqa: E731
        return to_H(h_re), to_H(h_im)

    def decode(self, x, state):
        """Read the memory ``state`` for the decoder positions ``x`` (batch, Q, d_model)."""
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ShapeError(f"x: expected (batch, Q, {self.d_model}), found {tuple(x.shape)}")
        H_re, H_im = state
        if self.mix == "softmax":
            y = modal_readout(H_re, H_im, self.score(x).contiguous(), None, mix="softmax",
                              g_re=self.g_re, g_im=self.g_im, backend=self.backend)
        else:
            y = modal_readout(H_re, H_im, self.score(x).contiguous(),
                              self.score_im(x).contiguous(), mix="linear", backend=self.backend)
        return self.out(y.to(x.dtype))

    def forward(self, x, source, state=None):
        """``decode(x, encode(source, state))``: (batch, Q, d_model)."""
        return self.decode(x, self.encode(source, state))

    def extra_repr(self) -> str:
        return (f"d_model={self.d_model}, n_modes={self.n_modes}, d_source={self.d_source}, "
                f"d_value={self.d_value}, mix={self.mix!r}, method={self.method!r}")

    # -- the layer as a theory object (mccc_kernels.bridge) -----------------------------------
    def to_memory(self):
        """The :class:`~mccc_kernels.bridge.LayerMemory` this layer realises (float64)."""
        from .bridge import to_memory
        return to_memory(self)

    @classmethod
    def from_memory(cls, layer_memory, **kwargs):
        """The layer realising a :class:`~mccc_kernels.bridge.LayerMemory` (see
        :func:`mccc_kernels.bridge.from_memory`)."""
        from .bridge import from_memory
        return from_memory(layer_memory, **kwargs)

    @classmethod
    def from_fit(cls, fit, **kwargs):
        """The layer initialised from a ``fit_modal`` result (:func:`mccc_kernels.bridge.from_fit`)."""
        from .bridge import from_fit
        return from_fit(fit, **kwargs)

    def reduce(self, order, queries, method="bt", **kwargs):
        """``(smaller layer, certificate)``: :func:`mccc_kernels.bridge.reduce_layer`."""
        from .bridge import reduce_layer
        return reduce_layer(self, order, queries, method, **kwargs)
