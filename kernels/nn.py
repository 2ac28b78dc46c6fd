"""``MCCCCrossConditioning``: a torch module to use in place of cross-attention.

The source is compressed into the MCCC memory (CONTRIBUTING's shared definitions, THEORY §0)::

    v_t = W_v u_t  (d_v),     H = sum_t Lambda^(e_t) w_t v_t^T   (m, d_v) complex
    lambda = exp(-exp(nu) + i theta)   (log-polar: stable for every real nu)

where ``e_t`` is the number of present tokens after token t (``N - t`` without padding: the newest
token enters undecayed) and ``w_t`` (m,) is the write into the modes:

    write="gain":  w_t = b                  (a learned complex per-mode gain, the attention
                                             memory of THEORY §4, T1 form)
    write="key":   w_t = phi(W_k u_t)       (key-addressed, the capacity theory's memory
                                             S = sum_t diag(lambda^(T-t)) phi(k_t) v_t^T, THEORY §5)

with ``phi`` the feature map ``"identity"`` (the capacity theory's linear features, the default)
or ``"elu+1"`` (``elu(k) + 1 > 0``, Katharopoulos et al. 2020; positive writes, so with
``normalize=True`` the layer is decayed linear attention with its usual normaliser). Each decoder
position ``x_q`` reads a query-dependent mix of modes::

    softmax mix: c(q) = softmax(W_c x_q) * g      linear mix: c(q) = (W_c^re + i W_c^im) x_q
    y_q = W_o Re(c(q)^T H) + b_o                  (normalize=False)
    y_q = W_o Re(c(q)^T H_v) / Re(c(q)^T H_1) + b_o   (normalize=True)

``normalize=True`` is the T1 normaliser of :class:`mccc_theory.attention.ModalMemory`: the state
carries ``H_1 = sum_t Lambda^(e_t) w_t`` (the encode of a constant 1) in an extra column and the
readout divides by it, so one mode ``lambda = e^{-slope}`` with ``b = g = 1`` is ALiBi softmax
attention exactly, at every source length. The mathematics is that theory object's, column for
column (state shape (m, d_v + 1)).

Memory is O(m d_v) per sequence whatever the source length N, and decoding costs
O(d_model m + m d_v + d_v d_model) per token against O(N d) for cross-attention over a KV cache
(O(d_model m) with the per-source cache of :meth:`MCCCCrossConditioning.decoder`). The memory is
a fixed-size summary: it realises lag weights ``Re(c_i(q) w_i lambda_i^tau)`` (sums of m damped
exponentials, THEORY §4), not exact token retrieval.

Padding, packing, streaming: ``key_padding_mask`` (torch's convention, True = padded) removes
tokens exactly, wherever they are: a padded step neither writes nor decays the state, so a padded
batch equals each sequence encoded alone. ``cu_seqlens`` (or ``lengths``) encode packed
sequences with the state reset at every boundary. ``state=`` continues a stream: encoding
``source[:, :k]`` then ``source[:, k:]`` from that state equals encoding ``source`` at once.

The encode is the final-state contraction :func:`mccc_kernels.modal_encode.torch.modal_encode`
(powers ``lambda^e`` from the log-eigenvalues, no recurrence), with ``W_v`` applied to the
(m, d_source) memory of the source instead of to every token when that costs less
(:meth:`MCCCCrossConditioning.projects_memory`: for d_source = d_value whenever N > 2m); the
readout is
:func:`mccc_kernels.modal_readout.torch.modal_readout`. Both follow the one dispatch rule
(Triton on CUDA, pure torch elsewhere).

Validation: arguments at construction (sizes, choices, the ring radii, ``|lambda| < 1``); at
every call only the user's inputs (``source``, ``x``, ``keys``, ``state``, the masks): shapes and
dtypes always (metadata only), NaN/inf with one sum per input while the kernels' value checks
are on; ``source`` and ``keys`` through the memory they make, N/m times smaller (a non-finite
memory is traced back to the argument and index, or reported as an overflow of the dtype).
:func:`mccc_kernels.checks` is the one switch; ``with
mccc_kernels.checks(False):`` in a training loop removes every host sync. The layer's own
parameters are not re-checked per call (the kernels run with their value checks off), and
nothing is checked by value while ``torch.compile`` traces, so
``torch.compile(layer, fullgraph=True)`` compiles one graph.
"""

from __future__ import annotations

import math

from mccc_theory.eigen import lru_ring_init
from mccc_theory.errors import (
    BackendUnavailableError,
    DTypeError,
    EmptyInputError,
    MethodError,
    NonFiniteError,
    OrderError,
    ShapeError,
)
from mccc_theory.validation import check_choice, check_positive_int

