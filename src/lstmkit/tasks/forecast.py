"""The ``forecast`` pipeline: read a table, train a Forecaster, score it beside the baselines,
write the run; ``predict``, ``evaluate`` and ``backtest`` on a trained run.

config.json holds the ``data`` section (source, target, time column, covariates) and the
``options``, so that ``lstmkit resume`` repeats exactly the same preparation and continues.
Its ``frame`` section also records ``decimals``: the target's decimals in the training data plus
two, at most six (``forecast_decimals``); the forecasts and errors that ``predict`` and
``backtest`` write are rounded to it, not printed with 15 digits of float noise.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from lstmkit.data.series import forecast_decimals, forecast_metrics, load_table, prepare_frame
from lstmkit.data.series.pipeline import PipelineConfig, SeriesPipeline
from lstmkit.estimators.forecaster import Forecaster
from lstmkit.runs import merge_config, read_config
from lstmkit.train import distributed
from lstmkit.train.checkpoint import atomic_write_json, atomic_write_text
from lstmkit.train.trainer import EpochCallback
from lstmkit.viz import plot_loss
from lstmkit.viz.forecast import plot_backtest, plot_forecast, plot_residuals

__all__ = [
    "backtest_run",
    "evaluate_run",
    "load_data",
    "predict_run",
    "round_forecast",
    "run_forecast",
]

log = logging.getLogger(__name__)


def load_data(data: dict) -> tuple[pd.DataFrame, dict]:
    """The table of a run's ``data`` section and the section completed with the source's
    defaults (a built-in's target and time column)."""
    df, defaults = load_table(data["source"], data.get("data_dir"))
    data = {k: v for k, v in data.items() if v is not None}
    full = {"target": None, "time_col": None, "features": None} | defaults | data
    if full["target"] is None:
        raise ValueError(
            f"{data['source']}: name the column to forecast with --target; columns: "
            f"{', '.join(map(str, df.columns))}"
        )
    return df, full


def run_forecast(
    data: dict,
    options: dict,
    run_dir: str | Path,
    *,
    resume: bool = False,
    progress: bool = False,
    callbacks: Sequence[EpochCallback] = (),
) -> dict:
    """Train (or resume) and score; returns the flat metrics written to metrics.json.

    ``callbacks``: the Trainer's ``on_epoch_end(epoch, record)`` hooks (``lstmkit tune``).
    In a data-parallel run every process trains, rank 0 alone writes; the others return ``{}``."""
    run_dir = Path(run_dir)
    df, data = distributed.main_first(lambda: load_data(data))
    world = distributed.world_size()
    if distributed.is_main() and not resume:
        config = {"task": "forecast", "data": data, "options": options, "world_size": world}
        atomic_write_json(run_dir / "config.json", config)
    elif distributed.is_main():
        merge_config(run_dir, {"world_size": world})
    t0 = time.perf_counter()
    fc = Forecaster(**options).fit(
        df,
        data["target"],
        data["time_col"],
        data["features"],
        run_dir=run_dir,
        progress=progress,
        resume=resume,
        callbacks=callbacks,
    )
    log.info("trained in %.1f s", time.perf_counter() - t0)
    if not distributed.is_main():
        return {}
    # fit wrote the frame section; the precision of the data it was trained on joins it
    fc.frame_meta_["decimals"] = forecast_decimals(df[data["target"]])
    merge_config(run_dir, {"frame": fc.frame_meta_})
    metrics = {
        "task": "forecast",
        "epochs_run": len(fc.history_),
        "train_seconds": round(fc.train_seconds_, 3),
        "params": sum(p.numel() for p in fc.model_.parameters()),
        "world_size": world,
        **{k: _round(v) for k, v in fc.test_metrics_.items()},
        "lookback": fc.lookback_,
        "horizon": fc.horizon_,
        "season": fc.season_,
        "freq": fc.frame_meta_["freq"],
        "best_epoch": fc.best_epoch_,
        "rows": len(fc.prepared_.values),
        "split_rows": fc.report_.get("split_rows"),
        "gaps_reindexed": fc.report_.get("gaps_reindexed", 0),
        "missing_filled": fc.report_.get("filled", {}),
        "outliers_replaced": fc.report_.get("outliers_replaced", {}),
    }
    atomic_write_json(run_dir / "metrics.json", metrics)
    title = f"forecast {Path(str(data['source'])).name}: {data['target']}"
    plot_loss(fc.history_, run_dir / "loss.png", title=title)
    _plot_scored(fc, run_dir, title)
    return metrics


def _round(v):
    return round(float(v), 6) if isinstance(v, float | np.floating) else v


def _plot_scored(fc: Forecaster, run_dir: Path, title: str) -> None:
    prep, s = fc.prepared_, fc.last_scored_
    target = str(fc.frame_meta_["target"])
    plot_forecast(
        prep.index,
        prep.y,
        s,
        fc.config_.quantiles,
        prep.bounds,
        run_dir / "forecast.png",
        title,
        xlabel=str(fc.frame_meta_["time_col"] or "step"),
        ylabel=target,
        context=fc.lookback_,
    )
    plot_residuals(s, run_dir / "residuals.png", title, ylabel=target)


def _decimals(fc: Forecaster, df: pd.DataFrame) -> int:
    """The decimals forecasts are written with: the run's record of its training data, else
    (a run saved without one) those of ``df``'s target."""
    decimals = fc.frame_meta_.get("decimals")
    return forecast_decimals(df[fc.frame_meta_["target"]]) if decimals is None else decimals


def round_forecast(table: pd.DataFrame, decimals: int) -> pd.DataFrame:
    """``table`` with its float columns (the point forecast, ``q<level>``) rounded."""
    return table.round({c: decimals for c in table.columns if table[c].dtype.kind == "f"})


def _own_prepared(run_dir: str | Path, fc: Forecaster):
    """The run's own data prepared as in training (same splits; the fitted state is checked)."""
    config = read_config(run_dir)
    df, data = load_data(config["data"])
    frame = prepare_frame(
        df,
        data["target"],
        time_col=data["time_col"],
        features=data["features"],
        freq=fc.frame_meta_["freq"],
    )
    pipeline = SeriesPipeline(PipelineConfig.from_dict(config["pipeline"]["config"]))
    prep = pipeline.fit_transform(frame)
    if pipeline.state != fc.pipeline_.state:
        raise ValueError(f"{data['source']} changed since the run was trained; pass --data")
    return prep


def evaluate_run(
    run_dir: str | Path, source: str | None = None, *, estimator: Forecaster | None = None
) -> dict:
    """Metrics on the run's own test split, or over every window of ``source``.
    ``estimator``: score this one instead of the run's own."""
    fc = Forecaster.load(run_dir) if estimator is None else estimator
    if source is None:
        metrics = fc.score_prepared(_own_prepared(run_dir, fc), "test")
    else:
        df, _ = load_table(source)
        metrics = fc.evaluate(df)
    return {"task": "forecast", **{k: _round(v) for k, v in metrics.items()}}


def predict_run(run_dir: str | Path, source: str) -> pd.DataFrame:
    """The horizon after the end of ``source`` (same columns as the training data), rounded to
    the run's ``decimals``."""
    fc = Forecaster.load(run_dir)
    df, _ = load_table(source)
    return round_forecast(fc.predict(df), _decimals(fc, df))


def backtest_run(
    run_dir: str | Path,
    windows: int = 5,
    *,
    source: str | None = None,
    refit: bool = False,
    out: Path | None = None,
) -> pd.DataFrame:
    """Rolling-origin evaluation over the last ``windows`` non-overlapping horizons of the data.

    Without ``refit`` the trained model forecasts from each origin with the history before it;
    with ``refit`` a fresh Forecaster (same options) is trained on the rows before each origin.
    Returns one row per origin (time, MAE, RMSE, sMAPE, MASE and the seasonal-naive's) and
    writes ``backtest.csv``, ``backtest.json`` and ``backtest.png`` to ``out`` (default: the run).
    Errors in the target's units (MAE, RMSE) are rounded to the run's ``decimals``, the others
    to 6 decimals.
    """
    config = read_config(run_dir)
    fc = Forecaster.load(run_dir)
    df, data = load_data(config["data"] | ({"source": source} if source else {}))
    frame = prepare_frame(
        df,
        data["target"],
        time_col=data["time_col"],
        features=data["features"],
        freq=fc.frame_meta_["freq"],
    )
    series = frame.data  # on the time grid: sorted, a missing step is a row of NaN
    y = series[data["target"]].to_numpy(np.float64)
    H, L, m = fc.horizon_, fc.lookback_, fc.season_
    n = len(series)
    if windows < 1:
        raise ValueError(f"windows must be a positive integer, got {windows}")
    need = L + H * windows
    if n < need + 1:
        raise ValueError(
            f"backtesting {windows} windows of horizon {H} after a look-back of {L} "
            f"needs at least {need + 1} rows, the data has {n}"
        )
    decimals = _decimals(fc, df)

    def rounded(key: str, v: float) -> float:
        unit = key.removeprefix("baseline_") in ("mae", "rmse")  # in the target's units
        return round(float(v), decimals if unit else 6)

    rows, scored = [], []
    for k in range(windows, 0, -1):
        cut = n - k * H  # origin: the first row forecast
        history = series.iloc[:cut]
        model = fc
        if refit:
            model = Forecaster(**config["options"]).fit(
                history, data["target"], frame.time_col, data["features"]
            )
        pred = model.predict(history)
        truth = y[cut : cut + H]
        sn = y[[cut + h - m * (h // m + 1) for h in range(H)]]  # seasonal naive
        mask = ~np.isnan(truth) & ~np.isnan(sn)  # (H,) the steps both can be scored on
        ours = forecast_metrics(
            truth[None], pred[data["target"]].to_numpy()[None], fc.mase_scale_, mask=mask[None]
        )
        base = forecast_metrics(truth[None], sn[None], fc.mase_scale_, mask=mask[None])
        start = pred.iloc[0, 0]
        rows.append(
            {
                "origin": str(start),
                **{k2: rounded(k2, v) for k2, v in ours.items()},
                **{f"baseline_{k2}": rounded(k2, v) for k2, v in base.items()},
            }
        )
        scored.append((pred, truth))
    table = pd.DataFrame(rows)
    out = Path(out) if out else Path(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "backtest.csv", table.to_csv(index=False))
    summary = {
        "windows": windows,
        "refit": refit,
        "horizon": H,
        "mean": {c: rounded(c, table[c].mean()) for c in table.columns if c != "origin"},
    }
    atomic_write_json(out / "backtest.json", summary | {"rows": rows})
    table_on_grid = series.reset_index() if frame.time_col else series
    plot_backtest(table_on_grid, data | {"time_col": frame.time_col}, scored, out / "backtest.png")
    return table
