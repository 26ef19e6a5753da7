"""``lstmkit.Classifier``: sequence classification in the scikit-learn manner.

``Classifier(**options).fit(X, y, lengths=None).predict(X)``; the CLI's ``train classify`` runs
exactly this code. Options are the model's (``hidden``, ``layers``, ``cell``, ``bidirectional``,
``dropout``, ``pool``, ``conv_channels``, ``conv_kernel``, ``head_dropout``, ``backend``) and the
Trainer's (every field of ``TrainConfig``: ``epochs``, ``batch_size``, ``lr``, ...).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lstmkit.data import stratified_split
from lstmkit.estimators._saved import SavedEstimator
from lstmkit.models import ClassifierConfig, FeatureConfig, SequenceClassifier
from lstmkit.runs import merge_config
from lstmkit.train import distributed
from lstmkit.train.batches import TensorBatches
from lstmkit.train.config import TrainConfig
from lstmkit.train.trainer import EpochCallback, Trainer

__all__ = ["DEFAULTS", "Classifier"]

log = logging.getLogger(__name__)

# Model options and their defaults (training options default as in TrainConfig, but see below).
MODEL_OPTIONS = {
    "hidden": 128,
    "layers": 2,
    "cell": "lstm",
    "bidirectional": False,
    "dropout": 0.0,
    "pool": "last",
    "conv_channels": 0,
    "conv_kernel": 3,
    "conv_stride": 1,
    "head_dropout": 0.0,
    "backend": "auto",
    "forget_bias": 1.0,  # initial forget-gate bias; None keeps torch's uniform init
}
# Defaults: on Fashion-MNIST (rows as steps) these beat seed 002's script within its wall time
# (benchmarks/fashion_mnist.py): a strided Conv1d front end halves the steps the recurrence
# runs (28 -> 14), a 2-layer GRU reads them, and a short warm-up reaches a higher peak learning
# rate that decays on a cosine.
DEFAULTS = (
    MODEL_OPTIONS
    | {"cell": "gru", "conv_channels": 64, "conv_stride": 2}
    | {"epochs": 8, "batch_size": 128, "lr": 4e-3, "warmup_epochs": 0.3, "val_fraction": 0.1}
)
_TRAIN_FIELDS = {f.name for f in fields(TrainConfig)}
# Small data sets: when the user leaves ``epochs`` unset, train for at least this many optimizer
# steps (GunPoint's 45 training series make one batch, so 8 epochs would be 8 steps; 300 steps
# reach 0.96-0.98 test accuracy there, above 1-NN DTW's 0.907).
MIN_STEPS = 300


def split_options(options: dict) -> tuple[dict, TrainConfig]:
    """Model options (with defaults) and a validated TrainConfig; unknown names are an error."""
    unknown = set(options) - set(MODEL_OPTIONS) - _TRAIN_FIELDS - {"min_steps"}
    if unknown:
        known = sorted(set(MODEL_OPTIONS) | _TRAIN_FIELDS | {"min_steps"})
        raise ValueError(f"unknown options {sorted(unknown)}; known: {', '.join(known)}")
    merged = DEFAULTS | options
    if merged["conv_channels"] == 0 and "conv_stride" not in options:
        merged["conv_stride"] = 1  # the default stride belongs to the default front end
    min_steps = merged.get("min_steps", MIN_STEPS)
    if isinstance(min_steps, bool) or not isinstance(min_steps, int) or min_steps < 0:
        raise ValueError(f"min_steps must be a non-negative integer, got {min_steps!r}")
    model = {k: merged[k] for k in MODEL_OPTIONS}
    train = TrainConfig(**{k: v for k, v in merged.items() if k in _TRAIN_FIELDS})
    return model, train


def epochs_for(options: dict, train: TrainConfig, n_train: int) -> int:
    """The epochs to run: the user's ``epochs`` if given, else enough for ``min_steps`` steps."""
    if "epochs" in options:
        return train.epochs
    steps_per_epoch = max(1, math.ceil(n_train / train.batch_size))
    min_steps = options.get("min_steps", MIN_STEPS)
    return max(train.epochs, math.ceil(min_steps / steps_per_epoch))


