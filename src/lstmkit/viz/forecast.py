"""Forecast plots: the series with the test forecasts and intervals, residuals, backtests.

Each function writes its PNG and returns the (closed) matplotlib ``Figure``, so that callers and
tests can look at what was drawn: ``fig.axes``, their lines, labels and tick locators.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from lstmkit.viz.plots import _figure, _save

__all__ = ["MAX_WINDOWS", "plot_backtest", "plot_forecast", "plot_residuals", "shown_windows"]

MAX_WINDOWS = 6  # test windows drawn in forecast.png: all of them up to this many, else spread


def shown_windows(n: int, most: int = MAX_WINDOWS) -> list[int]:
    """Positions of the scored windows to draw: all ``n`` when there are at most ``most``, else
    ``most`` spread evenly from the first origin to the last."""
    if n <= most:
        return list(range(n))
    return sorted({round(float(v)) for v in np.linspace(0, n - 1, most)})


def _time_axis(ax, x: np.ndarray, ticks: int = 6) -> None:
    """Readable ticks: concise dates for a time axis, whole numbers for step positions."""
    from matplotlib import dates as mdates
    from matplotlib.ticker import MaxNLocator

    if np.issubdtype(x.dtype, np.datetime64):
        locator = mdates.AutoDateLocator(minticks=2, maxticks=ticks)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(nbins=ticks, integer=True))


def _when(v) -> str:
    """A time value as a short label: the date (and the time of day when it is not midnight)."""
    if isinstance(v, np.datetime64):
        import pandas as pd

        t = pd.Timestamp(v)
        return t.strftime("%Y-%m-%d" if t == t.normalize() else "%Y-%m-%d %H:%M")
    return str(v)


def plot_forecast(
    index,
    y: np.ndarray,
    scored: dict,
    quantiles: tuple[float, ...],
    bounds: tuple[int, ...],
    path: str | Path,
    title: str,
    *,
    xlabel: str = "step",
    ylabel: str = "value",
    context: int | None = None,
    most: int = MAX_WINDOWS,
):
    """The test windows as they were scored, each forecast from its own origin.

    Top: the whole series (history, validation part shaded, test truth) with the origins of the
    windows drawn marked in their colours. Below: one small panel per window drawn (every
    scored window when there are at most ``most``, else ``most`` spread over the test part),
    with the ``context`` steps before the origin (default: one horizon), the truth, the forecast
    and the outermost quantile interval when the model has quantiles.

    ``index`` (T,), ``y`` (T,) the series; ``scored``: ``origins`` (W,), ``point`` (W, H),
    ``quantiles`` (W, H, Q) or None, ``truth`` (W, H); ``bounds``: the split edges (train end,
    validation end, test end...) as row positions. Returns the figure."""
    plt = _figure()
    x = np.asarray(index)
    origins, point, qs = scored["origins"], scored["point"], scored["quantiles"]
    W, H = point.shape
    context = H if context is None else context
    shown = shown_windows(W, most)
    k = len(shown)
    cols = min(k, 3)
    rows = math.ceil(k / cols)
    fig = plt.figure(figsize=(10, 3.4 + 2.5 * rows), layout="constrained")
    grid = fig.add_gridspec(1 + rows, cols, height_ratios=[1.35] + [1] * rows)
    colors = plt.get_cmap("tab10").colors
    test_start = bounds[2]

    top = fig.add_subplot(grid[0, :])
    top.plot(x[:test_start], y[:test_start], color="0.35", lw=1, label="history (train + val)")
    top.plot(x[test_start:], y[test_start:], color="black", lw=1.2, label="truth (test)")
    if bounds[1] < bounds[2]:
        top.axvspan(x[bounds[1]], x[bounds[2] - 1], color="0.9", label="validation")
    for n, j in enumerate(shown):
        label = "origins drawn below" if n == 0 else None
        top.axvline(x[origins[j]], color=colors[n % 10], lw=1, ls=":", label=label)
    what = f"all {W}" if k == W else f"{k} of {W}"
    top.set_title(f"{title}: {what} test windows, horizon {H}")
    top.set_xlabel(xlabel)
    top.set_ylabel(ylabel)
    top.grid(alpha=0.3)
    top.legend(loc="upper left", fontsize=8)
    _time_axis(top, x)

    for n, j in enumerate(shown):
        ax = fig.add_subplot(grid[1 + n // cols, n % cols])
        color = colors[n % 10]
        o = int(origins[j])
        steps = x[o : o + H]
        before = slice(max(0, o - context), o + 1)  # the context, joined to the first step
        ax.plot(x[before], y[before], color="0.45", lw=1, label="history")
        ax.plot(steps, scored["truth"][j], color="black", lw=1.2, label="truth")
        ax.plot(steps, point[j], color=color, lw=1.6, label="forecast", gid="forecast")
        if qs is not None:
            label = f"{quantiles[0]:g}-{quantiles[-1]:g} interval"
            ax.fill_between(
                steps, qs[j, :, 0], qs[j, :, -1], color=color, alpha=0.25, lw=0, label=label
            )
        err = np.abs(scored["truth"][j] - point[j])
        mae = f", MAE {np.nanmean(err):.4g}" if np.isfinite(err).any() else ""
        ax.set_title(f"origin {_when(x[o])}{mae}", fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        _time_axis(ax, x, ticks=4)
        if n == 0:
            ax.legend(loc="best", fontsize=7)
    _save(fig, path)
    plt.close(fig)
    return fig


def plot_residuals(scored: dict, path: str | Path, title: str, *, ylabel: str = "value"):
    """Test residuals (truth - forecast): their distribution and their mean size per step ahead.
    Returns the figure."""
    from matplotlib.ticker import MaxNLocator

    plt = _figure()
    res = scored["truth"] - scored["point"]  # (N, H)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.5))
    a1.hist(res[np.isfinite(res)].ravel(), bins=40, color="tab:blue", alpha=0.8)
    a1.axvline(0, color="black", lw=1)
    a1.set_xlabel(f"residual (truth - forecast), {ylabel}")
    a1.set_ylabel("count")
    steps = np.arange(1, res.shape[1] + 1)
    a2.plot(steps, np.nanmean(np.abs(res), 0), "o-", label="MAE")
    a2.plot(steps, np.nanmean(res, 0), "s--", label="mean (bias)")
    a2.axhline(0, color="black", lw=0.8)
    a2.set_xlabel("steps ahead")
    a2.set_ylabel(f"error, {ylabel}")
    a2.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers
    a2.legend(fontsize=8)
    for a in (a1, a2):
        a.grid(alpha=0.3)
    fig.suptitle(f"{title}: test residuals")
    _save(fig, path)
    plt.close(fig)
    return fig


def plot_backtest(df, data: dict, scored: list, path: str | Path):
    """The series' tail with each backtest origin's forecast. Returns the figure."""
    import pandas as pd

    plt = _figure()
    target, time_col = data["target"], data["time_col"]
    y = pd.to_numeric(df[target], errors="coerce").to_numpy(np.float64)
    x = pd.to_datetime(df[time_col]).to_numpy() if time_col else np.arange(len(df))
    H = len(scored[0][1])
    start = max(0, len(df) - H * (len(scored) + 3))
    fig, ax = plt.subplots(figsize=(9, 4), layout="constrained")
    ax.plot(x[start:], y[start:], color="black", lw=1.2, label="truth")
    for n, (pred, _) in enumerate(scored):
        px = pred.iloc[:, 0].to_numpy()
        ax.plot(px, pred[target].to_numpy(), lw=1.5, label=f"origin {n + 1}", gid="forecast")
        ax.axvline(px[0], color="0.7", lw=0.8, ls=":")
    ax.set_title(f"backtest: {len(scored)} rolling origins, horizon {H}")
    ax.set_xlabel(time_col or "step")
    ax.set_ylabel(str(target))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    _time_axis(ax, np.asarray(x))
    _save(fig, path)
    plt.close(fig)
    return fig
