"""Recall tasks: what is stored, what is asked, and the candidates the answer is decoded from.

* :class:`CodebookTask` (THEORY §5, "Eqn E"): N keys uniform on the unit sphere of ``R^d``;
  a codebook of V vectors uniform on the unit sphere of ``R^{d_v}`` (fresh every trial); item
  ``i`` stores codebook entry ``c_i`` (uniform, with replacement unless ``distinct``); items are
  written at times ``0..N-1`` and queried (with their own key) at time ``N``. The answer is
  ``argmax_c e_c . r``.
* :class:`MQARRecallTask`: zoology MQAR examples (:mod:`mccc_theory.recall.mqar`) with random
  unit embeddings (untrained): key tokens embed to ``R^d`` and value tokens to ``R^{d_v}`` by
  fixed seeded tables; the memory stores the N (key, value) pairs at the value tokens'
  positions and is read at the query positions; the answer is the argmax over the ``V - V/2``
  value tokens. (A trained model also sees the filler tokens; the idealised memory stores only
  the pairs, which is what the MQAR label asks about.)

:meth:`sample` returns a :class:`RecallBatch`; :func:`mccc_theory.recall.measure.measure_recall`
runs memories on batches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..capacity.exact import random_unit_vectors
from ..errors import OrderError, ShapeError
from ..validation import check_positive_int
from .mqar import MQARConfig, get_config, mqar

__all__ = ["RecallBatch", "CodebookTask", "MQARRecallTask"]


@dataclass(frozen=True, eq=False)
class RecallBatch:
    """Keys, values, queries, times and decoding candidates of B independent trials.

    Attributes
    ----------
    keys : (B, N, d)
    values : (B, N, d_v)
    queries : (B, Q, d)
    write_times : (B, N) int
    query_times : (B, Q) int
    targets : (B, Q) int
        Index of the queried item.
    answers : (B, Q) int
        Index of the correct candidate.
    candidates : (B, C, d_v) or (C, d_v)
        Vectors the readout is decoded against (argmax of inner products).
    """

    keys: np.ndarray
    values: np.ndarray
    queries: np.ndarray
    write_times: np.ndarray
    query_times: np.ndarray
    targets: np.ndarray
    answers: np.ndarray
    candidates: np.ndarray

    def decode(self, readout) -> np.ndarray:
        """``argmax_c candidates_c . r`` for readouts (B, Q, d_v) -> (B, Q) int."""
        r = np.asarray(readout)
        if r.shape[:2] != self.answers.shape:
            raise ShapeError(f"readout: expected shape {self.answers.shape} + (d_v,), found "
                             f"{r.shape}")
        if self.candidates.ndim == 2:
            return np.argmax(r @ self.candidates.T, axis=-1)
        return np.argmax(r @ np.swapaxes(self.candidates, -1, -2), axis=-1)

    def correct(self, readout) -> np.ndarray:
        """Boolean (B, Q): decoded candidate equals the answer."""
        return self.decode(readout) == self.answers


@dataclass(frozen=True)
class CodebookTask:
    """The random-key codebook task (module docstring).

    Parameters
    ----------
    d : int
        Key dimension.
    n_items : int
        N stored items.
    n_values : int
        Codebook size V (>= 2).
    d_v : int, optional
        Value dimension (default d).
    distinct : bool
        Store distinct codebook entries (needs V >= N).
    """

    d: int
    n_items: int
    n_values: int
    d_v: int | None = None
    distinct: bool = False

    def __post_init__(self):
        check_positive_int(self.d, "d")
        check_positive_int(self.n_items, "n_items")
        check_positive_int(self.n_values, "n_values", minimum=2)
        if self.d_v is not None:
            check_positive_int(self.d_v, "d_v")
        if self.distinct and self.n_values < self.n_items:
            raise OrderError(f"n_values: {self.n_items} distinct values need a codebook of at "
                             f"least that size, found V = {self.n_values}")

    @property
    def value_dim(self) -> int:
        return self.d if self.d_v is None else self.d_v

    @property
    def seq_len(self) -> int:
        """Length used for state-size accounting (one token per stored item)."""
        return self.n_items

    def sample(self, trials: int, rng=None, *, queries_per_trial: int | None = None
               ) -> RecallBatch:
        """``trials`` independent trials, each querying ``queries_per_trial`` distinct items
        (default all N), chosen uniformly."""
        B = check_positive_int(trials, "trials")
        N, V = self.n_items, self.n_values
        Qn = N if queries_per_trial is None else check_positive_int(
            queries_per_trial, "queries_per_trial", maximum=N)
        rng = np.random.default_rng(rng)
        keys = random_unit_vectors((B, N), self.d, rng)
        book = random_unit_vectors((B, V), self.value_dim, rng)
        if self.distinct:
            ids = np.argsort(rng.random((B, V)), axis=1)[:, :N]
        else:
            ids = rng.integers(0, V, size=(B, N))
        values = np.take_along_axis(book, ids[:, :, None], axis=1)
        if Qn == N:
            targets = np.broadcast_to(np.arange(N), (B, N)).copy()
        else:
            targets = np.argsort(rng.random((B, N)), axis=1)[:, :Qn]
        queries = np.take_along_axis(keys, targets[:, :, None], axis=1)
        answers = np.take_along_axis(ids, targets, axis=1)
        wt = np.broadcast_to(np.arange(N), (B, N))
        qt = np.full((B, Qn), N)
        return RecallBatch(keys, values, queries, wt, qt, targets, answers, book)


class MQARRecallTask:
    """MQAR with random unit token embeddings (module docstring).

    Parameters
    ----------
    config : MQARConfig or str
        An MQAR configuration or a name in :data:`mccc_theory.recall.mqar.FIGURE2_CONFIGS`.
    d : int
        Key (embedding) dimension.
    d_v : int, optional
        Value embedding dimension (default d).
    embed_seed : int
        Seed of the embedding tables (fixed across trials, like a model's embeddings).
    """

    def __init__(self, config: MQARConfig | str, d: int, d_v: int | None = None, *,
                 embed_seed: int = 0):
        self.config = get_config(config) if isinstance(config, str) else config
        if not isinstance(self.config, MQARConfig):
            raise ShapeError(f"config: expected an MQARConfig or a configuration name, found "
                             f"{type(config).__name__}")
        self.d = check_positive_int(d, "d")
        self.d_v = self.d if d_v is None else check_positive_int(d_v, "d_v")
        V = self.config.vocab_size
        rng = np.random.default_rng(embed_seed)
        self.key_table = random_unit_vectors(V, self.d, rng)
        self.value_table = random_unit_vectors(V, self.d_v, rng)

    @property
    def n_items(self) -> int:
        return self.config.num_kv_pairs

    @property
    def value_dim(self) -> int:
        return self.d_v

    @property
    def n_candidates(self) -> int:
        return self.config.vocab_size - self.config.vocab_size // 2

    @property
    def seq_len(self) -> int:
        return self.config.seq_len

    def embed(self, tokens, table: str = "key") -> np.ndarray:
        """Embedding of integer tokens in ``[0, V)`` (``table`` "key" or "value")."""
        t = np.asarray(tokens)
        V = self.config.vocab_size
        if not np.issubdtype(t.dtype, np.integer):
            raise ShapeError(f"tokens: expected integer token ids, found dtype {t.dtype}")
        if t.size and (t.min() < 0 or t.max() >= V):
            raise OrderError(f"tokens: expected ids in the vocabulary [0, {V}), found range "
                             f"[{t.min()}, {t.max()}]")
        return (self.key_table if table == "key" else self.value_table)[t]

    def batch_from_mqar(self, batch) -> RecallBatch:
        """Turn an :class:`~mccc_theory.recall.mqar.MQARBatch` into a :class:`RecallBatch`."""
        V, half = self.config.vocab_size, self.config.vocab_size // 2
        if np.any(batch.values < half) or np.any(batch.values >= V):
            raise OrderError(f"values: MQAR values must be tokens in [{half}, {V}) (the value "
                             "half of the vocabulary)")
        keys = self.embed(batch.keys, "key")
        values = self.embed(batch.values, "value")
        B, N = batch.keys.shape
        return RecallBatch(keys, values, keys, np.ascontiguousarray(batch.value_positions),
                           batch.query_positions, np.broadcast_to(np.arange(N), (B, N)).copy(),
                           batch.values - half, self.value_table[half:])

    def sample(self, trials: int, rng=None, *, queries_per_trial: int | None = None
               ) -> RecallBatch:
        """``trials`` MQAR examples (every key queried; ``queries_per_trial`` must be None or N)."""
        if queries_per_trial not in (None, self.n_items):
            raise OrderError(f"queries_per_trial: MQAR queries every key once, so it must be "
                             f"None or {self.n_items}, found {queries_per_trial}")
        seed = int(np.random.default_rng(rng).integers(2**31))
        return self.batch_from_mqar(mqar(self.config, trials, seed))
