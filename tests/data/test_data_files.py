"""lstmkit.data file loaders (.npz, IDX, UCR .tsv, .ts) and their validation, on generated files."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
import pytest

from lstmkit.data import SequenceData, load_classification, read_idx, write_idx


def _npz(tmp_path: Path, name: str = "d.npz", **arrays: object) -> str:
    path = tmp_path / name
    np.savez(path, **arrays)
    return str(path)


def _idx_pair(folder: Path, n: int, *, gz: bool, prefix: str = "train", seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    ext = ".gz" if gz else ""
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    write_idx(folder / f"{prefix}-images-idx3-ubyte{ext}", images)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte{ext}", labels)
    return folder / f"{prefix}-images-idx3-ubyte{ext}"


def _bad(source: str, match: str, **kwargs: object) -> str:
    with pytest.raises(ValueError, match=match) as info:
        load_classification(source, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


# --- .npz ----------------------------------------------------------------------------------


def test_npz_2d_becomes_one_channel(tmp_path: Path) -> None:
    X = np.arange(12, dtype=np.float64).reshape(4, 3)
    train, test = load_classification(_npz(tmp_path, X=X, y=np.array([5, -1, 5, 7])))
    assert test is None
    assert train.X.shape == (4, 3, 1) and train.X.dtype == np.float32
    assert train.classes == ["-1", "5", "7"]  # numeric order, original values
    np.testing.assert_array_equal(train.y, [1, 0, 1, 2])
    assert train.y.dtype == np.int64 and train.lengths is None and train.name == "d.npz"
    np.testing.assert_array_equal(train.X[:, :, 0], X)


def test_npz_3d_with_lengths_zeroes_padding(tmp_path: Path) -> None:
    X = np.full((3, 4, 2), 7.0, dtype=np.float32)
    X[0, 2:] = np.nan  # padding may hold anything: it is zeroed
    lengths = np.array([2, 4, 1])
    train, _ = load_classification(_npz(tmp_path, X=X, y=np.array([0, 1, 1]), lengths=lengths))
    assert train.X.shape == (3, 4, 2)
    np.testing.assert_array_equal(train.lengths, [2, 4, 1])
    assert train.lengths.dtype == np.int64
    assert (
        np.all(train.X[0, :2] == 7) and np.all(train.X[0, 2:] == 0) and np.all(train.X[2, 1:] == 0)
    )
    full, _ = load_classification(
        _npz(tmp_path, "f.npz", X=X[1:2].repeat(2, 0), y=np.array([0, 1]), lengths=[4, 4])
    )
    assert full.lengths is None  # every sequence has length L


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        ({"X": np.zeros((2, 3, 1, 1)), "y": [0, 1]}, r"shape \(N, L, C\) or \(N, L\), got 4-D"),
        ({"X": np.zeros(4), "y": [0, 1, 0, 1]}, "got 1-D"),
        ({"X": np.zeros((3, 4)), "y": [0, 1]}, r"y must have shape \(3,\)"),
        (
            {"X": np.zeros((2, 4)), "y": [0.0, 1.0]},
            r"integer class labels, got dtype float64.*astype",
        ),
        ({"X": np.zeros((2, 4)), "y": ["a", "b"]}, "integer class labels"),
        ({"X": np.array([["a", "b"], ["c", "d"]]), "y": [0, 1]}, "X must be numeric"),
        ({"X": np.zeros((3, 4)), "y": [2, 2, 2]}, r"at least 2 classes, got 1 \(\['2'\]\)"),
        ({"X": np.zeros((0, 4)), "y": np.zeros(0, int)}, "empty data"),
        ({"X": np.zeros((2, 0, 3)), "y": [0, 1]}, "empty data"),
        ({"X": np.zeros((2, 4)), "y": [0, 1], "lengths": [1, 2, 3]}, r"lengths must have shape"),
        ({"X": np.zeros((2, 4)), "y": [0, 1], "lengths": [0, 2]}, r"1\.\.4 .*got 0 at sequence 0"),
        ({"X": np.zeros((2, 4)), "y": [0, 1], "lengths": [2, 5]}, "got 5 at sequence 1"),
        ({"X": np.zeros((2, 4)), "y": [0, 1], "lengths": [2.0, 3.0]}, "lengths must be integers"),
        ({"X": np.array([[0, np.nan], [0, 0]]), "y": [0, 1]}, "NaN or inf.*sequence 0, step 1"),
        ({"X": np.array([[0, np.inf], [0, 0]]), "y": [0, 1]}, "NaN or inf"),
        ({"X": np.array([[0, 1e300], [0, 0]]), "y": [0, 1]}, "NaN or inf"),  # overflows float32
        ({"X": np.zeros((2, 4)), "labels": [0, 1]}, r"expected arrays 'X' and 'y'.*found \['X',"),
    ],
)
def test_npz_bad_input(tmp_path: Path, arrays: dict, match: str) -> None:
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    _bad(_npz(tmp_path, **arrays), match)


def test_npz_object_arrays_are_never_unpickled(tmp_path: Path) -> None:
    X = np.empty(2, dtype=object)
    X[0], X[1] = [1.0, 2.0], [3.0]
    path = tmp_path / "obj.npz"
    np.savez(path, X=X, y=np.array([0, 1]))
    _bad(str(path), "pickled objects, which are never loaded")
    pkl = tmp_path / "p.npz"
    pkl.write_bytes(pickle.dumps({"X": 1}))
    _bad(str(pkl), "not an .npz archive")


def test_npz_corrupt_truncated_and_npy(tmp_path: Path) -> None:
    good = Path(_npz(tmp_path, X=np.zeros((2, 50)), y=np.array([0, 1])))
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[:300])
    _bad(str(cut), "could not read .npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"this is not a zip archive")
    _bad(str(junk), "not an .npz archive")
    npy = tmp_path / "single.npz"
    with npy.open("wb") as f:
        np.save(f, np.zeros(3))
    _bad(str(npy), "got a single array")


def test_missing_file_unknown_extension_and_name(tmp_path: Path) -> None:
    missing = tmp_path / "nope.npz"
    assert str(missing) in _bad(str(missing), "not found")
    csv = tmp_path / "d.csv"
    csv.write_text("1,2\n")
    msg = _bad(str(csv), "unknown data file type 'd.csv'")
    assert ".npz" in msg and ".tsv" in msg and ".ts" in msg and "idx3" in msg
    msg = _bad("cifar10", "unknown data source 'cifar10'")
    assert "digits" in msg and "fashion-mnist" in msg and "ucr:<Name>" in msg


# --- IDX -----------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
def test_idx_roundtrip_and_loading(tmp_path: Path, gz: bool) -> None:
    images = _idx_pair(tmp_path, 12, gz=gz)
    raw = read_idx(images)
    assert raw.shape == (12, 28, 28) and raw.dtype == np.uint8
    train, test = load_classification(str(images))
    assert test is None
    assert train.X.shape == (12, 28, 28) and train.X.dtype == np.float32
    np.testing.assert_array_equal(train.X, raw.astype(np.float32))  # pixel values as stored
    assert 0.0 <= train.X.min() and train.X.max() <= 255.0
    assert train.classes == [str(k) for k in range(10)]
    np.testing.assert_array_equal(train.y, np.arange(12) % 10)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_dtypes_roundtrip(tmp_path: Path, dtype: type) -> None:
    a = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    write_idx(tmp_path / "a.idx", a)
    b = read_idx(tmp_path / "a.idx")
    assert b.dtype == np.dtype(dtype) and b.shape == a.shape
    np.testing.assert_array_equal(a, b)


def test_idx_labels_beside_images(tmp_path: Path) -> None:
    images = _idx_pair(tmp_path, 5, gz=True)
    labels = tmp_path / "train-labels-idx1-ubyte.gz"
    labels.rename(tmp_path / "elsewhere.gz")
    msg = _bad(str(images), "labels file not found")
    assert str(labels) in msg
    # the labels file uncompressed beside gzipped images is found too
    write_idx(tmp_path / "train-labels-idx1-ubyte", (np.arange(5) % 2).astype(np.uint8))
    train, _ = load_classification(str(images))
    assert train.classes == ["0", "1"]


def test_idx_corrupt(tmp_path: Path) -> None:
    images = _idx_pair(tmp_path, 4, gz=False)
    data = images.read_bytes()
    images.write_bytes(b"\x01\x02" + data[2:])
    _bad(str(images), "bad IDX magic number 0x0102")
    images.write_bytes(data[:-10])
    msg = _bad(str(images), "IDX size mismatch")
    assert "(4, 28, 28)" in msg
    images.write_bytes(data[:6])
    _bad(str(images), "truncated IDX header")
    gz = tmp_path / "t10k-images-idx3-ubyte.gz"
    gz.write_bytes(gzip.compress(data)[:100])
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(4, np.uint8))
    _bad(str(gz), "could not read IDX file")
    # label count differs from image count
    write_idx(tmp_path / "x-images-idx3-ubyte", np.zeros((3, 2, 2), np.uint8))
    write_idx(tmp_path / "x-labels-idx1-ubyte", np.arange(4, dtype=np.uint8))
    _bad(str(tmp_path / "x-images-idx3-ubyte"), "has 4 labels but x-images-idx3-ubyte has 3")
    with pytest.raises(ValueError, match="unsupported dtype int64"):
        write_idx(tmp_path / "a.idx", np.zeros(2, np.int64))


# --- UCR .tsv ------------------------------------------------------------------------------


def test_tsv_nan_padding_gives_lengths(tmp_path: Path) -> None:
    path = tmp_path / "Toy_TRAIN.tsv"
    path.write_text("1\t0.5\t1.5\t2.5\n-1\t3.0\tNaN\tNaN\n1.0\t4\t5\tNaN\n2\t1\t1\t1\n")
    train, test = load_classification(str(path))
    assert test is None and train.name == "Toy_TRAIN.tsv"
    assert train.X.shape == (4, 3, 1) and train.X.dtype == np.float32
    assert train.classes == ["-1", "1", "2"]  # "1" and "1.0" are one class
    np.testing.assert_array_equal(train.y, [1, 0, 1, 2])
    np.testing.assert_array_equal(train.lengths, [3, 1, 2, 3])
    np.testing.assert_array_equal(
        train.X[:, :, 0], [[0.5, 1.5, 2.5], [3, 0, 0], [4, 5, 0], [1, 1, 1]]
    )


def test_tsv_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text("1\t0.5\tabc\n2\t1\t2\n")
    _bad(str(path), "bad.tsv line 1: expected numbers, got 'abc'")
    path.write_text("1 0.5 0.7\n")
    _bad(str(path), "expected tab-separated values")
    path.write_text("1\t0.5\tNaN\t0.7\n2\t1\t2\t3\n")
    _bad(str(path), "NaN or inf inside the valid length")
    path.write_text("")
    _bad(str(path), "empty data")


# --- sktime .ts ----------------------------------------------------------------------------

_TS_HEADER = "# a comment\n@problemName Toy\n@timeStamps false\n@missing false\n"


def test_ts_univariate_equal_length(tmp_path: Path) -> None:
    path = tmp_path / "Toy_TRAIN.ts"
    path.write_text(
        _TS_HEADER + "@univariate true\n@equalLength true\n@seriesLength 3\n"
        "@classLabel true 1 2\n@data\n0.1,0.2,0.3:1\n1,2,3:2\n\n4,5,6:1\n"
    )
    train, _ = load_classification(str(path))
    assert train.X.shape == (3, 3, 1) and train.lengths is None
    assert train.classes == ["1", "2"]
    np.testing.assert_array_equal(train.y, [0, 1, 0])
    np.testing.assert_allclose(train.X[0, :, 0], [0.1, 0.2, 0.3], rtol=1e-6)


def test_ts_multivariate_unequal_length(tmp_path: Path) -> None:
    path = tmp_path / "Walk.ts"
    path.write_text(
        _TS_HEADER + "@univariate false\n@dimensions 2\n@equalLength false\n"
        "@classLabel true walking standing\n@data\n"
        "1,2,3:4,5,6:walking\n7:8:standing\n1,2,?:3,4,?:standing\n"
    )
    train, _ = load_classification(str(path))
    assert train.X.shape == (3, 3, 2)
    assert train.classes == ["standing", "walking"]
    np.testing.assert_array_equal(train.y, [1, 0, 0])
    np.testing.assert_array_equal(train.lengths, [3, 1, 2])
    np.testing.assert_array_equal(train.X[0], [[1, 4], [2, 5], [3, 6]])
    np.testing.assert_array_equal(train.X[1], [[7, 8], [0, 0], [0, 0]])


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("@classLabel true 1 2\n@data\n1,2:3\n", "label '3' is not among @classLabel"),
        ("@classLabel false\n@data\n1,2\n", "classLabel true <labels>"),
        ("@targetLabel true\n@data\n1,2:0.5\n", "regression"),
        ("@timeStamps true\n@classLabel true 1\n@data\n", "timeStamps true"),
        ("@classLabel true 1 2\n1,2:1\n", "expected a '@' header line"),
        ("@classLabel true 1 2\n", "no '@data' line"),
        ("@classLabel true 1 2\n@data\n1,2:1,2,3:1\n", "channels of one case must have the same"),
        ("@classLabel true 1 2\n@data\n1,2:1\n1,2:3,4:2\n", "must have 1 channels"),
        ("@classLabel true 1 2\n@data\n1,x:1\n", "expected numbers, got 'x'"),
    ],
)
def test_ts_bad_input(tmp_path: Path, body: str, match: str) -> None:
    path = tmp_path / "bad.ts"
    path.write_text(body)
    _bad(str(path), match)


def test_sequence_data_subset_and_checks() -> None:
    X = np.zeros((4, 3, 2), np.float32)
    data = SequenceData.from_arrays(X, np.array([3, 1, 3, 1]), lengths=np.array([1, 3, 3, 2]))
    assert len(data) == 4 and data.num_classes == 2 and data.num_channels == 2
    part = data.subset(np.array([1, 2]))
    assert len(part) == 2 and part.lengths is None and part.classes == ["1", "3"]
    np.testing.assert_array_equal(part.y, [0, 1])
    assert data.subset(np.array([True, False, False, True])).lengths.tolist() == [1, 2]
    with pytest.raises(ValueError, match="float32"):
        SequenceData(X.astype(np.float64), np.zeros(4, np.int64), None, ["a"], "x")
    with pytest.raises(ValueError, match="index into classes"):
        SequenceData(X, np.array([0, 1, 2, 0]), None, ["a", "b"], "x")
