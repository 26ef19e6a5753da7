"""lstmkit.data built-in sources (offline), --test-data alignment, and stratified_split."""

from __future__ import annotations

import io
import sys
import types
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from lstmkit.data import BUILTIN_NAMES, builtin, load_classification, stratified_split, write_idx

_FILES = [f for pair in builtin.IDX_FILES.values() for f in pair]


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No real cache, no system data sets, no network."""
    monkeypatch.delenv("LSTMKIT_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(builtin, "SYSTEM_DATA_DIR", tmp_path / "system")

    def no_network(url: str, timeout: float) -> None:
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(builtin, "urlopen", no_network)


def _idx_arrays(n_train: int = 20, n_test: int = 10) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": (np.arange(n_test) % 5).astype(np.uint8),
    }


def _write_idx_set(folder: Path, gz: bool = True) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in _idx_arrays().items():
        write_idx(folder / (name if gz else name.removesuffix(".gz")), array)


def _check_fashion(train, test) -> None:
    assert train.X.shape == (20, 28, 28) and test.X.shape == (10, 28, 28)
    assert train.name == test.name == "fashion-mnist"
    assert train.classes == test.classes == [str(k) for k in range(10)]
    np.testing.assert_array_equal(test.y, np.arange(10) % 5)


def test_builtin_names() -> None:
    assert set(BUILTIN_NAMES) == {"digits", "fashion-mnist", "mnist"}


def test_digits() -> None:
    train, test = load_classification("digits")
    assert test is None and train.name == "digits"
    assert train.X.shape == (1797, 8, 8) and train.X.dtype == np.float32
    assert train.X.min() == 0.0 and train.X.max() == 16.0  # raw values: nothing rescaled
    assert train.classes == [str(k) for k in range(10)] and train.lengths is None


@pytest.mark.parametrize("layout", ["named-subdir", "flat", "raw"])
def test_fashion_mnist_from_data_dir(tmp_path: Path, layout: str) -> None:
    data_dir = tmp_path / "data"
    folder = data_dir if layout == "flat" else data_dir / "fashion-mnist"
    _write_idx_set(folder, gz=layout != "raw")
    _write_idx_set(tmp_path / "system" / "fashion-mnist")  # data_dir comes first
    write_idx(tmp_path / "system" / "fashion-mnist" / _FILES[0], np.zeros((3, 2, 2), np.uint8))
    _check_fashion(*load_classification("fashion-mnist", data_dir=data_dir))


def test_fashion_mnist_from_env_then_system(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_idx_set(tmp_path / "system" / "fashion-mnist")
    _check_fashion(*load_classification("Fashion-MNIST"))  # name is case-insensitive
    monkeypatch.setenv("LSTMKIT_DATA", str(tmp_path / "env"))
    _write_idx_set(tmp_path / "env" / "fashion-mnist")
    folder = builtin.find_idx_dir("fashion-mnist")
    assert folder == tmp_path / "env" / "fashion-mnist"


def test_offline_message_names_every_place(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "fashion-mnist").mkdir(parents=True)
    write_idx(data_dir / "fashion-mnist" / _FILES[0], np.zeros((2, 28, 28), np.uint8))  # partial
    with pytest.raises(ValueError) as info:
        load_classification("fashion-mnist", data_dir=data_dir)
    msg = str(info.value)
    assert "\n" not in msg
    for part in (
        str(data_dir / "fashion-mnist"),
        str(tmp_path / "system" / "fashion-mnist"),
        "fashion-mnist.s3-website.eu-central-1.amazonaws.com",
        "network is unreachable",
        "apt-get install dataset-fashion-mnist",
        "t10k-labels-idx1-ubyte.gz",
    ):
        assert part in msg
    with pytest.raises(ValueError, match=r"ossci-datasets\.s3\.amazonaws\.com/mnist") as info:
        load_classification("mnist")  # default cache under $HOME
    assert str(tmp_path / "home" / ".cache" / "lstmkit" / "data" / "mnist") in str(info.value)
    assert "apt-get" not in str(info.value)


def test_download_into_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    payload = {}
    for name, array in _idx_arrays().items():
        write_idx(tmp_path / name, array)
        payload[name] = (tmp_path / name).read_bytes()
    urls = []

    def fake_urlopen(url: str, timeout: float) -> io.BytesIO:
        assert timeout == 30.0
        urls.append(url)
        return io.BytesIO(payload[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(builtin, "urlopen", fake_urlopen)
    data_dir = tmp_path / "data"
    train, test = load_classification("mnist", data_dir=data_dir)
    assert urls == [builtin._IDX_SOURCES["mnist"].url + f for f in _FILES]
    assert sorted(p.name for p in (data_dir / "mnist").iterdir()) == sorted(_FILES)
    assert train.name == "mnist" and len(train) == 20 and len(test) == 10
    urls.clear()
    load_classification("mnist", data_dir=data_dir)
    assert urls == []  # found in the cache the second time


def test_failed_download_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken(io.BytesIO):
        def read(self, *args: object) -> bytes:
            raise TimeoutError("timed out")

    monkeypatch.setattr(builtin, "urlopen", lambda url, timeout: Broken(b""))
    with pytest.raises(ValueError, match="TimeoutError: timed out"):
        builtin.find_idx_dir("fashion-mnist", tmp_path)
    assert list((tmp_path / "fashion-mnist").iterdir()) == []


def test_download_is_injectable(tmp_path: Path) -> None:
    calls = []
    arrays = _idx_arrays()

    def fetch(url: str, dest: Path) -> None:
        calls.append((url, dest))
        write_idx(dest, arrays[dest.name])

    folder = builtin.find_idx_dir("fashion-mnist", tmp_path, download=fetch)
    assert folder == tmp_path / "fashion-mnist"
    assert [d.name for _, d in calls] == _FILES


def test_test_source_alignment(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "tr.npz", X=rng.normal(size=(6, 5, 2)), y=np.array([10, 20, 30] * 2))
    np.savez(tmp_path / "te.npz", X=rng.normal(size=(2, 7, 2)), y=np.array([30, 30]))
    train, test = load_classification(
        str(tmp_path / "tr.npz"), test_source=str(tmp_path / "te.npz")
    )
    assert test.classes == train.classes == ["10", "20", "30"]
    np.testing.assert_array_equal(test.y, [2, 2])  # indices into the training classes
    np.savez(tmp_path / "unseen.npz", X=rng.normal(size=(2, 5, 2)), y=np.array([10, 40]))
    with pytest.raises(ValueError, match=r"labels \['40'\] do not occur in the training data"):
        load_classification(str(tmp_path / "tr.npz"), test_source=str(tmp_path / "unseen.npz"))
    np.savez(tmp_path / "c3.npz", X=rng.normal(size=(2, 5, 3)), y=np.array([10, 20]))
    with pytest.raises(ValueError, match=r"test data has 3 channels .* has 2; they must match"):
        load_classification(str(tmp_path / "tr.npz"), test_source=str(tmp_path / "c3.npz"))
    with pytest.raises(ValueError, match="test data must be a file"):
        load_classification(str(tmp_path / "tr.npz"), test_source="digits")
    # a .tsv test set against a .tsv training set: "1.0" matches "1"
    (tmp_path / "a.tsv").write_text("1\t1\t2\n2\t3\t4\n")
    (tmp_path / "b.tsv").write_text("2.0\t1\t2\t3\n")
    train, test = load_classification(str(tmp_path / "a.tsv"), test_source=str(tmp_path / "b.tsv"))
    assert test.y.tolist() == [1] and test.X.shape == (1, 3, 1)


# --- ucr:<Name> ----------------------------------------------------------------------------


def _fake_library(monkeypatch: pytest.MonkeyPatch, loader: object, lib: str = "sktime") -> None:
    parent, child = types.ModuleType(lib), types.ModuleType(f"{lib}.datasets")
    fn = "load_UCR_UEA_dataset" if lib == "sktime" else "load_classification"
    setattr(child, fn, loader)
    parent.datasets = child
    monkeypatch.setitem(sys.modules, lib, parent)
    monkeypatch.setitem(sys.modules, f"{lib}.datasets", child)


def test_ucr_through_sktime_equal_length(monkeypatch: pytest.MonkeyPatch) -> None:
    def load(name: str, split: str, return_X_y: bool) -> tuple[np.ndarray, np.ndarray]:
        assert name == "GunPoint" and return_X_y
        n = 4 if split == "train" else 2
        return np.arange(n * 6, dtype=float).reshape(n, 1, 6), np.array(["2", "1"] * (n // 2))

    _fake_library(monkeypatch, load)
    train, test = load_classification("ucr:GunPoint")
    assert train.name == test.name == "ucr:GunPoint"
    assert train.X.shape == (4, 6, 1) and test.X.shape == (2, 6, 1) and train.lengths is None
    assert train.classes == ["1", "2"] and train.y.tolist() == [1, 0, 1, 0]


def _not_installed(monkeypatch: pytest.MonkeyPatch, lib: str) -> None:
    """``lib`` as if not installed, also where an earlier test imported its datasets module
    (``from lib.datasets import ...`` finds that in sys.modules without the parent)."""
    monkeypatch.setitem(sys.modules, lib, None)
    monkeypatch.setitem(sys.modules, f"{lib}.datasets", None)


def test_ucr_through_aeon_unequal_length(monkeypatch: pytest.MonkeyPatch) -> None:
    _not_installed(monkeypatch, "sktime")
    cases = [np.ones((2, 3)), np.ones((2, 5)), np.ones((2, 1))]  # (C, L_i)

    def load(name: str, split: str) -> tuple[list, np.ndarray]:
        return cases, np.array(["a", "b", "a"])

    _fake_library(monkeypatch, load, lib="aeon")
    train, test = load_classification("ucr:PLAID")
    assert train.X.shape == (3, 5, 2) and train.lengths.tolist() == [3, 5, 1]
    assert test.classes == ["a", "b"]


def test_ucr_missing_library_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    _not_installed(monkeypatch, "sktime")
    _not_installed(monkeypatch, "aeon")
    with pytest.raises(ValueError, match="pip install sktime"):
        load_classification("ucr:GunPoint")
    with pytest.raises(ValueError, match="got no name"):
        load_classification("ucr:")

    def failing(name: str, split: str, return_X_y: bool) -> None:
        raise OSError("no such data set\non the archive")

    _fake_library(monkeypatch, failing)
    with pytest.raises(ValueError, match=r"ucr:Nope: could not load the train split \(OSError: no"):
        load_classification("ucr:Nope")


def test_ucr_real_sktime() -> None:
    pytest.importorskip("sktime")
    train, test = load_classification("ucr:GunPoint")
    assert train.X.shape == (50, 150, 1) and test.X.shape == (150, 150, 1)
    assert train.classes == ["1", "2"]


# --- stratified_split ----------------------------------------------------------------------


def test_stratified_split_properties() -> None:
    y = np.array([0] * 50 + [1] * 7 + [2] * 2 + [3])
    train, test = stratified_split(y, 0.2, seed=3)
    assert train.dtype == test.dtype == np.int64
    assert np.intersect1d(train, test).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(y.size))
    for cls in (0, 1, 2):
        assert (y[train] == cls).any() and (y[test] == cls).any()
    assert 3 in y[train] and 3 not in y[test]  # a single member stays in training
    assert (y[test] == 0).sum() == 10 and (y[test] == 1).sum() == 1
    again = stratified_split(y, 0.2, seed=3)
    np.testing.assert_array_equal(again[1], test)
    other = stratified_split(y, 0.2, seed=4)
    assert not np.array_equal(other[1], test)
    big = stratified_split(y, 0.99, seed=0)
    assert all((y[big[0]] == cls).any() for cls in range(4))
    for bad in (0.0, 1.0, -0.5):
        with pytest.raises(ValueError, match=r"test_fraction must be in \(0, 1\)"):
            stratified_split(y, bad, seed=0)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        stratified_split(np.array([]), 0.2, seed=0)
