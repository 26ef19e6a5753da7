"""The panel forecaster's test scores, as the M competitions count them, beside the baselines
forecast from the same series and origins.

Every (series, origin) pair is a row: its truth ``(H,)``, the history before the origin (which
the baselines and the MASE scale read) and lstmkit's forecast. Scores are computed per row,
averaged over each series' rows (``series_metrics.csv``: one row per series), then over the
series (``metrics.json``): mean sMAPE, mean MASE, OWA against Naive2 where the season is > 1,
and with intervals the coverage of the outermost one, MSIS and the scaled CRPS.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd

from lstmkit.data.panel import metrics as pm
from lstmkit.data.panel import statbaselines as sb

__all__ = ["COMBINE", "baseline_forecasts", "combine_forecasts", "score_rows", "test_origins",
           "validation_scores",
           "window_scores", "window_truth"]  # fmt: skip

COMBINE = ("none", "mean", "median")

log = logging.getLogger(__name__)


def combine_forecasts(
    point: np.ndarray, quantiles: np.ndarray | None, stats: dict[str, np.ndarray], how: str
) -> tuple[np.ndarray, np.ndarray | None]:
    """The LSTM's ``point (N, H)`` combined with AutoETS' and AutoTheta's (``stats``) by their
    ``mean`` or ``median`` (the M competitions' lesson: combinations beat their members);
    ``quantiles (N, H, Q)`` move with the point (shifted alike, so they stay ordered)."""
    if how not in COMBINE:
        raise ValueError(f"combine must be one of {', '.join(COMBINE)}, got {how!r}")
    if how == "none":
        return point, quantiles
    parts = np.stack([point, stats["ets"], stats["theta"]])
    both = np.mean(parts, axis=0) if how == "mean" else np.median(parts, axis=0)
    if quantiles is None:
        return both, None
    return both, quantiles + (both - point)[..., None]


def baseline_forecasts(
    histories: list[np.ndarray],
    horizon: int,
    season: int,
    statistical: bool,
    given: dict[str, np.ndarray] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """``({prefix: (N, H)}, {prefix: seconds})`` for ``baseline`` (seasonal naive), ``naive``,
    ``naive2`` and, with ``statistical`` and statsforecast installed, ``ets`` and ``theta``
    (``given``: forecasts already made, e.g. ``{"ets": ..., "theta": ...}``, used as they are
    and timed as 0)."""
    out, seconds = {}, {}
    for name, make in (
        ("baseline", lambda: sb.seasonal_naive(histories, horizon, season)),
        ("naive", lambda: sb.naive(histories, horizon)),
        ("naive2", lambda: sb.naive2(histories, horizon, season)),
    ):
        t0 = time.perf_counter()
        out[name] = np.asarray(make(), dtype=np.float64)
        seconds[name] = time.perf_counter() - t0
    if given:
        for name, f in given.items():
            out[name] = np.asarray(f, dtype=np.float64)
            seconds.setdefault(name, 0.0)
    elif statistical and sb.has_statsforecast():
        t0 = time.perf_counter()
        stats = sb.statistical_forecasts(histories, horizon, season)
        elapsed = time.perf_counter() - t0
        for name, f in stats.items():
            out[name] = np.asarray(f, dtype=np.float64)
            seconds[name] = elapsed / max(len(stats), 1)
        log.info("statsforecast AutoETS / AutoTheta on %d series: %.1f s", len(histories), elapsed)
    elif statistical:
        log.info("statsforecast is not installed: no AutoETS / AutoTheta baselines "
                 "(pip install 'lstmkit[datasets]')")  # fmt: skip
    return out, seconds


def _per_series(values: np.ndarray, rows_series: np.ndarray, k: int) -> np.ndarray:
    """(K,) the nan-mean of ``values`` over each series' rows."""
    ok = np.isfinite(values)
    total = np.bincount(rows_series[ok], weights=values[ok], minlength=k)
    count = np.bincount(rows_series[ok], minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def score_rows(
    *,
    ids: np.ndarray,
    rows_series: np.ndarray,
    histories: list[np.ndarray],
    truth: np.ndarray,
    mask: np.ndarray,
    point: np.ndarray,
    quantiles: np.ndarray | None,
    levels: tuple[float, ...],
    season: int,
    statistical: bool = True,
    given: dict[str, np.ndarray] | None = None,
) -> tuple[dict[str, float], pd.DataFrame, dict[str, np.ndarray]]:
    """``(metrics, series_table, forecasts)`` of the rows (see the module docstring).

    ``rows_series (N,)``: the index into ``ids`` of each row's series; ``quantiles (N, H, Q)``
    at ``levels`` or None; ``forecasts``: the baselines' (N, H) forecasts by prefix;
    ``given``: forecasts made already (scored as baselines under their prefix).
    """
    k = len(ids)
    H = truth.shape[1]
    scale = pm.mase_scales(histories, season)  # (N,) in-sample, before each origin
    base, seconds = baseline_forecasts(histories, H, season, statistical, given)
    table = {"id": ids, "windows": np.bincount(rows_series, minlength=k)}
    metrics: dict[str, float] = {}

    def add(prefix: str, f: np.ndarray, **kw) -> dict[str, np.ndarray]:
        per_row = pm.score_panel(truth, f, scale, mask, **kw)
        per_series = {m: _per_series(v, rows_series, k) for m, v in per_row.items()}
        for m, v in per_series.items():
            metrics[f"{prefix}_{m}"] = float(np.nanmean(v)) if np.isfinite(v).any() else None
            if m in ("smape", "mase"):
                table[m if prefix == "test" else f"{prefix}_{m}"] = v
        return per_series

    kw = {}
    if quantiles is not None and len(levels) >= 2:
        lo, hi = levels[0], levels[-1]
        kw = dict(lower=quantiles[..., 0], upper=quantiles[..., -1], alpha=float(1 - (hi - lo)),
                  quantiles=quantiles, levels=tuple(levels))  # fmt: skip
    ours = add("test", point, **kw)
    scored = {name: add(name, f) for name, f in base.items()}
    if season > 1:
        n2 = scored["naive2"]
        for prefix, s in [("test", ours), *scored.items()]:
            if prefix == "naive2":
                continue
            metrics[f"{prefix}_owa"] = pm.owa(s["smape"], s["mase"], n2["smape"], n2["mase"])
    if kw:
        metrics["test_interval"] = float(levels[-1] - levels[0])
    metrics["series"] = int((table["windows"] > 0).sum())
    metrics["test_windows"] = len(truth)
    for name, s in seconds.items():
        metrics[f"{name}_seconds"] = float(s)
    return metrics, pd.DataFrame(table), base


def window_scores(
    y: np.ndarray, obs: np.ndarray, truth: np.ndarray, mask: np.ndarray, point: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(N,) sMAPE and (N,) MASE of validation windows, the MASE scaled by each window's own
    mean absolute step-to-step change over its observed look-back ``y, obs (N, L)`` (the mean
    |y| where that is 0)."""
    both = obs[:, 1:] * obs[:, :-1]
    steps = (np.abs(np.diff(y, axis=1)) * both).sum(1) / np.maximum(both.sum(1), 1)
    level = np.abs(y * obs).sum(1) / np.maximum(obs.sum(1), 1)
    scale = np.where(steps > 0, steps, np.maximum(level, 1e-8))
    return pm.smape(truth, point, mask), pm.mase(truth, point, scale, mask)


def test_origins(train, test, horizon: int, windows: int) -> tuple[np.ndarray, np.ndarray]:
    """``(series, origins)`` of the test windows: up to ``windows`` origins per series,
    ``horizon`` apart, from the end of its training part (one where the test part is a single
    horizon, as a competition's)."""
    W = windows if test.lengths().max() > horizon else 1
    per = np.minimum(test.lengths() // horizon, W).clip(min=1)
    series = np.repeat(np.arange(len(train)), per)
    j = np.arange(len(series)) - np.repeat(np.cumsum(per) - per, per)
    return series, train.lengths()[series] + j * horizon


def window_truth(full, series: np.ndarray, origins: np.ndarray, horizon: int):
    """``(truth (N, H), inside (N, H) bool, histories)`` of windows of the ``full`` panel: the
    values forecast (0 past a series' end, where ``inside`` is False) and each history."""
    rows = (full.offsets[series] + origins)[:, None] + np.arange(horizon)
    inside = rows < full.offsets[series + 1][:, None]
    truth = np.where(inside, full.target[np.minimum(rows, len(full.target) - 1)], 0.0)
    histories = [full.target[full.offsets[s] : full.offsets[s] + o] for s, o in
                 zip(series, origins, strict=True)]  # fmt: skip
    return truth, inside, histories


def validation_scores(model, batches, to_inputs, direct: bool) -> dict[str, float]:
    """The validation row of a member: the head's mean loss over the windows and, for the
    direct decoder, their mean sMAPE and MASE (:func:`window_scores`). ``to_inputs(batch)``
    gives ``(inputs, y_next, next_obs)``."""
    device = next(model.parameters()).device
    total, n, scores = 0.0, 0, []
    for batch in batches:
        batch = tuple(None if t is None else t.to(device) for t in batch)
        inputs, y_next, next_obs = to_inputs(batch)
        out, scale = model(*inputs, y_next=y_next)
        total += float(model.head.loss(out, y_next, scale, next_obs)) * len(y_next)
        n += len(y_next)
        if direct:
            point = model.head.point(out, scale).float().cpu().numpy()
            arrays = (t.float().cpu().numpy() for t in (inputs[0], inputs[1], y_next, next_obs))
            scores.append(window_scores(*arrays, point))
    row = {"loss": total / max(n, 1)}
    if scores:
        row["smape"] = float(np.nanmean(np.concatenate([a for a, _ in scores])))
        row["mase"] = float(np.nanmean(np.concatenate([b for _, b in scores])))
    return row
