"""The estimators as scikit-learn estimators: its own check suite, clone, cross_val_score,
GridSearchCV and a Pipeline with a scaler."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from lstmkit import Classifier, Forecaster, TextGenerator

# Small and quick, still accurate on scikit-learn's check data (blobs, iris-like sets).
SMALL = {
    "arch": "encoder",
    "hidden": 16,
    "layers": 1,
    "conv_channels": 0,
    "min_steps": 60,
    "lr": 0.02,
    "batch_size": 64,
}

# Checks that assume tabular data, and why they do not apply to a sequence model. X (N, L) is
# read as N sequences of L steps with one channel: ``n_features_in_`` is the number of channels
# C (1 for 2-D input), and a sequence of another length is valid input, not an error.
EXPECTED_FAILURES = {
    "check_n_features_in": "n_features_in_ counts channels (C), not the L steps of (N, L) input",
    "check_n_features_in_after_fitting": "sequences of any length L are valid at predict time",
    "check_classifiers_train": "ends by requiring an error for another number of columns (L); "
    "its accuracy part is test_learns_the_check_suites_blobs below",
}


@parametrize_with_checks(
    [Classifier(**SMALL)], expected_failed_checks=lambda est: EXPECTED_FAILURES
)
def test_scikit_learn_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check(estimator)


def test_learns_the_check_suites_blobs():
    """check_classifiers_train's own data and bar (training accuracy > 0.83), for 2 and 3
    classes, and its consistency checks of predict / predict_proba."""
    X, y = make_blobs(n_samples=300, random_state=0)
    X = StandardScaler().fit_transform(X)
    for Xc, yc in ((X, y), (X[y < 2], y[y < 2])):
        clf = Classifier(**SMALL).fit(Xc, yc)
        pred, proba = clf.predict(Xc), clf.predict_proba(Xc)
        assert np.mean(pred == yc) > 0.83
        assert np.array_equal(pred, clf.classes_[proba.argmax(1)])
        np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)


def test_clone_keeps_every_parameter_and_nothing_fitted():
    clf = Classifier(**SMALL, cell="peephole", class_weight="balanced", random_state=7)
    X, y = make_blobs(n_samples=60, centers=2, random_state=0)
    clf.fit(X, y)
    twin = clone(clf)
    assert twin.get_params() == clf.get_params()
    with pytest.raises(NotFittedError):
        twin.predict(X)
    assert clf.set_params(hidden=8) is clf and clf.hidden == 8


def _blob_sequences(n=120, seed=0):
    """Two classes of sequences (N, L=6): the class shifts the level."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.normal(0, 1, (n, 6)) + 2.0 * y[:, None]
    return X, y


def test_cross_val_score_and_grid_search():
    X, y = _blob_sequences()
    scores = cross_val_score(Classifier(**SMALL), X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.85  # chance is 0.5
    grid = GridSearchCV(Classifier(**SMALL), {"hidden": [4, 16]}, cv=2).fit(X, y)
    assert grid.best_params_["hidden"] in (4, 16)
    assert grid.best_estimator_.hidden == grid.best_params_["hidden"]
    assert grid.score(X, y) > 0.85


def test_pipeline_with_a_scaler():
    X, y = _blob_sequences()
    X = X * 1000 + 5000  # a scale the scaler takes away
    pipe = make_pipeline(StandardScaler(), Classifier(**SMALL)).fit(X[:90], y[:90])
    assert pipe.score(X[90:], y[90:]) > 0.85
    assert pipe.predict(X[90:]).dtype == y.dtype


def test_forecaster_and_textgenerator_in_sklearn_tools():
    fc = Forecaster(hidden=8, epochs=2, lookback=12, horizon=3, calendar=False, random_state=3)
    assert clone(fc).get_params() == fc.get_params()
    t = np.arange(120)
    df = pd.DataFrame({"y": np.sin(t / 3) * 10 + 50})
    scores = cross_val_score(fc, df, cv=TimeSeriesSplit(n_splits=2, test_size=30),
                             params={"target": "y"})  # fmt: skip
    assert scores.shape == (2,) and np.all(scores < 0)  # minus MASE
    gen = TextGenerator(hidden=16, epochs=1, bptt=16, batch_size=4)
    assert clone(gen).get_params() == gen.get_params()
    with pytest.raises(NotFittedError):
        gen.generate("x")
