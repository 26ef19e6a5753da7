"""Trainer callbacks: ``on_epoch_end(epoch, record)`` after every epoch; an exception stops the
training cleanly (the run directory keeps a consistent checkpoint that resumes exactly)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lstmkit.models import ClassifierConfig, FeatureConfig, SequenceClassifier
from lstmkit.train import TensorBatches, TrainConfig, Trainer
from lstmkit.train.checkpoint import load_safe


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class _Stop(Exception):
    """What a pruner raises (optuna.TrialPruned in lstmkit tune)."""


def _fit(config, run_dir=None, callbacks=(), resume=False):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(60, 5, 2, generator=g)
    y = (x[:, :, 0].sum(1) > 0).long()
    torch.manual_seed(0)
    model = SequenceClassifier(ClassifierConfig(FeatureConfig(2, 6, 1), 2, 0.0))

    def step(m, batch):
        return F.cross_entropy(m(batch[0]), batch[1]), len(batch[1])

    @torch.no_grad()
    def evaluate(m, batches):
        (xv, yv) = next(iter(batches.batches()))
        return {"loss": float(F.cross_entropy(m(xv), yv))}

    tr = TensorBatches((x[:48], y[:48]), 16, shuffle=True)
    va = TensorBatches((x[48:], y[48:]), 64, shuffle=False)
    trainer = Trainer(model, config, step, evaluate, run_dir, callbacks=callbacks)
    if resume:
        trainer.resume_from(run_dir / "checkpoint.pt")
    trainer.fit(tr, va)
    return trainer, model


def test_callbacks_see_every_epoch_and_cannot_change_the_history():
    seen = []

    def spy(epoch, record):
        seen.append((epoch, dict(record)))
        record["loss"] = -1.0  # a copy: the Trainer's history keeps its own value

    trainer, _ = _fit(TrainConfig(epochs=3, lr=1e-2), callbacks=[spy, lambda e, r: None])
    assert [e for e, _ in seen] == [1, 2, 3]
    assert [r for _, r in seen] == trainer.history
    assert all({"loss", "val_loss", "lr", "epoch"} <= set(r) for _, r in seen)
    assert all(row["loss"] > 0 for row in trainer.history)


def test_exception_in_callback_stops_training_and_the_run_resumes_exactly(tmp_path):
    c = TrainConfig(epochs=4, lr=1e-2, seed=2)
    _, full = _fit(c, tmp_path / "full")

    def prune_at_2(epoch, record):
        if epoch == 2:
            raise _Stop(f"pruned at epoch {epoch}")

    with pytest.raises(_Stop, match="pruned at epoch 2"):
        _fit(c, tmp_path / "cut", callbacks=[prune_at_2])
    ck = load_safe(tmp_path / "cut" / "checkpoint.pt")
    assert ck["epoch"] == 2 and len(ck["history"]) == 2
    history = (tmp_path / "cut" / "history.csv").read_text().splitlines()
    assert len(history) == 3  # header + the 2 epochs run
    assert (tmp_path / "cut" / "model.pt").is_file()
    _, resumed = _fit(c, tmp_path / "cut", resume=True)
    for k, v in full.state_dict().items():
        assert torch.equal(v, resumed.state_dict()[k]), k


def test_estimators_pass_callbacks_through(tmp_path):
    from lstmkit import Classifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 6, 2)).astype(np.float32)
    y = (X[:, :, 0].sum(1) > 0).astype(int)
    epochs = []
    Classifier(arch="encoder", hidden=4, layers=1, conv_channels=0, epochs=2, batch_size=16).fit(
        X, y, callbacks=[lambda e, r: epochs.append((e, "val_loss" in r))]
    )
    assert epochs == [(1, True), (2, True)]
