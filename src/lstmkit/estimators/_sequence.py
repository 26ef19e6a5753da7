"""What ``Classifier`` and ``Regressor`` share: the network options, standardised inputs, the
training of one model or an ensemble, batched inference and feature extraction.

A subclass names its options in ``__init__`` (scikit-learn reads them from its signature) and
stores them with ``_store(locals())``; it turns ``y`` into the targets the network trains on and
gives ``_train`` the network's config, the Trainer's loss of a step and its validation pass.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from lstmkit.estimators._base import SavedEstimator, fit_callbacks, init_defaults, train_config
from lstmkit.estimators._fit import fit_members
from lstmkit.estimators._inputs import ChannelStats, sequence_arrays
from lstmkit.models import ARCHS, FCNConfig, FeatureConfig
from lstmkit.runs import merge_config
from lstmkit.train import distributed
from lstmkit.train.augment import check_augment
from lstmkit.train.batches import TensorBatches
from lstmkit.train.config import TrainConfig
from lstmkit.train.progress import epoch_lines
from lstmkit.train.trainer import EpochCallback

__all__ = ["ARCH_CHOICES", "AUTO_FCN_BELOW", "DEFAULT_EPOCHS", "SequenceEstimator", "resolve_arch"]

log = logging.getLogger(__name__)

# Without ``epochs``: this many, and at least ``min_steps`` optimizer steps (GunPoint's 45
# training series make one batch, so 8 epochs would be 8 steps; 300 steps reach 0.96-0.98 test
# accuracy there, above 1-NN DTW's 0.907).
DEFAULT_EPOCHS = 8

# arch="auto": LSTM-FCN for small training sets, the encoder for large ones. Measured on
# validation splits cut from training data: LSTM-FCN leads on the UCR sets (36 to 200 training
# series: OSULeaf 0.754 vs 0.426, ArrowHead 0.583 vs 0.500) and by 0.5 points on Fashion-MNIST
# (54,000 images: 0.912 vs 0.906) at 3.5x the encoder's training time; from 10,000 sequences on
# the encoder's speed wins (scikit-learn's threshold for its own "auto" choices; the sizes in
# between are not measured).
AUTO_FCN_BELOW = 10_000
ENCODER_ONLY = ("pool", "conv_channels", "conv_kernel", "conv_stride")  # unused by LSTM-FCN
ARCH_CHOICES = ("auto", *ARCHS)


def resolve_arch(arch: str, n_train: int) -> str:
    """The network ``arch`` names for ``n_train`` training sequences ("auto": see above)."""
    if arch != "auto":
        return arch
    return "lstm-fcn" if n_train < AUTO_FCN_BELOW else "encoder"


class SequenceEstimator(SavedEstimator):
    """The shared half of the sequence estimators (see ``Classifier`` for the options)."""

    default_epochs = DEFAULT_EPOCHS  # with epochs=None: at least these, and min_steps steps
    fit_hint = "fit(X, y)"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True  # (N, L, C) sequences; (N, L) is one channel
        return tags

    @property
    def mean_(self) -> np.ndarray:
        """(C,) per-channel mean of the training split (inputs are standardised with it)."""
        return self.stats_.mean

    @property
    def std_(self) -> np.ndarray:
        """(C,) per-channel standard deviation of the training split."""
        return self.stats_.std

    # ------------------------------------------------------------------ options
    def feature_config(self, input_size: int, arch: str | None = None) -> FeatureConfig:
        """The network's front end and recurrence for ``input_size`` features per step
        (validated); for lstm-fcn / mlstm-fcn the recurrent branch alone (no front end, pooling
        by the last state)."""
        if self.arch not in ARCH_CHOICES:
            raise ValueError(f"arch must be one of {', '.join(ARCH_CHOICES)}, got {self.arch!r}")
        arch = self._arch(arch)
        stride = self.conv_stride
        if stride is None:
            stride = 2 if self.conv_channels else 1  # the default stride of the front end
        fcn = arch != "encoder"  # a layer option of None: the one measured best for the arch
        cell = self.cell if self.cell is not None else ("lstm" if fcn else "gru")
        layers = self.layers if self.layers is not None else (1 if fcn else 2)
        common = dict(
            input_size=input_size, hidden=self.hidden, layers=layers, cell=cell,
            bidirectional=self.bidirectional, dropout=self.dropout, backend=self.backend,
            forget_bias=self.forget_bias,
        )  # fmt: skip
        if arch != "encoder":
            return FeatureConfig(**common, pool="last")
        return FeatureConfig(
            **common, pool=self.pool, conv_channels=self.conv_channels,
            conv_kernel=self.conv_kernel, conv_stride=stride,
        )  # fmt: skip

    def fcn_config(self, channels: int, length: int, arch: str | None = None) -> FCNConfig | None:
        """The convolutional branch of lstm-fcn / mlstm-fcn (None for the encoder)."""
        for name in ("fcn_shuffle", "series_norm"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        arch = self._arch(arch)
        if arch == "encoder":
            return None
        return FCNConfig(channels, length, self.fcn_shuffle, arch == "mlstm-fcn",
                         self.rnn_dropout, self.series_norm)  # fmt: skip

    def _auto_arch(self, n_train: int) -> str:
        """``arch`` for ``n_train`` training sequences; "auto" with an encoder-only option set
        (pool, conv_*) builds the encoder those options describe."""
        defaults = init_defaults(type(self))
        if self.arch == "auto" and any(getattr(self, k) != defaults[k] for k in ENCODER_ONLY):
            return "encoder"
        return resolve_arch(self.arch, n_train)

    def _arch(self, arch: str | None) -> str:
        """The network being built: ``arch`` as given (the one ``fit`` resolved from the data),
        else the ``arch`` option, "auto" checked as the encoder's options."""
        if arch is not None:
            return arch
        return "encoder" if self.arch == "auto" else self.arch

    def _check_network_options(self, seed: int) -> TrainConfig:
        """The options both estimators have, checked before any data is read; returns the
        Trainer's config (its ``epochs`` still 8 when ``epochs`` is None)."""
        self.feature_config(1)
        self.fcn_config(1, 1, "lstm-fcn" if self.arch == "auto" else None)  # both, for auto
        k = self.ensemble
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"ensemble must be an integer >= 1, got {k!r}")
        if not isinstance(self.head_dropout, int | float) or not 0 <= self.head_dropout < 1:
            raise ValueError(f"head_dropout must lie in [0, 1), got {self.head_dropout!r}")
        self.epochs_for(1)
        check_augment(self.augment)
        return train_config(self, DEFAULT_EPOCHS if self.epochs is None else self.epochs, seed)

    def epochs_for(self, n_train: int) -> int:
        """The epochs to run: ``epochs`` if given, else 8 and at least ``min_steps`` steps."""
        if self.epochs is not None:
            return self.epochs
        steps = self.min_steps
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ValueError(f"min_steps must be a non-negative integer, got {steps!r}")
        batch = self.batch_size if isinstance(self.batch_size, int) and self.batch_size > 0 else 1
        steps_per_epoch = max(1, math.ceil(n_train / batch))
        return max(DEFAULT_EPOCHS, math.ceil(steps / steps_per_epoch))

    # ------------------------------------------------------------------ fit
    def _train(
        self,
        X: np.ndarray,
        targets: np.ndarray,
        lengths: np.ndarray | None,
        keep: np.ndarray,
        val: tuple | None,
        c: TrainConfig,
        make_config: Callable[[FeatureConfig, FCNConfig | None], object],
        step: Callable,
        check: Callable,
        *,
        run_dir: str | Path | None,
        progress: bool,
        resume: bool,
        callbacks: Sequence[EpochCallback],
    ) -> None:
        """Standardise with the ``keep`` rows' statistics, build ``make_config(features, fcn)``'s
        network and train it (or each ensemble member) on ``targets[keep]``; ``val``:
        ``(X, targets, lengths)`` or None."""
        self.n_features_in_ = X.shape[2]
        lk = None if lengths is None else lengths[keep]
        X_train, y_train = X[keep], targets[keep]
        epochs = self.epochs_for(len(keep))
        c = self.train_config_ = replace(c, epochs=epochs)
        if self.epochs is None and epochs != DEFAULT_EPOCHS:
            log.info("%d training sequences: %d epochs for %d steps at least (min_steps)",
                     len(keep), epochs, self.min_steps)  # fmt: skip
        self.arch_ = self._auto_arch(len(keep))
        if self.arch == "auto":
            log.info("arch auto: %s for %d training sequences (lstm-fcn below %d)", self.arch_,
                     len(keep), AUTO_FCN_BELOW)  # fmt: skip
        self.stats_ = ChannelStats.fit(X_train, lk)  # statistics of the training split only
        fcn = self.fcn_config(X.shape[2], X.shape[1], self.arch_)
        fc = self.feature_config(X.shape[2] if fcn is None else fcn.rnn_input_size, self.arch_)
        self.config_ = make_config(fc, fcn)
        torch.manual_seed(c.seed)
        self.model_ = self.module_class(self.config_)
        if run_dir is not None and distributed.is_main():  # rank 0 writes the run directory
            merge_config(run_dir, self._config_dict())
        train = self._batches(X_train, y_train, lk, True)
        val = None if val is None else self._batches(*val, False)

        def run(fit) -> None:
            with epoch_lines(self.verbose):
                fit()

        trainers = fit_members(
            self.model_, c, train, val, step=step, check=check, run_dir=run_dir,
            progress=progress or self.verbose >= 1,
            callbacks=fit_callbacks(self, epochs, callbacks), resume=resume, wrap=run,
        )  # fmt: skip
        self._keep_training_facts(trainers[0])
        self.train_seconds_ = sum(t.train_seconds for t in trainers)
        self.members_history_ = [t.history for t in trainers]

    def _validation_inputs(self, data) -> tuple[np.ndarray, np.ndarray | None, object]:
        """``validation_data`` as (X, lengths, y as given), its channels checked."""
        if not isinstance(data, tuple | list) or len(data) not in (2, 3):
            raise ValueError(
                "validation_data must be (X_val, y_val) or (X_val, y_val, lengths_val), got "
                f"{type(data).__name__}{'' if not hasattr(data, '__len__') else len(data)}"
            )
        Xv, lv = sequence_arrays(data[0], data[2] if len(data) == 3 else None, what="X_val")
        if Xv.shape[2] != self.n_features_in_:
            raise ValueError(
                f"validation_data has {Xv.shape[2]} channels per step, X has {self.n_features_in_}"
            )
        return Xv, lv, data[1]

    def _batches(self, X, y, lengths, shuffle: bool) -> TensorBatches:
        xt = torch.from_numpy(self.stats_.standardise(X, lengths))
        lt = None if lengths is None else torch.from_numpy(lengths)
        c = self.train_config_
        batch = c.batch_size if shuffle else max(256, c.batch_size)
        # training batches of like lengths (PLAID's dev split: 2x faster, 0.795 against 0.758)
        return TensorBatches(
            (xt, torch.from_numpy(y), lt), batch, shuffle, crop=(0, 2), bucket=True
        )

    # ------------------------------------------------------------------ inference
    def _inputs(self, X, lengths) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Checked, standardised inputs (warned about when far from the training data)."""
        self._check_fitted()
        X, lengths = sequence_arrays(X, lengths)
        self._check_channels(X)
        self.stats_.warn_if_far(X, lengths)
        xt = torch.from_numpy(self.stats_.standardise(X, lengths))
        return xt, None if lengths is None else torch.from_numpy(lengths)

    @torch.no_grad()
    def _infer(self, X, lengths, fn) -> np.ndarray:
        """Run ``fn(x, lengths) -> Tensor`` over the inputs in chunks of 512."""
        xt, lt = self._inputs(X, lengths)
        self.model_.eval()
        device = next(self.model_.parameters()).device
        out = []
        for start in range(0, len(xt), 512):
            lb = None if lt is None else lt[start : start + 512].to(device)
            out.append(fn(xt[start : start + 512].to(device), lb).float().cpu())
        return torch.cat(out).numpy()

    def extract(self, X, lengths=None, pool: str | None = None) -> np.ndarray:
        """Features from the trained network (the local feature extraction network): pooled
        (N, D*H) with ``pool`` (default: the model's own pooling; last, mean, max, attention)
        or, with ``pool="none"``, the per-step local features (N, L', D*H) (L' = L, or
        ceil(L / conv_stride) with a strided front end), zeros past each length."""

        def features(x, lb):
            pooled, local = self.model_.features(x, lb, pool)
            return local if pool == "none" else pooled

        return self._infer(X, lengths, features)

    def _check_channels(self, X: np.ndarray) -> None:
        if X.shape[2] != self.config_.input_channels:
            raise ValueError(
                f"X has {X.shape[2]} channels per step; the model was trained on "
                f"{self.config_.input_channels}"
            )