from ._common import missing_extra

try:
    import torch
    from torch import nn
except ModuleNotFoundError as exc:  # an optional extra: say which one
    raise missing_extra("mccc_kernels.nn", "PyTorch", "torch", " (CPU build: pip install torch "
                        "--index-url https://download.pytorch.org/whl/cpu)") from exc
from ._common import (
    FEATURE_MAPS,
    WRITES,
    check_cu_seqlens,
    check_params,
    check_values,
    checks,
    checks_enabled,
    projects_memory,
    torch_all_finite,
)
from .modal_encode.torch import modal_encode
from .modal_readout.torch import modal_readout

__all__ = ["MCCCCrossConditioning", "MCCCDecoder", "MCCCMultiheadAdapter", "WRITES", "FEATURE_MAPS"]

_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _compiling() -> bool:
    return torch.compiler.is_compiling()


def _check_input(x, name: str, width: int, width_name: str, dtype, *, values: bool = True):
    """Rank, width, dtype and (eager, checks on, ``values``) finiteness of a (batch, n, width)
    input; returns ``x`` in the layer's dtype (narrower float dtypes widened exactly)."""
    if not isinstance(x, torch.Tensor):
        raise DTypeError(f"{name}: expected a torch.Tensor, found {type(x).__name__}")
    if x.dtype not in _FLOATS:
        raise DTypeError(f"{name}: expected a floating dtype (float16, bfloat16, float32, "
                         f"float64), found {x.dtype}; convert with {name}.float()")
    if x.dtype.itemsize > dtype.itemsize:
        raise DTypeError(f"{name}: expected at most the layer's precision {dtype}, found {x.dtype}; "
                         f"convert the layer (layer.double()) or the input ({name}.to({dtype}))")
    if x.dim() != 3 or x.shape[-1] != width:
        raise ShapeError(f"{name}: expected (batch, {'N' if name in ('source', 'keys') else 'Q'}, "
                         f"{width}) with {width_name} = {width}, found {tuple(x.shape)}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise EmptyInputError(f"{name}: expected at least one sequence and one position, found "
                              f"shape {tuple(x.shape)}")
    if values and not _compiling():
        check_values(x, name)
    return x.to(dtype)


def _check_memory(H, source, keys) -> None:
    """Finiteness of the encoded memory, in place of a pass over the (N times larger) source.

    Every present token reaches ``H`` through the GEMM ``P^T V`` (and, for ``write="key"``,
    through ``P``), and IEEE arithmetic keeps NaN/inf there: ``0 * NaN`` is NaN, so a padded
    token or a mode with ``lambda = 0`` (a zero weight) does not hide one. A non-finite ``H``
    is traced back to the argument that holds it; a finite source whose memory is not finite
    overflowed. (The state argument is checked on entry.)
    """
    if _compiling() or not checks_enabled() or all(torch_all_finite(h) for h in H):
        return
    check_values(source, "source")
    if keys is not None:
        check_values(keys, "keys")
    big = float(source.abs().max())
    raise NonFiniteError(f"source: the memory overflowed {H[0].dtype} (finite source, largest "
                         f"|entry| {big:.3g}); scale the source down or use layer.double()")


