"""The M competitions' scores, vectorised over series (NumPy only).

Every function takes K rows (series, or (series, origin) pairs) of H steps: ``truth (K, H)``,
forecasts of the same shape and an optional ``mask (K, H)`` of observed steps (steps with mask
0 are ignored; a row with no observed step scores NaN). Definitions as in M4's guide:
sMAPE = 200 mean |y - f| / (|y| + |f|); MASE = mean |y - f| / (in-sample mean |y_t - y_{t-m}|);
MSIS = mean [(u - l) + 2/a (l - y) 1{y < l} + 2/a (y - u) 1{y > u}] / scale; OWA = half the sum
of the sMAPE and MASE ratios to Naive2's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "coverage",
    "mase",
    "mase_scales",
    "mase_scales_long",
    "msis",
    "owa",
    "scaled_crps",
    "score_panel",
    "smape",
]


def _check(truth: np.ndarray, name: str, other: np.ndarray) -> np.ndarray:
    other = np.asarray(other, dtype=np.float64)
    if other.shape != truth.shape:
        raise ValueError(f"{name} must have the shape of truth {truth.shape}, got {other.shape}")
    return other


def _prepare(truth, mask) -> tuple[np.ndarray, np.ndarray]:
    truth = np.asarray(truth, dtype=np.float64)
    if truth.ndim != 2:
        raise ValueError(f"truth must be (K, H), got shape {truth.shape}")
    m = np.ones_like(truth) if mask is None else _check(truth, "mask", mask)
    return truth, (m > 0).astype(np.float64)


def _mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(K,) mean over the observed steps; NaN where none is."""
    count = mask.sum(axis=1)
    total = np.where(mask > 0, values, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _scale(truth: np.ndarray, scale) -> np.ndarray:
    s = np.asarray(scale, dtype=np.float64).reshape(-1)
    if s.shape != (truth.shape[0],):
        raise ValueError(f"scale must be ({truth.shape[0]},), got {np.shape(scale)}")
    return s


def smape(truth, point, mask=None) -> np.ndarray:
    """(K,) sMAPE in percent; a 0/0 term counts as 0."""
    truth, m = _prepare(truth, mask)
    f = _check(truth, "point", point)
    denom = np.abs(truth) + np.abs(f)
    with np.errstate(invalid="ignore", divide="ignore"):
        term = np.where(denom > 0, 2.0 * np.abs(truth - f) / denom, 0.0)
    return 100.0 * _mean(term, m)


def mase_scales_long(values: np.ndarray, offsets: np.ndarray, season: int) -> np.ndarray:
    """(K,) the in-sample MASE scale of each series ``values[offsets[k]:offsets[k + 1]]``: the
    mean |y_t - y_{t-m}| (m = ``season`` where the series is longer than it, else 1); where
    that is 0 or undefined, the lag-1 scale, else the mean |y|, else 1.0. Never 0 or NaN."""
    values = np.asarray(values, dtype=np.float64)
    offsets = np.asarray(offsets, dtype=np.int64)
    lengths = np.diff(offsets)
    series = np.repeat(np.arange(len(lengths)), lengths)
    pos = np.arange(len(values)) - np.repeat(offsets[:-1], lengths)
    k = len(lengths)

    def lag_scale(m: np.ndarray) -> np.ndarray:
        """(K,) mean |y_t - y_{t - m_k}| per series (NaN where no pair exists)."""
        lag = m[series]
        ok = pos >= lag
        idx = np.flatnonzero(ok)
        diff = np.abs(values[idx] - values[idx - lag[idx]])
        total = np.bincount(series[idx], weights=diff, minlength=k)
        count = np.bincount(series[idx], minlength=k)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), np.nan)

    m = np.where(lengths > season, season, 1).astype(np.int64)
    out = lag_scale(m)
    bad = ~(out > 0)
    if bad.any():
        out = np.where(bad, lag_scale(np.ones(k, dtype=np.int64)), out)
        bad = ~(out > 0)
    if bad.any():
        total = np.bincount(series, weights=np.abs(values), minlength=k)
        with np.errstate(invalid="ignore", divide="ignore"):
            level = total / np.maximum(lengths, 1)
        out = np.where(bad, level, out)
        out = np.where(out > 0, out, 1.0)
    return out


