"""Built-in data sets for ``--data``: ``digits``, ``fashion-mnist``, ``mnist`` and ``ucr:<Name>``.

Fashion-MNIST and MNIST are IDX files looked up, in order, in
``<root>/<name>/`` (root: the ``data_dir`` argument, else ``$LSTMKIT_DATA``, else
``~/.cache/lstmkit/data``), then ``/usr/share/datasets/<name>/`` (Debian's
``dataset-fashion-mnist`` package), then downloaded into ``<root>/<name>/`` when a network exists.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import numpy as np

from lstmkit.data.files import load_idx_pair
from lstmkit.data.sequences import SequenceData, build_sequence_data, pad_cases

__all__ = [
    "BUILTIN_NAMES",
    "IDX_FILES",
    "SYSTEM_DATA_DIR",
    "UCR_PREFIX",
    "download_file",
    "find_idx_dir",
    "is_builtin",
    "load_builtin",
]

logger = logging.getLogger(__name__)

UCR_PREFIX = "ucr:"
SYSTEM_DATA_DIR = Path("/usr/share/datasets")
DOWNLOAD_TIMEOUT_S = 30.0

# split -> (images, labels), the standard MNIST file names
IDX_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


@dataclass(frozen=True)
class _IdxSource:
    url: str  # base address; file names are appended
    install_hint: str  # how to get the files without a network ("" when there is no package)


_IDX_SOURCES: dict[str, _IdxSource] = {
    "fashion-mnist": _IdxSource(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "apt-get install dataset-fashion-mnist, or ",
    ),
    "mnist": _IdxSource("https://ossci-datasets.s3.amazonaws.com/mnist/", ""),
}

BUILTIN_NAMES: tuple[str, ...] = ("digits", "fashion-mnist", "mnist")
_VALID = ", ".join(BUILTIN_NAMES) + f", {UCR_PREFIX}<Name> (e.g. {UCR_PREFIX}GunPoint)"

Split = tuple[SequenceData, SequenceData | None]


def is_builtin(source: str) -> bool:
    return source.lower() in BUILTIN_NAMES or source.lower().startswith(UCR_PREFIX)


def load_builtin(name: str, *, data_dir: str | Path | None = None) -> Split:
    """``(train, test)`` of a built-in data set; ``test`` is ``None`` for ``digits``."""
    if name.lower().startswith(UCR_PREFIX):
        return _load_ucr(name[len(UCR_PREFIX) :].strip())
    key = name.lower()
    if key == "digits":
        return _load_digits(), None
    if key in _IDX_SOURCES:
        return _load_idx_builtin(key, data_dir)
    raise ValueError(f"unknown built-in data set {name!r}: expected one of {_VALID}, or a file")


# --- digits --------------------------------------------------------------------------------


def _load_digits() -> SequenceData:
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise ValueError(
            "the 'digits' data set needs scikit-learn: pip install scikit-learn"
        ) from exc
    bunch = load_digits()
    X = bunch.images  # (N, 8, 8): rows as time steps, columns as features; raw values 0..16
    return build_sequence_data(X, bunch.target, name="digits")


# --- Fashion-MNIST / MNIST -----------------------------------------------------------------


def _data_root(data_dir: str | Path | None) -> Path:
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get("LSTMKIT_DATA")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "lstmkit" / "data"


def _file_in(folder: Path, filename: str) -> Path | None:
    """The file, gzipped or not."""
    for candidate in (folder / filename, folder / filename.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def _complete(folder: Path) -> bool:
    return all(_file_in(folder, f) for pair in IDX_FILES.values() for f in pair)


def download_file(url: str, dest: Path, *, timeout: float = DOWNLOAD_TIMEOUT_S) -> None:
    """Fetch ``url`` into ``dest`` atomically (a temp file beside it, then a rename)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out, urlopen(url, timeout=timeout) as response:
            shutil.copyfileobj(response, out)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def find_idx_dir(
    name: str,
    data_dir: str | Path | None = None,
    *,
    download: Callable[[str, Path], None] | None = None,
) -> Path:
    """The folder holding the four IDX files of ``name`` (``"fashion-mnist"`` or ``"mnist"``).

    Looks in ``<root>/<name>``, ``<root>`` itself when ``data_dir`` or ``$LSTMKIT_DATA`` names it,
    and ``SYSTEM_DATA_DIR/<name>``; else downloads the missing files into ``<root>/<name>`` with
    ``download(url, dest)`` (default :func:`download_file`). Raises ``ValueError`` naming every
    place it looked when nothing works.
    """
    source = _IDX_SOURCES[name]
    root = _data_root(data_dir)
    cache = root / name
    places = [cache]
    if data_dir is not None or os.environ.get("LSTMKIT_DATA"):
        places.append(root)
    places.append(SYSTEM_DATA_DIR / name)
    for folder in places:
        if _complete(folder):
            logger.info("%s: using IDX files in %s", name, folder)
            return folder
    fetch = download_file if download is None else download
    missing = [f for pair in IDX_FILES.values() for f in pair if _file_in(cache, f) is None]
    try:
        cache.mkdir(parents=True, exist_ok=True)
        for filename in missing:
            logger.info("%s: downloading %s%s into %s", name, source.url, filename, cache)
            fetch(source.url + filename, cache / filename)
    except (OSError, ValueError) as exc:  # URLError, timeouts and HTTP errors are OSErrors
        reason = " ".join(str(getattr(exc, "reason", exc)).split())
        files = ", ".join(f for pair in IDX_FILES.values() for f in pair)
        raise ValueError(
            f"{name}: IDX files not found in {', '.join(str(p) for p in places)} and the "
            f"download from {source.url} failed ({type(exc).__name__}: {reason}); "
            f"fix: {source.install_hint}put the four files ({files}) in {cache}"
        ) from exc
    return cache


