"""inspect on a regressor: its own squared-error loss (not the classifier's cross-entropy, which
a one-output head would make a constant 0), and inspect_run on a regress run directory."""

import numpy as np
import pytest
import torch

from lstmkit import Regressor
from lstmkit.inspect import analyse, inspect_run

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 8, 2)).astype(np.float32)
    y = 50 + 10 * X[:, :, 0].sum(1)
    reg = Regressor(arch="encoder", hidden=8, layers=1, conv_channels=0, epochs=3).fit(X, y)
    run = tmp_path_factory.mktemp("inspect") / "run"
    reg.save(run)
    return reg, X, y, run


def test_the_loss_is_the_standardised_squared_error(fitted):
    reg, X, y, _ = fitted
    x, _ = reg._inputs(X[:4], None)
    target = torch.from_numpy(y[:4, None].astype(np.float32))
    a = analyse(reg.model_, x, target)
    expected = ((reg.predict(X[:4]) - y[:4]) / reg.target_std_[0]) ** 2
    np.testing.assert_allclose(a.loss.numpy(), expected, rtol=1e-4)
    assert a.input_grad.abs().sum() > 0  # the saliency is not the zero of a constant loss


def test_inspect_run_of_a_regress_run(fitted, tmp_path):
    _, X, y, run = fitted
    inputs = tmp_path / "in.npz"
    np.savez(inputs, X=X[:3], y=y[:3])
    report = inspect_run(run, inputs, out_dir=tmp_path / "report")
    rows = report.summary["samples"]
    assert [r["index"] for r in rows] == [0, 1, 2]
    assert rows[0]["prediction"].startswith("predicted ") and "true" in rows[0]["label"]
    assert (tmp_path / "report" / "index.html").is_file()
