"""Task models around a memory: embeddings in, readouts out (torch).

:class:`SchlagModel` follows Schlag et al.'s ``synthetic/`` model: key tokens embed by a learned
table of width ``e = int(1.1 * 2 S)`` (initialised N(0, 1)); values are fixed one-hot vectors in
``R^S``; a write's input is ``[onehot(v_t), emb(k_t)]``, a query's input ``emb(q)``; the memory
(:mod:`mccc_theory.training.memories`) returns ``y in R^S`` and the loss of a query is
``0.5 |y - onehot(answer)|^2``.

:class:`RecallModel` is the cross-conditioning model of the MQAR task: tokens embed by a learned
table (width ``d_model``); the encoder adds a learned short convolution (each token also sees
its predecessor, zoology's short-conv role that puts a key next to its value), ``h_t = E x_t +
W_s E x_{t-1}``; the memory writes ``(h_t, W_v h_t)`` (values of width ``d_value``) and reads
at the decoder's query tokens ``E q``; a linear head scores the ``V - V/2`` value tokens
(cross-entropy; accuracy = argmax).

``forward`` returns ``(loss, per_query_loss, correct)``: the mean loss over the valid queries,
the per-query loss (B, Q) and the per-query correctness (B, Q).
"""

from __future__ import annotations

import torch
from torch import nn

from .memories import OneHotConcat, make_memory

__all__ = ["SchlagModel", "RecallModel"]


class SchlagModel(nn.Module):
    """Schlag et al.'s retrieval model with one of the toolkit's memories (module docstring)."""

    def __init__(self, n_keys: int, memory: str, *, d_key: int = 64, n_modes: int = 32):
        super().__init__()
        S = n_keys
        e = int(2 * S * 1.1)
        self.n_keys = S
        self.embed = nn.Embedding(S, e)
        nn.init.normal_(self.embed.weight, 0.0, 1.0)
        self.register_buffer("onehot", torch.eye(S), persistent=False)
        self.memory = make_memory(memory, S + e, e, S, d_key=d_key, n_modes=n_modes)

    def forward(self, keys, values, queries, answers, mask):
        v = self.onehot[values]
        y = self.memory(OneHotConcat(values, self.n_keys, self.embed(keys)), v,
                        self.embed(queries))
        per_query = 0.5 * ((y - self.onehot[answers]) ** 2).sum(dim=-1)
        correct = (y.argmax(dim=-1) == answers) & mask
        loss = (per_query * mask).sum() / mask.sum()
        return loss, per_query, correct


class RecallModel(nn.Module):
    """MQAR cross-conditioning model (module docstring)."""

    def __init__(self, vocab_size: int, n_values: int, memory: str, *, d_model: int = 64,
                 d_value: int | None = None, d_key: int = 64, n_modes: int = 32):
        super().__init__()
        d_v = d_model if d_value is None else d_value
        self.embed = nn.Embedding(vocab_size, d_model)
        self.conv = nn.Linear(d_model, d_model, bias=False)
        self.value = nn.Linear(d_model, d_v, bias=False)
        self.memory = make_memory(memory, d_model, d_model, d_v, d_key=d_key, n_modes=n_modes)
        self.head = nn.Linear(d_v, n_values)

    def forward(self, context, queries, answers, mask=None):
        e = self.embed(context)
        prev = nn.functional.pad(e, (0, 0, 1, 0))[:, :-1]  # x_{t-1}, zero before the first
        h = e + self.conv(prev)
        logits = self.head(self.memory(h, self.value(h), self.embed(queries)))
        per_query = nn.functional.cross_entropy(logits.transpose(1, 2), answers,
                                                reduction="none")
        correct = logits.argmax(dim=-1) == answers
        return per_query.mean(), per_query, correct
