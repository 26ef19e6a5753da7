"""Sequence inputs of the estimators: checked, standardised, and compared with the training data.

``sequence_arrays`` turns what a user passes (NumPy arrays, lists, DataFrames) into float32
``(N, L, C)`` plus optional lengths, with scikit-learn's checks (empty data, complex numbers,
objects that are not numbers) and one of its own: no NaN or inf inside a sequence's valid
length, at fit and at predict time alike. ``ChannelStats`` holds the training split's statistics
per channel, standardises with them, and warns when new inputs lie far outside them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_array, column_or_1d
from sklearn.utils.multiclass import check_classification_targets

__all__ = [
    "ChannelStats",
    "DriftWarning",
    "check_label_values",
    "labels_1d",
    "sequence_arrays",
    "targets_2d",
    "valid_mask",
]

# A channel's mean this many training standard deviations away and outside the training range
# of its values, or a spread this many times wider, is not the data the model learnt from.
_DRIFT_STDS = 5.0
_DRIFT_SPREAD = 20.0
_DRIFT_MIN_VALUES = 100  # the spread is compared only over this many values or more


class DriftWarning(UserWarning):
    """Inputs at predict time far outside the distribution of the training inputs."""


def valid_mask(X: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
    """(N, L) True at each sequence's valid steps."""
    if lengths is None:
        return np.ones(X.shape[:2], dtype=bool)
    return np.arange(X.shape[1])[None, :] < lengths[:, None]


def sequence_arrays(X, lengths=None, *, what: str = "X") -> tuple[np.ndarray, np.ndarray | None]:
    """``(X (N, L, C) float32, lengths (N,) int64 or None)``; ``(N, L)`` is one channel.

    Raises ValueError / TypeError naming what was expected and what arrived; NaN or inf past a
    sequence's length (padding) is allowed and set to 0."""
    try:
        X = check_array(
            X, dtype=np.float32, ensure_all_finite=False, allow_nd=True, input_name=what
        )  # (N, L) or (N, L, C); refuses 1-D, empty, complex, strings
    except ValueError as e:  # scikit-learn's messages, on one line
        message = " ".join(str(e).split())
        if "1D array" in message:
            message = f"{what} must be (N, L, C) or (N, L): {message}"
        raise ValueError(message) from None
    if X.ndim == 2:
        X = X[:, :, None]  # (N, L) -> (N, L, 1)
    if X.ndim != 3:
        raise ValueError(f"{what} must be (N, L, C) or (N, L), got shape {X.shape}")
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
        X = np.where(valid_mask(X, lengths)[..., None], X, np.float32(0.0))  # padding: 0
    finite = np.isfinite(X)
    if not finite.all():
        i, t, c = (int(v) for v in np.argwhere(~finite)[0])
        raise ValueError(
            f"{what} contains NaN or inf inside the valid length ({int((~finite).sum())} "
            f"values; first at sequence {i}, step {t}, channel {c}: {X[i, t, c]}); fill or drop "
            "missing values, or give lengths so that padding is excluded"
        )
    return X, lengths


@dataclass
class ChannelStats:
    """Per-channel statistics of the training split's valid steps: (C,) arrays."""

    mean: np.ndarray
    std: np.ndarray
    low: np.ndarray | None = None  # the smallest and largest training values
    high: np.ndarray | None = None

    @classmethod
    def fit(cls, X: np.ndarray, lengths: np.ndarray | None) -> ChannelStats:
        values = X[valid_mask(X, lengths)].astype(np.float64)  # (valid steps, C)
        return cls(
            values.mean(0).astype(np.float32),
            np.maximum(values.std(0), 1e-6).astype(np.float32),
            values.min(0).astype(np.float32),
            values.max(0).astype(np.float32),
        )

    def standardise(self, X: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
        """(X - mean) / std, padding kept at 0; float32, contiguous."""
        Xs = (X - self.mean) / self.std
        if lengths is not None:
            Xs = Xs * valid_mask(X, lengths)[..., None]
        return np.ascontiguousarray(Xs, dtype=np.float32)

    def warn_if_far(self, X: np.ndarray, lengths: np.ndarray | None) -> None:
        """One DriftWarning naming every channel whose inputs lie far outside the training
        inputs (a different scaling, units or preprocessing than at fit time)."""
        values = X[valid_mask(X, lengths)].astype(np.float64)  # (valid steps, C)
        mean, std = values.mean(0), values.std(0)
        shift = np.abs(mean - self.mean) / self.std
        far = shift > _DRIFT_STDS
        if self.low is not None:
            far &= (mean < self.low) | (mean > self.high)
        if len(values) >= _DRIFT_MIN_VALUES:
            far |= std / self.std > _DRIFT_SPREAD  # (a narrower spread is a subset, not drift)
        if not far.any():
            return
        parts = [
            f"channel {c}: mean {mean[c]:.4g} (training {self.mean[c]:.4g} ± {self.std[c]:.4g}), "
            f"std {std[c]:.4g}"
            for c in np.flatnonzero(far)[:5]
        ]
        more = f" and {int(far.sum()) - 5} more" if far.sum() > 5 else ""
        warnings.warn(
            f"inputs far outside the training data in {int(far.sum())} of {len(far)} channels "
            f"({'; '.join(parts)}{more}): were they scaled or preprocessed as at fit time?",
            DriftWarning,
            stacklevel=4,
        )

    def to_dict(self) -> dict:
        out = {"mean": self.mean.tolist(), "std": self.std.tolist()}
        if self.low is not None:
            out |= {"min": self.low.tolist(), "max": self.high.tolist()}
        return out

    @classmethod
    def from_dict(cls, d: dict) -> ChannelStats:
        def arr(key: str) -> np.ndarray | None:
            return None if key not in d else np.asarray(d[key], dtype=np.float32)

        return cls(arr("mean"), arr("std"), arr("min"), arr("max"))


def labels_1d(y, n: int, who: str) -> np.ndarray:
    """y as a 1-D array of n class labels (scikit-learn's checks and messages)."""
    if y is None:
        raise ValueError(f"{who} requires y to be passed, but the target y is None")
    y = column_or_1d(y, warn=True)
    if y.dtype.kind in "fc" and not np.isfinite(y).all():
        raise ValueError("Input y contains NaN or infinity; every label must be a class")
    check_classification_targets(y)
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},) like X's first axis, got {y.shape}")
    return y


