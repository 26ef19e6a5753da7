"""Baseline forecasts of many series: naive, seasonal naive, M4's Naive2 and, with statsforecast
installed (the ``datasets`` extra), AutoETS and AutoTheta.

``histories`` is a sequence of 1-D arrays, each series' values up to its forecast origin (or a
:class:`~lstmkit.data.panel.Panel`, whose series are used whole); every function returns
``(K, H)`` float64 forecasts in the order of the histories. The naive family is vectorised over
series on one long array (no loop over series), so 100,000 series take well under a second.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence

import numpy as np

__all__ = ["has_statsforecast", "naive", "naive2", "seasonal_naive", "statistical_forecasts"]

logger = logging.getLogger(__name__)

_INSTALL = "pip install 'lstmkit[datasets]'"
_TCRIT = 1.645  # M4's seasonality test: one-sided 90 %
# model name -> statsforecast class name (also the forecast frame's column)
_MODELS = {"ets": "AutoETS", "theta": "AutoTheta"}


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def _long(histories) -> tuple[np.ndarray, np.ndarray]:
    """``(values (T,) float64, offsets (K+1,) int64)`` of the histories; none may be empty."""
    if hasattr(histories, "offsets") and hasattr(histories, "target"):  # a Panel
        values = np.asarray(histories.target, dtype=np.float64)
        offsets = np.asarray(histories.offsets, dtype=np.int64)
    else:
        arrays = [np.asarray(h, dtype=np.float64).reshape(-1) for h in histories]
        offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
        np.cumsum([a.size for a in arrays], out=offsets[1:])
        values = np.concatenate(arrays) if arrays else np.zeros(0)
    empty = np.flatnonzero(np.diff(offsets) == 0)
    if empty.size:
        raise ValueError(
            f"{empty.size} histories are empty (series {empty[:5].tolist()}), expected at "
            "least one value each; drop them before forecasting"
        )
    return values, offsets


def _naive(values: np.ndarray, offsets: np.ndarray, horizon: int) -> np.ndarray:
    last = values[offsets[1:] - 1]  # (K,)
    return np.repeat(last[:, None], horizon, axis=1)  # (K, H)


def naive(histories: Sequence[np.ndarray], horizon: int) -> np.ndarray:
    """(K, H) each history's last value, repeated."""
    horizon = _positive_int("horizon", horizon)
    return _naive(*_long(histories), horizon)


def seasonal_naive(histories: Sequence[np.ndarray], horizon: int, season: int) -> np.ndarray:
    """(K, H) the last observed season repeated: step h (from 0) is ``y[n - m + (h mod m)]``.

    A history shorter than the season (and ``season`` 1) gets the naive forecast.
    """
    horizon, season = _positive_int("horizon", horizon), _positive_int("season", season)
    values, offsets = _long(histories)
    out = _naive(values, offsets, horizon)  # (K, H)
    full = np.flatnonzero(np.diff(offsets) >= season)
    if season > 1 and full.size:
        h = np.arange(horizon) % season  # (H,)
        out[full] = values[offsets[full + 1, None] - season + h]  # (K', H)
    return out


