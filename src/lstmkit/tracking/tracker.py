"""``Tracker``: the Trainer callback that sends every epoch of a run to a tracking backend,
with the keep-gate saturation of the recurrent layers on a fixed batch of sequences."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import torch

from lstmkit.inspect.stats import forget_stats
from lstmkit.nn.recording import recording
from lstmkit.runs import merge_config, read_config
from lstmkit.train import distributed

__all__ = ["GATE_ROWS", "Tracker", "gate_scalars"]

log = logging.getLogger(__name__)

GATE_ROWS = 64  # sequences of the batch the gate saturation is measured on


class _OneBatch:
    """The ``batches()`` of one fixed batch, for a task's own evaluation function."""

    def __init__(self, batch: tuple) -> None:
        self.batch = batch

    def batches(self, generator=None):
        return iter([self.batch])

    def __len__(self) -> int:
        return 1


def _first_rows(batches) -> tuple | None:
    for batch in batches.batches():
        return tuple(None if t is None else t[:GATE_ROWS] for t in batch)
    return None


@torch.no_grad()
def gate_scalars(model: torch.nn.Module, evaluate, batch: tuple) -> dict[str, float]:
    """``gates/<layer>/<l>.<d>/{share_low, share_high, mean}`` of the keep gate (LSTM ``f``,
    GRU ``z``) of every recurrent layer of ``model``, as ``evaluate(model, batch)`` runs it in
    eval mode; nothing for a model without lstmkit recurrent layers."""
    was_training = model.training
    model.eval()
    try:
        with recording(model) as recs:
            evaluate(model, _OneBatch(batch))
    except ValueError:  # no lstmkit.nn.LSTM inside
        return {}
    finally:
        model.train(was_training)
    out: dict[str, float] = {}
    for r in recs:
        if any(k.startswith(f"gates/{r.name}/") for k in out):
            continue  # a layer called again (an ensemble's member, a decoder step): once
        stats = forget_stats(r.values, r.lengths)
        for s in stats["layers"]:
            tag = f"gates/{r.name}/{s['layer']}.{s['direction']}"
            out |= {f"{tag}/share_low": s["share_low"], f"{tag}/share_high": s["share_high"],
                    f"{tag}/mean": s["mean"]}  # fmt: skip
    return out


class Tracker:
    """An epoch callback (``Trainer(..., callbacks=[tracker])``): ``on_fit_start`` opens the
    backend (``lstmkit.tracking.make_backend``) and picks the batch the gates are measured on;
    each epoch's history row and gate saturation go to the backend under the epoch's number
    (ensemble members after the first under ``member<k>/``); ``finish(metrics)`` sends the
    test metrics and closes it. Only the main process of a data-parallel run tracks."""

    def __init__(self, backend, run_dir: str | Path) -> None:
        self.backend, self.run_dir = backend, Path(run_dir)
        self.fits, self.started = 0, False
        self.model = self.evaluate = self.batch = None

    def on_fit_start(self, trainer, train, val) -> None:
        self.fits += 1
        if not distributed.is_main():
            return
        self.model, self.evaluate = trainer.model, trainer.evaluate
        self.batch = _first_rows(val if val is not None else train)
        if not self.started:
            config = read_config(self.run_dir)
            params = {k: v for k, v in config.items() if k != "tracking"}
            self.backend.start(params, trainer.start_epoch)
            merge_config(self.run_dir, {"tracking": self.backend.state()})
            self.started = True

    def __call__(self, epoch: int, row: dict) -> None:
        if not self.started:
            return
        values = {k: float(v) for k, v in row.items() if k != "epoch" and _number(v)}
        if self.batch is not None:
            values |= gate_scalars(self.model, self.evaluate, self.batch)
        prefix = f"member{self.fits - 1}/" if self.fits > 1 else ""
        self.backend.scalars(epoch, {prefix + k: v for k, v in values.items()})

    def finish(self, metrics: dict) -> None:
        """The run's test metrics; closes the backend (MLflow: uploads the run directory)."""
        if self.started:
            numbers = {k: float(v) for k, v in metrics.items() if _number(v)}
            self.backend.finish(numbers, self.run_dir)
            self.started = False

    def close(self, failed: bool = True) -> None:
        """End a run that did not finish (an error, an interruption)."""
        if self.started:
            self.backend.close(failed)
            self.started = False


def _number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