def mase_scales(histories: Sequence[np.ndarray], season: int) -> np.ndarray:
    """(K,) :func:`mase_scales_long` of a list of histories."""
    lengths = np.array([len(h) for h in histories], dtype=np.int64)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    values = np.concatenate([np.asarray(h, dtype=np.float64) for h in histories] or [[]])
    return mase_scales_long(values, offsets, season)


def mase(truth, point, scale, mask=None) -> np.ndarray:
    """(K,) mean |y - f| / scale."""
    truth, m = _prepare(truth, mask)
    f = _check(truth, "point", point)
    return _mean(np.abs(truth - f), m) / _scale(truth, scale)


def coverage(truth, lower, upper, mask=None) -> np.ndarray:
    """(K,) the share of observed steps inside [lower, upper]."""
    truth, m = _prepare(truth, mask)
    lo, hi = _check(truth, "lower", lower), _check(truth, "upper", upper)
    return _mean(((truth >= lo) & (truth <= hi)).astype(np.float64), m)


def msis(truth, lower, upper, scale, alpha: float, mask=None) -> np.ndarray:
    """(K,) M4's mean scaled interval score of the (1 - alpha) interval [lower, upper]."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    truth, m = _prepare(truth, mask)
    lo, hi = _check(truth, "lower", lower), _check(truth, "upper", upper)
    score = (hi - lo) + 2.0 / alpha * ((lo - truth) * (truth < lo) + (truth - hi) * (truth > hi))
    return _mean(score, m) / _scale(truth, scale)


def scaled_crps(truth, quantiles, levels: Sequence[float], scale, mask=None) -> np.ndarray:
    """(K,) the CRPS approximated by quantiles: mean over levels and steps of twice the
    pinball loss, divided by scale. ``quantiles (K, H, Q)`` at ``levels (Q,)``."""
    truth, m = _prepare(truth, mask)
    q = np.asarray(quantiles, dtype=np.float64)
    levels = np.asarray(levels, dtype=np.float64)
    if q.shape != (*truth.shape, len(levels)):
        raise ValueError(
            f"quantiles must be {(*truth.shape, len(levels))} (truth's shape by levels), "
            f"got {q.shape}"
        )
    diff = truth[..., None] - q
    pinball = np.maximum(levels * diff, (levels - 1.0) * diff).mean(axis=-1)
    return _mean(2.0 * pinball, m) / _scale(truth, scale)


def owa(smape_model, mase_model, smape_naive2, mase_naive2) -> float:
    """M4's overall weighted average: 0.5 (sMAPE / sMAPE_naive2 + MASE / MASE_naive2) of the
    means over series (NaN ignored)."""
    s, n = np.nanmean(smape_model), np.nanmean(smape_naive2)
    a, b = np.nanmean(mase_model), np.nanmean(mase_naive2)
    return float(0.5 * (s / n + a / b))


def score_panel(
    truth,
    point,
    scale,
    mask=None,
    *,
    lower=None,
    upper=None,
    alpha: float | None = None,
    quantiles=None,
    levels: Sequence[float] | None = None,
) -> dict[str, np.ndarray]:
    """Per-row scores: ``smape`` and ``mase``; with ``lower`` / ``upper`` also ``coverage``
    and (with ``alpha``) ``msis``; with ``quantiles`` and ``levels`` also ``crps``."""
    out = {"smape": smape(truth, point, mask), "mase": mase(truth, point, scale, mask)}
    if lower is not None and upper is not None:
        out["coverage"] = coverage(truth, lower, upper, mask)
        if alpha is not None:
            out["msis"] = msis(truth, lower, upper, scale, alpha, mask)
    if quantiles is not None and levels is not None:
        out["crps"] = scaled_crps(truth, quantiles, levels, scale, mask)
    return out
