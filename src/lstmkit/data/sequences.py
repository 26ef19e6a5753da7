"""The labelled-sequence data type of the ``classify`` task, its validation, and splitting.

Every loader ends in :func:`build_sequence_data`, so one set of checks (shapes, label encoding,
lengths, finite values) holds whatever the source.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "SequenceData",
    "build_sequence_data",
    "checked_sequences",
    "label_values",
    "pad_cases",
    "stratified_split",
]

logger = logging.getLogger(__name__)


@dataclass
class SequenceData:
    """Labelled sequences, right-padded to a common length.

    Attributes:
        X: ``(N, L, C)`` float32, zero past each sequence's length.
        y: ``(N,)`` int64 class indices in ``0..K-1``.
        lengths: ``(N,)`` int64 in ``1..L``, or ``None`` when every sequence has length ``L``.
        classes: the ``K`` class names (original label values as strings); ``y`` indexes into it.
        name: where the data came from (``"digits"``, ``"ucr:GunPoint"``, a file name).
    """

    X: np.ndarray
    y: np.ndarray
    lengths: np.ndarray | None
    classes: list[str]
    name: str

    def __post_init__(self) -> None:
        if not isinstance(self.X, np.ndarray) or self.X.ndim != 3 or self.X.dtype != np.float32:
            got = f"{self.X.dtype} {self.X.shape}" if isinstance(self.X, np.ndarray) else self.X
            raise ValueError(f"SequenceData.X must be a float32 (N, L, C) array, got {got}")
        n = self.X.shape[0]
        if self.y.shape != (n,) or self.y.dtype != np.int64:
            raise ValueError(
                f"SequenceData.y must be int64 of shape ({n},), got {self.y.dtype} {self.y.shape}"
            )
        if self.lengths is not None and (
            self.lengths.shape != (n,) or self.lengths.dtype != np.int64
        ):
            raise ValueError(
                f"SequenceData.lengths must be None or int64 of shape ({n},), "
                f"got {self.lengths.dtype} {self.lengths.shape}"
            )
        if n and (self.y.min() < 0 or self.y.max() >= len(self.classes)):
            raise ValueError(
                f"SequenceData.y must index into classes (0..{len(self.classes) - 1}), "
                f"got values in {self.y.min()}..{self.y.max()}"
            )

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def num_channels(self) -> int:
        return int(self.X.shape[2])

    @property
    def label_values(self) -> np.ndarray:
        """The K class labels as values: int64 when every class name is an integer (numeric
        labels, whether a file held them as numbers or as text), float64 when every one is a
        number, else str. ``label_values[y]`` are the labels a model is fitted on."""
        return label_values(self.classes)

    def subset(self, idx: np.ndarray) -> SequenceData:
        """The sequences at ``idx`` (integer indices or a boolean mask); classes are kept."""
        idx = np.asarray(idx)
        lengths = None if self.lengths is None else self.lengths[idx]
        if lengths is not None and np.all(lengths == self.X.shape[1]):
            lengths = None
        return SequenceData(self.X[idx], self.y[idx], lengths, list(self.classes), self.name)

    @classmethod
    def from_arrays(
        cls,
        X: np.ndarray,
        y: np.ndarray,
        lengths: np.ndarray | None = None,
        *,
        name: str = "arrays",
        classes: Sequence[str] | None = None,
    ) -> SequenceData:
        """Validate user arrays (the ``.npz`` rules) and encode ``y``; see build_sequence_data."""
        return build_sequence_data(X, y, lengths, name=name, classes=classes)


def _normalise_label(value: object) -> str:
    """A label as a class name: numbers in canonical form ("1.0" and 1 both give "1")."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, np.integer | int):
        return str(int(value))
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    if math.isfinite(number) and number.is_integer():
        return str(int(number))
    return text


def label_values(names: Sequence[str]) -> np.ndarray:
    """Class names (canonical strings, see ``_normalise_label``) as typed label values."""
    for dtype in (np.int64, np.float64):
        try:
            return np.array([dtype(name) for name in names], dtype=dtype)
        except ValueError:
            continue
    return np.array(list(names), dtype=str)


def _sort_classes(names: set[str]) -> list[str]:
    """Numeric order when every name is a number, else alphabetical."""
    try:
        return sorted(names, key=float)
    except ValueError:
        return sorted(names)


def _encode_labels(
    labels: np.ndarray, name: str, classes: Sequence[str] | None
) -> tuple[np.ndarray, list[str]]:
    uniq, inverse = np.unique(labels, return_inverse=True)
    names = [_normalise_label(u) for u in uniq.tolist()]
    if classes is None:
        classes = _sort_classes(set(names))
        if len(classes) < 2:
            raise ValueError(
                f"{name}: expected at least 2 classes, got {len(classes)} ({classes}); "
                "a classifier needs examples of two or more labels"
            )
    classes = list(classes)
    index = {c: k for k, c in enumerate(classes)}
    unseen = sorted({n for n in names if n not in index})
    if unseen:
        raise ValueError(
            f"{name}: labels {unseen} do not occur in the training data (classes {classes}); "
            "train and test must use the same label values"
        )
    codes = np.array([index[n] for n in names], dtype=np.int64)
    return codes[inverse.reshape(-1)], classes


