"""Pruning a trained MCCC layer with its certified reductions, measured on the task it learned.

:func:`prune` takes a trained model whose memory is the production layer (``mccc``) and, for
each method of ``layer.reduce(order, queries, method=...)`` (balanced truncation ``bt``,
singular perturbation ``spa``, the read-once projection ``read_once``, modal truncation
``modal``; issue 11, :mod:`mccc_kernels.bridge`), swaps the reduced layer into the model and
measures the task's loss and accuracy at every order ``1..m-1`` on one fixed evaluation draw
(the same for every order and method, so the curves differ only by the reduction). The queries
the certificate covers are the decoder positions of every key token the task can ask for.

The summary is the analogue of Forgione, Mejari & Piga 2024, Table 2: the number of modes
*removable within 1% loss*, ``m - r*`` with ``r*`` the smallest order whose loss is at most
``1.01`` times the full layer's (0 when no order qualifies); orders a method refuses to certify
(an order above the operator's numerical rank, or one splitting a repeated Hankel singular
value) are listed as refused and never count. Their 100-state LRU (no regularisation) lost
within 1% after removing 28 states by BT, 43 by balanced singular perturbation and 3 by modal
truncation.

References
----------
M. Forgione, M. Mejari, D. Piga, "Model order reduction of deep structured state-space models:
a system-theoretic approach", IEEE CDC 2024, Table 2.
"""

from __future__ import annotations

import numpy as np

from ..errors import MCCCError, MethodError
from ..validation import check_choice
from .trainer import TrainSpec, build, evaluate, train

__all__ = ["REDUCE_METHODS", "layer_has_reduce", "prune", "prune_cell", "prune_cells",
           "FORGIONE_TABLE2"]

REDUCE_METHODS = ("bt", "spa", "read_once", "modal")
# Forgione, Mejari & Piga 2024, Table 2 (100-state LRU without regularisation): states removable
# within 1% loss
FORGIONE_TABLE2 = {"n_modes": 100, "bt": 28, "spa": 43, "modal": 3}


def layer_has_reduce() -> bool:
    """Whether this installation's :class:`MCCCCrossConditioning` has ``reduce`` (issue 11)."""
    from mccc_kernels.nn import MCCCCrossConditioning

    return hasattr(MCCCCrossConditioning, "reduce")


def _queries(model, spec: TrainSpec):
    import torch

    mem = model.memory
    with torch.no_grad():
        if spec.task == "recall":
            keys = torch.arange(1, spec.vocab_size // 2, device=model.embed.weight.device)
            return mem.query(model.embed(keys)).double().cpu().numpy()
        return mem.query(model.embed.weight).double().cpu().numpy()


def prune(model, task, spec: TrainSpec, *, methods=REDUCE_METHODS, orders=None,
          eval_sequences: int = 100, seed: int = 12345, tolerance: float = 0.01) -> dict:
    """Loss and accuracy of a trained MCCC model against the modes kept, per reduction method.

    Parameters
    ----------
    model, task : from :func:`mccc_theory.training.train` / :func:`~mccc_theory.training.build`
        A model whose memory is ``mccc`` (the gain-written layer; ``reduce`` certifies only it).
    spec : TrainSpec
    methods : sequence of {"bt", "spa", "read_once", "modal"}
    orders : sequence of int, optional
        Orders to measure (default ``1..m-1``).
    eval_sequences : int
        Size of the fixed evaluation draw.
    seed : int
        Seed of that draw.
    tolerance : float
        Relative loss increase counted as "within" (0.01: 1%).

    Returns
    -------
    dict
        ``{"n_modes", "full_loss", "full_accuracy", "rows": [{"method", "order", "loss",
        "accuracy", "bound", "achieved", "holds"} or {"method", "order", "refused"}],
        "removable": {method: int}}``.

    Raises
    ------
    MethodError
        The model's memory is not the ``mccc`` layer, or the layer has no ``reduce``.
    """
    import copy

    if spec.memory != "mccc":
        raise MethodError(f"model: pruning reduces the gain-written MCCC layer (memory 'mccc'), "
                          f"found memory {spec.memory!r}")
    if not layer_has_reduce():
        raise MethodError("model: MCCCCrossConditioning.reduce (issue 11) is not in this "
                          "installation; pruning needs it")
    for m in methods:
        check_choice(m, "methods", REDUCE_METHODS)
    layer = model.memory.layer
    n_modes = layer.n_modes
    orders = list(range(1, n_modes)) if orders is None else list(orders)
    queries = _queries(model, spec)
    horizon = 2 * spec.size if spec.task == "recall" else task.seq_len

    def measure(m):
        return evaluate(m, task, spec, np.random.default_rng(seed), eval_sequences)

    full_loss, full_acc = measure(model)
    rows = []
    for method in methods:
        for r in orders:
            try:
                reduced, cert = layer.reduce(r, queries, method=method, horizon=horizon)
            except MCCCError as exc:
                rows.append({"method": method, "order": r, "refused": str(exc)})
                continue
            pruned = copy.deepcopy(model)
            pruned.memory.layer = reduced.to(next(model.parameters()).dtype)
            loss, acc = measure(pruned)
            rows.append({"method": method, "order": r, "loss": loss, "accuracy": acc,
                         "bound": float(cert.bound), "achieved": float(cert.achieved),
                         "holds": bool(cert.holds)})
    removable = {}
    for method in methods:
        ok = [row["order"] for row in rows if row["method"] == method and "loss" in row
              and row["loss"] <= (1 + tolerance) * full_loss]
        removable[method] = n_modes - min(ok) if ok else 0
    return {"n_modes": n_modes, "full_loss": full_loss, "full_accuracy": full_acc,
            "tolerance": tolerance, "rows": rows, "removable": removable}


def prune_cells(quick: bool = False, seed: int = 0) -> list[dict]:
    """The MCCC cells of the pruning study: Schlag setting 1 (S = 20, 8 modes) and MQAR
    cross-conditioning (N = 4, 16 modes); ``quick``: S = 8 with 4 modes, 100 steps."""
    if quick:
        cells = [dict(task="schlag1", memory="mccc", size=8, n_modes=4, d_key=8, max_steps=100,
                      eval_every=50)]
    else:
        cells = [dict(task="schlag1", memory="mccc", size=20, n_modes=8, max_steps=400),
                 dict(task="recall", memory="mccc", size=4, vocab_size=64, d_model=32, d_key=32,
                      n_modes=16, max_steps=1000)]
    return [TrainSpec.from_dict(dict(c, seed=seed)).to_dict() for c in cells]


def prune_cell(cell: dict) -> dict:
    """Train the cell (a :class:`TrainSpec` dict), then :func:`prune` it; JSON-able dict (pure,
    deterministic from the cell's seed)."""
    spec = TrainSpec.from_dict(cell)
    res = train(spec, progress=False)
    out = prune(res.model, build(spec)[1], spec)
    out.update(label=spec.label(), spec=spec.to_dict(), train_seconds=res.seconds,
               best_eval_loss=res.best_eval_loss)
    return out
