"""Regression tests for results that used to be wrong without a word (issue 11): label types
that changed with the training route, a hidden rescaling of built-in data, NaN inputs given an
answer, save() merging two runs, tracebacks from public methods, degenerate settings."""

import json
import logging
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits

import lstmkit
from lstmkit import Classifier, Forecaster
from lstmkit.estimators._inputs import DriftWarning

FAST = {
    "arch": "encoder",
    "hidden": 12,
    "layers": 1,
    "conv_channels": 0,
    "epochs": 4,
    "lr": 0.02,
    "batch_size": 64,
}


def _problem(n=160, L=8, seed=0, labels=None):
    rng = np.random.default_rng(seed)
    k = rng.integers(0, 2, n)
    X = rng.normal(0, 1, (n, L, 2)).astype(np.float32)
    X[:, :, 0] += 2.0 * k[:, None]
    y = k if labels is None else np.asarray(labels)[k]
    return X, y


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """A digits classifier trained through the CLI (the route that used to return strings)."""
    from lstmkit.cli.main import main

    out = tmp_path_factory.mktemp("runs") / "digits"
    args = [
        "train",
        "classify",
        "--arch",
        "encoder",
        "--data",
        "digits",
        "--epochs",
        "3",
        "--hidden",
        "32",
        "--layers",
        "1",
        "--conv-channels",
        "0",
        "--lr",
        "0.01",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    return out


# ---------------------------------------------------------------------- 1. label types
def test_cli_trained_run_predicts_labels_of_ys_dtype(digits_run):
    digits = load_digits()
    clf = lstmkit.load(digits_run)
    pred = clf.predict(digits.images)  # raw images, as scikit-learn gives them
    assert pred.dtype == np.int64 and clf.classes_.dtype == np.int64
    assert (pred == digits.target).mean() > 0.6  # 3 epochs; was 0.0: "3" != 3
    config = json.loads((digits_run / "config.json").read_text())
    assert config["classes"] == list(range(10)) and config["classes_dtype"] == "<i8"


@pytest.mark.parametrize(
    "labels",
    [
        np.array([3, 7], dtype=np.int32),
        np.array(["cat", "dog"]),
        np.array([1.0, 2.0]),
        np.array([False, True]),
        np.array(["no", "yes"], dtype=object),
    ],
    ids=["int32", "str", "float", "bool", "object"],
)
def test_labels_keep_values_and_dtype_through_save_and_load(tmp_path, labels):
    X, y = _problem(labels=labels)
    clf = Classifier(**FAST).fit(X, y)
    pred = clf.predict(X)
    assert pred.dtype == y.dtype and set(pred.tolist()) <= set(y.tolist())
    assert (pred == y).mean() > 0.9
    again = lstmkit.load(clf.save(tmp_path / "run"))
    assert again.classes_.dtype == y.dtype
    np.testing.assert_array_equal(again.predict(X), pred)


def test_served_labels_are_the_trained_values(tmp_path):
    from fastapi.testclient import TestClient

    from lstmkit.serve import build_app

    X, y = _problem(labels=np.array([10, 20]))
    clf = Classifier(**FAST).fit(X, y)
    with TestClient(build_app(lstmkit.load(clf.save(tmp_path / "run")))) as client:
        r = client.post("/predict", json={"inputs": X[:5].tolist()})
    assert r.status_code == 200
    assert r.json()["labels"] == clf.predict(X[:5]).tolist()
    assert all(isinstance(v, int) for v in r.json()["labels"])


# ---------------------------------------------------------------------- 2. input scaling
def test_builtin_digits_are_not_rescaled_and_say_so(digits_run):
    from lstmkit.data import load_classification

    train, _ = load_classification("digits")
    assert train.X.max() == 16.0  # raw pixel values, as load_digits() has them
    config = json.loads((digits_run / "config.json").read_text())
    assert "0..16" in config["data"]["loaded_as"]


def test_inputs_far_from_the_training_data_warn_once_naming_the_channel():
    X, y = _problem()
    clf = Classifier(**FAST).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # in-distribution data: no warning at all
        clf.predict(X[:7])
        clf.predict(X[:1])
    shifted = X.copy()
    shifted[:, :, 1] = shifted[:, :, 1] * 16 + 40  # channel 1 in other units
    with pytest.warns(DriftWarning, match=r"1 of 2 channels \(channel 1: mean") as record:
        clf.predict(shifted)
    assert len(record) == 1


# ---------------------------------------------------------------------- 3. NaN at predict
@pytest.mark.parametrize("method", ["predict", "predict_proba", "extract", "score"])
def test_nan_inputs_are_refused_at_predict_time(method):
    X, y = _problem()
    clf = Classifier(**FAST).fit(X, y)
    bad = np.full_like(X[:4], np.nan)
    args = (bad, y[:4]) if method == "score" else (bad,)
    with pytest.raises(ValueError, match="NaN or inf inside the valid length"):
        getattr(clf, method)(*args)
    lengths = np.full(4, 3)
    padded = X[:4].copy()
    padded[:, 3:] = np.nan  # NaN past the lengths is padding: fine
    assert clf.predict(padded, lengths).shape == (4,)


def test_nan_inputs_are_refused_by_evaluate_and_extract_commands(digits_run, tmp_path, cli_main):
    X = np.full((3, 8, 8), np.nan, dtype=np.float32)
    np.savez(tmp_path / "nan.npz", X=X)
    for args in (["predict", digits_run, "--input", tmp_path / "nan.npz"],
                 ["extract", digits_run, "--input", tmp_path / "nan.npz", "--output",
                  tmp_path / "f.npy"]):  # fmt: skip
        code, _, err = cli_main(*args)
        assert code == 1 and "NaN" in err and "Traceback" not in err
    assert not (tmp_path / "f.npy").exists()


# ---------------------------------------------------------------------- 4. save over a run
def test_save_refuses_an_existing_run_and_overwrite_replaces_it_whole(tmp_path, digits_run):
    import shutil

    run = tmp_path / "other"
    shutil.copytree(digits_run, run)
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    X, y = _problem()
    clf = Classifier(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="already exists and is not empty; pass overwrite=True"):
        clf.save(run)
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before  # untouched
    clf.save(run, overwrite=True)
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "model.pt"]  # no mixture
    config = json.loads((run / "config.json").read_text())
    assert "data" not in config and config["model"]["features"]["input_size"] == 2
    np.testing.assert_array_equal(lstmkit.load(run).predict(X), clf.predict(X))
    assert not list(tmp_path.glob(".other*"))  # no temporary folder left


