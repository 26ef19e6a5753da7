"""Trainer: determinism, exact resume after a crash, early stopping, schedules, penalties."""

import math

import pytest
import torch
from tests.train.toy import toy_data, toy_evaluate, toy_model, toy_step

from lstmkit.models import ClassifierConfig, FeatureConfig, SequenceClassifier
from lstmkit.train import TensorBatches, TrainConfig, Trainer
from lstmkit.train.checkpoint import load_safe
from lstmkit.train.schedule import LRSchedule


def _fit(config, run_dir=None, model=None, step=toy_step, resume=False):
    x, y = toy_data()
    model = model or toy_model()
    tr = TensorBatches((x[:80], y[:80]), config.batch_size, shuffle=True)
    va = TensorBatches((x[80:], y[80:]), 64, shuffle=False)
    trainer = Trainer(model, config, step, toy_evaluate, run_dir)
    if resume:
        trainer.resume_from(run_dir / "checkpoint.pt")
    trainer.fit(tr, va)
    return trainer, model


def _same_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_same_seed_same_run():
    c = TrainConfig(epochs=3, batch_size=16, lr=1e-2, seed=3)
    t1, m1 = _fit(c)
    t2, m2 = _fit(c)
    assert _same_state(m1, m2)
    assert [r["loss"] for r in t1.history] == [r["loss"] for r in t2.history]


def test_resume_after_crash_mid_epoch_gives_the_uninterrupted_result(tmp_path):
    c = TrainConfig(epochs=4, batch_size=16, lr=1e-2, seed=1, schedule="cosine", warmup_epochs=1)
    full, full_model = _fit(c, tmp_path / "a")
    calls = {"n": 0}

    def crashing(model, batch):
        calls["n"] += 1
        if calls["n"] == 13:  # 5 batches an epoch: dies in the middle of epoch 3
            raise RuntimeError("killed")
        return toy_step(model, batch)

    with pytest.raises(RuntimeError, match="killed"):
        _fit(c, tmp_path / "b", step=crashing)
    ck = load_safe(tmp_path / "b" / "checkpoint.pt")
    assert ck["epoch"] == 2
    torch.manual_seed(1234)  # a fresh process has other RNG state: the checkpoint restores it
    resumed, resumed_model = _fit(c, tmp_path / "b", model=toy_model(), resume=True)
    assert _same_state(full_model, resumed_model)
    assert [r["loss"] for r in full.history] == [r["loss"] for r in resumed.history]
    assert resumed.best_epoch == full.best_epoch


def test_early_stopping_restores_best_weights(tmp_path):
    c = TrainConfig(epochs=30, batch_size=16, lr=0.3, optimizer="sgd", patience=2,
                    schedule="constant", clip_norm=None)  # fmt: skip
    trainer, model = _fit(c, tmp_path)
    assert trainer.stopped_early and len(trainer.history) < 30
    best = min(r["val_loss"] for r in trainer.history)
    assert trainer.best_score == pytest.approx(best)
    saved = load_safe(tmp_path / "model.pt")
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items())
    x, y = toy_data()
    assert toy_evaluate(model, TensorBatches((x[80:], y[80:]), 64, False))["loss"] == pytest.approx(
        best
    )


def test_history_and_clip_counts_written(tmp_path):
    c = TrainConfig(epochs=2, batch_size=16, lr=1e-2, clip_norm=1e-3)
    trainer, _ = _fit(c, tmp_path)
    lines = (tmp_path / "history.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,loss,lr,clipped_fraction,grad_norm,val_loss")
    assert len(lines) == 3
    assert trainer.clip_count == 10  # every step clipped at such a small norm
    assert all(r["clipped_fraction"] == 1.0 for r in trainer.history)


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "rmsprop", "sgd"])
def test_every_optimizer_lowers_the_loss(optimizer):
    c = TrainConfig(epochs=4, batch_size=16, lr=1e-2 if optimizer != "sgd" else 0.1,
                    optimizer=optimizer, val_fraction=0.1)  # fmt: skip
    trainer, _ = _fit(c)
    assert trainer.history[-1]["loss"] < trainer.history[0]["loss"]


