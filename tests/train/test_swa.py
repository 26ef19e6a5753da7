"""Stochastic weight averaging: the running mean, the batch-norm pass, and the Trainer's use of
them (the final weights are the mean of the last epochs', also after a resume)."""

import pytest
import torch
from tests.train.toy import toy_data, toy_evaluate, toy_model, toy_step
from torch import nn

from lstmkit.train import TensorBatches, TrainConfig, Trainer
from lstmkit.train.checkpoint import load_safe
from lstmkit.train.swa import WeightAverage, refresh_batch_norm, swa_start_epoch


def test_swa_start_epoch_counts_the_last_fraction():
    assert swa_start_epoch(1000, 0.25) == 751  # epochs 751..1000: 250 of them
    assert swa_start_epoch(8, 0.25) == 7
    assert swa_start_epoch(8, 0.01) == 8  # at least the last epoch
    assert swa_start_epoch(8, 1.0) == 1


def test_weight_average_is_the_mean_and_keeps_integer_buffers_latest():
    model = nn.BatchNorm1d(3)
    avg, states = WeightAverage(), []
    for k in range(3):
        with torch.no_grad():
            model.weight.fill_(float(k))
            model.num_batches_tracked.fill_(10 * k)
        states.append({n: v.clone() for n, v in model.state_dict().items()})
        avg.update(model)
    assert avg.count == 3
    torch.testing.assert_close(avg.mean["weight"], torch.full((3,), 1.0))
    assert int(avg.mean["num_batches_tracked"]) == 20
    other = WeightAverage()
    other.load_state_dict(avg.state_dict())
    assert other.count == 3 and torch.equal(other.mean["weight"], avg.mean["weight"])


def test_refresh_batch_norm_sets_the_statistics_of_the_data_and_restores_the_mode():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    with torch.no_grad():
        model[0].weight.copy_(torch.eye(2))
        model[0].bias.zero_()
    model[1].running_mean.fill_(99.0)
    model.eval()
    g = torch.Generator().manual_seed(0)
    data = [torch.randn(16, 2, generator=g) * 3 + 5 for _ in range(4)]
    refresh_batch_norm(model, data, lambda m, x: m(x))
    torch.testing.assert_close(model[1].running_mean, torch.cat(data).mean(0))
    assert not model.training and model[1].momentum == 0.1


def _fit(config, run_dir=None, step=toy_step, resume=False, seen=None):
    x, y = toy_data()
    model = toy_model()
    tr = TensorBatches((x[:80], y[:80]), config.batch_size, shuffle=True)
    va = TensorBatches((x[80:], y[80:]), 64, shuffle=False)

    def keep(epoch, row):  # the weights at the end of every epoch
        if seen is not None:
            seen.append({k: v.clone() for k, v in model.state_dict().items()})

    trainer = Trainer(model, config, step, toy_evaluate, run_dir, callbacks=[keep])
    if resume:
        trainer.resume_from(run_dir / "checkpoint.pt")
    trainer.fit(tr, va)
    return trainer, model


def test_trainer_with_swa_ends_on_the_mean_of_the_last_epochs(tmp_path):
    c = TrainConfig(epochs=6, batch_size=16, lr=1e-2, seed=2, swa=0.5)
    seen = []
    trainer, model = _fit(c, tmp_path, seen=seen)
    assert trainer.swa.count == 3
    mean = {k: sum(s[k] for s in seen[3:]) / 3 for k in seen[0]}
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, mean[k])
    saved = load_safe(tmp_path / "model.pt")  # the averaged weights, not the best epoch's
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items())
    assert set(trainer.swa_metrics) == {"loss"}


def test_trainer_without_swa_keeps_the_best_epoch():
    c = TrainConfig(epochs=4, batch_size=16, lr=1e-2, seed=2)
    seen = []
    trainer, model = _fit(c, seen=seen)
    assert trainer.swa.count == 0
    best = seen[trainer.best_epoch - 1]
    assert all(torch.equal(v, best[k]) for k, v in model.state_dict().items())


def test_swa_run_resumed_after_a_crash_ends_like_the_uninterrupted_one(tmp_path):
    c = TrainConfig(epochs=6, batch_size=16, lr=1e-2, seed=2, swa=0.5)
    _, full = _fit(c, tmp_path / "a")
    calls = {"n": 0}

    def crashing(model, batch):
        calls["n"] += 1
        if calls["n"] == 23:  # 5 batches an epoch: dies inside epoch 5, 1 averaged already
            raise RuntimeError("killed")
        return toy_step(model, batch)

    with pytest.raises(RuntimeError, match="killed"):
        _fit(c, tmp_path / "b", step=crashing)
    assert load_safe(tmp_path / "b" / "checkpoint.pt")["swa"]["count"] == 1
    _, resumed = _fit(c, tmp_path / "b", resume=True)
    for k, v in full.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[k], v)


def test_swa_outside_0_1_is_refused():
    with pytest.raises(ValueError, match=r"swa must be a fraction of the epochs in \[0, 1\]"):
        TrainConfig(swa=1.5)
