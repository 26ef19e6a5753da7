"""``lstmkit.Classifier``: sequence classification in the scikit-learn manner.

``Classifier(**options).fit(X, y, lengths=None).predict(X)``; the CLI's ``train classify`` runs
exactly this code. Every option is a keyword argument of ``__init__`` (a scikit-learn estimator:
``get_params`` / ``set_params``, ``clone``, ``GridSearchCV`` and ``Pipeline`` work); ``fit``
validates them. Labels come back as the values and dtype of the ``y`` given to ``fit``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from sklearn.base import ClassifierMixin

from lstmkit.estimators._base import (
    SavedEstimator,
    fit_callbacks,
    json_value,
    resolve_seed,
    train_config,
)
from lstmkit.estimators._classify_fit import fit_members, hold_out
from lstmkit.estimators._inputs import (
    ChannelStats,
    check_label_values,
    class_weight_vector,
    encode_labels,
    labels_1d,
    sequence_arrays,
)
from lstmkit.models import ARCHS, ClassifierConfig, FCNConfig, FeatureConfig, SequenceClassifier
from lstmkit.runs import merge_config
from lstmkit.train import distributed
from lstmkit.train.batches import TensorBatches
from lstmkit.train.config import TrainConfig
from lstmkit.train.progress import epoch_lines
from lstmkit.train.trainer import EpochCallback

__all__ = ["DEFAULT_EPOCHS", "Classifier"]

log = logging.getLogger(__name__)

# Without ``epochs``: this many, and at least ``min_steps`` optimizer steps (GunPoint's 45
# training series make one batch, so 8 epochs would be 8 steps; 300 steps reach 0.96-0.98 test
# accuracy there, above 1-NN DTW's 0.907).
DEFAULT_EPOCHS = 8


class Classifier(ClassifierMixin, SavedEstimator):
    """LSTM sequence classifier: fit / predict / predict_proba / score / extract / save / load.

    Inputs ``X`` are ``(N, L, C)`` (N sequences of L steps with C channels) or ``(N, L)`` (one
    channel); ``lengths`` (N,) marks right-padded variable-length sequences. Each channel is
    standardised with the statistics of the training split. The defaults (a strided Conv1d front
    end and a 2-layer GRU, a short warm-up to a peak learning rate that decays on a cosine) beat
    seed 002's Fashion-MNIST script within its wall time (benchmarks/fashion_mnist.py).

    Parameters
    ----------
    hidden : int, default 128
        Units per recurrent layer and direction (H).
    layers : int, default 2
        Stacked recurrent layers.
    arch : {"encoder", "lstm-fcn", "mlstm-fcn"}, default "encoder"
        The network: the Conv1d front end, recurrent stack and pooling ("encoder"); LSTM-FCN
        (a fully convolutional branch, 128/256/128 filters of kernels 8/5/3 with batch norm and
        global average pooling, beside the recurrent stack; the conv_* and pool options do not
        apply); MLSTM-FCN (LSTM-FCN with squeeze-and-excite blocks, for multivariate input).
    fcn_shuffle : bool, default True
        lstm-fcn / mlstm-fcn: the recurrent branch reads each channel as one step of L features
        (the papers' dimension shuffle); False: the L steps of C channels.
    rnn_dropout : float, default 0.8
        lstm-fcn / mlstm-fcn: dropout on the recurrent branch's last state.
    cell : {"lstm", "peephole", "coupled", "gru", "layernorm"}, default "gru"
        The recurrent step (README "Cells").
    bidirectional : bool, default False
        Read every sequence in both directions (features 2H).
    dropout : float, default 0.0
        Dropout between recurrent layers.
    pool : {"last", "mean", "max", "attention"}, default "last"
        How the per-step features become one vector per sequence.
    conv_channels : int, default 64
        Channels of the Conv1d front end before the recurrence; 0 for none.
    conv_kernel : int, default 3
        Odd kernel size of the front end.
    conv_stride : int or None, default None
        Stride of the front end: the recurrence sees ceil(L / stride) steps. None: 2 with a
        front end, 1 without.
    head_dropout : float, default 0.0
        Dropout on the pooled features, before the linear head.
    forget_bias : float or None, default 1.0
        Initial forget-gate bias; None keeps torch's uniform initialisation.
    backend : {"auto", "torch", "fused", "reference"}, default "auto"
        Which kernels run the recurrence (README "Backends").
    epochs : int or None, default None
        Training epochs. None: 8, or more for small data so that training makes at least
        ``min_steps`` optimizer steps.
    min_steps : int, default 300
        With ``epochs=None``, the fewest optimizer steps to train for.
    batch_size : int, default 128
    lr : float, default 4e-3
        Peak learning rate.
    optimizer : {"adam", "adamw", "rmsprop", "sgd"}, default "adam"
    momentum : float, default 0.9
        For sgd and rmsprop.
    weight_decay : float, default 0.0
        L2 penalty (decoupled for adamw).
    l1 : float, default 0.0
        L1 penalty on the weights, added to the loss.
    schedule : {"cosine", "step", "plateau", "constant"}, default "cosine"
        The learning rate after warm-up.
    warmup_epochs : float, default 0.3
        Linear warm-up from lr / 10, in epochs.
    min_lr_ratio : float, default 0.0
        Cosine floor as a fraction of lr.
    step_size : int, default 10
        Step schedule: epochs between decays.
    gamma : float, default 0.1
        Step and plateau decay factor.
    plateau_patience : int, default 2
        Plateau schedule: epochs without improvement before a decay.
    clip_norm : float or None, default 1.0
        Gradient clipping by global norm; None: none.
    val_fraction : float, default 0.1
        Stratified validation hold-out of the training data (early stopping and the best
        weights use it); at most 0.5. Ignored when ``fit`` gets ``validation_data``.
    patience : int or None, default None
        Stop after this many epochs without a better validation loss.
    label_smoothing : float, default 0.0
        Cross-entropy against targets smoothed by this much (training loss only).
    ensemble : int, default 1
        Train this many models with seeds random_state, random_state + 1, ... (same
        validation split) and average their class probabilities; predict, export and serve
        use the whole ensemble. A run keeps each member's checkpoints in members/<k>/.
    class_weight : dict, "balanced" or None, default None
        Weights of the classes in the training loss ({label: weight}; "balanced": inversely
        proportional to the class frequencies of the training split).
    device : str, default "cpu"
        "cpu", "cuda", "cuda:1", ...
    precision : {"fp32", "bf16"}, default "fp32"
        bf16 trains under autocast (README "precision").
    random_state : int or None, default 0
        Seed of the weights, the hold-out and the shuffling: the same seed gives the same model.
        None draws a seed.
    verbose : int, default 0
        1: one line per epoch (loss, validation loss and accuracy, time) on stderr, and a
        progress bar where the output is a terminal or a notebook.

    Attributes
    ----------
    classes_ : ndarray (K,), the labels, of the dtype of the ``y`` given to ``fit``.
    n_features_in_ : int, the channels per step (C).
    model_ : SequenceClassifier, the trained network (best validation weights).
    history_ : list of dict, one row per epoch.

    Example::

        >>> clf = Classifier(hidden=64, epochs=3).fit(X_train, y_train)
        >>> clf.predict(X_test)[:5]
        >>> clf.score(X_test, y_test)     # accuracy
    """

    task = "classify"
    module_class = SequenceClassifier
    config_class = ClassifierConfig
    default_epochs = DEFAULT_EPOCHS  # with epochs=None: at least these, and min_steps steps
    fit_hint = "fit(X, y)"

    def __init__(
        self,
        *,
        arch: str = "encoder",
        fcn_shuffle: bool = True,
        rnn_dropout: float = 0.8,
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
        min_steps: int = 300,
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
        label_smoothing: float = 0.0,
        ensemble: int = 1,
        class_weight: dict | str | None = None,
        device: str = "cpu",
        precision: str = "fp32",
        random_state: int | None = 0,
        verbose: int = 0,
    ) -> None:
        self.arch = arch
        self.fcn_shuffle = fcn_shuffle
        self.rnn_dropout = rnn_dropout
        self.hidden = hidden
        self.layers = layers
        self.cell = cell
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.pool = pool
        self.conv_channels = conv_channels
        self.conv_kernel = conv_kernel
        self.conv_stride = conv_stride
        self.head_dropout = head_dropout
        self.forget_bias = forget_bias
        self.backend = backend
        self.epochs = epochs
        self.min_steps = min_steps
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.l1 = l1
        self.schedule = schedule
        self.warmup_epochs = warmup_epochs
        self.min_lr_ratio = min_lr_ratio
        self.step_size = step_size
        self.gamma = gamma
        self.plateau_patience = plateau_patience
        self.clip_norm = clip_norm
        self.val_fraction = val_fraction
        self.patience = patience
        self.label_smoothing = label_smoothing
        self.ensemble = ensemble
        self.class_weight = class_weight
        self.device = device
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose

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
    def feature_config(self, input_size: int) -> FeatureConfig:
        """The network's front end and recurrence for ``input_size`` features per step
        (validated); for lstm-fcn / mlstm-fcn the recurrent branch alone (no front end, pooling
        by the last state)."""
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {self.arch!r}")
        stride = self.conv_stride
        if stride is None:
            stride = 2 if self.conv_channels else 1  # the default stride of the front end
        if self.arch != "encoder":
            return FeatureConfig(
                input_size=input_size, hidden=self.hidden, layers=self.layers, cell=self.cell,
                bidirectional=self.bidirectional, dropout=self.dropout, pool="last",
                backend=self.backend, forget_bias=self.forget_bias,
            )  # fmt: skip
        return FeatureConfig(
            input_size=input_size,
            hidden=self.hidden,
            layers=self.layers,
            cell=self.cell,
            bidirectional=self.bidirectional,
            dropout=self.dropout,
            pool=self.pool,
            conv_channels=self.conv_channels,
            conv_kernel=self.conv_kernel,
            conv_stride=stride,
            backend=self.backend,
            forget_bias=self.forget_bias,
        )

    def fcn_config(self, channels: int, length: int) -> FCNConfig | None:
        """The convolutional branch of lstm-fcn / mlstm-fcn (None for the encoder)."""
        if self.arch == "encoder":
            return None
        if not isinstance(self.fcn_shuffle, bool):
            raise ValueError(f"fcn_shuffle must be True or False, got {self.fcn_shuffle!r}")
        return FCNConfig(channels, length, self.fcn_shuffle, self.arch == "mlstm-fcn",
                         self.rnn_dropout)  # fmt: skip

    def check_options(self, seed: int = 0) -> TrainConfig:
        """Every option checked before any data is read; returns the Trainer's config (its
        ``epochs`` still 8 when ``epochs`` is None: ``epochs_for`` decides with the data)."""
        self.feature_config(1)
        self.fcn_config(1, 1)
        ClassifierConfig(self.feature_config(1), 2, ensemble=self.ensemble)
        ls = self.label_smoothing
        if isinstance(ls, bool) or not isinstance(ls, int | float) or not 0 <= ls < 1:
            raise ValueError(f"label_smoothing must lie in [0, 1), got {ls!r}")
        if not isinstance(self.head_dropout, int | float) or not 0 <= self.head_dropout < 1:
            raise ValueError(f"head_dropout must lie in [0, 1), got {self.head_dropout!r}")
        self.epochs_for(1)
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
    def fit(self, X, y, lengths=None, *, validation_data: tuple | None = None,
            run_dir: str | Path | None = None, progress: bool = False, resume: bool = False,
            callbacks: Sequence[EpochCallback] = ()) -> Classifier:  # fmt: skip
        """Standardise with training statistics, hold out a validation split, train.

        ``y``: the labels, any values (numbers, strings); ``predict`` returns them with their
        dtype. ``validation_data``: ``(X_val, y_val)`` or ``(X_val, y_val, lengths_val)`` to
        validate on instead of a ``val_fraction`` hold-out. ``run_dir``: write checkpoints,
        history and model there (``resume=True`` continues from its checkpoint.pt).
        ``progress``: a progress bar (as with ``verbose=1``). ``callbacks``: the Trainer's
        ``on_epoch_end(epoch, record)`` hooks. Returns ``self``.
        """
        c = self.check_options(resolve_seed(self.random_state))
        X, lengths = sequence_arrays(X, lengths)
        y = labels_1d(y, len(X), type(self).__name__)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"need at least 2 classes to classify, got {len(self.classes_)} class "
                f"({self.classes_.tolist()})"
            )
        check_label_values(self.classes_)
        self.n_features_in_ = X.shape[2]
        if validation_data is not None:
            keep, val = np.arange(len(y_idx)), self._validation(validation_data)
        else:
            keep, val_idx = hold_out(y_idx, c.val_fraction, c.seed)
            val = None
            if len(val_idx):
                vl = None if lengths is None else lengths[val_idx]
                val = (X[val_idx], y_idx[val_idx], vl)
        lk = None if lengths is None else lengths[keep]
        X_train, y_train = X[keep], y_idx[keep]
        epochs = self.epochs_for(len(keep))
        c = self.train_config_ = replace(c, epochs=epochs)
        if self.epochs is None and epochs != DEFAULT_EPOCHS:
            log.info("%d training sequences: %d epochs for %d steps at least (min_steps)",
                     len(keep), epochs, self.min_steps)  # fmt: skip
        weights = class_weight_vector(self.class_weight, self.classes_, y_train)
        self.stats_ = ChannelStats.fit(X_train, lk)  # statistics of the training split only
        fcn = self.fcn_config(X.shape[2], X.shape[1])
        fc = self.feature_config(X.shape[2] if fcn is None else fcn.rnn_input_size)
        names = tuple(str(v) for v in self.classes_)
        self.config_ = ClassifierConfig(fc, len(names), self.head_dropout, names, self.arch, fcn,
                                        self.ensemble)  # fmt: skip
        torch.manual_seed(c.seed)
        self.model_ = SequenceClassifier(self.config_)
        if run_dir is not None and distributed.is_main():  # rank 0 writes the run directory
            merge_config(run_dir, self._config_dict())
        train = self._batches(X_train, y_train, lk, True)
        val = None if val is None else self._batches(*val, False)
        w = None if weights is None else torch.from_numpy(weights)

        def run(fit) -> None:
            with epoch_lines(self.verbose):
                fit()

        trainers = fit_members(
            self.model_, c, train, val, weight=w, smoothing=self.label_smoothing,
            run_dir=run_dir, progress=progress or self.verbose >= 1,
            callbacks=fit_callbacks(self, epochs, callbacks), resume=resume, wrap=run,
        )  # fmt: skip
        self._keep_training_facts(trainers[0])
        self.train_seconds_ = sum(t.train_seconds for t in trainers)
        self.members_history_ = [t.history for t in trainers]
        return self

    def _validation(self, data: tuple) -> tuple:
        """``validation_data`` as (X, class indices, lengths), checked against the training
        data's channels and classes."""
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
        return Xv, encode_labels(labels_1d(data[1], len(Xv), "validation_data"), self.classes_), lv

    def _batches(self, X, y, lengths, shuffle: bool) -> TensorBatches:
        xt = torch.from_numpy(self.stats_.standardise(X, lengths))
        lt = None if lengths is None else torch.from_numpy(lengths)
        c = self.train_config_
        batch = c.batch_size if shuffle else max(256, c.batch_size)
        return TensorBatches((xt, torch.from_numpy(y.astype(np.int64)), lt), batch, shuffle)

    # ------------------------------------------------------------------ predict
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

    def predict_proba(self, X, lengths=None) -> np.ndarray:
        """Class probabilities (N, K), columns in the order of ``classes_``."""
        return self._infer(X, lengths, lambda x, lb: torch.softmax(self.model_(x, lb).float(), 1))

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

    def predict(self, X, lengths=None) -> np.ndarray:
        """Predicted labels: values of ``classes_``, the dtype of the ``y`` given to ``fit``."""
        proba = self.predict_proba(X, lengths)
        return self.classes_[proba.argmax(1)]

    def score(self, X, y, lengths=None, sample_weight=None) -> float:
        """Accuracy of ``predict(X, lengths)`` against ``y``."""
        from sklearn.metrics import accuracy_score

        y = labels_1d(y, len(X), "score")
        return float(accuracy_score(y, self.predict(X, lengths), sample_weight=sample_weight))

    # ------------------------------------------------------------------ persistence
    def _config_dict(self) -> dict:
        return {
            "task": "classify",
            "model": self.config_.to_dict(),
            "train": self.train_config_.to_dict(),
            "options": self._options(),
            "preprocess": self.stats_.to_dict(),
            "classes": [json_value(v) for v in self.classes_],
            "classes_dtype": self.classes_.dtype.str,
        }

    def _restore(self, config: dict) -> None:
        self.stats_ = ChannelStats.from_dict(config["preprocess"])
        dtype = config.get("classes_dtype")  # runs before it kept class names as strings
        self.classes_ = np.asarray(config["classes"], dtype=None if dtype is None else dtype)
        self.n_features_in_ = self.config_.input_channels
        self.history_ = []
