"""Training loop: seeded Adam training with Schlag et al.'s early stopping, logs and checkpoints.

:func:`train` runs Adam (lr 1e-3, batch 32 by default, as published) on fresh batches, evaluates
every ``eval_every`` steps on fresh evaluation draws and stops when the evaluation loss reaches
``stop_loss`` (0.001) or after more than ``patience`` (10) evaluations without a new best, or at
``max_steps`` (published: 100k) -- Schlag et al.'s ``train`` in ``synthetic/main.py``. The best
model (lowest evaluation loss) is kept, saved as a checkpoint, and finally measured once more on
a held-out test draw (a separate random stream, ``test_sequences`` draws), so that the reported
test numbers are not the maximum of noisy evaluations.

Evaluation loss (Schlag tasks): the mean over sequences of the mean over *all* queries of a
sequence. For setting 1 every sequence queries all S keys, so the estimate obeys the rank bound
``0.5 max(0, 1 - d_dot/S)`` exactly, sequence by sequence (the published script instead averages
per-batch means with a smaller last batch, which can dip slightly below it: 0.2322 at S = 120).

Determinism: model initialisation from ``torch.manual_seed(seed)``; training, evaluation and test
draws from three :class:`numpy.random.Generator` streams spawned from ``seed``. On CPU a run is
bit-reproducible for a fixed thread count.

Logs: every evaluation is one JSON line ``{"step", "eval_loss", "eval_accuracy", "train_loss",
"seconds"}`` in ``log.jsonl`` under ``out``; the checkpoint ``checkpoint.pt`` holds the spec,
the best weights, the optimizer state and the step; :func:`load_checkpoint` refuses a checkpoint
of another model.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from ..errors import EmptyInputError, MethodError, NonFiniteError, OrderError
from ..validation import check_choice, check_positive_int
from .memories import MEMORY_NAMES

__all__ = ["TASKS", "TrainSpec", "TrainResult", "build", "train", "evaluate", "save_checkpoint",
           "load_checkpoint", "CHECKPOINT_FORMAT"]

TASKS = ("schlag1", "schlag2", "recall")
CHECKPOINT_FORMAT = "mccc-train/1"
# the fields that define a model's architecture: a checkpoint must match all of them
_MODEL_FIELDS = ("task", "memory", "size", "d_key", "n_modes", "d_model", "d_value",
                 "vocab_size")


@dataclass(frozen=True)
class TrainSpec:
    """What to train and how (validated on construction).

    Attributes
    ----------
    task : {"schlag1", "schlag2", "recall"}
    memory : str
        A name of :data:`mccc_theory.training.memories.MEMORY_NAMES`.
    size : int
        S (number of keys, Schlag tasks) or N (key-value pairs, recall).
    d_key : int
        Width of keys and queries before the feature map (published: 64).
    n_modes : int
        Modes of the MCCC layer (``mccc``, ``mccc-key``).
    d_model, vocab_size : int
        Recall task: embedding width and MQAR vocabulary V.
    d_value : int, optional
        Recall task: width of the memory's values (default ``d_model``); with ``d_key`` and
        ``n_modes`` it sets the state size.
    batch, lr, max_steps, eval_every, eval_sequences, test_sequences, stop_loss, patience, seed
        Optimisation (published: 32, 1e-3, 100000, 100, 20, -, 0.001, 10). For the recall task a
        "sequence" of the evaluation is one MQAR example (N queries).
    """

    task: str
    memory: str
    size: int
    d_key: int = 64
    n_modes: int = 32
    d_model: int = 64
    d_value: int | None = None
    vocab_size: int = 256
    batch: int = 32
    lr: float = 1e-3
    max_steps: int = 100_000
    eval_every: int = 100
    eval_sequences: int = 20
    test_sequences: int = 100
    stop_loss: float = 1e-3
    patience: int = 10
    seed: int = 0

    def __post_init__(self):
        check_choice(self.task, "task", TASKS)
        check_choice(self.memory, "memory", MEMORY_NAMES)
        check_positive_int(self.size, "S" if self.task != "recall" else "N")
        for name in ("d_key", "n_modes", "d_model", "batch", "max_steps", "eval_every",
                     "eval_sequences", "test_sequences"):
            check_positive_int(getattr(self, name), name)
        check_positive_int(self.patience, "patience", minimum=0)
        check_positive_int(self.seed, "seed", minimum=0)
        if self.task == "recall":
            check_positive_int(self.vocab_size, "vocab_size", minimum=4)
        if self.d_value is not None:
            check_positive_int(self.d_value, "d_value")
        for name in ("lr", "stop_loss"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise OrderError(f"{name}: expected a finite number >= 0, found {value!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainSpec:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def model_key(self) -> dict:
        """The architecture-defining fields (what a checkpoint must match)."""
        d = self.to_dict()
        return {k: d[k] for k in _MODEL_FIELDS}

    def label(self) -> str:
        what = "N" if self.task == "recall" else "S"
        return f"{self.task} {self.memory} {what}={self.size}"


@dataclass
class TrainResult:
    """Outcome of :func:`train`: the best evaluation, the held-out test of the best model, the
    evaluation log, steps run, wall time, why it stopped, and where files went."""

    spec: TrainSpec
    best_eval_loss: float
    best_eval_accuracy: float
    best_step: int
    test_loss: float
    test_accuracy: float
    steps: int
    seconds: float
    stopped: str
    log: list[dict] = field(default_factory=list)
    out: str | None = None

    def to_json(self) -> dict:
        d = asdict(self)
        d["spec"] = self.spec.to_dict()
        return d


def build(spec: TrainSpec, device: str | None = None):
    """``(model, task)`` for ``spec``, the model initialised from ``torch.manual_seed(seed)``."""
    import torch

    from .models import RecallModel, SchlagModel
    from .tasks import RecallTask, SchlagTask

    torch.manual_seed(spec.seed)
    if spec.task == "recall":
        task = RecallTask(spec.size, spec.vocab_size)
        model = RecallModel(spec.vocab_size, task.n_values, spec.memory, d_model=spec.d_model,
                            d_value=spec.d_value, d_key=spec.d_key, n_modes=spec.n_modes)
    else:
        task = SchlagTask(spec.size, replace=spec.task == "schlag2")
        model = SchlagModel(spec.size, spec.memory, d_key=spec.d_key, n_modes=spec.n_modes)
    return model.to(_device(device)), task


def _device(device):
    import torch

    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _tensors(batch, device):
    import torch

    return [torch.as_tensor(np.asarray(a), device=device) for a in vars(batch).values()]


def _draw(task, spec, rng, *, evaluation: bool, n: int | None = None):
    if spec.task == "recall":
        return task.batch(n or spec.batch, rng)
    return task.eval_batch(n, rng) if evaluation else task.train_batch(spec.batch, rng)


def evaluate(model, task, spec: TrainSpec, rng, n_sequences: int, device=None) -> tuple[float, float]:
    """``(loss, accuracy)`` on ``n_sequences`` fresh evaluation draws (module docstring).

    Schlag tasks: the mean over sequences of each sequence's mean query loss; recall: the mean
    cross-entropy and accuracy over all queries (every example has N).
    """
    import torch

    device = next(model.parameters()).device if device is None else device
    model.eval()
    losses, correct, count = [], 0, 0
    chunk = spec.batch
    with torch.no_grad():
        for start in range(0, n_sequences, chunk):
            b = _draw(task, spec, rng, evaluation=True, n=min(chunk, n_sequences - start))
            args = _tensors(b, device)
            _, per_query, ok = model(*args)
            mask = args[-1] if spec.task != "recall" else torch.ones_like(ok)
            losses.append((per_query * mask).sum(dim=1) / mask.sum(dim=1))
            correct += int(ok.sum())
            count += int(mask.sum())
    model.train()
    loss = float(torch.cat(losses).mean())
    if not math.isfinite(loss):
        raise NonFiniteError(f"evaluation loss: expected a finite number, found {loss} "
                             f"({spec.label()}); lower the learning rate")
    return loss, correct / count


def save_checkpoint(path, model, spec: TrainSpec, *, step: int, optimizer=None,
                    best_eval_loss: float | None = None) -> Path:
    """Write a checkpoint (spec, weights, optimizer state, step) that :func:`load_checkpoint` reads."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": CHECKPOINT_FORMAT, "spec": spec.to_dict(), "step": int(step),
                "best_eval_loss": best_eval_loss, "model": model.state_dict(),
                "optimizer": None if optimizer is None else optimizer.state_dict()}, path)
    return path


