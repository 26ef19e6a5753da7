"""The ``regress`` pipeline: load sequences with numeric targets, train a Regressor, evaluate
beside the mean predictor, write the run (config.json, metrics.json, predicted.png, loss.png).

As for ``classify``, config.json's ``data`` and ``options`` re-run it exactly (``lstmkit resume``);
in a data-parallel run every process trains and rank 0 alone writes and evaluates.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lstmkit.data.regression import TargetData, load_regression, random_split
from lstmkit.estimators import Regressor
from lstmkit.runs import merge_config, read_config
from lstmkit.train import distributed
from lstmkit.train.checkpoint import atomic_write_json
from lstmkit.train.metrics import regression_metrics
from lstmkit.train.trainer import EpochCallback
from lstmkit.viz import plot_loss, plot_predicted

__all__ = ["evaluate_run", "load_split", "run_regress"]

log = logging.getLogger(__name__)


def load_split(data: dict) -> tuple[TargetData, TargetData]:
    """(train, test) for a run's ``data`` section: the source's own test split, the
    ``test_source`` file, or a random hold-out of ``test_fraction`` (seeded)."""
    train, test = load_regression(data["source"], test_source=data.get("test_source"))
    if test is None:
        keep, held = random_split(len(train), data.get("test_fraction", 0.2), data["seed"])
        train, test = train.subset(keep), train.subset(held)
    return train, test


def run_regress(data: dict, options: dict, run_dir: str | Path, *, resume: bool = False,
                progress: bool = False,
                callbacks: Sequence[EpochCallback] = ()) -> dict:  # fmt: skip
    """Train (or resume) and evaluate; returns the flat metrics written to metrics.json."""
    run_dir = Path(run_dir)
    data = {"test_fraction": 0.2, "seed": options.get("random_state", 0)} | data
    data.setdefault("loaded_as", "values as the source holds them; targets as given")
    train, test = distributed.main_first(lambda: load_split(data))
    world = distributed.world_size()
    if distributed.is_main() and not resume:
        config = {"task": "regress", "data": data, "options": options, "world_size": world}
        atomic_write_json(run_dir / "config.json", config)
    elif distributed.is_main():
        merge_config(run_dir, {"world_size": world})
    log.info("regress: %d training and %d test sequences of length %d with %d channels, "
             "%d targets", len(train), len(test), train.X.shape[1], train.num_channels,
             train.num_targets)  # fmt: skip
    t0 = time.perf_counter()
    reg = Regressor(**options).fit(
        train.X, train.y, train.lengths, run_dir=run_dir, progress=progress, resume=resume,
        callbacks=callbacks,
    )  # fmt: skip
    log.info("trained in %.1f s", time.perf_counter() - t0)
    if not distributed.is_main():
        return {}
    metrics = {
        "task": "regress",
        "epochs_run": len(reg.history_),
        "train_seconds": round(reg.train_seconds_, 3),
        "params": sum(p.numel() for p in reg.model_.parameters()),
        "world_size": world,
        **_evaluate(reg, test, run_dir, data["source"]),
        "best_epoch": reg.best_epoch_,
        "clipped_steps": reg.clipped_steps_,
        "train_size": len(train),
        "test_size": len(test),
    }
    if reg.averaged_epochs_:  # swa: the epochs whose weights the model averages
        metrics["averaged_epochs"] = reg.averaged_epochs_
    atomic_write_json(run_dir / "metrics.json", metrics)
    plot_loss(reg.history_, run_dir / "loss.png", title=f"regress {data['source']}")
    return metrics


def _evaluate(reg: Regressor, test: TargetData, run_dir: Path | None, title: str = "") -> dict:
    """test_rmse / test_mae / test_r2 and the training mean's baseline_* on ``test``."""
    if test.num_targets != reg.n_targets_:
        raise ValueError(
            f"the data has {test.num_targets} targets per sequence, the model predicts "
            f"{reg.n_targets_}"
        )
    pred = reg.predict(test.X, test.lengths)
    m = regression_metrics(test.y, pred, reg.target_mean_)
    if run_dir is not None:
        plot_predicted(test.y, pred, run_dir / "predicted.png", title=f"regress {title}".strip())
    flat = {f"test_{k}": round(v, 6) for k, v in m["model"].items()}
    flat |= {f"baseline_{k}": round(v, 6) for k, v in m["baseline"].items()}
    return flat


def evaluate_run(
    run_dir: str | Path, source: str | None = None, *, estimator: Regressor | None = None
) -> dict:
    """Metrics of a trained run on its own test split, or on ``source`` (its test split when it
    has one, else all of it); ``estimator``: score this one instead of the run's own."""
    config = read_config(run_dir)
    reg = Regressor.load(run_dir) if estimator is None else estimator
    if source is None:
        _, test = load_split(config["data"])
    else:
        train, test = load_regression(source)
        test = test if test is not None else train
    out = _evaluate(reg, test, None)
    return {"task": "regress", "test_size": len(test), **out}


def predictions_table(reg: Regressor, X: np.ndarray, lengths: np.ndarray | None):
    """``lstmkit predict``'s rows: a ``value`` column (``value_<k>`` for T > 1 targets)."""
    import pandas as pd

    pred = np.asarray(reg.predict(X, lengths)).reshape(len(X), -1)
    if pred.shape[1] == 1:
        return pd.DataFrame({"value": pred[:, 0]})
    return pd.DataFrame({f"value_{k}": pred[:, k] for k in range(pred.shape[1])})
