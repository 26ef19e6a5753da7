"""``load_classification``: one entry point from a ``--data`` source to train / test sequences."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lstmkit.data.builtin import BUILTIN_NAMES, UCR_PREFIX, is_builtin, load_builtin
from lstmkit.data.files import FILE_FORMATS, load_file
from lstmkit.data.sequences import SequenceData

__all__ = ["describe_loading", "load_classification", "read_inputs"]

logger = logging.getLogger(__name__)


def _looks_like_name(source: str) -> bool:
    """No folder and no extension: meant as a built-in name, not a file."""
    path = Path(source)
    return path.name == source and not path.suffix


def load_classification(
    source: str,
    *,
    test_source: str | None = None,
    data_dir: str | Path | None = None,
) -> tuple[SequenceData, SequenceData | None]:
    """Load labelled sequences for the ``classify`` task.

    Args:
        source: a built-in name (``digits``, ``fashion-mnist``, ``mnist``, ``ucr:<Name>``) or a
            file (``.npz``, ``.tsv``, ``.ts``, ``*-images-idx3-ubyte[.gz]``).
        test_source: a file with the test set; it must have the same number of channels and only
            labels that occur in the training data. Overrides the source's own test split.
        data_dir: where built-in IDX data sets are looked up and downloaded to.

    Returns:
        ``(train, test)``; ``test`` is the source's own test split, the data of ``test_source``,
        or ``None`` (the caller then makes a stratified hold-out, see ``stratified_split``).

    Raises:
        ValueError: a one-line message for every bad source or file.

    Example:
        >>> train, test = load_classification("digits")
        >>> train.X.shape, test
        ((1797, 8, 8), None)
    """
    source = str(source).strip()
    if not source:
        raise ValueError(f"empty data source: expected a built-in name ({BUILTIN_NAMES}) or a file")
    if is_builtin(source):
        train, test = load_builtin(source, data_dir=data_dir)
    elif not Path(source).expanduser().exists() and _looks_like_name(source):
        raise ValueError(
            f"unknown data source {source!r}: not a built-in name "
            f"({', '.join(BUILTIN_NAMES)}, {UCR_PREFIX}<Name>) and no such file; "
            f"files may be {FILE_FORMATS}"
        )
    else:
        train, test = load_file(source), None
    if test_source is not None:
        if is_builtin(str(test_source).strip()):
            raise ValueError(
                f"test data must be a file, got the built-in name {test_source!r}; built-in "
                "data sets bring their own test split (or none, then a hold-out is used)"
            )
        if test is not None:
            logger.info("%s: using %s instead of its own test split", train.name, test_source)
        test = load_file(test_source, classes=train.classes)
        if test.num_channels != train.num_channels:
            raise ValueError(
                f"{test.name}: test data has {test.num_channels} channels (features per step) "
                f"but the training data {train.name} has {train.num_channels}; they must match"
            )
    return train, test


def describe_loading(source: str) -> str:
    """What loading ``source`` does to its values (a run's config.json keeps it): nothing is
    rescaled, so inputs given to ``predict`` later need the same form, no more."""
    key = str(source).strip().lower()
    if key == "digits":
        return (
            "sklearn.datasets.load_digits().images as they are (values 0..16): rows are the 8 "
            "steps, columns the 8 channels"
        )
    if key in ("fashion-mnist", "mnist") or "idx3-ubyte" in key:
        return "IDX images as they are (pixel values 0..255): rows are steps, columns channels"
    if key.startswith(UCR_PREFIX) or key.endswith((".tsv", ".ts")):
        return "values as the file or sktime/aeon holds them; shorter series right-padded"
    return "X as the file holds it, cast to float32"


def read_inputs(
    path: str | Path, classes: Sequence[str] | None = None
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Sequences to run a trained classifier on: ``(X, y, lengths)``.

    An ``.npz`` needs only ``X`` (``y`` and ``lengths`` are optional); IDX / UCR files bring
    labels. A built-in name (``digits``, ``ucr:GunPoint``, ...) reads that data set's own test
    split, or the whole set where it has none. ``y`` is returned, as indices into ``classes``,
    only when ``classes`` (the trained model's class names) is given and the file has labels;
    else it is ``None``.
    """
    if is_builtin(str(path).strip()):  # as for --data: the name, not a file of that name
        return _builtin_inputs(str(path).strip(), classes)
    path = Path(path)
    if path.suffix == ".npz":
        if not path.is_file():
            raise ValueError(f"input file {path} does not exist")
        try:
            with np.load(path, allow_pickle=False) as z:
                if "X" not in z:
                    raise ValueError(f"{path} has no array 'X' (found: {', '.join(z.files)})")
                X = z["X"]
                lengths = z["lengths"] if "lengths" in z else None
                labelled = "y" in z
        except (OSError, EOFError) as e:
            raise ValueError(f"cannot read {path}: {e}") from e
        if not np.issubdtype(X.dtype, np.number):
            raise ValueError(f"X in {path} must be numeric, got dtype {X.dtype}")
        if not np.isfinite(X.astype(np.float64)).all():
            raise ValueError(f"X in {path} holds NaN or infinite values")
        if not (labelled and classes is not None):
            return X, None, lengths
    if classes is None:
        data, _ = load_classification(str(path))
        return data.X, None, data.lengths
    data = load_file(path, classes=[str(c) for c in classes])
    return data.X, data.y, data.lengths


def _builtin_inputs(name: str, classes: Sequence[str] | None):
    """A built-in data set's test split (the whole set without one) as ``read_inputs`` gives it."""
    train, test = load_builtin(name)
    data = test if test is not None else train
    if classes is None:
        return data.X, None, data.lengths
    index = {str(c): k for k, c in enumerate(classes)}
    unknown = sorted(set(data.classes) - set(index))
    if unknown:
        raise ValueError(
            f"{name} has labels the model was not trained on: {', '.join(unknown[:5])} "
            f"(the model knows {', '.join(map(str, classes[:10]))})"
        )
    y = np.array([index[data.classes[k]] for k in data.y], dtype=np.int64)
    return data.X, y, data.lengths