def _cu_from_lengths(lengths, total: int):
    if not isinstance(lengths, torch.Tensor):
        lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1 or lengths.dtype.is_floating_point or lengths.dtype == torch.bool \
            or lengths.numel() == 0:
        raise ShapeError(f"lengths: expected a non-empty 1-d integer tensor (one length per packed "
                         f"sequence), found shape {tuple(lengths.shape)} dtype {lengths.dtype}")
    if bool((lengths < 0).any()):
        raise ShapeError(f"lengths: expected lengths >= 0, found {lengths.tolist()}")
    if int(lengths.sum()) != total:
        raise ShapeError(f"lengths: expected lengths summing to the packed length {total} "
                         f"(source.shape[1]), found sum {int(lengths.sum())}")
    return torch.cat([lengths.new_zeros(1), lengths.cumsum(0)])


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
    write : {"gain", "key"}
        How a token enters the modes: a per-mode gain ``b`` or key features ``phi(W_k u_t)``.
    feature_map : {"identity", "elu+1"}, optional
        ``phi`` of ``write="key"`` (default ``"identity"``); refused with ``write="gain"``.
    normalize : bool
        Carry the normaliser column and divide by it (T1; ALiBi = one mode + normaliser).
    r_min, r_max, theta_max : float
        LRU ring initialisation of the eigenvalues, ``0 <= r_min < r_max < 1``.
    backend : {"auto", "torch", "triton"}
        The readout's dispatch rule (:func:`mccc_kernels.select_backend`); the encode follows
        the tensors' device.
    generator : torch.Generator, optional
        Seeds the initialisation (default: torch's global generator).

    Attributes
    ----------
    nu, theta : (m,) parameters, ``lambda = exp(-exp(nu) + i theta)``
    b_re, b_im : (m,) the per-mode gain (``write="gain"``)
    key : ``nn.Linear(d_source, m, bias=False)``, the key projection ``W_k`` (``write="key"``)
    value, score, score_im, g_re, g_im, out : the projections of the module docstring

    Raises
    ------
    OrderError, DTypeError, MethodError, NonFiniteError, UnstableError
        For non-positive sizes, unknown choices, radii outside ``[0, 1)``, a non-finite
        ``theta_max``, or an ``r_max`` so close to 1 that ``|lambda|`` rounds to 1 in float32.

    Notes
    -----
    Initialisation: the toolkit's LRU ring (:func:`mccc_theory.eigen.lru_ring_init`, seeded from
    torch's generator), the gain ``b_i = sqrt(1 - |lambda_i|^2)`` so that every mode starts at
    unit power, and for ``write="key"`` rows of ``W_k`` drawn ``N(0, (1 - |lambda_i|^2) /
    d_source)`` (the same power for unit-variance sources with ``phi = identity``).

    Examples
    --------
    >>> import torch
    >>> layer = MCCCCrossConditioning(32, n_modes=16)
    >>> y = layer(torch.randn(2, 5, 32), torch.randn(2, 1000, 32))   # memory O(m), whatever N
    >>> tuple(y.shape)
    (2, 5, 32)
    """

    def __init__(self, d_model: int, n_modes: int = 64, d_source: int | None = None,
                 d_value: int | None = None, *, mix: str = "softmax", write: str = "gain",
                 feature_map: str | None = None, normalize: bool = False, r_min: float = 0.9,
                 r_max: float = 0.999, theta_max: float = math.pi, backend: str = "auto", generator=None):
        super().__init__()
        d_model = check_positive_int(d_model, "d_model")
        n_modes = check_positive_int(n_modes, "n_modes")
        d_source = d_model if d_source is None else check_positive_int(d_source, "d_source")
        d_value = d_model if d_value is None else check_positive_int(d_value, "d_value")
        check_choice(mix, "mix", ("softmax", "linear"))
        check_choice(write, "write", WRITES)
        if feature_map is not None and write != "key":
            raise MethodError(f"feature_map: applies to write='key' only (the key features "
                              f"phi(W_k u)), found feature_map={feature_map!r} with write={write!r}")
        feature_map = check_choice("identity" if feature_map is None else feature_map,
                                   "feature_map", FEATURE_MAPS) if write == "key" else None
        if not isinstance(normalize, bool):
            raise DTypeError(f"normalize: expected a bool, found {type(normalize).__name__} "
                             f"{normalize!r}")
        radii_ok = all(isinstance(r, int | float) and not isinstance(r, bool) for r in (r_min, r_max))
        if not radii_ok or not (0 <= r_min < r_max < 1):
            raise OrderError(f"r_min, r_max: expected 0 <= r_min < r_max < 1 (stable modes), found "
                             f"r_min={r_min!r}, r_max={r_max!r}")
        if not isinstance(theta_max, int | float) or not math.isfinite(theta_max):
            raise NonFiniteError(f"theta_max: expected a finite angle, found {theta_max!r}")
        check_choice(backend, "backend", ("auto", "torch", "triton"))
        self.d_model, self.n_modes, self.d_source, self.d_value = d_model, n_modes, d_source, d_value
        self.mix, self.write, self.feature_map, self.normalize = mix, write, feature_map, normalize
        self.backend = backend
        seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
        nu, theta = (torch.from_numpy(a).float() for a in lru_ring_init(
            n_modes, r_min=r_min, r_max=r_max, theta_max=theta_max, rng=seed))
        check_params(nu, theta)  # once, here: |lambda| < 1 in float32 for every mode
        self.nu = nn.Parameter(nu)
        self.theta = nn.Parameter(theta)
        gamma = torch.sqrt(1 - torch.exp(-2 * torch.exp(nu)))  # unit power per mode
        if write == "gain":
            self.b_re = nn.Parameter(gamma.clone())
            self.b_im = nn.Parameter(torch.zeros(n_modes))
        else:
            self.key = nn.Linear(d_source, n_modes, bias=False)
            with torch.no_grad():
                self.key.weight.normal_(generator=generator).mul_(gamma[:, None] / math.sqrt(d_source))
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

    # -- sizes --------------------------------------------------------------------------------
    @property
    def state_width(self) -> int:
        """Columns of the state: ``d_v``, plus the normaliser column with ``normalize=True``."""
        return self.d_value + int(self.normalize)

    def _dtype(self):
        return self.nu.dtype

    # -- encoder ------------------------------------------------------------------------------
    def _writes(self, source, keys):
        """The write planes ``(w_re, w_im)``: (m,) for ``"gain"``, (batch, N, m) for ``"key"``."""
        if self.write == "gain":
            return self.b_re, self.b_im
        k = self.key(source if keys is None else keys)
        phi = k if self.feature_map == "identity" else nn.functional.elu(k) + 1
        return phi, torch.zeros_like(phi)

    def encode(self, source, state=None, *, key_padding_mask=None, lengths=None, cu_seqlens=None,
               keys=None):
        """The memory after ``source``: planes ``(H_re, H_im)``, each (batch, m, state_width).

        Parameters
        ----------
        source : (batch, N, d_source) tensor
            The encoder output, position order (the last token is the newest, lag 0).
        state : (H_re, H_im), optional
            A previous state (batch, m, state_width) to continue a stream: the result equals
            encoding the concatenation of the earlier chunks and ``source``.
        key_padding_mask : (batch, N) bool tensor, optional
            True where a token is padding (torch's convention). A padded step neither writes nor
            decays the state, so any padding (left, right, inside) is exact.
        lengths : (n_seq,) integer tensor, optional
            Packed sources: ``source`` is (1, total, d_source), sequence k has ``lengths[k]``
            tokens; the state is reset at every boundary. Returns (n_seq, m, state_width).
        cu_seqlens : (n_seq + 1,) integer tensor, optional
            The same as offsets ``[0, l_0, l_0 + l_1, ..., total]`` (give one of the two).
        keys : (batch, N, d_source) tensor, optional
            Where the key features come from with ``write="key"`` (default ``source``).

        Raises
        ------
        ShapeError, DTypeError, EmptyInputError, NonFiniteError
            Naming the argument: wrong rank/width/batch, non-float dtypes, N = 0, NaN/inf (found
            in the memory, then located in ``source`` or ``keys``), or a memory that overflows
            the layer's dtype.

        Notes
        -----
        One contraction ``H = Lambda^n H_0 + sum_t Lambda^(e_t) w_t v_t^T``, ``v_t = W_v u_t``,
        with exact powers from the log-eigenvalues, no recurrence. Without ``state`` and when
        :meth:`projects_memory` says so, ``W_v`` is applied to ``sum_t Lambda^(e_t) w_t u_t^T``
        (m x d_source) instead of to every token: O(N m d_source + m d_source d_v) work instead
        of O(N d_source d_v + N m d_v).
        """
        dtype = self._dtype()
        source = _check_input(source, "source", self.d_source, "d_source", dtype, values=False)
        batch, N = source.shape[:2]
        if keys is not None:
            if self.write != "key":
                raise MethodError("keys: only write='key' reads key features; the gain write "
                                  "uses source alone")
            keys = _check_input(keys, "keys", self.d_source, "d_source", dtype, values=False)
            if keys.shape[:2] != source.shape[:2]:
                raise ShapeError(f"keys: expected the (batch, N) of source "
                                 f"{tuple(source.shape[:2])}, found {tuple(keys.shape[:2])}")
        if lengths is not None and cu_seqlens is not None:
            raise ShapeError("lengths, cu_seqlens: give one description of the packed sequences, "
                             "not both")
        if lengths is not None or cu_seqlens is not None:
            if key_padding_mask is not None:
                raise ShapeError("key_padding_mask: give either a padding mask or packed "
                                 "sequences (cu_seqlens/lengths), not both")
            if batch != 1:
                raise ShapeError(f"source: packed sequences travel as (1, total, {self.d_source}), "
                                 f"found batch {batch}")
            if cu_seqlens is None:
                cu_seqlens = _cu_from_lengths(lengths, N)
            n_out = len(check_cu_seqlens(cu_seqlens, N, packed="source")) - 1
        else:
            n_out = batch
        mask = None
        if key_padding_mask is not None:
            if not isinstance(key_padding_mask, torch.Tensor) or key_padding_mask.dtype != torch.bool:
                raise DTypeError(f"key_padding_mask: expected a bool tensor (True = padded), found "
                                 f"{getattr(key_padding_mask, 'dtype', type(key_padding_mask))}")
            if tuple(key_padding_mask.shape) != (batch, N):
                raise ShapeError(f"key_padding_mask: expected shape (batch, N) = {(batch, N)}, "
                                 f"found {tuple(key_padding_mask.shape)}")
            mask = ~key_padding_mask
        h0 = (None, None) if state is None else self._check_state(state, n_out, "state")
        first = state is None and self.projects_memory(N)
        # the values' projection W_v goes after the contraction (on the (m, d_source) memory of
        # the source) or before it (on each of the N tokens): the same linear map either way
        u = source.contiguous() if first else self.value(source)  # (a view from the adapter)
        if self.normalize:  # the normaliser column: the encode of a constant 1
            u = torch.cat([u, u.new_ones(batch, N, 1)], -1)
        w_re, w_im = self._writes(source, keys)
        with checks(False):  # the user's inputs are checked above; the parameters at __init__
            H = modal_encode(u, self.nu, self.theta, w_re, w_im, *h0, mask=mask,
                             cu_seqlens=cu_seqlens)
        if first:
            H = tuple(self._project_memory(h) for h in H)
        _check_memory(H, source, keys)
        return H

    def projects_memory(self, N: int) -> bool:
        """Whether :meth:`encode` applies ``W_v`` to the memory of a source of N tokens rather
        than to its tokens (the rule :func:`mccc_kernels._common.projects_memory`)."""
        return projects_memory(N, self.n_modes, self.d_source, self.d_value, self.normalize)

    def _project_memory(self, h):
        """``W_v`` applied to a plane of the source's memory (batch, m, d_source [+ 1])."""
        if not self.normalize:
            return torch.matmul(h, self.value.weight.t())
        return torch.cat([torch.matmul(h[..., :-1], self.value.weight.t()), h[..., -1:]], -1)

    def _check_state(self, state, batch: int, name: str):
        want = (batch, self.n_modes, self.state_width)
        if not isinstance(state, tuple | list) or len(state) != 2 or not all(
                isinstance(s, torch.Tensor) and tuple(s.shape) == want for s in state):
            shapes = [tuple(s.shape) if isinstance(s, torch.Tensor) else type(s).__name__
                      for s in (state if isinstance(state, tuple | list) else [state])]
            extra = " (d_value + 1 with normalize=True)" if self.normalize else ""
            raise ShapeError(f"{name}: expected planes (H_re, H_im) of shape {want}{extra}, found "
                             f"{shapes}")
        if not _compiling():
            check_values(state[0], f"{name}[0]")
            check_values(state[1], f"{name}[1]")
        return tuple(state)

    # -- decoder ------------------------------------------------------------------------------
    def decode(self, x, state):
        """Read the memory ``state`` for the decoder positions ``x`` (batch, Q, d_model).

        Returns (batch, Q, d_model) in ``x``'s dtype widened to the layer's.
        """
        x = _check_input(x, "x", self.d_model, "d_model", self._dtype())
        H_re, H_im = self._check_state(state, x.shape[0], "state")
        with checks(False):  # inputs checked above, parameters at __init__
            y = self._readout(x, H_re, H_im)
        if self.normalize:
            den = y[..., -1:]
            if checks_enabled() and not _compiling() and not bool((den != 0).all()):
                b, q = (int(i) for i in torch.nonzero(den[..., 0] == 0)[0])
                raise NonFiniteError(f"state: the normaliser Re(c(q)^T H_1) is 0 for query {q} of "
                                     f"sequence {b} (no token written: a fully padded source?); "
                                     f"the normalised readout is undefined there")
            y = y[..., :-1] / den
        return self.out(y.to(x.dtype))

    def _readout(self, x, H_re, H_im):
        if self.mix == "softmax":
            return modal_readout(H_re, H_im, self.score(x), None, mix="softmax", g_re=self.g_re,
                                 g_im=self.g_im, backend=self.backend)
        return modal_readout(H_re, H_im, self.score(x), self.score_im(x), mix="linear",
                             backend=self.backend)

    def decoder(self, state, *, backend: str | None = None) -> MCCCDecoder:
        """A no-grad per-source decode cache: ``layer.decoder(state)(x)`` equals
        ``layer.decode(x, state)`` to rounding (see :class:`MCCCDecoder`; ``backend`` as there,
        default from the layer's)."""
        return MCCCDecoder(self, state, backend=backend)

    def forward(self, x, source, state=None, *, key_padding_mask=None, lengths=None,
                cu_seqlens=None, keys=None):
        """``decode(x, encode(source, state, ...))``: (batch, Q, d_model)."""
        return self.decode(x, self.encode(source, state, key_padding_mask=key_padding_mask,
                                          lengths=lengths, cu_seqlens=cu_seqlens, keys=keys))

    def extra_repr(self) -> str:
        fm = f", feature_map={self.feature_map!r}" if self.write == "key" else ""
        return (f"d_model={self.d_model}, n_modes={self.n_modes}, d_source={self.d_source}, "
                f"d_value={self.d_value}, mix={self.mix!r}, write={self.write!r}{fm}, "
                f"normalize={self.normalize}")

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


def _numba_decode_token():
    """The compiled one-token step, or None when numba does not import."""
    try:
        from .decode_numba import decode_token
    except ImportError:
        return None
    return decode_token


class MCCCDecoder:
    """Per-source decode cache of :class:`MCCCCrossConditioning`: every product that does not
    depend on the query, folded once (no grad).

    ``y = b_o + a(x) M`` with, per source (batch index),

    * softmax mix: ``a = softmax(W_c x + b_c)`` (m,), ``M = Re(diag(g) H) W_o^T`` (m, d_model);
    * linear mix: ``a = [W_re x + b_re, W_im x + b_im]`` (2m,), ``M = [Re H; -Im H] W_o^T``
      (2m, d_model);

    and with ``normalize=True`` the normaliser column rides along (``M`` gets one more column
    ``Re(diag(g) H_1)`` or ``[Re H_1; -Im H_1]``) and the value part is divided by it before
    ``b_o`` is added (``W_o`` is linear, so folding it before the division is exact).

    Parameters
    ----------
    layer : MCCCCrossConditioning
    state : (H_re, H_im), each (batch, m, state_width), from ``layer.encode``
    backend : {None, "auto", "torch", "numba"}
        How one token of one sequence is decoded (a 2-d ``x`` of shape (1, d_model) or a 3-d
        one of shape (1, 1, d_model)); every other call is batched torch GEMMs. ``"auto"``: the
        compiled step :func:`mccc_kernels.decode_numba.decode_token` when the cache is on the
        CPU and numba imports, torch otherwise. ``"numba"``: that step, or
        :class:`~mccc_theory.BackendUnavailableError`. ``"torch"``: always torch. ``None``
        (default): from the layer's ``backend`` (its ``"torch"`` gives ``"torch"``, else
        ``"auto"``).

    Notes
    -----
    Per token: two matrix products of sizes d_model x m and m x d_model (x2 for the linear mix)
    plus a softmax, ``O(d_model m)`` flops against ``O(d_model m + m d_v + d_v d_model)`` for
    :meth:`MCCCCrossConditioning.decode`. The cache is exact: it changes only the order of the
    sums, so outputs agree with ``decode`` to rounding (a few ulps times the sizes). It is a
    snapshot: rebuild it after the parameters change. Inputs are checked by shape only. Nothing
    per token depends on the source length N: the cache is (k, d_model) whatever N was.

    One token in torch is three operator calls (``addmm``, ``softmax``, ``addmm``) whose
    dispatch costs several times their 2 x 16k multiply-adds at d_model = 256, m = 64; the
    compiled step does the same arithmetic in one call (``benchmarks/bench_kernels.py``,
    decode table).
    """

    def __init__(self, layer: MCCCCrossConditioning, state, *, backend: str | None = None):
        if not isinstance(layer, MCCCCrossConditioning):
            raise DTypeError(f"layer: expected an MCCCCrossConditioning, found "
                             f"{type(layer).__name__}")
        if backend is None:
            backend = "torch" if layer.backend == "torch" else "auto"
        check_choice(backend, "backend", ("auto", "torch", "numba"))
        H_re, H_im = layer._check_state(state, state[0].shape[0] if isinstance(
            state, tuple | list) and isinstance(state[0], torch.Tensor) else -1, "state")
        self.d_model, self.normalize = layer.d_model, layer.normalize
        with torch.no_grad():
            dt = layer._dtype()
            H_re, H_im = H_re.to(dt), H_im.to(dt)
            if layer.mix == "softmax":
                Z = layer.g_re[:, None] * H_re - layer.g_im[:, None] * H_im  # Re(diag(g) H)
                W, bias = layer.score.weight, layer.score.bias
            else:
                Z = torch.cat([H_re, -H_im], 1)
                W = torch.cat([layer.score.weight, layer.score_im.weight])
                bias = torch.cat([layer.score.bias, layer.score_im.bias])
            M = Z[..., :layer.d_value] @ layer.out.weight.t()
            if layer.normalize:
                M = torch.cat([M, Z[..., -1:]], -1)
            # copies (a snapshot): W.t() of a one-mode layer is already contiguous, a view
            self.W_t = W.detach().t().clone(memory_format=torch.contiguous_format)
            self.bias = bias.detach().clone()
            self.M, self.b_o = M.contiguous(), layer.out.bias.detach().clone()
        self.batch = self.M.shape[0]
        self.M1 = self.M[0] if self.batch == 1 else None  # the single-sequence fast path
        self.softmax = layer.mix == "softmax"
        self._step = None  # the compiled one-token step and its NumPy views of the cache
        if self.M1 is not None and backend != "torch":
            on_cpu = self.M.device.type == "cpu" and self.M.dtype in (torch.float32, torch.float64)
            step = _numba_decode_token() if on_cpu else None
            if step is None and backend == "numba":
                raise BackendUnavailableError(
                    "backend: 'numba' decodes float32/float64 CPU tensors with numba installed "
                    f"(pip install 'mccc-theory[numba]'); found {self.M.dtype} on "
                    f"{self.M.device.type} and numba "
                    f"{'importable' if _numba_decode_token() else 'missing'}; use 'auto' or "
                    "'torch'")
            if step is not None:
                d = self.d_model
                self._step = (step, self.W_t.numpy(), self.bias.numpy(), self.M1.numpy(),
                              self.b_o.numpy(), self.softmax, self.normalize, self.W_t.dtype,
                              ((1, d), (1, 1, d)))
        self.backend = "torch" if self._step is None else "numba"

    def __call__(self, x):
        """Decode ``x``: (batch, d_model) -> (batch, d_model), or (batch, Q, d_model) -> (batch,
        Q, d_model). No graph is recorded (``x`` is detached)."""
        if self._step is not None and type(x) is torch.Tensor and x.is_cpu:
            # one token of one sequence: the compiled step (the checks below, in their cheapest
            # form: this path costs a few microseconds, and every attribute read counts)
            step, W_t, bias, M, b_o, softmax, normalize, dtype, shapes = self._step
            if x.dtype is dtype and x.shape in shapes and x.is_contiguous():
                y = torch.empty(x.shape, dtype=dtype)  # x and y stay alive across the call
                step(x.data_ptr(), y.data_ptr(), W_t, bias, M, b_o, softmax, normalize)
                return y
        shape = getattr(x, "shape", None)
        if shape is None or len(shape) not in (2, 3) or shape[-1] != self.d_model \
                or shape[0] != self.batch or not isinstance(x, torch.Tensor):
            raise ShapeError(f"x: expected ({self.batch}, d_model) or ({self.batch}, Q, d_model) "
                             f"with d_model = {self.d_model}, found {tuple(shape or ())}")
        if x.requires_grad:  # the cache holds no grad: detached x records nothing
            x = x.detach()
        if x.dtype != self.W_t.dtype:
            x = x.to(self.W_t.dtype)
        if len(shape) == 2 and self.M1 is not None:  # one token of one sequence: 2-d products
            a = torch.addmm(self.bias, x, self.W_t)
            if self.softmax:
                a = torch.softmax(a, -1)
            if not self.normalize:
                return torch.addmm(self.b_o, a, self.M1)
            y = torch.mm(a, self.M1)
        else:
            x3 = x[:, None] if len(shape) == 2 else x
            a = torch.matmul(x3, self.W_t).add_(self.bias)
            if self.softmax:
                a = torch.softmax(a, -1)
            y = torch.bmm(a, self.M)
            if len(shape) == 2:
                y = y[:, 0]
        if self.normalize:
            y = y[..., :-1] / y[..., -1:]
        return y.add_(self.b_o)


class MCCCMultiheadAdapter(nn.Module):
    """:class:`MCCCCrossConditioning` behind ``nn.MultiheadAttention``'s call, for
    ``nn.TransformerDecoderLayer.multihead_attn`` (cross-attention).

    ``forward(query, key, value, key_padding_mask=None, need_weights=False, attn_mask=None,
    average_attn_weights=True, is_causal=False) -> (out, None)``: the memory is written from
    ``value`` (``key`` gives the key features with ``write="key"`` and must match ``value``'s
    shape), read by ``query``.

    Parameters
    ----------
    embed_dim : int
        ``d_model`` (the query and output width).
    num_heads : int
        Accepted for the signature; ``embed_dim`` must be divisible by it, as for
        ``nn.MultiheadAttention``. The memory has no heads: its m modes, mixed per query, play
        that role, so ``num_heads`` does not change the computation.
    batch_first : bool
        (batch, seq, feature) when True, (seq, batch, feature) otherwise (torch's default).
    kdim, vdim : int, optional
        Source width (``d_source``); the two must agree (default ``embed_dim``).
    dropout : float
        Must be 0: there are no attention weights to drop.
    **layer_kwargs
        Passed to :class:`MCCCCrossConditioning` (``n_modes``, ``d_value``, ``mix``, ``write``,
        ``normalize``, ...).

    Raises
    ------
    MethodError
        At call time for what the memory cannot honour: an ``attn_mask`` (per-query masks over
        source positions), ``is_causal=True``, ``need_weights=True``.

    Examples
    --------
    >>> import torch
    >>> dec = torch.nn.TransformerDecoderLayer(32, 4, batch_first=True)
    >>> dec.multihead_attn = MCCCMultiheadAdapter(32, 4, batch_first=True, n_modes=16)
    >>> tuple(dec(torch.randn(2, 5, 32), torch.randn(2, 40, 32)).shape)
    (2, 5, 32)
    """

    def __init__(self, embed_dim: int, num_heads: int, *, batch_first: bool = False,
                 kdim: int | None = None, vdim: int | None = None, dropout: float = 0.0,
                 device=None, dtype=None, **layer_kwargs):
        super().__init__()
        embed_dim = check_positive_int(embed_dim, "embed_dim")
        num_heads = check_positive_int(num_heads, "num_heads")
        if embed_dim % num_heads:
            raise ShapeError(f"num_heads: expected a divisor of embed_dim = {embed_dim}, found "
                             f"{num_heads}")
        kdim = embed_dim if kdim is None else check_positive_int(kdim, "kdim")
        vdim = embed_dim if vdim is None else check_positive_int(vdim, "vdim")
        if kdim != vdim:
            raise ShapeError(f"kdim, vdim: the memory is written from one source width; expected "
                             f"kdim == vdim, found kdim={kdim}, vdim={vdim}")
        if dropout != 0:
            raise MethodError(f"dropout: expected 0 (the memory forms no attention weights to "
                              f"drop), found {dropout!r}; add dropout after the layer instead")
        if not isinstance(batch_first, bool):
            raise DTypeError(f"batch_first: expected a bool, found {batch_first!r}")
        if "d_source" in layer_kwargs:
            raise ShapeError("d_source: set the source width with kdim/vdim")
        self.embed_dim, self.num_heads, self.batch_first = embed_dim, num_heads, batch_first
        self.kdim = self.vdim = vdim
        self.layer = MCCCCrossConditioning(embed_dim, d_source=vdim, **layer_kwargs)
        if device is not None or dtype is not None:
            self.layer.to(device=device, dtype=dtype)

    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = False,
                attn_mask=None, average_attn_weights: bool = True, is_causal: bool = False):
        """``(out, None)`` with ``out`` shaped like ``query``; see the class docstring."""
        if attn_mask is not None:
            raise MethodError("attn_mask: MCCC cannot honour a per-query mask over source "
                              "positions (every query reads the same compressed memory); pass "
                              "attn_mask=None and mark padding with key_padding_mask")
        if is_causal:
            raise MethodError("is_causal: MCCC cross-conditioning reads the whole source memory; "
                              "pass is_causal=False (memory_is_causal=False)")
        if need_weights:
            raise MethodError("need_weights: MCCC forms no attention matrix; pass "
                              "need_weights=False")
        if not all(isinstance(t, torch.Tensor) and t.dim() == 3 for t in (query, key, value)):
            raise ShapeError("query, key, value: expected 3-d tensors (batch_first="
                             f"{self.batch_first})")
        if tuple(key.shape) != tuple(value.shape):
            raise ShapeError(f"key: expected the shape of value {tuple(value.shape)}, found "
                             f"{tuple(key.shape)}")
        if not self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        if key_padding_mask is not None and key_padding_mask.is_floating_point():
            # torch's float masks are added to the logits: 0 keeps a token, -inf removes it
            if not _compiling() and not bool(((key_padding_mask == 0)
                                              | (key_padding_mask == -math.inf)).all()):
                raise ShapeError("key_padding_mask: a float mask must hold only 0 (keep) and -inf "
                                 "(padded); MCCC cannot reweight single tokens")
            key_padding_mask = key_padding_mask == -math.inf
        keys = key if (self.layer.write == "key" and key is not value) else None
        out = self.layer(query, value, key_padding_mask=key_padding_mask, keys=keys)
        return (out if self.batch_first else out.transpose(0, 1)), None
