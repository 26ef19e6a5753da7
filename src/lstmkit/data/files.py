"""Labelled sequences from files: ``.npz``, MNIST-style IDX, UCR ``.tsv`` and sktime ``.ts``."""

from __future__ import annotations

import logging
import re
import zipfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from lstmkit.data.idx import read_idx
from lstmkit.data.sequences import SequenceData, build_sequence_data, pad_cases

__all__ = [
    "FILE_FORMATS",
    "labels_path_for",
    "load_file",
    "load_idx_pair",
    "open_npz",
    "read_ts",
    "read_tsv",
]

logger = logging.getLogger(__name__)

FILE_FORMATS = ".npz, .tsv (UCR), .ts (sktime), IDX (*-images-idx3-ubyte[.gz], labels beside it)"
_IDX_IMAGES = re.compile(r"images([.-])idx3")


def _is_idx(path: Path) -> bool:
    name = path.name.removesuffix(".gz")
    return "idx" in name and (name.endswith("ubyte") or name.endswith(".idx") or "-idx" in name)


def load_file(path: str | Path, *, classes: Sequence[str] | None = None) -> SequenceData:
    """Load labelled sequences from a file, choosing the reader by the file name.

    ``classes``: encode the labels against these names (a test file against its training data).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        kind = "a directory, not a file" if path.is_dir() else "not found"
        raise ValueError(f"data file {kind}: {path}; expected one of {FILE_FORMATS}")
    reader = _reader_for(path)
    logger.info("loading %s", path)
    return reader(path, classes)


def _reader_for(path: Path) -> Callable[[Path, Sequence[str] | None], SequenceData]:
    suffix = path.suffix.lower()
    if suffix in _READERS:
        return _READERS[suffix]
    if _is_idx(path):
        return _load_idx_file
    raise ValueError(
        f"unknown data file type {path.name!r}: expected one of {FILE_FORMATS}, "
        "or a built-in name (see --help)"
    )


# --- .npz ----------------------------------------------------------------------------------


def _npz_error(path: Path, exc: Exception) -> ValueError:
    msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "pickle" in msg or "Object arrays" in msg:
        msg = "it holds pickled objects, which are never loaded; save plain numeric arrays"
    return ValueError(f"{path}: could not read .npz ({msg}); expected arrays X, y[, lengths]")


def _load_npz(path: Path, classes: Sequence[str] | None) -> SequenceData:
    X, y, lengths = open_npz(path)
    if y.dtype.kind not in "iu":
        hint = (
            " (cast with y.astype(np.int64); for a numeric target per sequence use "
            "lstmkit train regress)" if y.dtype.kind == "f" else ""
        )  # fmt: skip
        raise ValueError(
            f"{path.name}: y must hold integer class labels, got dtype {y.dtype}{hint}"
        )
    return build_sequence_data(X, y, lengths, name=path.name, classes=classes)


def open_npz(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The arrays X, y and (optional) lengths of an ``.npz`` file, never unpickled."""
    with open(path, "rb") as f:
        if f.read(4) not in (b"PK\x03\x04", b"\x93NUM"):  # an .npz is a zip (.npy: see below)
            raise ValueError(
                f"{path}: not an .npz archive (corrupt, truncated or another format); "
                "expected numpy.savez output with arrays X, y[, lengths]"
            )
    try:
        archive = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise _npz_error(path, exc) from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(
            f"{path}: expected an .npz archive with arrays X and y, got a single array"
        )
    with archive:
        keys = list(archive.files)
        if "X" not in keys or "y" not in keys:
            raise ValueError(
                f"{path}: expected arrays 'X' and 'y' (and optionally 'lengths'), found {keys}"
            )
        try:
            X, y = archive["X"], archive["y"]
            lengths = archive["lengths"] if "lengths" in keys else None
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error) as exc:
            raise _npz_error(path, exc) from exc
    return X, y, lengths


# --- IDX -----------------------------------------------------------------------------------


def labels_path_for(images: Path) -> Path:
    """``.../train-images-idx3-ubyte.gz`` -> ``.../train-labels-idx1-ubyte.gz``."""
    if not _IDX_IMAGES.search(images.name):
        raise ValueError(
            f"{images}: expected an IDX images file named like '*-images-idx3-ubyte[.gz]' "
            "(its labels are read from the '*-labels-idx1-ubyte[.gz]' file beside it)"
        )
    return images.with_name(_IDX_IMAGES.sub(r"labels\1idx1", images.name))


def load_idx_pair(
    images: Path, labels: Path, *, name: str, classes: Sequence[str] | None = None
) -> SequenceData:
    """Images ``(N, R, W)`` and labels ``(N,)``: rows become time steps, columns features.

    Pixel values are kept as they are (0..255 for uint8 images); the estimators standardise
    each channel with training statistics, so inputs need no scaling of their own.
    """
    X = read_idx(images)
    if X.ndim != 3:
        raise ValueError(f"{images}: expected IDX images of shape (N, rows, cols), got {X.shape}")
    y = read_idx(labels)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise ValueError(
            f"{labels}: expected IDX labels of shape (N,) with integer type, "
            f"got {y.dtype} {y.shape}"
        )
    if y.shape[0] != X.shape[0]:
        raise ValueError(
            f"{name}: {labels.name} has {y.shape[0]} labels but {images.name} has "
            f"{X.shape[0]} images"
        )
    return build_sequence_data(X, y, name=name, classes=classes)


