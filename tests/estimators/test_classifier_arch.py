"""Classifier(arch=...): LSTM-FCN and MLSTM-FCN through the estimator, its run and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

import lstmkit
from lstmkit import Classifier
from lstmkit.estimators import _sequence
from lstmkit.estimators._sequence import AUTO_FCN_BELOW, resolve_arch

pytestmark = pytest.mark.usefixtures("one_thread")

FAST = {"hidden": 8, "layers": 1, "epochs": 4, "batch_size": 32, "lr": 0.01, "cell": "lstm"}


def _toy(n=160, L=24, C=2, seed=0, pad=50.0):
    """Two classes told apart by a bump's position, variable lengths, padding garbage."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.normal(0, 0.3, (n, L, C)).astype(np.float32)
    X[y == 1, 3:8, 0] += 2.0
    X[y == 0, 12:17, 0] += 2.0
    lengths = rng.integers(18, L + 1, n)
    for i, k in enumerate(lengths):
        X[i, k:] = pad  # whatever the padding holds must not matter
    return X, np.array(["a", "b"])[y], lengths


@pytest.mark.parametrize("arch", ["lstm-fcn", "mlstm-fcn"])
def test_fit_predict_save_load(arch, tmp_path):
    X, y, lengths = _toy()
    clf = Classifier(arch=arch, **FAST).fit(X[:120], y[:120], lengths[:120])
    assert clf.score(X[120:], y[120:], lengths[120:]) > 0.85
    assert clf.config_.arch == arch and clf.config_.fcn.length == 24
    proba = clf.predict_proba(X[120:], lengths[120:])
    clean = X.copy()
    for i, k in enumerate(lengths):
        clean[i, k:] = 0.0
    np.testing.assert_allclose(clf.predict_proba(clean[120:], lengths[120:]), proba, atol=1e-6)
    clf.save(tmp_path / "run")
    again = lstmkit.load(tmp_path / "run")
    assert np.array_equal(again.predict_proba(X[120:], lengths[120:]), proba)
    assert again.get_params()["arch"] == arch
    assert clf.extract(X[:3], lengths[:3]).shape == (3, 128 + 8 + 4)  # + 2C series statistics
    assert clf.extract(X[:3], lengths[:3], pool="none").shape == (3, 24, 128)


def test_shorter_sequences_predict_longer_are_refused():
    X, y, lengths = _toy(pad=0.0)
    clf = Classifier(arch="lstm-fcn", **FAST).fit(X, y, lengths)
    assert clf.predict(X[:4, :20]).shape == (4,)
    with pytest.raises(ValueError, match="at most 24 steps"):
        clf.predict(np.concatenate([X[:2], X[:2]], axis=1))


def test_bad_options():
    with pytest.raises(ValueError, match="arch must be one of"):
        Classifier(arch="fcn").check_options()
    with pytest.raises(ValueError, match="fcn_shuffle must be True or False"):
        Classifier(arch="lstm-fcn", fcn_shuffle="yes").check_options()
    with pytest.raises(ValueError, match="series_norm must be True or False"):
        Classifier(arch="lstm-fcn", series_norm=1).check_options()
    with pytest.raises(ValueError, match="rnn_dropout"):
        Classifier(arch="lstm-fcn", rnn_dropout=1.5).check_options()


def test_cli_train_records_the_arch(tmp_path, cli_main):
    run = tmp_path / "run"
    code, _, err = cli_main("train", "classify", "--data", "digits", "--arch", "mlstm-fcn",
                              "--no-fcn-shuffle", "--rnn-dropout", "0.5", "--series-norm",
                              "--hidden", "8",
                              "--layers", "1", "--epochs", "2", "--out", run)  # fmt: skip
    assert code == 0, err
    config = json.loads((run / "config.json").read_text())
    assert config["options"]["arch"] == "mlstm-fcn"
    assert config["model"]["arch"] == "mlstm-fcn"
    assert config["model"]["fcn"] == {"channels": 8, "length": 8, "shuffle": False,
                                      "squeeze_excite": True, "rnn_dropout": 0.5,
                                      "series_norm": True}  # fmt: skip
    assert json.loads((run / "metrics.json").read_text())["test_accuracy"] > 0.5
    code, _, err = cli_main("train", "classify", "--data", "digits", "--arch", "fcn",
                            "--out", tmp_path / "bad")  # fmt: skip
    assert code == 2 and "invalid choice" in err and not (tmp_path / "bad").exists()


def test_resolve_arch_auto_by_training_set_size():
    assert resolve_arch("auto", AUTO_FCN_BELOW - 1) == "lstm-fcn"
    assert resolve_arch("auto", AUTO_FCN_BELOW) == "encoder"
    assert resolve_arch("encoder", 10) == "encoder"  # a given arch is kept
    assert resolve_arch("mlstm-fcn", 10**6) == "mlstm-fcn"


def test_auto_builds_lstm_fcn_on_small_data_and_the_encoder_on_large(tmp_path, monkeypatch):
    X, y, lengths = _toy(n=60)
    clf = Classifier(**FAST).fit(X, y, lengths, run_dir=tmp_path / "small")
    assert clf.arch == "auto" and clf.arch_ == "lstm-fcn" and clf.config_.fcn is not None
    config = json.loads((tmp_path / "small" / "config.json").read_text())
    assert config["model"]["arch"] == "lstm-fcn" and config["options"].get("arch", "auto") == "auto"
    assert lstmkit.load(tmp_path / "small").arch_ == "lstm-fcn"
    monkeypatch.setattr(_sequence, "AUTO_FCN_BELOW", 50)  # 54 training rows count as large
    big = Classifier(**FAST).fit(X, y, lengths)
    assert big.arch_ == "encoder" and big.config_.fcn is None
    assert big.get_params()["arch"] == "auto"  # scikit-learn's rule: the option is not changed


@pytest.mark.parametrize("option", [{"pool": "mean"}, {"conv_channels": 0}, {"conv_stride": 1}])
def test_auto_with_an_encoder_option_builds_the_encoder(option):
    """pool and conv_* describe the encoder (LSTM-FCN has no use for them): auto honours them."""
    X, y, lengths = _toy(n=60)
    clf = Classifier(**FAST, **option).fit(X, y, lengths)
    assert clf.arch_ == "encoder" and clf.config_.fcn is None


def test_series_norm_learns_series_six_orders_of_magnitude_apart():
    """Two shapes (a bump early or late), each series scaled by 10^U(-4, 2) as PLAID's currents
    are: with the default series_norm the classifier tells them apart; with the channel
    standardisation alone the small series reach the network as near-zeros (chance level)."""
    X, y, _ = _toy(n=240, pad=0.0)
    scale = 10.0 ** np.random.default_rng(1).uniform(-4, 2, len(X))
    X = (X * scale[:, None, None]).astype(np.float32)
    options = FAST | {"arch": "lstm-fcn", "epochs": 10, "val_fraction": 0.0}
    with_norm = Classifier(**options).fit(X[:160], y[:160]).score(X[160:], y[160:])
    without = Classifier(**options, series_norm=False).fit(X[:160], y[:160])
    assert with_norm >= 0.95
    assert without.score(X[160:], y[160:]) <= with_norm - 0.2