def test_a_failed_overwrite_keeps_the_old_run(tmp_path, monkeypatch):
    X, y = _problem()
    clf = Classifier(**FAST).fit(X, y)
    run = clf.save(tmp_path / "run")
    before = (run / "model.pt").read_bytes()
    import lstmkit.estimators._base as base

    def broken(obj, path):
        raise OSError("disk full")

    monkeypatch.setattr(base, "save_atomic", broken)
    with pytest.raises(OSError, match="disk full"):
        clf.save(run, overwrite=True)
    assert (run / "model.pt").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


# ---------------------------------------------------------------------- 5. public methods
def test_forecaster_score_takes_a_dataframe():
    t = np.arange(150)
    df = pd.DataFrame({"y": 50 + 10 * np.sin(2 * np.pi * t / 12) + t * 0.1})
    fc = Forecaster(hidden=8, epochs=3, season=12, calendar=False).fit(df, "y")
    score = fc.score(df)
    assert score == pytest.approx(-fc.evaluate(df)["test_mase"]) and score < 0
    with pytest.raises(TypeError, match="pandas DataFrame"):
        fc.score(df["y"].to_numpy())


# ---------------------------------------------------------------------- 7. feedback
def test_verbose_prints_one_line_per_epoch_without_logging_setup(capsys):
    X, y = _problem()
    progress = logging.getLogger("lstmkit.progress")
    assert not progress.handlers  # nothing set up beforehand
    Classifier(**FAST, verbose=1).fit(X, y)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("epoch ")]
    assert len(lines) == FAST["epochs"]
    assert (
        lines[0].startswith("epoch 1/4") and "val_loss" in lines[0] and "val_accuracy" in lines[0]
    )
    assert lines[-1].endswith(" s")
    Classifier(**FAST).fit(X, y)  # verbose=0: silent
    assert "epoch" not in capsys.readouterr().err
    assert not progress.handlers and progress.propagate  # put back as it was


# ---------------------------------------------------------------------- 8. settings
def test_degenerate_validation_fraction_is_refused_with_what_would_work():
    X, y = _problem()
    with pytest.raises(ValueError, match=r"val_fraction must lie in \[0, 0.5\].*got 0.99"):
        Classifier(**FAST, val_fraction=0.99).fit(X, y)
    clf = Classifier(**FAST, val_fraction=0.5).fit(X, y)
    assert len(clf.history_) == FAST["epochs"]


def test_validation_data_replaces_the_hold_out():
    X, y = _problem()
    clf = Classifier(**FAST, val_fraction=0.0).fit(
        X[:100], y[:100], validation_data=(X[100:], y[100:])
    )
    assert "val_accuracy" in clf.history_[-1]
    with pytest.raises(ValueError, match="do not occur in the training data"):
        Classifier(**FAST).fit(X, y, validation_data=(X[:3], np.array([5, 5, 5])))


def test_class_weight_shifts_predictions_to_the_heavy_class():
    X, y = _problem()
    X[:, :, 0] = np.random.default_rng(1).normal(0, 1, X.shape[:2])  # nothing to learn
    heavy = Classifier(**FAST, class_weight={0: 1.0, 1: 50.0}).fit(X, y)
    assert (heavy.predict(X) == 1).mean() > 0.9
    with pytest.raises(ValueError, match="class_weight has label 7"):
        Classifier(**FAST, class_weight={7: 1.0}).fit(X, y)
