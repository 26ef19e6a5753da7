"""``lstmkit.Regressor``: a numeric target per sequence, in the scikit-learn manner.

``Regressor(**options).fit(X, y, lengths=None).predict(X)``; the CLI's ``train regress`` runs
exactly this code. The network and its options are the classifier's (``arch``, cells, ensembles,
schedules: see ``Classifier``) with a linear head of T outputs; ``y`` is ``(N,)`` or ``(N, T)``.
The targets are standardised with the training split's mean and spread for training, and the
model maps its outputs back, so ``predict`` (and an exported or served model) answers in the
units of ``y``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np
from sklearn.base import RegressorMixin

from lstmkit.estimators._base import resolve_seed
from lstmkit.estimators._fit import (
    REGRESSION_LOSSES,
    evaluate_regression,
    hold_out,
    regression_step,
)
from lstmkit.estimators._inputs import ChannelStats, sequence_arrays, targets_2d
from lstmkit.estimators._sequence import SequenceEstimator
from lstmkit.models import FCNConfig, FeatureConfig, RegressorConfig, SequenceRegressor
from lstmkit.train.config import TrainConfig
from lstmkit.train.trainer import EpochCallback

__all__ = ["Regressor"]


class Regressor(RegressorMixin, SequenceEstimator):
    """LSTM sequence regressor: fit / predict / score (R²) / extract / save / load.

    Inputs are the classifier's: ``X`` ``(N, L, C)`` or ``(N, L)``, optional ``lengths``, each
    channel standardised with the training split's statistics. ``y``: ``(N,)`` or ``(N, T)``
    numbers. Every option shared with ``Classifier`` means what it means there; besides them:

    Parameters
    ----------
    arch : {"auto", "encoder", "lstm-fcn", "mlstm-fcn"}, default "lstm-fcn"
        As for ``Classifier``; the regressor's default is LSTM-FCN, chosen on a validation
        split of Tecator's training data (RMSE 3.55 against the encoder's 10.15 at 300 steps;
        benchmarks/results/regress_tecator-dev*.json).
    series_norm : bool, default True
        As for ``Classifier``. On the same validation split of Tecator: RMSE 0.82 against 2.37
        without (MiniRocket + ridge 1.19; benchmarks/results/
        regress_tecator-dev-series-norm-2core-cpu.json).
    min_steps : int, default 1000
        With ``epochs=None``, the fewest optimizer steps (on the same split: 2.19 RMSE at 1000
        steps, 3.55 at 300).
    loss : {"mse", "huber", "mae"}, default "mse"
        The training loss, on targets standardised by the training split's spread (Huber with
        delta 1 in those units). Early stopping and the best weights follow it on the
        validation split.
    val_fraction : float, default 0.1
        A random validation hold-out of the training data (not stratified).
    augment : {"none", "slice", "mixup"}, default "none"
        As for ``Classifier``; mixup blends the pairs' targets as it blends their inputs.
    ensemble : int, default 1
        Train this many models (seeds random_state, random_state + 1, ...) and average their
        predictions.

    Attributes
    ----------
    n_targets_ : int, T.
    target_mean_, target_std_ : ndarray (T,), the training targets' mean and spread.
    n_features_in_ : int, the channels per step (C).
    model_ : SequenceRegressor, the trained network (best validation weights).
    history_ : list of dict, one row per epoch.

    Example::

        >>> reg = Regressor(hidden=64, epochs=20).fit(X_train, y_train)
        >>> reg.predict(X_test)[:5]        # in the units of y_train
        >>> reg.score(X_test, y_test)      # R²
    """

    task = "regress"
    module_class = SequenceRegressor
    config_class = RegressorConfig

    def __init__(
        self,
        *,
        arch: str = "lstm-fcn",
        fcn_shuffle: bool = True,
        rnn_dropout: float = 0.8,
        series_norm: bool = True,
        hidden: int = 128,
        layers: int = 2,
        cell: str = "gru",
        bidirectional: bool = False,
        dropout: float = 0.0,
        pool: str = "last",
        conv_channels: int = 64,
        conv_kernel: int = 3,
        conv_stride: int | None = None,
        head_dropout: float = 0.0,
        forget_bias: float | None = 1.0,
        backend: str = "auto",
        epochs: int | None = None,
        min_steps: int = 1000,
        batch_size: int = 128,
        lr: float = 4e-3,
        optimizer: str = "adam",
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        l1: float = 0.0,
        schedule: str = "cosine",
        warmup_epochs: float = 0.3,
        min_lr_ratio: float = 0.0,
        step_size: int = 10,
        gamma: float = 0.1,
        plateau_patience: int = 2,
        clip_norm: float | None = 1.0,
        val_fraction: float = 0.1,
        patience: int | None = None,
        loss: str = "mse",
        augment: str = "none",
        swa: float = 0.0,
        ensemble: int = 1,
        device: str = "cpu",
        precision: str = "fp32",
        random_state: int | None = 0,
        verbose: int = 0,
    ) -> None:
        self._store(locals())

    @property
    def target_mean_(self) -> np.ndarray:
        return np.asarray(self.config_.target_mean)

    @property
    def target_std_(self) -> np.ndarray:
        return np.asarray(self.config_.target_std)

    def check_options(self, seed: int = 0) -> TrainConfig:
        """Every option checked before any data is read; returns the Trainer's config."""
        c = self._check_network_options(seed)
        if self.loss not in REGRESSION_LOSSES:
            raise ValueError(f"loss must be one of {', '.join(REGRESSION_LOSSES)}, got "
                             f"{self.loss!r}")  # fmt: skip
        return c

    def fit(self, X, y, lengths=None, *, validation_data: tuple | None = None,
            run_dir: str | Path | None = None, progress: bool = False, resume: bool = False,
            callbacks: Sequence[EpochCallback] = ()) -> Regressor:  # fmt: skip
        """Standardise inputs and targets with training statistics, hold out a validation
        split, train. ``validation_data``, ``run_dir``, ``resume``, ``progress``, ``callbacks``:
        as for ``Classifier.fit``. Returns ``self``."""
        c = self.check_options(resolve_seed(self.random_state))
        X, lengths = sequence_arrays(X, lengths)
        Y = targets_2d(y, len(X))
        self.n_features_in_, self.n_targets_ = X.shape[2], Y.shape[1]
        self.target_ndim_ = np.ndim(y)
        if validation_data is not None:
            Xv, lv, yv = self._validation_inputs(validation_data)
            Yv = targets_2d(yv, len(Xv), "validation_data")
            if Yv.shape[1] != Y.shape[1]:
                raise ValueError(f"validation_data has {Yv.shape[1]} targets, y has {Y.shape[1]}")
            keep, val = np.arange(len(Y)), (Xv, Yv, lv)
        else:
            keep, val_idx = hold_out(None, c.val_fraction, c.seed, len(Y))
            val = None
            if len(val_idx):
                val = (X[val_idx], Y[val_idx], None if lengths is None else lengths[val_idx])
        if len(keep) < 2:
            raise ValueError(f"need at least 2 training sequences to regress, got {len(keep)}")
        y_keep = Y[keep].astype(np.float64)  # the training rows' targets
        mean, std = y_keep.mean(0), y_keep.std(0)
        std = np.where(std > 1e-12, std, 1.0)  # a constant target: predict it, unscaled
        names = tuple(f"y{k}" for k in range(Y.shape[1])) if Y.shape[1] > 1 else ("y",)

        def network(fc: FeatureConfig, fcn: FCNConfig | None) -> RegressorConfig:
            return RegressorConfig(
                fc, Y.shape[1], self.head_dropout, tuple(mean.tolist()), tuple(std.tolist()),
                names, self.arch_, fcn, self.ensemble,
            )  # fmt: skip

        kind = self.loss
        step = partial(regression_step, kind=kind, augment=self.augment)
        self._train(X, Y, lengths, keep, val, c, network, step,
                    partial(evaluate_regression, kind=kind), run_dir=run_dir, progress=progress,
                    resume=resume, callbacks=callbacks)  # fmt: skip
        return self

    def predict(self, X, lengths=None) -> np.ndarray:
        """Predictions in the units of ``y``: (N,) when ``fit`` got a 1-D ``y``, else (N, T)."""
        out = self._infer(X, lengths, lambda x, lb: self.model_(x, lb))
        return out[:, 0] if self.target_ndim_ == 1 else out

    def score(self, X, y, lengths=None, sample_weight=None) -> float:
        """R² of ``predict(X, lengths)`` against ``y`` (averaged over targets)."""
        from sklearn.metrics import r2_score

        Y = targets_2d(y, len(X), "score")
        pred = self.predict(X, lengths).reshape(len(Y), -1)
        return float(r2_score(Y, pred, sample_weight=sample_weight))

    # ------------------------------------------------------------------ persistence
    def _config_dict(self) -> dict:
        return {
            "task": "regress",
            "model": self.config_.to_dict(),
            "train": self.train_config_.to_dict(),
            "options": self._options(),
            "preprocess": self.stats_.to_dict(),
            "target_ndim": int(self.target_ndim_),
        }

    def _restore(self, config: dict) -> None:
        self.arch_ = self.config_.arch
        self.stats_ = ChannelStats.from_dict(config["preprocess"])
        self.n_features_in_ = self.config_.input_channels
        self.n_targets_ = self.config_.targets
        self.target_ndim_ = int(config.get("target_ndim", 1))
        self.history_ = []
