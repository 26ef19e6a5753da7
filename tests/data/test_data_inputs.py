"""``read_inputs``: what predict / extract / inspect read. A built-in name gives that data set's
own test split (the whole set where it has none), with labels encoded against a model's classes."""

from __future__ import annotations

import numpy as np
import pytest

from lstmkit.data.builtin import load_builtin
from lstmkit.data.load import read_inputs


def test_digits_by_name_is_the_whole_set_without_labels():
    X, y, lengths = read_inputs("digits")
    assert X.shape == (1797, 8, 8) and y is None and lengths is None


def test_a_ucr_name_reads_its_test_split_with_labels_as_the_model_numbers_them():
    pytest.importorskip("sktime")
    train, test = load_builtin("ucr:GunPoint")
    X, y, _ = read_inputs("ucr:GunPoint", classes=["2", "1"])  # the model's own order
    assert X.shape == test.X.shape and np.array_equal(X, test.X)
    names = np.array(test.classes)[test.y]
    assert np.array_equal(np.array(["2", "1"])[y], names)
    assert not np.array_equal(X[: len(train.X)], train.X[: len(X)])  # not the training part


def test_labels_the_model_never_saw_are_a_one_line_error():
    with pytest.raises(ValueError, match=r"digits has labels the model was not trained on: 7"):
        read_inputs("digits", classes=[str(k) for k in range(7)] + ["8", "9"])