def _seasonal_indices(values: np.ndarray, offsets: np.ndarray, season: int) -> np.ndarray:
    """(K, m) seasonal indices of positive series where M4's test finds a season, else NaN.

    The test (M4's ``SeasonalityTest``): the series is seasonal when
    ``|acf_m| > 1.645 sqrt((1 + 2 sum_{k=1}^{m-1} acf_k^2) / n)``. Its indices are those of a
    classical multiplicative decomposition: the ratio to the centred moving average (2 x m for
    an even m), averaged per phase ``t mod m`` counted from the series' start, normalised to
    mean 1. Every series here has n >= 3 m (checked by the caller).
    """
    k, m = len(offsets) - 1, season
    lengths = np.diff(offsets)  # (K,)
    sid = np.repeat(np.arange(k), lengths)  # (T,)
    pos = np.arange(len(values)) - offsets[:-1][sid]  # (T,) step within its series
    mean = np.bincount(sid, weights=values, minlength=k) / lengths  # (K,)
    d = values - mean[sid]  # (T,) centred
    denom = np.bincount(sid, weights=d * d, minlength=k)  # (K,)

    def acf(lag: int) -> np.ndarray:  # (K,) unnormalised: pairs within a series only
        pairs = np.where(pos[lag:] >= lag, d[lag:] * d[:-lag], 0.0)  # (T - lag,)
        return np.bincount(sid[lag:], weights=pairs, minlength=k)

    with np.errstate(invalid="ignore", divide="ignore"):
        sum_sq = sum((acf(lag) / denom) ** 2 for lag in range(1, m)) if m > 1 else 0.0
        limit = _TCRIT * np.sqrt((1.0 + 2.0 * sum_sq) / lengths)
        seasonal = np.abs(acf(m) / denom) > limit  # NaN (a constant series) is False
    out = np.full((k, m), np.nan)
    if not seasonal.any():
        return out
    # centred moving average from cumulative sums of the centred values (for precision)
    c = np.concatenate([[0.0], np.cumsum(d)])  # c[i] = sum d[:i]
    half = m // 2
    rows = np.flatnonzero((pos >= half) & (pos < lengths[sid] - half) & seasonal[sid])
    if m % 2:
        trend = (c[rows + half + 1] - c[rows - half]) / m
    else:
        inner = c[rows + half] - c[rows - half + 1]
        trend = (inner + 0.5 * (d[rows - half] + d[rows + half])) / m
    ratio = values[rows] / (trend + mean[sid[rows]])  # (R,)
    cell = sid[rows] * m + pos[rows] % m
    total = np.bincount(cell, weights=ratio, minlength=k * m).reshape(k, m)
    count = np.bincount(cell, minlength=k * m).reshape(k, m)
    with np.errstate(invalid="ignore", divide="ignore"):
        figure = total / count  # (K, m)
        figure /= figure.mean(axis=1, keepdims=True)
    ok = seasonal & np.isfinite(figure).all(axis=1) & (figure > 0).all(axis=1)
    out[ok] = figure[ok]
    return out


def naive2(histories: Sequence[np.ndarray], horizon: int, season: int) -> np.ndarray:
    """(K, H) M4's Naive2: the naive forecast of the seasonally adjusted series, reseasonalised.

    A series is adjusted when ``season`` > 1, it holds at least three seasons, all its values
    are > 0 and M4's 90 % autocorrelation test finds the season (:func:`_seasonal_indices`);
    the others get the naive forecast. Step h (from 0) after a history of n values is
    ``y[n-1] / s[(n-1) mod m] * s[(n+h) mod m]``, with ``s`` the seasonal indices.
    """
    horizon, season = _positive_int("horizon", horizon), _positive_int("season", season)
    values, offsets = _long(histories)
    out = _naive(values, offsets, horizon)  # (K, H)
    lengths = np.diff(offsets)
    if season == 1:
        return out
    positive = np.minimum.reduceat(values, offsets[:-1]) > 0 if len(lengths) else lengths > 0
    cand = np.flatnonzero((lengths >= 3 * season) & positive)
    if cand.size == 0:
        return out
    starts, n = offsets[cand], lengths[cand]
    sub_offsets = np.zeros(cand.size + 1, dtype=np.int64)
    np.cumsum(n, out=sub_offsets[1:])
    rows = np.arange(int(n.sum())) + np.repeat(starts - sub_offsets[:-1], n)
    si = _seasonal_indices(values[rows], sub_offsets, season)  # (K', m)
    adjust = np.flatnonzero(np.isfinite(si[:, 0]))
    if adjust.size:
        n_a, s_a = n[adjust], si[adjust]
        at_last = s_a[np.arange(adjust.size), (n_a - 1) % season]  # (K',)
        last = values[offsets[cand[adjust] + 1] - 1] / at_last  # (K',) seasonally adjusted
        phase = (n_a[:, None] + np.arange(horizon)) % season  # (K', H)
        out[cand[adjust]] = last[:, None] * np.take_along_axis(s_a, phase, axis=1)
    return out


