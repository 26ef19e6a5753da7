"""Sequences with a numeric target each, for the ``regress`` task: ``load_regression``.

Sources: the built-in ``tecator`` (near-infrared spectra of 100 steps -> fat content, 172 train
and 43 test series, shipped in the sktime wheel), or a file: ``.npz`` with ``X`` and a numeric
``y`` ((N,) or (N, T)) and optional ``lengths``; an sktime ``.ts`` file with a
``@targetLabel true`` header; a UCR-style ``.tsv`` whose first column is the target. Class
labels (strings, ``@classLabel`` files, IDX) are refused with a pointer to ``classify``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lstmkit.data.builtin import is_builtin
from lstmkit.data.files import _is_number, open_npz, read_ts, read_tsv
from lstmkit.data.sequences import checked_sequences

__all__ = ["REGRESSION_BUILTINS", "TargetData", "load_regression", "random_split"]

logger = logging.getLogger(__name__)

REGRESSION_BUILTINS = ("tecator",)
REGRESSION_FILES = ".npz (X, numeric y[, lengths]), .ts (@targetLabel true), .tsv (target first)"


@dataclass
class TargetData:
    """Sequences and their numeric targets.

    Attributes:
        X: ``(N, L, C)`` float32, zero past each sequence's length.
        y: ``(N,)`` or ``(N, T)`` float64 targets.
        lengths: ``(N,)`` int64 in ``1..L``, or None when every sequence has length L.
        name: where the data came from.
    """

    X: np.ndarray
    y: np.ndarray
    lengths: np.ndarray | None
    name: str

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def num_channels(self) -> int:
        return int(self.X.shape[2])

    @property
    def num_targets(self) -> int:
        return 1 if self.y.ndim == 1 else int(self.y.shape[1])

    def subset(self, idx: np.ndarray) -> TargetData:
        idx = np.asarray(idx)
        lengths = None if self.lengths is None else self.lengths[idx]
        if lengths is not None and np.all(lengths == self.X.shape[1]):
            lengths = None
        return TargetData(self.X[idx], self.y[idx], lengths, self.name)


def build_target_data(X, y, lengths=None, *, name: str) -> TargetData:
    """Validate raw arrays (the ``.npz`` rules of ``classify`` for X and lengths) and numeric,
    finite targets of one row per sequence."""
    X, lens = checked_sequences(X, lengths, name)
    y = np.asarray(y)
    if y.dtype.kind not in "iuf":
        sample = y.reshape(-1)[:3].tolist()
        raise ValueError(
            f"{name}: y must hold numbers (a numeric target per sequence), got dtype {y.dtype} "
            f"({sample}); for class labels use lstmkit train classify"
        )
    if y.ndim not in (1, 2) or y.shape[0] != len(X) or (y.ndim == 2 and y.shape[1] < 1):
        raise ValueError(
            f"{name}: y must have shape ({len(X)},) or ({len(X)}, T) (targets per sequence), "
            f"got {y.shape}"
        )
    y = y.astype(np.float64)
    bad = ~np.isfinite(y.reshape(len(y), -1)).all(1)
    if bad.any():
        raise ValueError(
            f"{name}: y has NaN or inf for {int(bad.sum())} sequences (first: sequence "
            f"{int(np.flatnonzero(bad)[0])}); drop them or fill their targets"
        )
    return TargetData(X, y, lens, name)


def _numeric_labels(labels: list[str], name: str) -> np.ndarray:
    try:
        return np.array([float(v) for v in labels], dtype=np.float64)
    except ValueError:
        bad = next(v for v in labels if not _is_number(v))
        raise ValueError(
            f"{name}: the targets must be numbers, got {bad!r}; for class labels use "
            "lstmkit train classify"
        ) from None


def load_file(path: str | Path) -> TargetData:
    """One regression file (see the module's docstring)."""
    path = Path(path).expanduser()
    if not path.is_file():
        kind = "a directory, not a file" if path.is_dir() else "not found"
        raise ValueError(f"data file {kind}: {path}; expected one of {REGRESSION_FILES}")
    suffix = path.suffix.lower()
    logger.info("loading %s", path)
    if suffix == ".npz":
        X, y, lengths = open_npz(path)
        return build_target_data(X, y, lengths, name=path.name)
    if suffix in (".ts", ".tsv"):
        labels, X, lengths = read_ts(path, "regress") if suffix == ".ts" else read_tsv(path)
        y = _numeric_labels(labels, path.name)
        return build_target_data(X, y, lengths, name=path.name)
    raise ValueError(
        f"unknown data file type {path.name!r} for regress: expected one of {REGRESSION_FILES} "
        f"or a built-in name ({', '.join(REGRESSION_BUILTINS)})"
    )


def _load_tecator() -> tuple[TargetData, TargetData]:
    try:
        from sktime.datasets import load_tecator
    except ImportError as exc:
        raise ValueError("the 'tecator' data set needs sktime: pip install sktime") from exc
    parts = []
    for split in ("train", "test"):
        X, y = load_tecator(split=split, return_X_y=True, return_type="numpy3D")  # (N, C, L)
        X = np.asarray(X, dtype=np.float64).transpose(0, 2, 1)  # (N, L, C)
        parts.append(build_target_data(X, np.asarray(y, dtype=np.float64), name="tecator"))
    return parts[0], parts[1]


def load_regression(
    source: str, *, test_source: str | None = None
) -> tuple[TargetData, TargetData | None]:
    """``(train, test)`` for a ``--data`` source of ``regress``; ``test`` is the source's own
    test split (tecator), the data of ``test_source``, or None (the caller holds out a random
    part). Raises a one-line ValueError for every bad source or file."""
    source = str(source).strip()
    key = source.lower()
    if not source:
        raise ValueError(f"empty data source: expected {', '.join(REGRESSION_BUILTINS)} or a file")
    if key in REGRESSION_BUILTINS:
        train, test = _load_tecator()
    elif is_builtin(source):  # classify's built-ins: digits, fashion-mnist, mnist, ucr:<Name>
        raise ValueError(
            f"{source} is a classification data set (class labels); use lstmkit train classify, "
            f"or for regress one of {', '.join(REGRESSION_BUILTINS)} or a file"
        )
    elif (
        not Path(source).expanduser().exists()
        and Path(source).name == source
        and not (Path(source).suffix)
    ):
        raise ValueError(
            f"unknown data source {source!r}: not a built-in name "
            f"({', '.join(REGRESSION_BUILTINS)}) and no such file; files may be {REGRESSION_FILES}"
        )
    else:
        train, test = load_file(source), None
    if test_source is not None:
        test = load_file(test_source)
        if test.num_channels != train.num_channels or test.num_targets != train.num_targets:
            raise ValueError(
                f"{test.name}: test data has {test.num_channels} channels and "
                f"{test.num_targets} targets, the training data {train.name} "
                f"{train.num_channels} and {train.num_targets}; they must match"
            )
    return train, test


def random_split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, test) indices: a seeded random ``fraction`` of ``n`` items held out."""
    if not 0.0 < float(fraction) < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {fraction}")
    k = round(n * float(fraction))
    if n < 4 or k < 1 or k >= n - 1:
        raise ValueError(
            f"{n} sequences are too few to hold out a test split of {fraction}; pass --test-data"
        )
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[k:]).astype(np.int64), np.sort(order[:k]).astype(np.int64)