def load_checkpoint(path, spec: TrainSpec | None = None, *, device: str | None = None):
    """``(model, spec, data)`` from a checkpoint; ``spec`` (optional) is the model it must hold.

    Raises
    ------
    EmptyInputError
        ``path`` is not a file or not a checkpoint of this toolkit.
    MethodError
        The checkpoint holds another model than ``spec`` (task, memory, size or widths differ).
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise EmptyInputError(f"checkpoint: no such file {str(path)!r}; pass a checkpoint.pt "
                              "written by mccc train")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a file that is not a checkpoint
        raise EmptyInputError(f"checkpoint: {path} is not a readable torch checkpoint "
                              f"({type(exc).__name__}); pass a checkpoint.pt written by mccc "
                              "train") from None
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise EmptyInputError(f"checkpoint: {path} is not an mccc train checkpoint (expected "
                              f"format {CHECKPOINT_FORMAT!r})")
    saved = TrainSpec.from_dict(data["spec"])
    if spec is not None and saved.model_key() != spec.model_key():
        diff = ", ".join(f"{k}={saved.model_key()[k]!r} (expected {spec.model_key()[k]!r})"
                         for k in _MODEL_FIELDS if saved.model_key()[k] != spec.model_key()[k])
        raise MethodError(f"checkpoint: {path} holds another model: {diff}; pass the checkpoint "
                          "of this model or the options that match the checkpoint")
    model, _ = build(saved if spec is None else spec, device)
    model.load_state_dict(data["model"])
    return model, saved, data


def _progress(total, label, enabled):
    from tqdm import tqdm

    return tqdm(total=total, desc=label, file=sys.stderr, disable=not enabled, leave=False,
                mininterval=1.0)


def train(spec: TrainSpec, out: str | Path | None = None, *, device: str | None = None,
          progress: bool = True, resume: str | Path | None = None) -> TrainResult:
    """Train ``spec`` (module docstring); returns the best evaluation and its held-out test.

    Parameters
    ----------
    spec : TrainSpec
    out : path, optional
        Directory for ``log.jsonl``, ``checkpoint.pt`` and ``result.json`` (nothing written
        without it). A directory that already holds a checkpoint of another model is refused.
    device : str, optional
        ``"cuda"`` when available, else ``"cpu"``.
    progress : bool
        tqdm bar on stderr.
    resume : path, optional
        A checkpoint of the same model to continue from (weights, optimizer and step).

    Returns
    -------
    TrainResult

    Raises
    ------
    MethodError
        ``resume`` or ``out`` holds a checkpoint of another model; ``mccc-key`` without the
        layer's key-addressed write.
    NonFiniteError
        The loss became NaN or infinite.

    Notes
    -----
    Cost per step: one forward/backward pass of the memory on ``batch`` sequences (softmax and
    the sum rule O(B L D d_v), the delta rule a Python loop over the L writes, the MCCC layer a
    modal scan of L steps).
    """
    import torch

    device = _device(device)
    out = None if out is None else Path(out)
    if out is not None and (out / "checkpoint.pt").is_file():
        try:
            load_checkpoint(out / "checkpoint.pt", spec)
        except MethodError as exc:
            raise MethodError(f"--out: {out} already holds a checkpoint of another model ({exc}); "
                              "choose another output directory") from None
    model, task = build(spec, device)
    opt = torch.optim.Adam(model.parameters(), lr=spec.lr)
    step0 = 0
    if resume is not None:
        loaded, _, data = load_checkpoint(resume, spec, device=device)
        model.load_state_dict(loaded.state_dict())
        if data.get("optimizer"):
            opt.load_state_dict(data["optimizer"])
        step0 = int(data["step"])
    train_rng, eval_rng, test_rng = (np.random.default_rng(s) for s in
                                     np.random.SeedSequence(spec.seed).spawn(3))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "log.jsonl").write_text("")
    log: list[dict] = []
    best = (math.inf, 0.0, step0)
    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    strikes, stopped, step = 0, "max_steps", step0
    t0 = time.perf_counter()
    recent = []
    with _progress(spec.max_steps - step0, spec.label(), progress) as bar:
        for step in range(step0 + 1, spec.max_steps + 1):
            loss, _, _ = model(*_tensors(_draw(task, spec, train_rng, evaluation=False), device))
            if not torch.isfinite(loss):
                raise NonFiniteError(f"training loss: became {float(loss)} at step {step} "
                                     f"({spec.label()}); lower the learning rate")
            opt.zero_grad()
            loss.backward()
            opt.step()
            recent.append(float(loss.detach()))
            bar.update(1)
            if step % spec.eval_every and step != spec.max_steps:
                continue
            ev_loss, ev_acc = evaluate(model, task, spec, eval_rng, spec.eval_sequences, device)
            entry = {"step": step, "eval_loss": ev_loss, "eval_accuracy": ev_acc,
                     "train_loss": float(np.mean(recent)),
                     "seconds": round(time.perf_counter() - t0, 3)}
            recent = []
            log.append(entry)
            bar.set_postfix_str(f"eval {ev_loss:.4g} acc {ev_acc:.3f}")
            if out is not None:
                with (out / "log.jsonl").open("a") as fh:
                    fh.write(json.dumps(entry) + "\n")
            if ev_loss < best[0]:
                best, strikes = (ev_loss, ev_acc, step), 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                if out is not None:
                    save_checkpoint(out / "checkpoint.pt", model, spec, step=step, optimizer=opt,
                                    best_eval_loss=ev_loss)
            else:
                strikes += 1
            if ev_loss <= spec.stop_loss:
                stopped = "stop_loss"
                break
            if strikes > spec.patience:
                stopped = "no_progress"
                break
    model.load_state_dict(best_state)
    test_loss, test_acc = evaluate(model, task, spec, test_rng, spec.test_sequences, device)
    res = TrainResult(spec, best[0], best[1], best[2], test_loss, test_acc, step - step0,
                      time.perf_counter() - t0, stopped, log, None if out is None else str(out))
    if out is not None:
        (out / "result.json").write_text(json.dumps(res.to_json(), indent=2))
    res.model = model  # the best model, for pruning and inspection (not serialised)
    return res