def _load_idx_builtin(name: str, data_dir: str | Path | None) -> Split:
    folder = find_idx_dir(name, data_dir)
    parts = []
    classes = None
    for split, (images, labels) in IDX_FILES.items():
        data = load_idx_pair(
            _file_in(folder, images) or folder / images,
            _file_in(folder, labels) or folder / labels,
            name=name if split == "train" else f"{name} (test)",
            classes=classes,
        )
        classes = data.classes
        parts.append(data)
    parts[1].name = name
    return parts[0], parts[1]


# --- UCR / UEA through sktime or aeon ------------------------------------------------------


def _ucr_loader() -> Callable[[str, str], tuple[Any, Any]]:
    try:
        from sktime.datasets import load_UCR_UEA_dataset
    except ImportError:
        pass
    else:
        return lambda name, split: load_UCR_UEA_dataset(name, split=split, return_X_y=True)
    try:
        from aeon.datasets import load_classification
    except ImportError:
        pass
    else:
        return lambda name, split: load_classification(name, split=split)
    raise ValueError(
        "ucr:<Name> data sets need sktime (or aeon): pip install sktime; they ship GunPoint, "
        "ArrowHead, OSULeaf, ACSF1, BasicMotions and PLAID for offline use"
    )


def _ucr_cases(X: Any, name: str) -> list[np.ndarray]:
    """sktime / aeon data as a list of ``(L_i, C)`` float64 cases."""
    if isinstance(X, np.ndarray) and X.dtype != object:
        X = X[:, None, :] if X.ndim == 2 else X  # (N, C, L)
        if X.ndim != 3:
            raise ValueError(f"{name}: expected (N, C, L) data, got shape {X.shape}")
        return [np.asarray(case, dtype=np.float64).T for case in X]
    if hasattr(X, "iloc"):  # sktime "nested_univ": a DataFrame, one pd.Series per cell
        rows = [[np.asarray(cell, dtype=np.float64) for cell in X.iloc[i]] for i in range(len(X))]
    else:  # aeon unequal length: a list of (C, L_i) arrays
        rows = [list(np.atleast_2d(np.asarray(case, dtype=np.float64))) for case in X]
    cases = []
    for i, channels in enumerate(rows):
        if len({c.size for c in channels}) != 1:
            raise ValueError(
                f"{name}: case {i} has channels of different lengths {[c.size for c in channels]}"
            )
        cases.append(np.stack(channels, axis=1))  # (L_i, C)
    return cases


def _load_ucr(dataset: str) -> Split:
    if not dataset:
        raise ValueError(f"expected '{UCR_PREFIX}<Name>' (e.g. {UCR_PREFIX}GunPoint), got no name")
    load = _ucr_loader()
    name = UCR_PREFIX + dataset
    parts = []
    classes = None
    for split in ("train", "test"):
        try:
            X, y = load(dataset, split)
        except Exception as exc:  # the libraries raise many kinds; report them uniformly
            detail = " ".join(str(exc).split())[:200]
            raise ValueError(
                f"{name}: could not load the {split} split ({type(exc).__name__}: {detail}); "
                "check the name (offline: GunPoint, ArrowHead, OSULeaf, ACSF1, BasicMotions, "
                "PLAID)"
            ) from exc
        padded, lengths = pad_cases(_ucr_cases(X, name), name)
        data = build_sequence_data(
            padded, np.asarray(y).astype(str), lengths, name=name, classes=classes
        )
        classes = data.classes
        parts.append(data)
    return parts[0], parts[1]