def check_label_values(classes: np.ndarray) -> None:
    """Labels a run directory can keep: numbers, strings or booleans."""
    if classes.dtype.kind != "O":
        return
    bad = [v for v in classes.tolist() if not isinstance(v, str | int | float | bool)]
    if bad:
        raise ValueError(
            f"labels must be numbers, strings or booleans, got {type(bad[0]).__name__} ({bad[0]!r})"
        )


def class_weight_vector(cw, classes: np.ndarray, y_idx: np.ndarray) -> np.ndarray | None:
    """(K,) float32 loss weights from a ``class_weight`` option (None, "balanced" or
    {label: weight}) for ``classes`` and the training split's class indices, or None."""
    K = len(classes)
    if cw is None:
        return None
    if cw == "balanced":
        counts = np.bincount(y_idx, minlength=K).astype(np.float64)
        w = len(y_idx) / (K * np.maximum(counts, 1))  # scikit-learn's "balanced"
        return w.astype(np.float32)
    if not isinstance(cw, dict):
        raise ValueError(f"class_weight must be a dict, 'balanced' or None, got {cw!r}")
    names = {str(v): k for k, v in enumerate(classes.tolist())}
    index = {v: k for k, v in enumerate(classes.tolist())}
    w = np.ones(K, dtype=np.float32)
    for label, weight in cw.items():
        k = index.get(label, names.get(str(label)))  # str keys: a dict read from JSON
        if k is None:
            raise ValueError(
                f"class_weight has label {label!r}, not a class of y ({classes.tolist()[:20]})"
            )
        if not isinstance(weight, int | float) or weight < 0:
            raise ValueError(f"class_weight[{label!r}] must be >= 0, got {weight!r}")
        w[k] = weight
    return w


def encode_labels(y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Labels -> indices into ``classes``; a label the training data did not have is an error."""
    index = {v: k for k, v in enumerate(classes.tolist())}
    codes = np.array([index.get(v, -1) for v in y.tolist()], dtype=np.int64)
    if (codes < 0).any():
        unseen = sorted({str(v) for v, k in zip(y.tolist(), codes, strict=True) if k < 0})
        raise ValueError(
            f"labels {unseen[:10]} do not occur in the training data (classes "
            f"{classes.tolist()[:20]})"
        )
    return codes


def targets_2d(y, n: int, who: str = "Regressor") -> np.ndarray:
    """Regression targets as float32 (n, T): y of shape (n,) or (n, T), numbers, finite. Class
    labels (strings, booleans) are refused with a pointer to the classifier."""
    if y is None:
        raise ValueError(f"{who} requires y to be passed, but the target y is None")
    arr = np.asarray(y)
    if arr.dtype.kind not in "iuf":
        sample = arr.reshape(-1)[:3].tolist()
        raise ValueError(
            f"{who}: y must hold numbers (a numeric target per sequence), got dtype {arr.dtype} "
            f"({sample}); for class labels use lstmkit train classify / lstmkit.Classifier"
        )
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] != n or arr.shape[1] < 1:
        raise ValueError(f"y must have shape ({n},) or ({n}, T) like X's first axis, got "
                         f"{np.shape(y)}")  # fmt: skip
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        i = int(np.argwhere(~np.isfinite(arr))[0][0])
        raise ValueError(
            f"y contains NaN or inf ({int((~np.isfinite(arr)).sum())} values; first at "
            f"sequence {i}); drop those sequences or fill their targets"
        )
    return arr.astype(np.float32)