def _check_lengths(lengths: object, n: int, length: int, name: str) -> np.ndarray:
    arr = np.asarray(lengths)
    if arr.shape != (n,):
        raise ValueError(
            f"{name}: lengths must have shape ({n},) (one per sequence), got {arr.shape}"
        )
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name}: lengths must be integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    bad = np.flatnonzero((arr < 1) | (arr > length))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{name}: lengths must lie in 1..{length} (the padded length L), got {arr[i]} "
            f"at sequence {i} ({bad.size} out of range)"
        )
    return arr


def build_sequence_data(
    X: object,
    labels: object,
    lengths: object = None,
    *,
    name: str,
    classes: Sequence[str] | None = None,
) -> SequenceData:
    """Validate raw arrays and make a :class:`SequenceData`.

    Args:
        X: ``(N, L, C)`` or ``(N, L)`` numeric array (2-D becomes ``C = 1``).
        labels: ``(N,)`` label values (integers or strings); class names are their string forms.
        lengths: optional ``(N,)`` integers in ``1..L``; values past a length are set to 0.
        name: the source's name, used in messages and stored on the result.
        classes: encode against these class names (a test set against its training set);
            labels outside them raise. ``None``: the sorted unique labels (at least 2).
    """
    X = np.asarray(X)
    n = X.shape[0] if X.ndim else 0
    labels = np.asarray(labels)
    if X.ndim in (2, 3) and (labels.ndim != 1 or labels.shape[0] != n):
        raise ValueError(
            f"{name}: y must have shape ({n},) (one label per sequence), got {labels.shape}"
        )
    X, lens = checked_sequences(X, lengths, name)
    y, classes = _encode_labels(labels, name, classes)
    logger.debug("%s: %d sequences, L=%d, C=%d, %d classes", name, *X.shape, len(classes))
    return SequenceData(X, y, lens, classes, name)


def checked_sequences(
    X: object, lengths: object, name: str
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(X (N, L, C) float32, lengths or None)`` from raw arrays: numeric, 2-D (one channel)
    or 3-D, not empty, lengths in ``1..L`` (values past them set to 0; None when every sequence
    is full), finite inside the valid lengths. Raises a one-line ValueError naming ``name``."""
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise ValueError(
            f"{name}: X must be numeric (float or integer), got dtype {X.dtype}; "
            "convert the values to numbers first"
        )
    if X.ndim == 2:
        X = X[:, :, None]
    if X.ndim != 3:
        raise ValueError(
            f"{name}: X must have shape (N, L, C) or (N, L), got {X.ndim}-D shape {X.shape}"
        )
    n, length, channels = X.shape
    if n == 0 or length == 0 or channels == 0:
        raise ValueError(f"{name}: empty data: X has shape {X.shape}; expected N, L, C >= 1")
    lens = None if lengths is None else _check_lengths(lengths, n, length, name)
    with np.errstate(over="ignore"):  # values beyond float32's range become inf, reported below
        X = X.astype(np.float32)  # (N, L, C), a copy
    if lens is not None:
        pad = np.arange(length)[None, :] >= lens[:, None]  # (N, L)
        X[pad] = 0.0
        if not pad.any():
            lens = None
    finite = np.isfinite(X)
    if not finite.all():
        i, t, c = (int(v) for v in np.argwhere(~finite)[0])
        raise ValueError(
            f"{name}: X has NaN or inf inside the valid length ({int((~finite).sum())} values; "
            f"first at sequence {i}, step {t}, channel {c}, value {X[i, t, c]}); fill or drop "
            "missing values, or give lengths so that padding is excluded"
        )
    return X, lens


def pad_cases(cases: Sequence[np.ndarray], name: str) -> tuple[np.ndarray, np.ndarray]:
    """Stack ``(L_i, C)`` cases into ``(N, max L, C)``, dropping trailing all-NaN steps.

    Returns ``(X, lengths)``; values are left-aligned, padding is 0. NaNs inside a case stay
    (validation reports them).
    """
    if not cases:
        raise ValueError(f"{name}: empty data: no sequences found")
    channels = cases[0].shape[1]
    trimmed = []
    for i, case in enumerate(cases):
        if case.shape[1] != channels:
            raise ValueError(
                f"{name}: every sequence must have {channels} channels (as the first), "
                f"sequence {i} has {case.shape[1]}"
            )
        present = np.flatnonzero(~np.isnan(case).all(axis=1))  # steps with any value
        if present.size == 0:
            raise ValueError(f"{name}: sequence {i} has no values (all missing)")
        trimmed.append(case[: present[-1] + 1])
    lengths = np.array([len(c) for c in trimmed], dtype=np.int64)  # (N,)
    X = np.zeros((len(trimmed), int(lengths.max()), channels), dtype=np.float64)  # (N, L, C)
    for i, case in enumerate(trimmed):
        X[i, : len(case)] = case
    return X, lengths


def stratified_split(
    y: np.ndarray, test_fraction: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Split indices so that each class keeps about ``test_fraction`` of its members for test.

    Deterministic for a given ``seed``. A class with at least 2 members has at least one in each
    part; a class with 1 member stays in the training part. Returns sorted int64 index arrays
    ``(train_idx, test_idx)``.
    """
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"stratified_split: y must be a non-empty 1-D array, got shape {y.shape}")
    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"stratified_split: test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for cls in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == cls))
        count = members.size
        n_test = math.floor(count * float(test_fraction) + 0.5)
        n_test = min(max(n_test, 1), count - 1) if count >= 2 else 0
        test.append(members[:n_test])
        train.append(members[n_test:])
    return (
        np.sort(np.concatenate(train)).astype(np.int64),
        np.sort(np.concatenate(test)).astype(np.int64),
    )
