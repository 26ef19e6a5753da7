"""load_regression: tecator, .npz / .ts / .tsv with numeric targets, and class-label sources
refused with a pointer to classify."""

import numpy as np
import pytest

from lstmkit.data.regression import load_regression, random_split


def test_npz_with_float_targets_and_lengths(tmp_path):
    X = np.arange(24, dtype=np.float64).reshape(4, 3, 2)
    path = tmp_path / "r.npz"
    np.savez(path, X=X, y=np.array([0.5, 1.5, -2.0, 3.25]), lengths=np.array([3, 2, 3, 1]))
    train, test = load_regression(str(path))
    assert test is None
    assert train.X.shape == (4, 3, 2) and train.X.dtype == np.float32
    np.testing.assert_array_equal(train.y, [0.5, 1.5, -2.0, 3.25])
    assert train.X[1, 2].tolist() == [0.0, 0.0]  # past the length: 0
    np.savez(tmp_path / "multi.npz", X=X, y=np.ones((4, 2)))
    assert load_regression(str(tmp_path / "multi.npz"))[0].num_targets == 2


def test_ts_with_target_label_and_tsv_with_the_target_first(tmp_path):
    ts = tmp_path / "r.ts"
    ts.write_text("@problemName r\n@univariate true\n@targetLabel true\n@data\n"
                  "1,2,3:0.5\n4,5,6:1.25\n")  # fmt: skip
    train, _ = load_regression(str(ts))
    np.testing.assert_array_equal(train.y, [0.5, 1.25])
    assert train.X[:, :, 0].tolist() == [[1, 2, 3], [4, 5, 6]]
    tsv = tmp_path / "r.tsv"
    tsv.write_text("2.5\t1\t2\n-1\t3\t4\n")
    np.testing.assert_array_equal(load_regression(str(tsv))[0].y, [2.5, -1.0])


@pytest.mark.parametrize(
    ("content", "name", "match"),
    [
        ({"X": np.zeros((3, 4)), "y": np.array(["a", "b", "a"])}, "s.npz", "train classify"),
        ({"X": np.zeros((3, 4)), "y": np.array([1.0, np.nan, 2.0])}, "n.npz", "NaN or inf"),
        ({"X": np.zeros((3, 4)), "y": np.zeros(2)}, "w.npz", r"y must have shape \(3,\)"),
        (
            {"X": np.zeros((3, 4)), "y": np.zeros(3), "lengths": np.array([1, 5, 2])},
            "l.npz",
            r"lengths must lie in 1\.\.4",
        ),
    ],
)
def test_bad_npz_files(tmp_path, content, name, match):
    np.savez(tmp_path / name, **content)
    with pytest.raises(ValueError, match=match):
        load_regression(str(tmp_path / name))


def test_class_label_sources_point_to_classify(tmp_path):
    ts = tmp_path / "c.ts"
    ts.write_text("@problemName c\n@classLabel true a b\n@data\n1,2:a\n3,4:b\n")
    with pytest.raises(ValueError, match=r"@classLabel.*use lstmkit train classify"):
        load_regression(str(ts))
    with pytest.raises(ValueError, match=r"classification data set.*train classify"):
        load_regression("ucr:GunPoint")
    tsv = tmp_path / "c.tsv"
    tsv.write_text("a\t1\t2\nb\t3\t4\n")
    with pytest.raises(ValueError, match=r"targets must be numbers, got 'a'.*classify"):
        load_regression(str(tsv))
    with pytest.raises(ValueError, match="unknown data source 'nope'"):
        load_regression("nope")


def test_tecator_ships_in_the_sktime_wheel():
    pytest.importorskip("sktime")
    train, test = load_regression("tecator")
    assert (train.X.shape, test.X.shape) == ((172, 100, 1), (43, 100, 1))
    assert 0 < train.y.min() and train.y.max() < 100  # fat content, percent


def test_random_split_is_seeded_and_disjoint():
    a, b = random_split(50, 0.2, 3)
    assert len(b) == 10 and not set(a) & set(b) and len(a) + len(b) == 50
    np.testing.assert_array_equal(random_split(50, 0.2, 3)[1], b)
    with pytest.raises(ValueError, match="too few to hold out"):
        random_split(3, 0.2, 0)