# --- statsforecast ------------------------------------------------------------------------


def has_statsforecast() -> bool:
    """Whether statsforecast (for AutoETS and AutoTheta) is installed."""
    return importlib.util.find_spec("statsforecast") is not None


class _NaNModel:
    """statsforecast's fallback for a model that raises: NaN forecasts, which are then replaced
    by the seasonal naive and counted (statsforecast's own fallback would hide the count)."""

    alias = "nan"

    def forecast(self, h: int, y=None, X=None, X_future=None, fitted=False, **kwargs) -> dict:
        return {"mean": np.full(h, np.nan)}

    def new(self) -> _NaNModel:
        return self

    def __repr__(self) -> str:
        return "nan"


def statistical_forecasts(
    histories: Sequence[np.ndarray],
    horizon: int,
    season: int,
    models: Sequence[str] = ("ets", "theta"),
    n_jobs: int = 1,
) -> dict[str, np.ndarray]:
    """``{name: (K, H)}`` statsforecast's AutoETS (``"ets"``) and AutoTheta (``"theta"``) with
    ``season_length=season``, one fit per history, in the order of the histories.

    All series go through one ``StatsForecast(..., freq=1).forecast`` call on a long frame
    (``unique_id`` = the series' index, ``ds`` = integer positions). A series where a model
    raises or forecasts a NaN / inf (very short histories, for instance) gets the seasonal naive
    forecast instead; the count per model is logged as a warning.

    Raises:
        ImportError: statsforecast is not installed; the message names the extra.
        ValueError: an unknown model name, a bad horizon / season, an empty history.
    """
    unknown = [m for m in models if m not in _MODELS]
    if unknown or not models:
        raise ValueError(f"models must be among {sorted(_MODELS)}, got {list(models)!r}")
    horizon, season = _positive_int("horizon", horizon), _positive_int("season", season)
    try:
        import pandas as pd
        import statsforecast
        import statsforecast.models as sf_models
    except ImportError as exc:
        raise ImportError(
            f"AutoETS / AutoTheta baselines need statsforecast; install it with {_INSTALL}"
        ) from exc
    values, offsets = _long(histories)
    k, lengths = len(offsets) - 1, np.diff(offsets)
    if k == 0:
        return {name: np.zeros((0, horizon)) for name in models}
    df = pd.DataFrame({
        "unique_id": np.repeat(np.arange(k), lengths),
        "ds": np.arange(len(values)) - np.repeat(offsets[:-1], lengths),
        "y": values,
    })  # fmt: skip
    fitted = [getattr(sf_models, _MODELS[m])(season_length=season) for m in models]
    sf = statsforecast.StatsForecast(
        models=fitted, freq=1, n_jobs=n_jobs, fallback_model=_NaNModel()
    )
    with np.errstate(all="ignore"):  # short series: statsforecast divides by zero; counted below
        fc = sf.forecast(df=df, h=horizon)
    fc = fc.reset_index() if "unique_id" not in fc.columns else fc
    fc = fc.sort_values(["unique_id", "ds"], kind="stable")
    uid = fc["unique_id"].to_numpy()
    if len(uid) != k * horizon or (uid != np.repeat(np.arange(k), horizon)).any():
        raise RuntimeError(
            f"statsforecast returned {len(uid)} rows, expected {k * horizon} "
            f"({k} series x {horizon} steps)"
        )
    fallback = seasonal_naive(histories, horizon, season)  # (K, H)
    out = {}
    for name, model in zip(models, fitted, strict=True):
        f = fc[repr(model)].to_numpy(np.float64).reshape(k, horizon)  # (K, H)
        bad = ~np.isfinite(f).all(axis=1)
        if bad.any():
            f[bad] = fallback[bad]
            logger.warning(
                "%s failed or gave NaN on %d of %d series (series %s...); seasonal naive "
                "used for them",
                _MODELS[name],
                int(bad.sum()),
                k,
                np.flatnonzero(bad)[:5].tolist(),
            )
        out[name] = f
    return out
