"""``lstmkit.Classifier``: sequence classification in the scikit-learn manner.

``Classifier(**options).fit(X, y, lengths=None).predict(X)``; the CLI's ``train classify`` runs
exactly this code. Every option is a keyword argument of ``__init__`` (a scikit-learn estimator:
``get_params`` / ``set_params``, ``clone``, ``GridSearchCV`` and ``Pipeline`` work); ``fit``
validates them. Labels come back as the values and dtype of the ``y`` given to ``fit``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np
import torch
from sklearn.base import ClassifierMixin

from lstmkit.estimators._base import json_value, resolve_seed
from lstmkit.estimators._fit import evaluate, hold_out, step_loss
from lstmkit.estimators._inputs import (
    ChannelStats,
    check_label_values,
    class_weight_vector,
    encode_labels,
    labels_1d,
    sequence_arrays,
)
from lstmkit.estimators._sequence import DEFAULT_EPOCHS, SequenceEstimator
from lstmkit.models import ClassifierConfig, FCNConfig, FeatureConfig, SequenceClassifier
from lstmkit.train.config import TrainConfig
from lstmkit.train.trainer import EpochCallback

__all__ = ["DEFAULT_EPOCHS", "Classifier"]


class Classifier(ClassifierMixin, SequenceEstimator):
    """LSTM sequence classifier: fit / predict / predict_proba / score / extract / save / load.

    Inputs ``X`` are ``(N, L, C)`` (N sequences of L steps with C channels) or ``(N, L)`` (one
    channel); ``lengths`` (N,) marks right-padded variable-length sequences. Each channel is
    standardised with the statistics of the training split. The defaults build LSTM-FCN for
    fewer than 10,000 training sequences (UCR-sized sets) and otherwise the encoder (a strided
    Conv1d front end and a 2-layer GRU), with a short warm-up to a peak learning rate that
    decays on a cosine; on Fashion-MNIST they beat seed 002's script within its wall time
    (benchmarks/fashion_mnist.py).

    Parameters
    ----------
    hidden : int, default 128
        Units per recurrent layer and direction (H).
    layers : int or None, default None
        Stacked recurrent layers. None: 1 for lstm-fcn / mlstm-fcn (the papers' one LSTM
        layer), 2 for the encoder.
    arch : {"auto", "encoder", "lstm-fcn", "mlstm-fcn"}, default "auto"
        The network. "auto": "lstm-fcn" for fewer than 10,000 training sequences, else
        "encoder" (chosen on validation splits), and "encoder" whenever pool or a conv_* option
        is set away from its default; ``arch_`` is the one built. The Conv1d front
        end, recurrent stack and pooling ("encoder"); LSTM-FCN
        (a fully convolutional branch, 128/256/128 filters of kernels 8/5/3 with batch norm and
        global average pooling, beside the recurrent stack; the conv_* and pool options do not
        apply); MLSTM-FCN (LSTM-FCN with squeeze-and-excite blocks, for multivariate input).
    fcn_shuffle : bool, default True
        lstm-fcn / mlstm-fcn: the recurrent branch reads each channel as one step of L features
        (the papers' dimension shuffle); False: the L steps of C channels.
    rnn_dropout : float, default 0.8
        lstm-fcn / mlstm-fcn: dropout on the recurrent branch's last state.
    series_norm : bool, default True
        lstm-fcn / mlstm-fcn: the network reads each series z-normalised per channel, and its
        means and log standard deviations join the pooled features. On validation splits:
        PLAID (series six orders of magnitude apart) 0.795 against 0.453 without; GunPoint,
        ArrowHead and BasicMotions over two seeds the same or better (ArrowHead 0.708 mean
        against 0.667).
    cell : {"lstm", "peephole", "coupled", "gru", "layernorm"} or None, default None
        The recurrent step (docs: Cells and kernels). None: "lstm" for lstm-fcn / mlstm-fcn,
        "gru" for the encoder (validation splits: lstm x1 0.917 mean accuracy over GunPoint,
        ArrowHead, BasicMotions and two seeds against gru x2's 0.894 in the LSTM-FCN).
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
        Which kernels run the recurrence (docs: Cells and kernels, Backends).
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
    augment : {"none", "slice", "mixup"}, default "none"
        Training-time augmentation: window slicing (a random 90% window of each sequence,
        stretched back to its length) or mixup (pairs blended by Beta(0.4, 0.4), their
        targets alike).
    swa : float, default 0.0
        Stochastic weight averaging: the model is the mean of the weights at the end of this
        last fraction of the epochs (batch-norm statistics recomputed), not the best epoch's;
        0 keeps the best validation epoch.
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
        bf16 trains under autocast (docs: Classify, bf16).
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

    def __init__(
        self,
        *,
        arch: str = "auto",
        fcn_shuffle: bool = True,
        rnn_dropout: float = 0.8,
        series_norm: bool = True,
        hidden: int = 128,
        layers: int | None = None,
        cell: str | None = None,
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
        augment: str = "none",
        swa: float = 0.0,
        ensemble: int = 1,
        class_weight: dict | str | None = None,
        device: str = "cpu",
        precision: str = "fp32",
        random_state: int | None = 0,
        verbose: int = 0,
    ) -> None:
        self._store(locals())

    # ------------------------------------------------------------------ options
    def check_options(self, seed: int = 0) -> TrainConfig:
        """Every option checked before any data is read; returns the Trainer's config (its
        ``epochs`` still 8 when ``epochs`` is None: ``epochs_for`` decides with the data)."""
        c = self._check_network_options(seed)
        ls = self.label_smoothing
        if isinstance(ls, bool) or not isinstance(ls, int | float) or not 0 <= ls < 1:
            raise ValueError(f"label_smoothing must lie in [0, 1), got {ls!r}")
        return c

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
        y_idx = y_idx.astype(np.int64)
        self.n_features_in_ = X.shape[2]
        if validation_data is not None:
            keep, val = np.arange(len(y_idx)), self._validation(validation_data)
        else:
            keep, val_idx = hold_out(y_idx, c.val_fraction, c.seed)
            val = None
            if len(val_idx):
                vl = None if lengths is None else lengths[val_idx]
                val = (X[val_idx], y_idx[val_idx], vl)
        weights = class_weight_vector(self.class_weight, self.classes_, y_idx[keep])
        w = None if weights is None else torch.from_numpy(weights)
        names = tuple(str(v) for v in self.classes_)

        def network(fc: FeatureConfig, fcn: FCNConfig | None) -> ClassifierConfig:
            return ClassifierConfig(fc, len(names), self.head_dropout, names, self.arch_, fcn,
                                    self.ensemble)  # fmt: skip

        step = partial(step_loss, weight=w, smoothing=self.label_smoothing, augment=self.augment)
        self._train(X, y_idx, lengths, keep, val, c, network, step, partial(evaluate, weight=w),
                    run_dir=run_dir, progress=progress, resume=resume,
                    callbacks=callbacks)  # fmt: skip
        return self

    def _validation(self, data: tuple) -> tuple:
        """``validation_data`` as (X, class indices, lengths), checked against the training
        data's channels and classes."""
        Xv, lv, yv = self._validation_inputs(data)
        return Xv, encode_labels(labels_1d(yv, len(Xv), "validation_data"), self.classes_), lv

    # ------------------------------------------------------------------ predict
    def predict_proba(self, X, lengths=None) -> np.ndarray:
        """Class probabilities (N, K), columns in the order of ``classes_``."""
        return self._infer(X, lengths, lambda x, lb: torch.softmax(self.model_(x, lb).float(), 1))

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
        self.arch_ = self.config_.arch
        self.stats_ = ChannelStats.from_dict(config["preprocess"])
        dtype = config.get("classes_dtype")  # runs before it kept class names as strings
        self.classes_ = np.asarray(config["classes"], dtype=None if dtype is None else dtype)
        self.n_features_in_ = self.config_.input_channels
        self.history_ = []
