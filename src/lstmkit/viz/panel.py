"""A panel forecaster's test forecasts: a few series (the best, the median and the worst by
MASE), each with its history, the test truth, lstmkit's forecast and interval and the seasonal
naive; a panel backtest's mean MASE per origin."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lstmkit.viz.plots import _figure, _save

__all__ = ["chosen_series", "plot_panel_backtest", "plot_panel_forecasts"]


def chosen_series(mase: np.ndarray, per_group: int = 1) -> list[tuple[str, int]]:
    """``[(label, index)]``: the best, median and worst series by MASE (NaN ignored), each
    ``per_group`` of them, without repeats."""
    ok = np.flatnonzero(np.isfinite(mase))
    if ok.size == 0:
        return []
    order = ok[np.argsort(mase[ok], kind="stable")]
    mid = len(order) // 2
    groups = (("best", order[:per_group]),
              ("median", order[max(0, mid - per_group // 2):][:per_group]),
              ("worst", order[::-1][:per_group]))  # fmt: skip
    out, seen = [], set()
    for label, idx in groups:
        for i in idx:
            if int(i) not in seen:
                seen.add(int(i))
                out.append((label, int(i)))
    return out


def plot_panel_forecasts(
    scored: dict,
    ids: np.ndarray,
    mase: np.ndarray,
    levels: tuple[float, ...],
    path: str | Path,
    title: str,
    *,
    context: int = 48,
):
    """One panel per chosen series: its last ``context`` steps of history, the test truth and
    forecast of its last scored window, the outermost interval, the seasonal naive. Returns
    the (closed) Figure."""
    plt = _figure()
    chosen = chosen_series(mase)
    fig, axes = plt.subplots(len(chosen) or 1, 1, figsize=(9, 2.6 * max(len(chosen), 1)),
                             squeeze=False)  # fmt: skip
    panel, series, origins = scored["panel"], scored["series"], scored["origins"]
    for ax, (label, k) in zip(axes[:, 0], chosen, strict=False):
        rows = np.flatnonzero(series == k)
        r = rows[-1]  # the last scored window of the series
        o, start = int(origins[r]), int(panel.offsets[k])
        H = scored["point"].shape[1]
        lo = max(0, o - context)
        y = panel.target[start + lo : start + o]
        ax.plot(np.arange(lo, o), y, color="0.3", lw=1.2, label="history")
        steps = np.arange(o, o + H)
        m = scored["mask"][r].astype(bool)
        ax.plot(steps[m], scored["truth"][r][m], color="black", lw=1.2, label="actual")
        ax.plot(steps, scored["point"][r], color="C0", lw=1.6, label="lstmkit")
        q = scored.get("quantiles")
        if q is not None and len(levels) >= 2:
            ax.fill_between(steps, q[r, :, 0], q[r, :, -1], color="C0", alpha=0.2,
                            label=f"{levels[0]:g}-{levels[-1]:g}")  # fmt: skip
        base = scored.get("baselines", {}).get("baseline")
        if base is not None:
            ax.plot(steps, base[r], color="C1", lw=1, ls="--", label="seasonal naive")
        ax.set_title(f"{label}: series {ids[k]} (MASE {mase[k]:.3f})", fontsize=9)
        ax.axvline(o - 0.5, color="0.6", lw=0.8, ls=":")
    if chosen:
        axes[0, 0].legend(fontsize=7, ncol=5, loc="upper left")
    axes[-1, 0].set_xlabel("step")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return fig


def plot_panel_backtest(per_origin: list[dict], path: str | Path, title: str):
    """A panel backtest: the mean MASE over the series at each origin (k horizons before each
    series' end, oldest first) of lstmkit and seasonal naive, with the series counted at each.
    Returns the (closed) Figure."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6.4, 4))
    x = np.arange(len(per_origin))
    for key, label, style in (("mase", "lstmkit", "o-"), ("baseline_mase", "seasonal naive",
                                                           "s--")):  # fmt: skip
        y = [np.nan if r.get(key) is None else r[key] for r in per_origin]
        ax.plot(x, y, style, label=label)
    ax.set_xticks(x, [f"-{r['window']}\n{r['series']} series" for r in per_origin], fontsize=8)
    ax.set_xlabel("origin (horizons before each series' end)")
    ax.set_ylabel("mean MASE")
    ax.axhline(1.0, color="0.7", lw=0.8, ls=":")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return fig
