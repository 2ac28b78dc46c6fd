"""Training tasks: Schlag et al.'s synthetic retrieval settings and MQAR as cross-conditioning.

:class:`SchlagTask` (Schlag, Irie & Schmidhuber 2021, §6.1 and their ``synthetic/`` code):
S keys and S values (token ids ``0..S-1``); a sequence writes L pairs, then one key is queried.

* setting 1 (``replace=False``): L = S, keys a random permutation of all S keys, values a random
  permutation of all S values (every key once, unambiguous);
* setting 2 (``replace=True``): L = 2 S, keys and values drawn with replacement; the answer is
  the value of the key's *last* write.

Training batches hold ``batch`` sequences with one query each, the queried position drawn
uniformly over the L positions and moved to the last write of its key (their ``get_batch``).
Evaluation sequences query every distinct key once (their ``get_all_queries``); the values are
one-hot vectors in ``R^S`` and the loss is ``0.5 |y - v|^2`` per query.

:class:`RecallTask`: associative recall as cross-conditioning. A batch of zoology MQAR examples
(:func:`mccc_theory.recall.mqar.mqar`, zoology's semantics: keys from ``[1, V/2)``, values from
``[V/2, V)``, each key queried once); the *encoder* sees the ``2 N`` context tokens
``k_1 v_1 ... k_N v_N``, the *decoder* sees the N queried keys in zoology's query order, and the
label of a query is its value (an index in ``[0, V - V/2)``). Accuracy is measured at the query
positions only, as zoology's labels (-100 elsewhere) ask.

Both draw from a :class:`numpy.random.Generator` (deterministic from the seed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import OrderError
from ..recall.mqar import MQARConfig, mqar
from ..validation import check_positive_int

__all__ = ["SchlagTask", "SchlagBatch", "RecallTask", "RecallBatch"]


@dataclass(frozen=True, eq=False)
class SchlagBatch:
    """Token ids: ``keys``/``values`` (B, L) in ``[0, S)``; ``queries``/``answers`` (B, Q) with
    ``mask`` (B, Q) true where a query exists (evaluation sequences of setting 2 query fewer
    than S distinct keys)."""

    keys: np.ndarray
    values: np.ndarray
    queries: np.ndarray
    answers: np.ndarray
    mask: np.ndarray


@dataclass(frozen=True)
class SchlagTask:
    """Schlag et al.'s setting 1 (``replace=False``) or 2 (``replace=True``); module docstring."""

    n_keys: int
    replace: bool = False

    def __post_init__(self):
        check_positive_int(self.n_keys, "S")

    @property
    def seq_len(self) -> int:
        return 2 * self.n_keys if self.replace else self.n_keys

    @property
    def setting(self) -> int:
        return 2 if self.replace else 1

    def _sequences(self, B: int, rng):
        S, L = self.n_keys, self.seq_len
        if self.replace:
            return rng.integers(0, S, (B, L)), rng.integers(0, S, (B, L))
        return (np.argsort(rng.random((B, S)), axis=1), np.argsort(rng.random((B, S)), axis=1))

    def _last_write(self, keys):
        """``last[b, k]`` = position of the last write of key k in row b (-1 if absent)."""
        B, L = keys.shape
        last = np.full((B, self.n_keys), -1)
        # maximum.at: repeated indices are all applied (plain fancy assignment has no order)
        np.maximum.at(last, (np.broadcast_to(np.arange(B)[:, None], keys.shape), keys),
                      np.broadcast_to(np.arange(L), keys.shape))
        return last

    def train_batch(self, batch: int, rng) -> SchlagBatch:
        """``batch`` sequences, one query each (module docstring)."""
        B = check_positive_int(batch, "batch")
        keys, values = self._sequences(B, rng)
        pos = rng.integers(0, self.seq_len, B)
        q = keys[np.arange(B), pos]
        last = self._last_write(keys)[np.arange(B), q]
        ans = values[np.arange(B), last]
        return SchlagBatch(keys, values, q[:, None], ans[:, None], np.ones((B, 1), bool))

    def eval_batch(self, n_sequences: int, rng) -> SchlagBatch:
        """``n_sequences`` sequences, each querying every distinct key it holds once."""
        B = check_positive_int(n_sequences, "n_sequences")
        keys, values = self._sequences(B, rng)
        S = self.n_keys
        last = self._last_write(keys)
        mask = last >= 0
        queries = np.broadcast_to(np.arange(S), (B, S)).copy()
        answers = np.where(mask, np.take_along_axis(values, np.maximum(last, 0), axis=1), 0)
        return SchlagBatch(keys, values, queries, answers, mask)


@dataclass(frozen=True, eq=False)
class RecallBatch:
    """``context`` (B, 2N) encoder tokens, ``queries`` (B, N) decoder tokens (keys), ``answers``
    (B, N) value indices in ``[0, V - V/2)``."""

    context: np.ndarray
    queries: np.ndarray
    answers: np.ndarray


@dataclass(frozen=True)
class RecallTask:
    """MQAR as cross-conditioning (module docstring).

    Parameters
    ----------
    n_pairs : int
        N key-value pairs.
    vocab_size : int
        V (zoology: ``V > L``; keys from ``[1, V/2)``).
    seq_len : int, optional
        zoology's L (default ``4 N``, the shortest that holds one pass and N queries); only the
        query order depends on it.
    """

    n_pairs: int
    vocab_size: int = 256
    seq_len: int | None = None

    def __post_init__(self):
        N = check_positive_int(self.n_pairs, "N")
        V = check_positive_int(self.vocab_size, "vocab_size", minimum=4)
        if V // 2 - 1 < N:
            raise OrderError(f"N: the key pool [1, V/2) holds {V // 2 - 1} keys, found N = {N}; "
                             "use a larger vocabulary")
        self.config  # validates L against N and V  # noqa: B018

    @property
    def config(self) -> MQARConfig:
        L = 4 * self.n_pairs if self.seq_len is None else self.seq_len
        L = max(L, 2)
        return MQARConfig(vocab_size=self.vocab_size, seq_len=L + L % 2,
                          num_kv_pairs=self.n_pairs)

    @property
    def n_values(self) -> int:
        """Candidates per query, ``V - V/2``."""
        return self.vocab_size - self.vocab_size // 2

    def batch(self, batch: int, rng) -> RecallBatch:
        """``batch`` examples drawn with zoology's generator (seeded from ``rng``)."""
        B = check_positive_int(batch, "batch")
        cfg = self.config
        mb = mqar(cfg, B, int(rng.integers(2**31)))
        N = cfg.num_kv_pairs
        order = np.argsort(mb.query_positions, axis=1)  # the decoder reads in zoology's order
        queries = np.take_along_axis(mb.keys, order, axis=1)
        answers = np.take_along_axis(mb.values, order, axis=1) - cfg.vocab_size // 2
        return RecallBatch(np.ascontiguousarray(mb.inputs[:, :2 * N]), queries, answers)