def _as_arrays(X, y=None, lengths=None):
    X = np.asarray(X, dtype=np.float32)
    if X.ndim == 2:
        X = X[:, :, None]  # (N, L) -> (N, L, 1)
    if X.ndim != 3:
        raise ValueError(f"X must be (N, L, C) or (N, L), got shape {X.shape}")
    if lengths is not None:
        lengths = np.asarray(lengths)
        if lengths.shape != (X.shape[0],) or not np.issubdtype(lengths.dtype, np.integer):
            raise ValueError(
                f"lengths must be {X.shape[0]} integers, got {lengths.shape} {lengths.dtype}"
            )
        if lengths.min() < 1 or lengths.max() > X.shape[1]:
            raise ValueError(
                f"lengths must lie in [1, {X.shape[1]}], got {lengths.min()}..{lengths.max()}"
            )
        lengths = lengths.astype(np.int64)
    if y is not None:
        y = np.asarray(y)
        if y.shape != (X.shape[0],):
            raise ValueError(
                f"y must have shape ({X.shape[0]},) like X's first axis, got {y.shape}"
            )
    return X, y, lengths


def _valid_mask(X: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
    if lengths is None:
        return np.ones(X.shape[:2], dtype=bool)
    return np.arange(X.shape[1])[None, :] < lengths[:, None]  # (N, L)


class Classifier(SavedEstimator):
    """LSTM sequence classifier with fit / predict / predict_proba / save / load.

    Example::

        >>> clf = Classifier(hidden=64, epochs=3).fit(X_train, y_train)
        >>> clf.predict(X_test)[:5]
    """

    task = "classify"
    module_class = SequenceClassifier
    config_class = ClassifierConfig
    fit_hint = "fit(X, y)"

    def __init__(self, **options) -> None:
        self.model_options, self.train_config = split_options(options)
        self.options = options

    # ------------------------------------------------------------------ fit
    def fit(self, X, y, lengths=None, *, classes: list[str] | None = None,
            run_dir: str | Path | None = None, progress: bool = False, resume: bool = False,
            callbacks: Sequence[EpochCallback] = ()) -> Classifier:  # fmt: skip
        """Standardise with training statistics, hold out a stratified validation split, train.

        ``run_dir``: write checkpoints, history and model there (``resume=True`` continues from
        its checkpoint.pt). ``callbacks``: the Trainer's ``on_epoch_end(epoch, record)`` hooks.
        """
        X, y, lengths = _as_arrays(X, y, lengths)
        if classes is None:
            self.classes_, y_idx = np.unique(y, return_inverse=True)
        else:
            self.classes_, y_idx = np.asarray(classes), y.astype(np.int64)
        if len(self.classes_) < 2:
            raise ValueError(f"need at least 2 classes to classify, got {len(self.classes_)}")
        c = self.train_config
        if c.val_fraction > 0:
            keep, val_idx = stratified_split(y_idx, c.val_fraction, c.seed)
        else:
            keep, val_idx = np.arange(len(y_idx)), np.array([], dtype=np.int64)
        epochs = epochs_for(self.options, c, len(keep))
        if epochs != c.epochs:
            log.info("%d training sequences: %d epochs for %d steps at least (min_steps)",
                     len(keep), epochs, self.options.get("min_steps", MIN_STEPS))  # fmt: skip
            self.train_config = c = replace(c, epochs=epochs)
        mask = _valid_mask(X, lengths)[keep]
        values = X[keep][mask]  # (valid steps, C): statistics of the training split only
        self.mean_ = values.mean(0).astype(np.float32)
        self.std_ = np.maximum(values.std(0), 1e-6).astype(np.float32)
        torch.manual_seed(c.seed)
        fc = FeatureConfig(input_size=X.shape[2], **{k: v for k, v in self.model_options.items()
                                                      if k != "head_dropout"})  # fmt: skip
        names = tuple(str(v) for v in self.classes_)
        self.config_ = ClassifierConfig(fc, len(names), self.model_options["head_dropout"], names)
        self.model_ = SequenceClassifier(self.config_)
        if run_dir is not None and distributed.is_main():  # rank 0 writes the run directory
            merge_config(run_dir, self._config_dict())
        train = self._batches(
            X[keep], y_idx[keep], None if lengths is None else lengths[keep], True
        )
        val = None
        if len(val_idx):
            vl = None if lengths is None else lengths[val_idx]
            val = self._batches(X[val_idx], y_idx[val_idx], vl, False)
        trainer = Trainer(self.model_, c, _step_loss, _evaluate, run_dir, progress, callbacks)
        if resume:
            trainer.resume_from(Path(run_dir) / "checkpoint.pt")
        self.history_ = trainer.fit(train, val)
        self.trainer_ = trainer
        self.model_.eval()
        return self

    def _tensors(self, X: np.ndarray, lengths: np.ndarray | None):
        Xs = (X - self.mean_) / self.std_
        if lengths is not None:
            Xs = Xs * _valid_mask(X, lengths)[..., None]  # padding stays 0 after scaling
        xt = torch.from_numpy(np.ascontiguousarray(Xs, dtype=np.float32))
        return xt, None if lengths is None else torch.from_numpy(lengths)

    def _batches(self, X, y, lengths, shuffle: bool) -> TensorBatches:
        xt, lt = self._tensors(X, lengths)
        batch = self.train_config.batch_size if shuffle else max(256, self.train_config.batch_size)
        return TensorBatches((xt, torch.from_numpy(y.astype(np.int64)), lt), batch, shuffle)

    # ------------------------------------------------------------------ predict
    @torch.no_grad()
    def _infer(self, X, lengths, fn) -> np.ndarray:
        """Run ``fn(x, lengths) -> Tensor`` over checked, standardised inputs in chunks of 512."""
        self._check_fitted()
        X, _, lengths = _as_arrays(X, None, lengths)
        self._check_channels(X)
        xt, lt = self._tensors(X, lengths)
        self.model_.eval()
        device = next(self.model_.parameters()).device
        out = []
        for start in range(0, len(xt), 512):
            lb = None if lt is None else lt[start : start + 512].to(device)
            out.append(fn(xt[start : start + 512].to(device), lb).float().cpu())
        return torch.cat(out).numpy()

    def predict_proba(self, X, lengths=None) -> np.ndarray:
        """Class probabilities (N, K)."""
        return self._infer(X, lengths, lambda x, lb: torch.softmax(self.model_(x, lb).float(), 1))

    def extract(self, X, lengths=None, pool: str | None = None) -> np.ndarray:
        """Seed 000's features from the trained network: pooled (N, D*H) with ``pool`` (default:
        the model's own pooling; last, mean, max, attention) or, with ``pool="none"``, the
        per-timestep local features (N, L', D*H) (L' = L, or ceil(L / conv_stride) with a
        strided front end), zeros past each length."""

        def features(x, lb):
            pooled, local = self.model_.features(x, lb, pool)
            return local if pool == "none" else pooled

        return self._infer(X, lengths, features)

    def _check_channels(self, X: np.ndarray) -> None:
        if X.shape[2] != self.config_.features.input_size:
            raise ValueError(
                f"X has {X.shape[2]} channels per step; the model was trained on "
                f"{self.config_.features.input_size}"
            )

    def predict(self, X, lengths=None) -> np.ndarray:
        """Predicted labels (the values y held)."""
        proba = self.predict_proba(X, lengths)
        return self.classes_[proba.argmax(1)]

    # ------------------------------------------------------------------ persistence
    def _config_dict(self) -> dict:
        return {
            "task": "classify",
            "model": self.config_.to_dict(),
            "train": self.train_config.to_dict(),
            "options": self.options,
            "preprocess": {"mean": self.mean_.tolist(), "std": self.std_.tolist()},
            "classes": [v.item() if hasattr(v, "item") else v for v in self.classes_],
        }

    def _restore(self, config: dict) -> None:
        self.mean_ = np.asarray(config["preprocess"]["mean"], dtype=np.float32)
        self.std_ = np.asarray(config["preprocess"]["std"], dtype=np.float32)
        self.classes_ = np.asarray(config["classes"])


def _step_loss(model, batch):
    x, y, lengths = batch
    return F.cross_entropy(model(x, lengths), y), len(y)


def _evaluate(model, batches: TensorBatches) -> dict[str, float]:
    total, correct, n = 0.0, 0, 0
    device = next(model.parameters()).device
    for x, y, lengths in batches.batches():
        x, y = x.to(device), y.to(device)
        logits = model(x, None if lengths is None else lengths.to(device))
        total += float(F.cross_entropy(logits.float(), y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
        n += len(y)
    return {"loss": total / max(n, 1), "accuracy": correct / max(n, 1)}
