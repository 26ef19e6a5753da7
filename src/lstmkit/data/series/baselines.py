"""Baseline forecasts (naive, seasonal naive), the MASE scale and forecast metrics.

Forecasts are made at window origins: ``origins[i]`` is the index in ``y`` of the first value to
forecast, so a forecast may use ``y[:origins[i]]`` only.
"""

from __future__ import annotations

import logging

import numpy as np
from pandas.tseries import offsets

from lstmkit.data.series._freq import parse_offset

__all__ = [
    "SEASONS",
    "forecast_metrics",
    "mase_scale",
    "naive_forecast",
    "season_for",
    "seasonal_naive_forecast",
]

logger = logging.getLogger(__name__)

# season length by offset base: a day of sub-daily steps, a week of days, a year of the rest
SEASONS = {"30min": 48, "h": 24, "D": 7, "B": 5, "W": 52, "M": 12, "Q": 4, "Y": 1}
_BASES: tuple[tuple[type, str], ...] = (
    (offsets.BusinessDay, "B"),  # before Day-like checks: "B" is not "D"
    (offsets.Day, "D"),
    (offsets.Week, "W"),
    (offsets.MonthBegin, "M"),
    (offsets.MonthEnd, "M"),
    (offsets.BusinessMonthBegin, "M"),
    (offsets.BusinessMonthEnd, "M"),
    (offsets.QuarterBegin, "Q"),
    (offsets.QuarterEnd, "Q"),
    (offsets.BQuarterBegin, "Q"),
    (offsets.BQuarterEnd, "Q"),
    (offsets.YearBegin, "Y"),
    (offsets.YearEnd, "Y"),
    (offsets.BYearBegin, "Y"),
    (offsets.BYearEnd, "Y"),
)
_SECONDS_PER_DAY = 86_400


def season_for(freq: str | None) -> int:
    """The season length for a frequency alias: 1 when unknown or ``None``.

    Sub-daily steps that divide a day give the steps per day (``"h"`` 24, ``"30min"`` 48,
    ``"15min"`` 96); ``"D"`` 7, ``"B"`` 5, weekly 52, monthly 12, quarterly 4, yearly 1. A
    multiple divides the season when it can (``"2h"`` 12, ``"3MS"`` 4), else 1. Older spellings
    (``"H"``, ``"30T"``, ``"M"``, ``"Q"``, ``"A"``) and anchors (``"W-SUN"``, ``"QS-OCT"``) work.
    """
    if freq is None:
        return 1
    try:
        offset = parse_offset(freq)
    except (ValueError, TypeError):
        logger.warning("season_for: unknown frequency %r; using season 1", freq)
        return 1
    if isinstance(offset, offsets.Tick) and not isinstance(offset, offsets.Day):
        seconds = offset.nanos / 1e9
        per_day = _SECONDS_PER_DAY / seconds
        if seconds < _SECONDS_PER_DAY and per_day == int(per_day):
            return int(per_day)
        return 1
    for kind, base in _BASES:
        if isinstance(offset, kind):
            season, n = SEASONS[base], offset.n
            return season // n if n >= 1 and season % n == 0 else 1
    logger.info("season_for: no season known for %r; using 1", freq)
    return 1


def _origins(y: np.ndarray, origins: np.ndarray, horizon: int, history: int) -> np.ndarray:
    if y.ndim != 1:
        raise ValueError(f"y must be a 1-D series, got shape {y.shape}")
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ValueError(f"horizon must be an integer >= 1, got {horizon!r}")
    o = np.asarray(origins)
    if o.ndim != 1 or (o.size and o.dtype.kind not in "iu"):
        raise ValueError(f"origins must be a 1-D integer array, got {o.dtype} {o.shape}")
    if o.size and (o.min() < history or o.max() > len(y)):
        bad = int(o[(o < history) | (o > len(y))][0])
        raise ValueError(
            f"origin {bad} needs {history} earlier values of y and at most {len(y)} "
            f"(len(y)); got origins in [{int(o.min())}, {int(o.max())}]"
        )
    return o.astype(np.int64)


