"""Baseline forecasts of many series from their histories: naive, seasonal naive, M4's Naive2
and, with statsforecast installed (the ``datasets`` extra), AutoETS and AutoTheta.

Every function takes ``histories``, a sequence of 1-D arrays (each series' values up to its
forecast origin), and returns ``(K, H)`` float64 forecasts in the same order.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence

import numpy as np

__all__ = ["has_statsforecast", "naive", "naive2", "seasonal_naive", "statistical_forecasts"]

log = logging.getLogger(__name__)
_INSTALL = "pip install 'lstmkit[datasets]'"


def _last_values(histories: Sequence[np.ndarray], width: int) -> tuple[np.ndarray, np.ndarray]:
    """(K, width) the last ``width`` values of every history (right-aligned, NaN-padded) and
    (K,) the lengths."""
    k = len(histories)
    lengths = np.array([len(h) for h in histories], dtype=np.int64)
    if (lengths == 0).any():
        raise ValueError(f"a history is empty (series {int(np.argmax(lengths == 0))}); "
                         "expected at least one value")  # fmt: skip
    out = np.full((k, width), np.nan)
    for i, h in enumerate(histories):
        tail = np.asarray(h, dtype=np.float64)[-width:]
        out[i, width - len(tail) :] = tail
    return out, lengths


def naive(histories: Sequence[np.ndarray], horizon: int) -> np.ndarray:
    """(K, H) the last value repeated."""
    last, _ = _last_values(histories, 1)
    return np.repeat(last, horizon, axis=1)


def seasonal_naive(histories: Sequence[np.ndarray], horizon: int, season: int) -> np.ndarray:
    """(K, H) the value one season before each step, y[n - m + (h mod m)]; the naive forecast
    for a history shorter than the season (or ``season`` 1)."""
    if season <= 1:
        return naive(histories, horizon)
    tail, lengths = _last_values(histories, season)  # (K, m)
    out = tail[:, np.arange(horizon) % season]
    short = lengths < season
    if short.any():
        out[short] = naive([histories[i] for i in np.flatnonzero(short)], horizon)
    return out


def _acf(x: np.ndarray, k: int) -> float:
    m = x.mean()
    denom = ((x - m) ** 2).sum()
    if denom == 0:
        return 0.0
    return float(((x[:-k] - m) * (x[k:] - m)).sum() / denom)


def _seasonal(x: np.ndarray, m: int) -> bool:
    """M4's 90 % seasonality test (Benchmarks.py ``seasonality_test``, kept as written there:
    the sum starts from acf(1) unsquared)."""
    s = _acf(x, 1)
    for i in range(2, m):
        s += _acf(x, i) ** 2
    limit = 1.645 * np.sqrt(max(1 + 2 * s, 0.0) / len(x))
    return abs(_acf(x, m)) > limit


def _seasonal_indices(x: np.ndarray, m: int) -> np.ndarray:
    """(m,) classical multiplicative seasonal indices (centred moving average trend, the mean
    ratio per phase from the series' start), normalised to mean 1."""
    if m % 2 == 0:
        w = np.r_[0.5, np.ones(m - 1), 0.5] / m
    else:
        w = np.ones(m) / m
    trend = np.convolve(x, w, mode="valid")  # centred: trend[j] belongs to x[j + len(w) // 2]
    half = len(w) // 2
    ratio = np.full(len(x), np.nan)
    ratio[half : half + len(trend)] = x[half : half + len(trend)] / trend
    idx = np.array([np.nanmean(ratio[p::m]) for p in range(m)])
    return idx / idx.mean()


def naive2(histories: Sequence[np.ndarray], horizon: int, season: int) -> np.ndarray:
    """(K, H) M4's Naive2: the naive forecast of the seasonally adjusted series, reseasonalised,
    where the season is > 1, the history holds three seasons, is positive and passes the
    seasonality test; the naive forecast otherwise."""
    out = naive(histories, horizon)
    if season <= 1:
        return out
    steps = np.arange(horizon)
    for i, h in enumerate(histories):
        x = np.asarray(h, dtype=np.float64)
        n = len(x)
        if n < 3 * season or (x <= 0).any() or not _seasonal(x, season):
            continue
        idx = _seasonal_indices(x, season)
        if not np.isfinite(idx).all() or (idx <= 0).any():
            continue
        adjusted_last = x[-1] / idx[(n - 1) % season]
        out[i] = adjusted_last * idx[(n + steps) % season]
    return out


def has_statsforecast() -> bool:
    """Whether statsforecast (AutoETS / AutoTheta) can be imported."""
    return importlib.util.find_spec("statsforecast") is not None


def statistical_forecasts(
    histories: Sequence[np.ndarray],
    horizon: int,
    season: int,
    models: Sequence[str] = ("ets", "theta"),
    n_jobs: int = 1,
) -> dict[str, np.ndarray]:
    """``{"ets": (K, H), "theta": (K, H)}``: statsforecast's AutoETS and AutoTheta with
    ``season_length=season``, fitted to every history. A series a model cannot fit (too short,
    or a NaN forecast) gets the seasonal naive instead; the count is logged.

    Raises:
        ImportError: statsforecast is not installed (the message names the extra).
        ValueError: an unknown model name.
    """
    unknown = sorted(set(models) - {"ets", "theta"})
    if unknown:
        raise ValueError(f"models must be among ets, theta; got {unknown}")
    try:
        import pandas as pd
        from statsforecast import StatsForecast
        from statsforecast.models import AutoETS, AutoTheta, SeasonalNaive
    except ImportError as exc:
        raise ImportError(f"AutoETS / AutoTheta baselines need statsforecast: {_INSTALL}") from exc
    k = len(histories)
    lengths = np.array([len(h) for h in histories], dtype=np.int64)
    fallback = seasonal_naive(histories, horizon, season)
    # statsforecast needs a few points per series; shorter ones keep the seasonal naive
    fit = np.flatnonzero(lengths >= max(3, min(season, 2) + 1))
    made = {"ets": AutoETS(season_length=season), "theta": AutoTheta(season_length=season)}
    out = {name: fallback.copy() for name in models}
    if fit.size:
        df = pd.DataFrame({
            "unique_id": np.repeat(fit, lengths[fit]),
            "ds": np.concatenate([np.arange(lengths[i]) for i in fit]),
            "y": np.concatenate([np.asarray(histories[i], dtype=np.float64) for i in fit]),
        })  # fmt: skip
        sf = StatsForecast(models=[made[m] for m in models], freq=1, n_jobs=n_jobs,
                           fallback_model=SeasonalNaive(season_length=season))  # fmt: skip
        fc = sf.forecast(df=df, h=horizon).sort_values(["unique_id", "ds"])
        for name, column in zip(models, [type(made[m]).__name__ for m in models], strict=True):
            values = fc[column].to_numpy(np.float64).reshape(len(fit), horizon)
            ok = np.isfinite(values).all(axis=1)
            out[name][fit[ok]] = values[ok]
    for name in models:
        bad = k - int(np.isfinite(out[name]).all(axis=1).sum())
        short = k - fit.size
        if short or bad:
            log.info("%s: %d of %d series too short for it, seasonal naive used", name, short, k)
    return out
