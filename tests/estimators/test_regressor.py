"""lstmkit.Regressor: learns a numeric target, answers in y's units, saves and loads, takes
ensembles and every arch, and refuses bad targets with one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

import lstmkit
from lstmkit import Regressor

pytestmark = pytest.mark.usefixtures("one_thread")

FAST = {
    "arch": "encoder",
    "hidden": 16,
    "layers": 1,
    "batch_size": 32,
    "lr": 0.01,
    "conv_channels": 0,
}


def _toy(n=200, L=12, C=2, seed=0, targets=1):
    """y: the sum of channel 0 (a target far from 0 in mean and scale), and its max."""
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 1, (n, L, C)).astype(np.float32)
    y = 1000 + 50 * X[:, :, 0].sum(1)
    if targets == 2:
        y = np.stack([y, X[:, :, 1].max(1)], 1)
    return X, y


def test_learns_a_target_far_from_zero_and_beats_the_mean():
    X, y = _toy()
    reg = Regressor(epochs=40, **FAST).fit(X[:160], y[:160])
    pred = reg.predict(X[160:])
    assert pred.shape == (40,) and pred.dtype == np.float32
    assert reg.score(X[160:], y[160:]) > 0.9  # R²; the mean predictor scores about 0
    assert abs(pred.mean() - y[160:].mean()) < 0.2 * y[160:].std()  # in y's units
    np.testing.assert_allclose(reg.target_mean_, [y[:160][reg_keep(reg)].mean()], rtol=1e-6)


def reg_keep(reg):
    """The training rows of a fit with the default 10% random hold-out of 160 (seed 0)."""
    from lstmkit.estimators._fit import hold_out

    return hold_out(None, reg.val_fraction, 0, 160)[0]


def test_two_targets_save_load_and_validation_data(tmp_path):
    X, y = _toy(targets=2)
    reg = Regressor(epochs=5, **FAST).fit(X[:150], y[:150], validation_data=(X[150:], y[150:]))
    assert reg.predict(X[:4]).shape == (4, 2) and reg.n_targets_ == 2
    assert "val_rmse" in reg.history_[-1] and "val_mae" in reg.history_[-1]
    reg.save(tmp_path / "run")
    back = lstmkit.load(tmp_path / "run")
    assert isinstance(back, Regressor)
    np.testing.assert_array_equal(back.predict(X[:8]), reg.predict(X[:8]))
    with pytest.raises(ValueError, match="validation_data has 1 targets, y has 2"):
        Regressor(epochs=1, **FAST).fit(X, y, validation_data=(X, y[:, 0]))


def test_ensemble_lengths_and_lstm_fcn():
    X, y = _toy(n=120)
    lengths = np.random.default_rng(1).integers(4, 13, 120)
    reg = Regressor(epochs=2, ensemble=2, **FAST).fit(X, y, lengths)
    assert len(reg.model_.members) == 2 and len(reg.members_history_) == 2
    assert reg.predict(X[:5], lengths[:5]).shape == (5,)
    fcn = Regressor(**(FAST | {"arch": "lstm-fcn"}), epochs=2).fit(X, y)
    assert np.isfinite(fcn.predict(X[:5])).all()
    assert fcn.extract(X[:5]).shape[0] == 5


@pytest.mark.parametrize("loss", ["huber", "mae"])
def test_other_losses_train(loss):
    X, y = _toy(n=100)
    reg = Regressor(epochs=3, loss=loss, **FAST).fit(X, y)
    assert reg.history_[-1]["loss"] < reg.history_[0]["loss"]


def test_scikit_learn_contract():
    reg = Regressor(hidden=8, loss="huber")
    assert Regressor().arch == "lstm-fcn" and Regressor().min_steps == 1000  # dev-chosen
    assert clone(reg).get_params() == reg.get_params()
    assert reg.get_params()["loss"] == "huber" and "label_smoothing" not in reg.get_params()


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda X: (X, np.array(["a", "b"] * 10)), r"y must hold numbers.*train classify"),
        (lambda X: (X, np.array([True, False] * 10)), "y must hold numbers"),
        (lambda X: (X, np.r_[np.nan, np.ones(19)]), "y contains NaN or inf"),
        (lambda X: (X, np.ones(7)), r"y must have shape \(20,\) or \(20, T\)"),
        (lambda X: (X, None), "requires y to be passed"),
        (lambda X: (X[:1], np.ones(1)), "need at least 2 training sequences"),
    ],
)
def test_bad_targets(make, match):
    X = np.zeros((20, 5, 1), np.float32)
    with pytest.raises(ValueError, match=match):
        Regressor(epochs=1, **FAST).fit(*make(X))


def test_bad_options_and_lengths_beyond_the_padded_length():
    X, y = _toy(n=20)
    with pytest.raises(ValueError, match="loss must be one of mse, huber, mae"):
        Regressor(loss="l2").fit(X, y)
    with pytest.raises(ValueError, match="ensemble must be an integer >= 1"):
        Regressor(ensemble=0).fit(X, y)
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, 12\], got 3..13"):
        Regressor(epochs=1, **FAST).fit(X, y, np.r_[13, np.full(19, 3)])
    with pytest.raises(ValueError, match="not fitted yet"):
        Regressor().predict(X)