def naive_forecast(y: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """``(N, horizon)``: the last value before each origin, ``y[o - 1]``, repeated."""
    y = np.asarray(y, dtype=np.float64)
    o = _origins(y, origins, horizon, 1)
    return np.repeat(y[o - 1][:, None], horizon, axis=1)  # (N, H)


def seasonal_naive_forecast(
    y: np.ndarray, origins: np.ndarray, horizon: int, season: int
) -> np.ndarray:
    """``(N, horizon)``: the value one season earlier, ``y[o + h - m * (h // m + 1)]``.

    Step h (from 0) repeats the last observed season: with m = 12, h = 0 takes ``y[o - 12]``,
    h = 11 takes ``y[o - 1]`` and h = 12 ``y[o - 12]`` again. ``season=1`` is the naive forecast.
    """
    if isinstance(season, bool) or not isinstance(season, int | np.integer) or season < 1:
        raise ValueError(f"season must be an integer >= 1, got {season!r}")
    y = np.asarray(y, dtype=np.float64)
    o = _origins(y, origins, horizon, season)
    h = np.arange(horizon)  # (H,)
    return y[o[:, None] + h - season * (h // season + 1)]  # (N, H)


def mase_scale(train_y: np.ndarray, season: int) -> float:
    """The in-sample seasonal naive MAE, ``mean |y_t - y_{t-m}|`` over the training split.

    Pairs with a NaN are skipped. A constant training series gives 0 (MASE is then NaN).
    """
    if isinstance(season, bool) or not isinstance(season, int | np.integer) or season < 1:
        raise ValueError(f"season must be an integer >= 1, got {season!r}")
    y = np.asarray(train_y, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"train_y must be a 1-D series, got shape {y.shape}")
    diffs = np.abs(y[season:] - y[:-season])  # (T - m,)
    diffs = diffs[~np.isnan(diffs)]
    if diffs.size == 0:
        raise ValueError(
            f"training split has {y.size} values; a season of {season} needs at least "
            f"{season + 1} with a present value {season} steps earlier"
        )
    return float(diffs.mean())


def forecast_metrics(
    truth: np.ndarray,
    pred: np.ndarray,
    scale: float,
    *,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
    mask: np.ndarray | None = None,
) -> dict[str, float]:
    """Forecast errors over the entries that count.

    Returns ``mae``, ``rmse``, ``smape`` (percent, 0..200; an entry with truth and forecast both
    0 counts 0), ``mase`` (``mae / scale``; NaN when ``scale`` is 0) and, with ``lower`` and
    ``upper``, ``coverage``: the fraction of truths within ``[lower, upper]``.

    Args:
        truth, pred, lower, upper, mask: arrays of one shape, e.g. ``(N, H)``; ``mask`` (bool)
            selects the entries that count, for example the observed truths.

    Raises:
        ValueError: mismatched shapes, only one of lower / upper, no entry selected, or a NaN in
            a selected entry.
    """
    t = np.asarray(truth, dtype=np.float64)
    p = np.asarray(pred, dtype=np.float64)
    arrays = {"pred": p}
    if (lower is None) != (upper is None):
        raise ValueError("coverage needs both lower and upper, got only one")
    if lower is not None:
        arrays |= {"lower": np.asarray(lower, dtype=np.float64)}
        arrays |= {"upper": np.asarray(upper, dtype=np.float64)}
    if mask is not None:
        arrays |= {"mask": np.asarray(mask)}
    for name, a in arrays.items():
        if a.shape != t.shape:
            raise ValueError(f"{name} shape {a.shape} does not match truth shape {t.shape}")
    if mask is not None and arrays["mask"].dtype != np.bool_:
        raise ValueError(f"mask must be a bool array, got dtype {arrays['mask'].dtype}")
    keep = arrays["mask"] if mask is not None else np.ones(t.shape, dtype=bool)
    if not keep.any():
        raise ValueError(f"no entries to score: mask selects none of {t.size}")
    for name, a in {"truth": t, **arrays}.items():
        if name != "mask" and np.isnan(a[keep]).any():
            raise ValueError(
                f"{name} has {int(np.isnan(a[keep]).sum())} NaN among the scored entries; "
                "exclude them with mask"
            )
    t_k, p_k = t[keep], p[keep]
    err = np.abs(t_k - p_k)
    denom = np.abs(t_k) + np.abs(p_k)
    smape = np.divide(2.0 * err, denom, out=np.zeros_like(err), where=denom > 0)
    mae = float(err.mean())
    if not scale > 0:
        logger.warning("MASE scale is %r (a constant training series?); mase is NaN", scale)
    out = {
        "mae": mae,
        "rmse": float(np.sqrt(np.mean(err**2))),
        "smape": float(100.0 * smape.mean()),
        "mase": mae / scale if scale > 0 else float("nan"),
    }
    if lower is not None:
        inside = (arrays["lower"][keep] <= t_k) & (t_k <= arrays["upper"][keep])
        out["coverage"] = float(inside.mean())
    return out
