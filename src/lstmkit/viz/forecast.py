"""Forecast plots: the series with the test forecasts and intervals, residuals, backtests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lstmkit.viz.plots import _figure, _save

__all__ = ["plot_backtest", "plot_forecast", "plot_residuals"]


def _tiling(origins: np.ndarray, horizon: int) -> list[int]:
    """Positions (into origins) of windows laid end to end, back from the last one."""
    keep, limit = [], np.inf
    for j in range(len(origins) - 1, -1, -1):
        if origins[j] + horizon <= limit:
            keep.append(j)
            limit = origins[j]
    return keep[::-1]


def plot_forecast(
    index,
    y: np.ndarray,
    scored: dict,
    quantiles: tuple[float, ...],
    bounds: tuple[int, ...],
    path: str | Path,
    title: str,
) -> None:
    """History, truth on the test part, and the forecasts of test windows laid end to end (each
    forecast starts from the truth before it) with the outermost quantile interval."""
    plt = _figure()
    x = np.asarray(index)
    fig, ax = plt.subplots(figsize=(9, 4))
    test_start = bounds[2]
    ax.plot(x[:test_start], y[:test_start], color="0.35", lw=1, label="history (train + val)")
    ax.plot(x[test_start:], y[test_start:], color="black", lw=1.2, label="truth (test)")
    if bounds[1] < bounds[2]:
        ax.axvspan(x[bounds[1]], x[bounds[2] - 1], color="0.9", label="validation")
    origins, point, qs = scored["origins"], scored["point"], scored["quantiles"]
    H = point.shape[1]
    for n, j in enumerate(_tiling(origins, H)):
        steps = x[origins[j] : origins[j] + H]
        ax.plot(steps, point[j], color="tab:blue", lw=1.5, label="forecast" if n == 0 else None)
        if qs is not None:
            label = f"{quantiles[0]:g}-{quantiles[-1]:g} interval" if n == 0 else None
            ax.fill_between(
                steps, qs[j, :, 0], qs[j, :, -1], color="tab:blue", alpha=0.2, lw=0, label=label
            )
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    _save(fig, path)
    plt.close(fig)


def plot_residuals(scored: dict, path: str | Path, title: str) -> None:
    """Test residuals (truth - forecast): their distribution and their mean size per step ahead."""
    plt = _figure()
    res = scored["truth"] - scored["point"]  # (N, H)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.5))
    a1.hist(res[np.isfinite(res)].ravel(), bins=40, color="tab:blue", alpha=0.8)
    a1.axvline(0, color="black", lw=1)
    a1.set_xlabel("residual (truth - forecast)")
    a1.set_ylabel("count")
    steps = np.arange(1, res.shape[1] + 1)
    a2.plot(steps, np.nanmean(np.abs(res), 0), "o-", label="MAE")
    a2.plot(steps, np.nanmean(res, 0), "s--", label="mean (bias)")
    a2.axhline(0, color="black", lw=0.8)
    a2.set_xlabel("steps ahead")
    a2.legend(fontsize=8)
    for a in (a1, a2):
        a.grid(alpha=0.3)
    fig.suptitle(f"{title}: test residuals")
    _save(fig, path)
    plt.close(fig)


def plot_backtest(df, data: dict, scored: list, path: str | Path) -> None:
    """The series' tail with each backtest origin's forecast."""
    import pandas as pd

    plt = _figure()
    target, time_col = data["target"], data["time_col"]
    y = pd.to_numeric(df[target], errors="coerce").to_numpy(np.float64)
    x = pd.to_datetime(df[time_col]).to_numpy() if time_col else np.arange(len(df))
    H = len(scored[0][1])
    start = max(0, len(df) - H * (len(scored) + 3))
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot(x[start:], y[start:], color="black", lw=1.2, label="truth")
    for n, (pred, _) in enumerate(scored):
        px = pred.iloc[:, 0].to_numpy()
        ax.plot(px, pred[target].to_numpy(), lw=1.5, label=f"origin {n + 1}")
        ax.axvline(px[0], color="0.7", lw=0.8, ls=":")
    ax.set_title(f"backtest: {len(scored)} rolling origins, horizon {H}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.autofmt_xdate()
    _save(fig, path)
    plt.close(fig)
