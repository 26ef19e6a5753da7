"""The pieces of ``Forecaster`` that are plain functions: the network's config from the
options, the window sizes and test fraction a series gets, the bins of a binned target, the
training loss, decoding the network's output and scoring forecasts against the baselines."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from lstmkit.data.series.baselines import forecast_metrics, naive_forecast, seasonal_naive_forecast
from lstmkit.data.series.pipeline import Prepared
from lstmkit.models.features import FeatureConfig
from lstmkit.models.forecast import ForecastConfig, pinball_loss

__all__ = [
    "decode_forecast",
    "fit_bins",
    "forecast_config",
    "forecast_loss",
    "test_fraction_for",
    "window_scores",
    "window_sizes",
]


def forecast_config(
    model: dict, input_size: int, horizon: int, season: int = 1, lookback: int = 1
) -> ForecastConfig:
    own = ("head_dropout", "quantiles", "bins", "anchor", "per_series")
    fc = FeatureConfig(input_size=input_size, **{k: v for k, v in model.items() if k not in own})
    anchor = model["anchor"]
    if anchor is None:
        anchor = "season" if 1 < season <= lookback else "last"
    return ForecastConfig(
        fc,
        horizon,
        quantiles=tuple(model["quantiles"]),
        bins=model["bins"],
        anchor=anchor,
        season=season,
        per_series=model["per_series"],
        head_dropout=model["head_dropout"],
    )


def window_sizes(est, season: int, rows: int) -> tuple[int, int]:
    """lookback and horizon: the user's, else one season ahead from one season back (two
    seasons back when the series has 1,000 rows or more); a horizon of at least 1 and a
    look-back of at least 8."""
    horizon = est.horizon or (season if season > 1 else 1)
    seasons = 2 if rows >= 1000 else 1
    lookback = est.lookback or max(seasons * season, horizon, 8)
    return lookback, horizon


def test_fraction_for(est, lookback: int, horizon: int, rows: int) -> float:
    """The test fraction, raised so that the test part holds ``horizon`` windows at least (one
    horizon of forecasts laid end to end, from as many origins)."""
    need = (lookback + 2 * horizon - 1) / max(rows, 1)
    return min(max(est.test_fraction, need), 0.5)


def fit_bins(train_target: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """(edges, centers): equal-frequency bins of the (scaled) training target, each bin's value
    its median."""
    train_target = train_target.astype(np.float64)  # as saved in config.json: float64
    edges = np.quantile(train_target, np.linspace(0, 1, bins + 1)[1:-1])
    idx = np.searchsorted(edges, train_target)
    centers = [
        np.median(train_target[idx == k]) if np.any(idx == k) else np.nan for k in range(bins)
    ]
    return edges, pd.Series(centers).interpolate(limit_direction="both").to_numpy()


def forecast_loss(cfg: ForecastConfig, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over bins, the pinball loss of the quantiles, or the squared error."""
    if cfg.bins:
        return F.cross_entropy(out.float().reshape(-1, cfg.bins), y.reshape(-1))
    if cfg.quantiles:
        q = torch.tensor(cfg.quantiles, device=out.device)
        return pinball_loss(out.float(), y, q)
    return F.mse_loss(out.float(), y)


def decode_forecast(
    out: np.ndarray, cfg: ForecastConfig, inverse: Callable, bin_centers: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Point (N, H) and quantiles (N, H, Q) or None in original units, from the network's
    output (``inverse``: the pipeline's inverse of the target scaling)."""
    if cfg.bins:
        p = np.exp(out - out.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        return inverse(p @ bin_centers), None  # expected bin value
    if cfg.quantiles:
        qs = inverse(np.sort(out, axis=-1))  # sorted: no crossing quantiles
        return qs[..., list(cfg.quantiles).index(0.5)], qs
    return inverse(out), None


def window_scores(prep: Prepared, origins: np.ndarray, point: np.ndarray, qs: np.ndarray | None,
                  season: int, scale: float) -> tuple[dict[str, float], np.ndarray]:  # fmt: skip
    """(metrics, truth): ``test_*`` of the forecasts from ``origins``, ``baseline_*`` of the
    seasonal naive forecast (when every origin has a season behind it), ``naive_*``, and
    ``test_windows``; truth (N, H)."""
    H = point.shape[1]
    steps = origins[:, None] + np.arange(H)  # (N, H) rows forecast
    truth, mask = prep.y[steps], prep.observed[steps]
    kw = {} if qs is None else {"lower": qs[..., 0], "upper": qs[..., -1]}
    metrics = forecast_metrics(truth, point, scale, mask=mask, **kw)
    out = {f"test_{k}": v for k, v in metrics.items()}
    if origins.min() >= season:
        sn = seasonal_naive_forecast(prep.y, origins, H, season)
        base = forecast_metrics(truth, sn, scale, mask=mask)
        out |= {f"baseline_{k}": v for k, v in base.items()}
    naive = forecast_metrics(truth, naive_forecast(prep.y, origins, H), scale, mask=mask)
    out |= {f"naive_{k}": v for k, v in naive.items()}
    out["test_windows"] = len(origins)
    return out, truth
