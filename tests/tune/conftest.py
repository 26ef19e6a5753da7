"""Shared fixtures of the tune tests: one thread, quiet trial logs, a stub task that trains
nothing (its validation loss is a known function of the hyperparameters)."""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import pytest
import torch

from lstmkit.tune.tasks import TaskSpec


@pytest.fixture(autouse=True)
def _one_thread_and_quiet_trials():
    """Tiny models: extra intra-op threads only add contention on a small shared machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    loggers = [logging.getLogger(n) for n in ("lstmkit.train", "lstmkit.tasks",
                                              "lstmkit.estimators")]  # fmt: skip
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        torch.set_num_threads(before)
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def stub_loss(options: dict, epoch: int) -> float:
    """A validation loss that falls with the epochs; lr near 1e-3 and cell gru are best, the
    coupled cell is a deliberately bad region (10x the loss)."""
    loss = 0.2 + (math.log10(options["lr"]) + 3) ** 2 + 1.0 / epoch
    loss += {"gru": 0.0, "coupled": 10.0}.get(options["cell"], 0.5)
    return loss


class StubRun:
    """``TaskSpec.run`` without training: writes a run directory's config.json and metrics.json
    and calls the callbacks like the Trainer. ``fail_when(options)`` raises for a trial;
    ``sleep``: seconds per epoch. Records the options of every call."""

    loss = staticmethod(stub_loss)

    def __init__(self, epochs: int = 6, fail_when=None, sleep: float = 0.0) -> None:
        self.epochs, self.fail_when, self.sleep = epochs, fail_when, sleep
        self.calls: list[dict] = []

    def __call__(self, data, options, run_dir: Path, callbacks):
        self.calls.append(dict(options))
        (run_dir / "config.json").write_text(json.dumps({"task": "classify", "options": options}))
        (run_dir / "checkpoint.pt").write_bytes(b"stub")
        if self.fail_when is not None and self.fail_when(options):
            raise ValueError("training diverged at epoch 1 (stub)")
        for epoch in range(1, self.epochs + 1):
            time.sleep(self.sleep)
            loss = stub_loss(options, epoch)
            for cb in callbacks:
                cb(
                    epoch,
                    {"epoch": epoch, "loss": loss, "val_loss": loss, "val_accuracy": 1 / loss},
                )
        metrics = {"task": "classify", "test_accuracy": 0.5, "epochs_run": self.epochs}
        (run_dir / "metrics.json").write_text(json.dumps(metrics | {"options": options}))
        return metrics


@pytest.fixture
def stub():
    """A factory of stub TaskSpecs: ``stub(**StubRun kwargs) -> (spec, run)``."""

    def make(**kwargs):
        run = StubRun(**kwargs)
        metrics = {"val_loss": "minimize", "val_accuracy": "maximize"}
        spec = TaskSpec(run, lambda data, options: {}, metrics, run.epochs)
        return spec, run

    return make
