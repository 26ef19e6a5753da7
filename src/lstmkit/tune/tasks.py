"""What ``lstmkit tune`` needs of each task: how to train one trial, what the data tells the
search space, and which validation metrics may be the objective.

The objective is always a validation number (never a test metric: choosing hyperparameters on
the test data would make its score optimistic). The test metrics of the best run are reported
after the search.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch loads only when a trial runs
    from lstmkit.train.trainer import EpochCallback

__all__ = ["TASKS", "TaskSpec"]

_MIN_TRAIN_WINDOWS = 8  # a searched forecast look-back leaves training at least this many windows
Runner = Callable[[dict, dict, Path, Sequence["EpochCallback"]], dict]


@dataclass(frozen=True)
class TaskSpec:
    """``run(data, options, run_dir, callbacks) -> metrics`` trains one run directory;
    ``context(data, options) -> dict`` reads the data once before the search (bad data fails
    there, before anything is written) and returns what the search space needs; ``metrics``:
    objective name -> ``"minimize"`` / ``"maximize"`` (keys of the Trainer's history rows);
    ``default_epochs``: the task's epochs when ``--epochs`` is not given (pruner warm-up)."""

    run: Runner
    context: Callable[[dict, dict], dict[str, Any]]
    metrics: Mapping[str, str] = field(default_factory=lambda: {"val_loss": "minimize"})
    default_epochs: int = 10


def _run_classify(data, options, run_dir, callbacks):
    from lstmkit.tasks.classify import run_classify

    return run_classify(data, options, run_dir, callbacks=callbacks)


def _classify_context(data: dict, options: dict) -> dict[str, Any]:
    from lstmkit.tasks.classify import load_split

    train, test = load_split({"seed": options.get("random_state", 0), "test_fraction": 0.2} | data)
    return {"train_size": len(train), "test_size": len(test)}


def _run_forecast(data, options, run_dir, callbacks):
    from lstmkit.tasks.forecast import run_forecast

    return run_forecast(data, options, run_dir, callbacks=callbacks)


def _forecast_context(data: dict, options: dict) -> dict[str, Any]:
    """The season, and the longest look-back (up to 4 seasons) whose splits leave the training
    part ``_MIN_TRAIN_WINDOWS`` windows, by the Forecaster's own split rules."""
    from lstmkit.data.series import prepare_frame
    from lstmkit.data.series.baselines import season_for
    from lstmkit.data.series.windows import split_sizes
    from lstmkit.estimators._forecast_parts import test_fraction_for
    from lstmkit.estimators.forecaster import Forecaster
    from lstmkit.tasks.forecast import load_data

    df, full = load_data(data)
    frame = prepare_frame(
        df,
        full["target"],
        time_col=full["time_col"],
        features=full["features"],
        freq=options.get("freq"),
    )
    est = Forecaster(**options)
    season, rows = est.season or season_for(frame.freq), len(frame.data)
    horizon = est.horizon or (season if season > 1 else 1)

    def fits(lookback: int) -> bool:
        test = test_fraction_for(est, lookback, horizon, rows)
        try:
            train = split_sizes(rows, lookback, horizon, est.val_fraction, test)[0]
        except ValueError:
            return False
        return train - lookback - horizon + 1 >= _MIN_TRAIN_WINDOWS

    longest = max((n for n in range(1, 4 * max(season, 8) + 1) if fits(n)), default=0)
    return {"season": season, "rows": rows, "max_lookback": longest}


def _run_textgen(data, options, run_dir, callbacks):
    from lstmkit.tasks.textgen import run_textgen

    return run_textgen(data, options, run_dir, callbacks=callbacks)


def _textgen_context(data: dict, options: dict) -> dict[str, Any]:
    from lstmkit.tasks.textgen import load_parts

    train, test = load_parts({"test_fraction": 0.05} | data)
    return {"train_chars": len(train), "test_chars": len(test)}


TASKS: dict[str, TaskSpec] = {
    "classify": TaskSpec(
        _run_classify, _classify_context, {"val_loss": "minimize", "val_accuracy": "maximize"}, 8
    ),
    "forecast": TaskSpec(_run_forecast, _forecast_context, default_epochs=20),
    "textgen": TaskSpec(_run_textgen, _textgen_context, default_epochs=5),
}
