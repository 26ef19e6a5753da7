"""lstmkit.Classifier: the scikit-learn style API the CLI runs on."""

import numpy as np
import pytest

import lstmkit
from lstmkit import Classifier

FAST = {
    "arch": "encoder",
    "hidden": 16,
    "layers": 1,
    "epochs": 6,
    "batch_size": 32,
    "lr": 0.01,
    "conv_channels": 0,
}


def _toy(n=200, L=10, C=2, seed=0, variable=False):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.normal(0, 0.5, (n, L, C)).astype(np.float32)
    X[:, :, 1] += np.where(y[:, None] == 1, 1.5, -1.5)
    lengths = None
    if variable:
        lengths = rng.integers(4, L + 1, n)
        for i, k in enumerate(lengths):
            X[i, k:] = 0
    labels = np.array(["cat", "dog"])[y]
    return X, labels, lengths


@pytest.mark.parametrize("variable", [False, True])
def test_fit_predict_save_load(tmp_path, variable):
    X, y, lengths = _toy(variable=variable)
    clf = Classifier(**FAST).fit(
        X[:150], y[:150], lengths=None if lengths is None else lengths[:150]
    )
    lt = None if lengths is None else lengths[150:]
    pred = clf.predict(X[150:], lt)
    assert set(pred) <= {"cat", "dog"}
    assert (pred == y[150:]).mean() > 0.9
    proba = clf.predict_proba(X[150:], lt)
    assert proba.shape == (50, 2) and np.allclose(proba.sum(1), 1, atol=1e-5)
    clf.save(tmp_path)
    again = lstmkit.load(tmp_path)
    assert np.array_equal(again.predict_proba(X[150:], lt), proba)


def test_two_dimensional_input_is_one_channel():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 120)
    X = rng.normal(0, 0.3, (120, 8)) + y[:, None]
    clf = Classifier(**FAST).fit(X, y)
    assert clf.extract(X, pool="none").shape == (120, 8, 16)
    assert (clf.predict(X) == y).mean() > 0.9


def test_padding_values_do_not_matter():
    X, y, lengths = _toy(variable=True)
    clf = Classifier(**FAST).fit(X, y, lengths=lengths)
    noisy = X.copy()
    for i, k in enumerate(lengths):
        noisy[i, k:] = 99.0
    assert np.allclose(clf.predict_proba(X, lengths), clf.predict_proba(noisy, lengths), atol=1e-6)


def test_standardisation_uses_training_statistics_only():
    X, y, _ = _toy()
    clf = Classifier(**FAST, val_fraction=0.2, random_state=3).fit(X, y)
    from lstmkit.data import stratified_split

    keep, _ = stratified_split(np.unique(y, return_inverse=True)[1], 0.2, 3)
    assert np.allclose(clf.mean_, X[keep].reshape(-1, 2).mean(0), atol=1e-5)
    assert not np.allclose(clf.mean_, X.reshape(-1, 2).mean(0), atol=1e-5)


def test_unknown_option_is_a_type_error():
    with pytest.raises(TypeError, match="hiddn"):
        Classifier(arch="encoder", hiddn=3)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: Classifier(arch="encoder", pool="sum").fit(*_toy()[:2]), "pool must be one of"),
        (lambda: Classifier(arch="encoder").predict(np.zeros((2, 3, 2))), "not fitted"),
        (
            lambda: Classifier(**FAST).fit(np.zeros((4, 3, 2)), np.zeros(3)),
            r"y must have shape \(4,\)",
        ),
        (lambda: Classifier(**FAST).fit(np.zeros((4, 3, 2)), np.zeros(4)), "at least 2 classes"),
        (lambda: Classifier(**FAST).fit(np.zeros(4), np.arange(4) % 2), r"\(N, L, C\) or \(N, L\)"),
    ],
)
def test_mistakes(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_channel_mismatch_at_predict():
    X, y, _ = _toy()
    clf = Classifier(**{**FAST, "epochs": 1}).fit(X, y)
    with pytest.raises(ValueError, match="trained on 2"):
        clf.predict(np.zeros((3, 10, 5)))


def test_default_front_end_halves_the_steps():
    X, y, lengths = _toy(variable=True)
    clf = Classifier(
        **{"arch": "encoder", **FAST, "conv_channels": 8, "conv_stride": 2, "epochs": 1}
    ).fit(X, y, lengths)
    local = clf.extract(X, lengths, pool="none")
    assert local.shape == (200, 5, 16)  # ceil(10 / 2) steps
    for i, k in enumerate(lengths):  # zero past each shortened length
        assert np.all(local[i, (k + 1) // 2 :] == 0)


def test_small_data_gets_min_steps_when_epochs_unset():
    assert (
        Classifier(arch="encoder", batch_size=32).epochs_for(50) == 150
    )  # 2 steps per epoch -> 150 epochs
    assert (
        Classifier(arch="encoder", batch_size=32).epochs_for(100_000) == 8
    )  # big data: the default epochs
    assert Classifier(arch="encoder", batch_size=32, min_steps=0).epochs_for(50) == 8
    assert (
        Classifier(arch="encoder", batch_size=32, epochs=3).epochs_for(50) == 3
    )  # the user's epochs are kept
    X, y, _ = _toy(n=40)
    opts = {k: v for k, v in FAST.items() if k != "epochs"} | {"min_steps": 6}
    clf = Classifier(**opts).fit(X, y)  # 36 training rows, batch 32: 2 steps per epoch
    assert clf.train_config_.epochs == 8 and len(clf.history_) == 8  # max(default 8, 3)
    clf = Classifier(**opts | {"min_steps": 40}).fit(X, y)
    assert clf.train_config_.epochs == 20 and len(clf.history_) == 20
    bad = Classifier(
        arch="encoder", min_steps=-1
    )  # scikit-learn's rule: __init__ stores, fit validates
    with pytest.raises(ValueError, match="min_steps must be a non-negative integer"):
        bad.fit(X, y)