def _load_idx_file(path: Path, classes: Sequence[str] | None) -> SequenceData:
    labels = labels_path_for(path)
    if not labels.is_file():
        other = labels.with_name(
            labels.name[:-3] if labels.name.endswith(".gz") else labels.name + ".gz"
        )
        if not other.is_file():
            raise ValueError(
                f"{path.name}: labels file not found: looked for {labels} (and {other.name}); "
                "put the matching labels file beside the images"
            )
        labels = other
    return load_idx_pair(path, labels, name=path.name, classes=classes)


# --- UCR .tsv ------------------------------------------------------------------------------


def _floats(tokens: list[str], where: str) -> np.ndarray:
    cleaned = ["nan" if t.strip() in ("", "?") else t for t in tokens]
    try:
        return np.array(cleaned, dtype=np.float64)
    except ValueError:
        bad = next(t for t in cleaned if not _is_number(t))
        raise ValueError(f"{where}: expected numbers, got {bad.strip()!r}") from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_text(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})"
        ) from exc


def _load_tsv(path: Path, classes: Sequence[str] | None) -> SequenceData:
    labels, X, lengths = read_tsv(path)
    return build_sequence_data(X, np.array(labels), lengths, name=path.name, classes=classes)


def read_tsv(path: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """A UCR ``.tsv`` file as (first-column labels or targets, X (N, L, 1), lengths)."""
    labels: list[str] = []
    cases: list[np.ndarray] = []
    for number, line in enumerate(_read_text(path), start=1):
        if not line.strip():
            continue
        fields = line.rstrip("\r\n").split("\t")
        if len(fields) < 2:
            raise ValueError(
                f"{path.name} line {number}: expected tab-separated values (label, then the "
                f"series), got {len(fields)} field"
            )
        labels.append(fields[0].strip())
        cases.append(_floats(fields[1:], f"{path.name} line {number}")[:, None])  # (L_i, 1)
    X, lengths = pad_cases(cases, path.name)
    return labels, X, lengths


# --- sktime .ts ----------------------------------------------------------------------------


def _load_ts(path: Path, classes: Sequence[str] | None) -> SequenceData:
    labels, X, lengths = read_ts(path, "classify")
    return build_sequence_data(X, np.array(labels), lengths, name=path.name, classes=classes)


def read_ts(path: Path, task: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """An sktime ``.ts`` file as (labels or targets, X (N, L, C), lengths); ``task``
    ("classify" or "regress") is the header the file must have (``@classLabel true`` or
    ``@targetLabel true``)."""
    header: dict[str, str] = {}
    labels: list[str] = []
    cases: list[np.ndarray] = []
    in_data = False
    for number, raw in enumerate(_read_text(path), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path.name} line {number}"
        if not in_data:
            if not line.startswith("@"):
                raise ValueError(
                    f"{where}: expected a '@' header line or '@data', got {line[:40]!r}"
                )
            key, _, value = line[1:].partition(" ")
            key = key.lower()
            if key == "data":
                in_data = True
                _check_ts_header(header, path.name, task)
            else:
                header[key] = value.strip()
            continue
        *dims, label = line.split(":")
        if not dims:
            raise ValueError(f"{where}: expected 'values:...:label', got no ':' separator")
        label = label.strip()
        allowed = header.get("classlabel", "").split()[1:]
        if allowed and label not in allowed:
            raise ValueError(f"{where}: label {label!r} is not among @classLabel {allowed}")
        series = [_floats(d.split(","), where) for d in dims]
        if len({s.size for s in series}) != 1:
            raise ValueError(
                f"{where}: the channels of one case must have the same length, "
                f"got {[s.size for s in series]}"
            )
        labels.append(label)
        cases.append(np.stack(series, axis=1))  # (L_i, C)
    if not in_data:
        raise ValueError(f"{path.name}: no '@data' line found; expected sktime's .ts format")
    X, lengths = pad_cases(cases, path.name)
    return labels, X, lengths


def _check_ts_header(header: dict[str, str], name: str, task: str) -> None:
    if header.get("timestamps", "false").lower() == "true":
        raise ValueError(f"{name}: '@timeStamps true' files are not supported; use plain values")
    class_label = header.get("classlabel", "")
    target = header.get("targetlabel", "").split()[:1] == ["true"]
    if task == "regress" and not target:
        raise ValueError(
            f"{name}: expected a regression file with a '@targetLabel true' header, got "
            + ("'@classLabel' (class labels): use lstmkit train classify" if class_label
               else "no '@targetLabel'")
        )  # fmt: skip
    if task == "classify" and (class_label.split()[:1] != ["true"] or "targetlabel" in header):
        raise ValueError(
            f"{name}: expected a classification file with a '@classLabel true <labels>' header, "
            + ("got '@targetLabel' (regression: a numeric target per sequence): use lstmkit "
               "train regress" if "targetlabel" in header else f"got {class_label!r}")
        )  # fmt: skip


_READERS: dict[str, Callable[[Path, Sequence[str] | None], SequenceData]] = {
    ".npz": _load_npz,
    ".tsv": _load_tsv,
    ".ts": _load_ts,
}