def test_l1_penalty_shrinks_weights():
    _, m0 = _fit(TrainConfig(epochs=3, batch_size=16, lr=1e-2))
    _, m1 = _fit(TrainConfig(epochs=3, batch_size=16, lr=1e-2, l1=1e-2))

    def l1(m):
        return sum(p.abs().sum().item() for n, p in m.named_parameters() if "bias" not in n)

    assert l1(m1) < 0.9 * l1(m0)


def test_divergence_is_a_clear_error():
    def nan_loss(model, batch):
        loss, n = toy_step(model, batch)
        return loss * float("nan"), n

    with pytest.raises(ValueError, match="diverged"):
        _fit(TrainConfig(epochs=2, batch_size=16, clip_norm=None), step=nan_loss)


def test_schedules():
    c = TrainConfig(epochs=4, lr=1.0, warmup_epochs=1, schedule="cosine", min_lr_ratio=0.1)
    s = LRSchedule(c, steps_per_epoch=10)
    assert s.factor(0) == pytest.approx(0.1 + 0.9 / 10)
    assert s.factor(9) == pytest.approx(1.0)
    assert s.factor(10) == pytest.approx(1.0)
    assert s.factor(39) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 29 / 30)))
    step = LRSchedule(TrainConfig(epochs=9, schedule="step", step_size=3, gamma=0.5), 10)
    assert [step.factor(e * 10) for e in (0, 2, 3, 6, 8)] == [1, 1, 0.5, 0.25, 0.25]
    p = LRSchedule(TrainConfig(schedule="plateau", plateau_patience=2, gamma=0.1), 10)
    for v in (1.0, 0.9, 0.95, 0.95, 0.95, 0.95):
        p.end_epoch(v)
    assert p.factor(50) == pytest.approx(0.01)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"lr": -1}, "lr must be a positive number"),
        ({"optimizer": "lbfgs"}, "optimizer must be one of"),
        ({"val_fraction": 1.0}, r"val_fraction must lie in \[0, 0.5\]"),
        ({"val_fraction": 0.99}, r"training part at least as large as the validation part"),
        ({"clip_norm": 0}, "clip_norm must be positive"),
        ({"schedule": "cyclic"}, "schedule must be one of"),
    ],
)
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


def test_checkpoint_is_safe_to_load_and_corrupt_file_is_clear(tmp_path):
    _fit(TrainConfig(epochs=1, batch_size=16), tmp_path)
    ck = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert ck["epoch"] == 1
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot load"):
        load_safe(tmp_path / "checkpoint.pt")


@pytest.mark.parametrize("clip", [None, 1e-6])
def test_grad_norm_is_the_norm_of_the_step_before_clipping(clip):
    """One step per epoch (a batch of all 80): the logged norm is the global norm of the first
    step's gradient, computed here by hand; clipping at a tiny norm does not change it."""

    def model():  # no dropout: the step's gradient does not depend on the RNG
        torch.manual_seed(0)
        return SequenceClassifier(ClassifierConfig(FeatureConfig(3, 8, 1), 3, 0.0))

    x, y = toy_data()
    reference = model()
    loss, _ = toy_step(reference, (x[:80], y[:80]))
    loss.backward()
    norm = torch.sqrt(sum((p.grad**2).sum() for p in reference.parameters()))
    c = TrainConfig(epochs=1, batch_size=80, lr=1e-2, seed=4, clip_norm=clip)
    trainer, _ = _fit(c, model=model())
    assert trainer.history[0]["grad_norm"] == pytest.approx(float(norm), rel=1e-5)
    assert trainer.history[0]["clipped_fraction"] == (0.0 if clip is None else 1.0)
