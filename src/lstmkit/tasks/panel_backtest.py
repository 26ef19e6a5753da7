"""Rolling-origin backtests of a panel run: ``lstmkit backtest RUN`` on a run of many series.

Every series gets the last ``windows`` non-overlapping horizons as forecast origins, as
GluonTS's backtests and statsforecast's ``cross_validation`` cut them: origin k (k = 1 ..
``windows``) is the series' end minus ``k * horizon``, the first step forecast. The run's model
forecasts each from the history before it; with ``refit`` a fresh PanelForecaster (the run's
options and ``random_state``) is trained on the rows before origin k of every series, once per
k, and forecasts the origins k. Each (series, origin) is scored with the panel metrics
(:func:`~lstmkit.estimators._panel_scores.score_rows`): sMAPE, MASE scaled by the in-sample
seasonal naive error of the history before that origin, beside seasonal naive, naive and Naive2
(AutoETS / AutoTheta with ``statistical``: slow). A series needs the model's minimum history
(``min_past_`` steps) before an origin: shorter series get fewer windows, and are counted.

Writes, atomically, to ``out`` (default: the run): ``backtest.csv`` (one row per series and
origin), ``backtest.json`` (means per origin and over every window, series counted) and
``backtest.png`` (mean MASE per origin beside seasonal naive).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from lstmkit.data.panel import Panel, shift_times
from lstmkit.data.panel import metrics as pm
from lstmkit.estimators._panel_scores import score_rows, window_truth
from lstmkit.estimators.panel_forecaster import PanelForecaster
from lstmkit.tasks.panel import _fit_columns, read_source
from lstmkit.train.checkpoint import atomic_write_json, atomic_write_text
from lstmkit.viz.panel import plot_panel_backtest

__all__ = ["backtest_origins", "backtest_panel_run"]

log = logging.getLogger(__name__)

_PREFIXES = ("baseline", "naive", "naive2", "ets", "theta")  # score_rows' baselines


def backtest_origins(
    lengths: np.ndarray, windows: int, horizon: int, min_past: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(series (N,), back (N,))``: the (series, origin) pairs of a backtest, each series'
    in time order; origin = ``lengths[series] - back * horizon``, ``back`` from ``windows`` down
    to 1. A series gets the origins with at least ``min_past`` steps before them.

    Raises:
        ValueError: ``windows`` < 1, or no series is long enough for ``windows`` origins.
    """
    if isinstance(windows, bool) or not isinstance(windows, int | np.integer) or windows < 1:
        raise ValueError(f"windows must be a positive integer, got {windows!r}")
    lengths = np.asarray(lengths, dtype=np.int64)
    counts = np.clip((lengths - min_past) // horizon, 0, windows)  # (K,) windows per series
    if counts.max(initial=0) < windows:
        raise ValueError(
            f"backtesting {windows} windows of horizon {horizon} needs a series of at least "
            f"{min_past + windows * horizon} steps ({min_past} of history before the first "
            f"origin); the longest of the {len(lengths)} series has "
            f"{int(lengths.max(initial=0))}: ask for fewer windows"
        )
    series = np.repeat(np.arange(len(lengths)), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)  # each series' first row
    back = counts[series] - (np.arange(len(series)) - first)  # (N,) counts .. 1
    return series, back


def _full_panel(run_dir: Path, fc: PanelForecaster, source: str | None) -> Panel:
    """Every step of every series: the run's data (config.json's data section, a built-in's
    training and test parts joined) or ``source`` read with the run's columns."""
    from lstmkit.runs import read_config

    if source is None:
        from lstmkit.estimators._panel_data import panel_source

        data = read_config(run_dir)["data"]
        src = panel_source(data["source"], **_fit_columns(data), freq=fc.freq_)
        return src.panel if src.test is None else src.panel.concat_tail(src.test)
    return fc._panel_like(read_source(source))


def _refit(fc: PanelForecaster, panel: Panel, cut: int) -> PanelForecaster:
    """A fresh PanelForecaster with the run's options (its horizon, season and look-back
    fixed) trained on every series but its last ``cut`` steps (series not longer are left
    out). Like the run, it holds out its own validation and test parts of those rows."""
    head, _ = panel.subset(panel.lengths() > cut).split_tail(cut)
    options = fc.get_params(deep=False) | {
        "horizon": fc.horizon_, "season": fc.season_, "lookback": fc.lookback_,
        "baselines": False, "verbose": 0,
    }  # fmt: skip
    try:
        return PanelForecaster(**options).fit(head)
    except ValueError as e:
        raise ValueError(f"refit on the steps before the origins {cut} steps back: {e}") from e


def _forecasts(fc, panel, series, back, origins, refit):
    """``(point (N, H), quantiles (N, H, Q) or None)`` of every (series, origin)."""
    if not refit:
        return fc._forecast(fc.stats_.apply(panel), series, origins)
    H = fc.horizon_
    point, quantiles = np.zeros((len(series), H)), None
    for k in range(int(back.max()), 0, -1):
        rows = back == k
        model = _refit(fc, panel, k * H)
        log.info("refit %d steps back: trained in %.1f s", k * H, model.train_seconds_)
        p, q = model._forecast(model.stats_.apply(panel), series[rows], origins[rows])
        point[rows] = p
        if q is not None:
            if quantiles is None:
                quantiles = np.zeros((len(series), H, q.shape[2]))
            quantiles[rows] = q
    return point, quantiles


def _mean(v) -> float | None:
    v = float(v)
    return round(v, 6) if np.isfinite(v) else None


def _summaries(table: pd.DataFrame, metrics: dict, season: int) -> tuple[list[dict], dict]:
    """The means of every score over the windows of each origin, and over every window."""
    scores = [c for c in table.columns if c.endswith(("smape", "mase"))]
    per_origin = []
    for k, rows in table.groupby("window", sort=False):
        row = {"window": int(k), "series": len(rows)}
        row |= {c: _mean(rows[c].mean()) for c in scores}
        if season > 1:
            for prefix in ("", *(f"{p}_" for p in _PREFIXES if p != "naive2")):
                if f"{prefix}mase" in rows:
                    row[f"{prefix}owa"] = _mean(pm.owa(rows[f"{prefix}smape"],
                                                      rows[f"{prefix}mase"],
                                                      rows["naive2_smape"],
                                                      rows["naive2_mase"]))  # fmt: skip
        per_origin.append(row)
    per_origin.sort(key=lambda r: -r["window"])
    skip = ("series", "test_windows")
    overall = {
        k.removeprefix("test_"): _mean(v) if v is not None else None
        for k, v in metrics.items()
        if k not in skip and not k.endswith("_seconds")
    }
    return per_origin, overall


def backtest_panel_run(
    run_dir: str | Path,
    windows: int = 5,
    *,
    source: str | None = None,
    refit: bool = False,
    out: str | Path | None = None,
    statistical: bool = False,
) -> pd.DataFrame:
    """Rolling-origin evaluation of a panel run over the last ``windows`` horizons of every
    series (see the module docstring). Returns the table written to backtest.csv: the id
    column, ``window`` (k: the origin is k horizons before the series' end), ``origin`` (the
    time of the first step forecast), ``history`` (steps before the origin), then sMAPE and
    MASE of lstmkit and of each baseline (``baseline_`` is seasonal naive); its
    ``attrs["summary"]`` is what backtest.json holds.

    ``source``: backtest on this file or built-in panel instead of the run's data;
    ``statistical``: also score AutoETS and AutoTheta (statsforecast, slow).

    Raises:
        ValueError: not a panel run, ``windows`` < 1, or no series long enough for
            ``windows`` origins; nothing is written then.
    """
    from lstmkit.estimators.loading import load

    run_dir = Path(run_dir)
    fc = load(run_dir)
    if not isinstance(fc, PanelForecaster):
        raise ValueError(f"{run_dir} is not a panel forecast run")
    panel = _full_panel(run_dir, fc, source)
    H, lengths = fc.horizon_, panel.lengths()
    series, back = backtest_origins(lengths, windows, H, fc.min_past_)
    origins = lengths[series] - back * H  # (N,) the first step forecast
    point, quantiles = _forecasts(fc, panel, series, back, origins, refit)

    truth, inside, histories = window_truth(panel, series, origins, H)  # every step inside
    each = np.arange(len(series))  # every (series, origin) scored as its own row
    metrics, scored, _ = score_rows(
        ids=each, rows_series=each, histories=histories, truth=truth.astype(np.float64),
        mask=inside.astype(np.float64), point=point, quantiles=quantiles, levels=fc.levels_,
        season=fc.season_, statistical=statistical,
    )  # fmt: skip
    id_col = panel.names.id_col or "series"
    table = pd.DataFrame({id_col: panel.ids[series], "window": back,
                          "origin": shift_times(panel.start[series], origins, panel.freq),
                          "history": origins})  # fmt: skip
    for c in scored.columns:
        if c.endswith(("smape", "mase")):
            table[c] = scored[c].to_numpy()
    per_origin, overall = _summaries(table, metrics, fc.season_)

    counts = np.bincount(series, minlength=len(panel))
    summary = {
        "task": "forecast",
        "panel": True,
        "windows": int(windows),
        "refit": bool(refit),
        "horizon": H,
        "season": fc.season_,
        "source": str(source) if source else None,
        "series": int((counts > 0).sum()),  # with at least one window
        "series_all_windows": int((counts == windows).sum()),
        "series_fewer_windows": int(((counts > 0) & (counts < windows)).sum()),
        "series_too_short": int((counts == 0).sum()),  # no window: shorter than min_history
        "min_history": fc.min_past_,
        "rows": len(table),
        "origins": per_origin,
        "mean": overall,
    }
    out = Path(out) if out else run_dir
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "backtest.csv", table.to_csv(index=False, float_format="%.6g"))
    atomic_write_json(out / "backtest.json", summary)
    title = f"backtest: {summary['series']} series, {windows} origins, horizon {H}" + (
        " (refit)" if refit else ""
    )
    plot_panel_backtest(per_origin, out / "backtest.png", title)
    table.attrs["summary"] = summary
    return table
