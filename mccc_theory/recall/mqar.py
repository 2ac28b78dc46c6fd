"""Multi-query associative recall (MQAR) with the semantics of HazyResearch/zoology.

Generator semantics (``zoology/data/multiquery_ar.py``, function ``multiquery_ar``), for a
vocabulary of size V, sequence length L, N key-value pairs and ``num_passes`` P:

* requirements: L even, ``V > L``, ``2 N P + 2 N <= L`` (``4 N <= L`` for one pass);
* keys are drawn without replacement from ``[1, V/2)``, values without replacement from
  ``[V/2, V)`` (``V/2`` is integer division);
* the context is the ``2 N`` tokens ``k_1 v_1 k_2 v_2 ...``, repeated P times;
* the query region has ``space = (L - 2 N P) / 2`` even slots; each key is queried exactly once
  at slot ``g`` (position ``2 N P + 2 g``), the gaps ``g`` drawn without replacement with
  probabilities ``p_g ~ a (g + 1)^(a - 1)`` (power ``a = power_a``, default 0.01), the first
  drawn gap going to the first pair;
* labels are -100 except at every query position, where the label is the queried key's value
  (the model must emit the value right after reading the key);
* with ``random_non_queries`` every remaining 0 of the input is replaced by a token uniform in
  ``[0, V)``.

Zoology draws with NumPy's legacy global generator (``np.random.seed(seed)``), row by row, and
the filler tokens with PyTorch's global generator. :func:`mqar` reproduces the *distribution*
with a vectorised :class:`numpy.random.Generator` (weighted sampling without replacement by
Gumbel-top-k, which has the same law as NumPy's sequential ``choice(replace=False, p=p)``);
``method="zoology"`` instead repeats zoology's legacy-generator calls in zoology's order, so its
keys, values and gaps equal zoology's for the same seed (filler tokens come from the same
legacy generator afterwards and therefore differ from zoology's PyTorch draws).

Figure 2 of the zoology paper trains on V = 8192 with (L, N) in {(64, 4), (128, 8), (256, 16)}
and model widths 64..512; those configurations are available by name (:data:`FIGURE2_CONFIGS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import MethodError, OrderError
from ..validation import check_choice, check_positive_int

__all__ = ["MQARConfig", "MQARBatch", "mqar", "FIGURE2_CONFIGS", "get_config", "power_law_gaps"]

IGNORE = -100


@dataclass(frozen=True)
class MQARConfig:
    """Parameters of zoology's ``multiquery_ar`` (validated on construction).

    Attributes
    ----------
    vocab_size : int
        V; keys come from ``[1, V // 2)``, values from ``[V // 2, V)``.
    seq_len : int
        L (even, ``< V``).
    num_kv_pairs : int
        N (``2 N num_passes + 2 N <= L``, ``N <= V // 2 - 1``).
    power_a : float
        Power of the gap distribution (``> 0``; 1 gives uniform gaps).
    num_passes : int
        Repetitions of the key-value context (JRT prompting); 1 in the zoology paper.
    random_non_queries : bool
        Replace the zeros of the query region by uniform random tokens.
    name : str
        Label used in tables.
    """

    vocab_size: int = 8192
    seq_len: int = 64
    num_kv_pairs: int = 4
    power_a: float = 0.01
    num_passes: int = 1
    random_non_queries: bool = True
    name: str = field(default="", compare=False)

    def __post_init__(self):
        V = check_positive_int(self.vocab_size, "vocab_size", minimum=4)
        L = check_positive_int(self.seq_len, "seq_len", minimum=2)
        N = check_positive_int(self.num_kv_pairs, "num_kv_pairs")
        P = check_positive_int(self.num_passes, "num_passes")
        if L % 2:
            raise OrderError(f"seq_len: zoology needs an even sequence length, found {L}")
        if V <= L:
            raise OrderError(f"vocab_size: zoology needs V > L, found V = {V} <= L = {L}; "
                             "use a larger vocabulary or a shorter sequence")
        if N > V // 2 - 1:
            raise OrderError(f"num_kv_pairs: the key pool [1, V/2) holds {V // 2 - 1} keys, "
                             f"found N = {N}; use a larger vocabulary")
        if 2 * N * P + 2 * N > L:
            raise OrderError(f"num_kv_pairs: need 2 N num_passes + 2 N <= L (each key queried "
                             f"once after the context), found N = {N}, num_passes = {P}, "
                             f"L = {L}; at most {L // (2 * P + 2)} pairs fit")
        if not (np.isfinite(self.power_a) and self.power_a > 0):
            raise OrderError(f"power_a: expected a positive power, found {self.power_a}")

    @property
    def space(self) -> int:
        """Number of query slots ``(L - 2 N P) // 2``."""
        return (self.seq_len - 2 * self.num_kv_pairs * self.num_passes) // 2

    @property
    def context_size(self) -> int:
        return 2 * self.num_kv_pairs * self.num_passes


@dataclass(frozen=True, eq=False)
class MQARBatch:
    """A batch of MQAR examples.

    Attributes
    ----------
    inputs : (B, L) int64
    labels : (B, L) int64
        ``-100`` except at query positions, where it is the answer (value token).
    keys, values : (B, N) int64
        The pairs, in context order.
    query_positions : (B, N) int64
        Position in ``inputs`` where key ``i`` is queried.
    config : MQARConfig
    """

    inputs: np.ndarray
    labels: np.ndarray
    keys: np.ndarray
    values: np.ndarray
    query_positions: np.ndarray
    config: MQARConfig

    @property
    def value_positions(self) -> np.ndarray:
        """Position of value ``i`` in its last context pass, shape (B, N)."""
        c = self.config
        last = (c.num_passes - 1) * 2 * c.num_kv_pairs
        return np.broadcast_to(last + 2 * np.arange(c.num_kv_pairs) + 1, self.keys.shape)


FIGURE2_CONFIGS = {
    f"zoology-fig2-L{L}": MQARConfig(vocab_size=8192, seq_len=L, num_kv_pairs=N,
                                     name=f"zoology-fig2-L{L}")
    for L, N in ((64, 4), (128, 8), (256, 16))
}


def get_config(name: str, **overrides) -> MQARConfig:
    """A configuration by name (:data:`FIGURE2_CONFIGS`), optionally with fields overridden."""
    check_choice(name, "name", FIGURE2_CONFIGS)
    return replace(FIGURE2_CONFIGS[name], **overrides) if overrides else FIGURE2_CONFIGS[name]


def power_law_gaps(space: int, power_a: float) -> np.ndarray:
    """Zoology's gap distribution ``p_g ~ a (g + 1)^(a - 1)``, g = 0..space-1 (normalised)."""
    space = check_positive_int(space, "space")
    p = power_a * np.arange(1, space + 1, dtype=float) ** (power_a - 1)
    return p / p.sum()


def _assemble(cfg: MQARConfig, keys, values, gaps, filler):
    B, N = keys.shape
    ctx = np.zeros((B, 2 * N), dtype=np.int64)
    ctx[:, 0::2], ctx[:, 1::2] = keys, values
    ctx = np.tile(ctx, (1, cfg.num_passes))
    queries = np.zeros((B, cfg.seq_len - cfg.context_size + 1), dtype=np.int64)
    np.put_along_axis(queries, 2 * gaps, keys, axis=1)
    examples = np.concatenate([ctx, queries], axis=1)
    labels = np.full((B, cfg.seq_len + 1), IGNORE, dtype=np.int64)
    np.put_along_axis(labels, 2 * gaps + cfg.context_size + 1, values, axis=1)
    inputs, labels = examples[:, :-1], labels[:, 1:]
    if cfg.random_non_queries:
        zero = inputs == 0
        inputs = np.where(zero, filler(inputs.shape), inputs)
    return MQARBatch(inputs, labels, keys, values, cfg.context_size + 2 * gaps, cfg)


def mqar(config: MQARConfig | str, num_examples: int, seed: int = 0, *,
         method: str = "vectorised") -> MQARBatch:
    """Generate MQAR examples with zoology's semantics (module docstring).

    Parameters
    ----------
    config : MQARConfig or str
        A configuration or the name of one in :data:`FIGURE2_CONFIGS`.
    num_examples : int
    seed : int
    method : {"vectorised", "zoology"}
        ``"vectorised"``: one :class:`numpy.random.Generator`, whole-batch draws (fast).
        ``"zoology"``: zoology's legacy-generator calls row by row (bit-identical keys, values
        and gaps to zoology for the same seed; slow).

    Returns
    -------
    MQARBatch

    Raises
    ------
    OrderError
        For an invalid configuration (V <= L, odd L, too many pairs for L or for the key pool).
    MethodError
        For an unknown ``method`` or configuration name.

    Notes
    -----
    Cost ``O(B (V + L))``: sampling N of ``V/2 - 1`` keys without replacement uses one uniform
    per key-pool entry (argpartition of random keys).
    """
    cfg = get_config(config) if isinstance(config, str) else config
    if not isinstance(cfg, MQARConfig):
        raise MethodError(f"config: expected an MQARConfig or a name in "
                          f"{sorted(FIGURE2_CONFIGS)}, found {type(config).__name__}")
    B = check_positive_int(num_examples, "num_examples")
    check_choice(method, "method", ("vectorised", "zoology"))
    V, N = cfg.vocab_size, cfg.num_kv_pairs
    half = V // 2
    p = power_law_gaps(cfg.space, cfg.power_a)
    if method == "zoology":
        rs = np.random.RandomState(seed)
        key_pool, val_pool = np.arange(1, half), np.arange(half, V)
        keys = np.stack([rs.choice(key_pool, replace=False, size=N) for _ in range(B)])
        values = np.stack([rs.choice(val_pool, replace=False, size=N) for _ in range(B)])
        slots = np.arange(cfg.space)
        gaps = np.stack([rs.choice(slots, replace=False, p=p, size=N) for _ in range(B)])
        return _assemble(cfg, keys, values, gaps, lambda shape: rs.randint(V, size=shape))
    rng = np.random.default_rng(seed)
    keys = 1 + np.argpartition(rng.random((B, half - 1)), N - 1, axis=1)[:, :N]
    keys = rng.permuted(keys, axis=1)
    values = half + np.argpartition(rng.random((B, V - half)), N - 1, axis=1)[:, :N]
    values = rng.permuted(values, axis=1)
    # Gumbel-top-k: the order of the N largest log p + Gumbel is a weighted draw without
    # replacement (same law as sequential choice(replace=False, p=p)).
    score = np.log(p)[None, :] + rng.gumbel(size=(B, cfg.space))
    top = np.argpartition(-score, N - 1, axis=1)[:, :N]
    order = np.argsort(-np.take_along_axis(score, top, axis=1), axis=1)
    gaps = np.take_along_axis(top, order, axis=1)
    return _assemble(cfg, keys.astype(np.int64), values.astype(np.int64), gaps.astype(np.int64),
                     lambda shape: rng.integers(0, V, size=shape))
