"""The panel ``forecast`` pipeline: read many series, train one PanelForecaster, score it beside
the baselines, write the run; ``predict`` on a trained panel run.

A panel run's config.json holds ``"panel": true``, the ``data`` section (source, target, id,
time and covariate columns) and the ``options``, so that ``lstmkit resume`` repeats the same
preparation. The run writes metrics.json (SPEC 8), series_metrics.csv (one row per series),
forecast.png (the best, median and worst series by MASE) and loss.png.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from lstmkit.estimators.panel_forecaster import PanelForecaster
from lstmkit.runs import merge_config
from lstmkit.train import distributed
from lstmkit.train.checkpoint import atomic_write_json, atomic_write_text
from lstmkit.train.trainer import EpochCallback
from lstmkit.viz import plot_loss
from lstmkit.viz.panel import plot_panel_forecasts

__all__ = [
    "PANEL_DATA_KEYS",
    "evaluate_panel_run",
    "predict_panel_run",
    "read_source",
    "run_panel_forecast",
]

log = logging.getLogger(__name__)

PANEL_DATA_KEYS = ("source", "target", "time_col", "id_col", "features", "future_features",
                   "static_features")  # fmt: skip


def _fit_columns(data: dict) -> dict:
    return {"target": data.get("target"), "time_col": data.get("time_col"),
            "features": data.get("features"), "id_col": data.get("id_col"),
            "future_features": data.get("future_features"),
            "static_features": data.get("static_features")}  # fmt: skip


def run_panel_forecast(
    data: dict,
    options: dict,
    run_dir: str | Path,
    *,
    resume: bool = False,
    progress: bool = False,
    callbacks: Sequence[EpochCallback] = (),
) -> dict:
    """Train (or resume) and score; returns the metrics written to metrics.json (rank 0; the
    other processes of a data-parallel run return ``{}``)."""
    run_dir = Path(run_dir)
    world = distributed.world_size()
    if distributed.is_main() and not resume:
        config = {"task": "forecast", "panel": True, "data": data, "options": options,
                  "world_size": world}  # fmt: skip
        atomic_write_json(run_dir / "config.json", config)
    elif distributed.is_main():
        merge_config(run_dir, {"world_size": world})
    cols = _fit_columns(data)
    target, time_col, features = cols.pop("target"), cols.pop("time_col"), cols.pop("features")
    fc = PanelForecaster(**options).fit(
        data["source"], target, time_col, features, **cols, run_dir=run_dir,
        progress=progress, resume=resume, callbacks=callbacks,
    )  # fmt: skip
    if not distributed.is_main():
        return {}
    m = fc.test_metrics_
    metrics = {
        "task": "forecast",
        "panel": True,
        **{k: _round(v) for k, v in m.items()},
        "series_dropped": fc.report_["series_dropped"],
        "epochs_run": len(fc.history_),
        "best_epoch": fc.best_epoch_,
        "train_seconds": round(fc.train_seconds_, 3),
        "params": sum(p.numel() for p in fc.model_.parameters()),
        "world_size": world,
        "lookback": fc.lookback_,
        "horizon": fc.horizon_,
        "season": fc.season_,
        "freq": fc.freq_,
        "loss": fc.config_.loss,
        "decoder": fc.config_.decoder,
        "quantiles": list(fc.levels_),
        "gaps_reindexed": fc.report_.get("gaps_reindexed", 0),
    }
    atomic_write_json(run_dir / "metrics.json", metrics)
    table = fc.series_metrics_.copy()
    table = table.rename(columns={"id": fc.names_.id_col or "series"})
    atomic_write_text(
        run_dir / "series_metrics.csv", table.to_csv(index=False, float_format="%.6g")
    )
    title = f"forecast {Path(str(data['source'])).name}: {len(table)} series"
    plot_loss(fc.history_, run_dir / "loss.png", title=title)
    plot_panel_forecasts(fc.last_scored_, table.iloc[:, 0].to_numpy(),
                         fc.series_metrics_["mase"].to_numpy(), fc.levels_,
                         run_dir / "forecast.png", title,
                         context=max(2 * fc.lookback_, 24))  # fmt: skip
    return metrics


def _round(v):
    if isinstance(v, float | np.floating):
        return round(float(v), 6) if np.isfinite(v) else None
    return v


def predict_panel_run(run_dir: str | Path, source: str, future: str | None = None) -> pd.DataFrame:
    """Long-format forecasts of every series of ``source`` (a file or built-in name, read with
    the run's columns) from a panel run; ``future``: a table of the future covariates."""
    from lstmkit.data.series.tables import load_table
    from lstmkit.estimators.loading import load

    fc = load(run_dir)
    if not isinstance(fc, PanelForecaster):
        raise ValueError(f"{run_dir} is not a panel forecast run")
    future_df = None if future is None else load_table(future)[0]
    return fc.predict(read_source(source), future=future_df)


def read_source(source: str | Path):
    """A built-in panel's whole series (a Panel), or the table of a file (a DataFrame), for a
    trained PanelForecaster to read with its own columns."""
    from lstmkit.data.panel import is_builtin_panel, load_panel
    from lstmkit.data.series.tables import load_table

    if isinstance(source, str) and is_builtin_panel(source) and not Path(source).exists():
        return load_panel(source)
    return load_table(source)[0]


def evaluate_panel_run(run_dir: str | Path, source: str | None = None) -> dict:
    """Scores of a panel run on its own test part (the run's data split as at training time),
    or on the last horizon of every series of ``source``."""
    from lstmkit.estimators.loading import load
    from lstmkit.runs import read_config

    fc = load(run_dir)
    data = read_config(run_dir)["data"]
    if source is None:
        from lstmkit.estimators._panel_data import panel_source, split_test

        cols = _fit_columns(data)
        src = panel_source(data["source"], **cols, freq=fc.freq_)
        min_train = fc.min_past_ + fc.horizon_ * (1 + fc.val_windows)
        train, test, _, _ = split_test(src, fc.horizon_, fc.test_windows, min_train)
        metrics = fc._score_test(train, test)
    else:
        metrics = fc.evaluate(_read(source))
    return {"task": "forecast", "panel": True, **{k: _round(v) for k, v in metrics.items()}}


def _read(source: str):
    from lstmkit.data.panel import is_builtin_panel
    from lstmkit.data.series.tables import load_table

    if is_builtin_panel(source) and not Path(source).exists():
        return source
    return load_table(source)[0]
