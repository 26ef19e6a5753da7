"""The small-data recipe of the sequence estimators: augment="slice" | "mixup" and swa (the mean
of the last epochs' weights, batch-norm statistics recomputed), from Python and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

import lstmkit
from lstmkit import Classifier, Regressor

pytestmark = pytest.mark.usefixtures("one_thread")

FCN = {"arch": "lstm-fcn", "cell": "lstm", "hidden": 8, "layers": 1, "epochs": 4,
       "batch_size": 32, "lr": 0.01}  # fmt: skip


def _toy(n=96, L=12, C=2, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.normal(0, 0.5, (n, L, C)).astype(np.float32)
    X[:, :, 0] += np.where(y[:, None] == 1, np.sin(np.arange(L) / 2), 0.0)
    return X, y


@pytest.mark.parametrize("augment", ["slice", "mixup"])
def test_swa_and_augmentation_train_and_the_saved_run_is_the_averaged_model(tmp_path, augment):
    X, y = _toy()
    run = tmp_path / "run"
    clf = Classifier(**FCN, augment=augment, swa=0.5).fit(X, y, run_dir=run)
    assert clf.averaged_epochs_ == 2 and clf.best_epoch_ >= 1
    again = lstmkit.load(run)  # model.pt holds the averaged weights and their batch-norm stats
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    assert again.get_params()["augment"] == augment and again.get_params()["swa"] == 0.5
    plain = Classifier(**FCN).fit(X, y)
    assert plain.averaged_epochs_ == 0
    assert not np.allclose(plain.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize("augment", ["slice", "mixup"])
def test_swa_batch_norm_statistics_come_from_the_training_data_as_it_is(augment):
    # the refresh pass after averaging runs the plain model on the training batches, not
    # augmented copies of them: the statistics are those of one more pass over X itself
    import copy

    import torch

    from lstmkit.train.swa import refresh_batch_norm

    X, y = _toy()
    options = FCN | {"batch_size": 128, "val_fraction": 0.0}  # one batch: order-free statistics
    clf = Classifier(**options, augment=augment, swa=0.5).fit(X, y)
    model = clf.model_
    again = copy.deepcopy(model)
    x, _ = clf._inputs(X, None)  # standardised as the training batches were
    refresh_batch_norm(again, [x], lambda m, x: m(x, None))
    norms = [
        (n, b) for n, b in model.named_buffers() if n.endswith(("running_mean", "running_var"))
    ]
    assert norms
    for name, buf in norms:
        torch.testing.assert_close(buf, dict(again.named_buffers())[name], rtol=1e-4, atol=1e-5)


def test_regressor_mixup_blends_the_targets_and_learns():
    X, _ = _toy(n=128)
    target = X[:, :, 0].mean(1) * 3.0 + 10.0
    options = FCN | {"epochs": 30, "val_fraction": 0.0, "augment": "mixup", "swa": 0.2}
    reg = Regressor(**options).fit(X, target)
    rmse = float(np.sqrt(np.mean((reg.predict(X) - target) ** 2)))
    assert rmse < 0.6 * target.std(), (rmse, target.std())
    assert reg.averaged_epochs_ == 6


@pytest.mark.parametrize("cls", [Classifier, Regressor])
@pytest.mark.parametrize(
    ("options", "match"),
    [({"augment": "crop"}, "augment must be one of none, slice, mixup, got 'crop'"),
     ({"swa": 1.5}, r"swa must be a fraction of the epochs in \[0, 1\], got 1.5"),
     ({"swa": True}, "swa must be a fraction")],
)  # fmt: skip
def test_bad_recipe_options_are_refused_before_any_data(cls, options, match):
    with pytest.raises(ValueError, match=match):
        cls(**options).check_options()


def test_cli_flags_reach_the_run(tmp_path, cli_main):
    run = tmp_path / "run"
    code, _, err = cli_main(
        "train",
        "classify",
        "--arch",
        "encoder",
        "--data",
        "digits",
        "--augment",
        "slice",
        "--swa",
        "0.5",
        "--hidden",
        "8",
        "--layers",
        "1",
        "--epochs",
        "2",
        "--conv-channels",
        "0",
        "--out",
        run,
    )
    assert code == 0, err
    config = json.loads((run / "config.json").read_text())
    assert config["options"]["augment"] == "slice" and config["train"]["swa"] == 0.5
    assert json.loads((run / "metrics.json").read_text())["averaged_epochs"] == 1
