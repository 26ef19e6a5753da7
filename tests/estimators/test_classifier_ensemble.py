"""Classifier(ensemble=K, label_smoothing=...): members, averaged probabilities, the run's
files, resume, export, and a run whose model.pt lacks members."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import lstmkit
from lstmkit import Classifier

pytestmark = pytest.mark.usefixtures("one_thread")

FAST = {
    "arch": "encoder",
    "hidden": 8,
    "layers": 1,
    "epochs": 3,
    "batch_size": 32,
    "lr": 0.01,
    "conv_channels": 0,
}


def _toy(n=160, L=10, C=2, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.normal(0, 0.6, (n, L, C)).astype(np.float32)
    X[:, :, 0] += y[:, None] - 1.0
    return X, np.array(["a", "b", "c"])[y]


def test_members_average_their_probabilities(tmp_path):
    X, y = _toy()
    run = tmp_path / "run"
    clf = Classifier(ensemble=3, **FAST).fit(X[:120], y[:120], run_dir=run)
    members = clf.model_.members
    assert len(members) == 3 and len(clf.members_history_) == 3
    with torch.no_grad():
        x = torch.from_numpy(clf.stats_.standardise(X[120:], None))
        mean = torch.stack([torch.softmax(m(x), 1) for m in members]).mean(0)
        assert not torch.allclose(torch.softmax(members[0](x), 1), mean, atol=1e-3)
    np.testing.assert_allclose(clf.predict_proba(X[120:]), mean.numpy(), atol=1e-6)
    # member 0 is the one model of the same seed; the others differ by seed
    one = Classifier(**FAST).fit(X[:120], y[:120])
    ours = members[0].state_dict()
    for name, value in one.model_.state_dict().items():
        torch.testing.assert_close(ours[name], value, msg=name)
    for k in range(3):
        assert {"checkpoint.pt", "history.csv", "model.pt"} <= {
            p.name for p in (run / "members" / str(k)).iterdir()
        }
    again = lstmkit.load(run)
    assert np.array_equal(again.predict_proba(X[120:]), clf.predict_proba(X[120:]))
    # resume of a finished ensemble: every member at its last epoch, the same model
    resumed = Classifier(ensemble=3, **FAST).fit(X[:120], y[:120], run_dir=run, resume=True)
    assert np.array_equal(resumed.predict_proba(X[120:]), clf.predict_proba(X[120:]))


def test_label_smoothing_softens_the_probabilities():
    """Separable classes: plain cross-entropy grows confident, smoothing by 0.3 aims at a top
    probability of 0.8 (1 - 0.3 + 0.3 / 3)."""
    X, y = _toy()
    X[:, :, 0] *= 4
    options = FAST | {"epochs": 25, "val_fraction": 0.0}
    sharp = Classifier(**options).fit(X, y).predict_proba(X).max(1).mean()
    smooth = Classifier(**options, label_smoothing=0.3).fit(X, y).predict_proba(X).max(1).mean()
    assert sharp > 0.9 and 0.6 < smooth < sharp - 0.05, (sharp, smooth)


@pytest.mark.parametrize(
    ("options", "match"),
    [({"ensemble": 0}, "ensemble must be an integer >= 1"),
     ({"ensemble": 2.5}, "ensemble must be an integer"),
     ({"label_smoothing": 1.0}, r"label_smoothing must lie in \[0, 1\)")],
)  # fmt: skip
def test_bad_options(options, match):
    with pytest.raises(ValueError, match=match):
        Classifier(**options).check_options()


def test_cli_ensemble_run_predict_export_and_a_missing_member(tmp_path, cli_main):
    run = tmp_path / "run"
    code, _, err = cli_main(
        "train",
        "classify",
        "--arch",
        "encoder",
        "--data",
        "digits",
        "--ensemble",
        "2",
        "--label-smoothing",
        "0.1",
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
    assert config["model"]["ensemble"] == 2 and config["options"]["label_smoothing"] == 0.1
    assert (run / "members" / "1" / "model.pt").is_file()
    pytest.importorskip("onnxruntime")
    code, _, err = cli_main("export", run)
    assert code == 0, err
    info = json.loads((run / "export.json").read_text())
    assert info["max_abs_diff"] < 1e-4
    # model.pt short of a member: a one-line error, nothing written
    state = torch.load(run / "model.pt", weights_only=True)
    torch.save({k: v for k, v in state.items() if not k.startswith("members.1.")},
               run / "model.pt")  # fmt: skip
    code, out, err = cli_main("evaluate", run)
    assert code == 1 and not out
    assert "holds 1 of the 2 ensemble members" in err.strip().splitlines()[-1]
