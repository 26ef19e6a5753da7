"""M-competition scores for many series at once: sMAPE, MASE, coverage, MSIS, CRPS and OWA.

Every score is vectorised over series: ``truth`` and forecasts are ``(K, H)`` arrays (K series,
H test steps) and a score comes back per series, ``(K,)``; means over series are the caller's
(:func:`owa` takes them). ``mask (K, H)`` (bool or 1/0) marks the observed test steps: a step with
mask 0 is ignored whatever its values (NaN included), and a series with no observed step scores
NaN. A NaN in an observed step makes that series' score NaN. The MASE scale is each series'
in-sample seasonal naive error (:func:`mase_scales`), as in M4; the single-series counterparts
are in :mod:`lstmkit.data.series.baselines`.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real

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


def _truth(truth) -> np.ndarray:
    t = np.asarray(truth, dtype=np.float64)
    if t.ndim != 2:
        raise ValueError(f"truth must be (K, H) (series, steps), got shape {t.shape}")
    return t


def _like(name: str, a, shape: tuple[int, ...]) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (as truth), got {a.shape}")
    return a


def _mask(mask, shape: tuple[int, ...]) -> np.ndarray:
    if mask is None:
        return np.ones(shape, dtype=bool)
    m = np.asarray(mask)
    if m.shape != shape:
        raise ValueError(f"mask must have shape {shape} (as truth), got {m.shape}")
    if m.dtype != np.bool_ and not np.isin(m, (0, 1)).all():
        raise ValueError(f"mask must be bool or 1/0, got values {np.unique(m)[:5].tolist()}")
    return m.astype(bool)


def _scale(scale, k: int) -> np.ndarray:
    s = np.asarray(scale, dtype=np.float64)
    if s.shape != (k,):
        raise ValueError(f"scale must have shape ({k},) (one per series), got {s.shape}")
    bad = ~(s > 0) | ~np.isfinite(s)
    if bad.any():
        raise ValueError(
            f"scale must be finite and > 0, got {int(bad.sum())} series with "
            f"{s[bad][:3].tolist()}...; compute it with mase_scales"
        )
    return s


def _mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(K,) the mean of ``values (K, H)`` over each series' observed steps; NaN with none."""
    n = mask.sum(axis=1)  # (K,)
    total = np.where(mask, values, 0.0).sum(axis=1)  # (K,)
    out = np.full(len(n), np.nan)
    np.divide(total, n, out=out, where=n > 0)
    return out


# --- MASE scales --------------------------------------------------------------------------

# a MASE scale at or under this share of the series' mean |y| is rounding noise: a few float32
# ulps (panels store the target as float32, eps 1.2e-7), far above float64's
_SCALE_RTOL = 1e-6


def _lag_mean(values: np.ndarray, sid: np.ndarray, pos: np.ndarray, lag: np.ndarray, k: int):
    """(K,) mean |y_t - y_{t-lag}| per series (lag per series), skipping NaN; NaN where none."""
    lag_row = lag[sid]  # (T,)
    rows = np.flatnonzero(pos >= lag_row)
    diff = np.abs(values[rows] - values[rows - lag_row[rows]])  # (pairs,)
    ok = ~np.isnan(diff)
    total = np.bincount(sid[rows][ok], weights=diff[ok], minlength=k)
    n = np.bincount(sid[rows][ok], minlength=k)
    out = np.full(k, np.nan)
    np.divide(total, n, out=out, where=n > 0)
    return out


def mase_scales_long(values: np.ndarray, offsets: np.ndarray, season: int) -> np.ndarray:
    """(K,) the MASE scale of every series of a long array, without a loop over series.

    Series k is ``values[offsets[k]:offsets[k + 1]]`` (as in :class:`~lstmkit.data.panel.Panel`).
    Its scale is the in-sample mean ``|y_t - y_{t-m}|`` with m = ``season`` when the series is
    longer than the season, else 1. Where that is 0 or undefined (a constant or length-1
    series), or under ``1e-6`` of the series' mean ``|y|`` (rounding noise: a series periodic up
    to float error, whose MASE would otherwise be error / 1e-14), the lag-1 scale is used, else
    the mean ``|y|``, else 1.0: never 0 or NaN. Pairs with a NaN are skipped.

    Args:
        values: ``(T,)`` the series, concatenated; offsets: ``(K+1,)`` int, from 0 to T.
    """
    if isinstance(season, bool) or not isinstance(season, int | np.integer) or season < 1:
        raise ValueError(f"season must be an integer >= 1, got {season!r}")
    v = np.asarray(values, dtype=np.float64)
    o = np.asarray(offsets)
    if v.ndim != 1:
        raise ValueError(f"values must be 1-D (T,), got shape {v.shape}")
    if o.ndim != 1 or o.size < 1 or o.dtype.kind not in "iu":
        raise ValueError(f"offsets must be a 1-D integer array (K+1,), got {o.dtype} {o.shape}")
    o = o.astype(np.int64)
    if o[0] != 0 or o[-1] != v.size or (np.diff(o) < 0).any():
        raise ValueError(f"offsets must rise from 0 to {v.size} (len(values)), got {o[:5]}...")
    k = o.size - 1
    lengths = np.diff(o)  # (K,)
    sid = np.repeat(np.arange(k), lengths)  # (T,)
    pos = np.arange(v.size) - o[:-1][sid]  # (T,) step within its series
    a = np.abs(v)
    ok = ~np.isnan(a)
    n = np.bincount(sid[ok], minlength=k)
    level = np.bincount(sid[ok], weights=a[ok], minlength=k) / np.maximum(n, 1)  # (K,)
    floor = _SCALE_RTOL * level  # (K,) a scale at or under this is rounding noise
    scale = _lag_mean(v, sid, pos, np.where(lengths > season, season, 1), k)
    use = ~(scale > floor)  # 0, NaN or noise
    if use.any() and season > 1:
        scale[use] = _lag_mean(v, sid, pos, np.ones(k, dtype=np.int64), k)[use]
        use = ~(scale > floor)
    if use.any():
        scale[use] = np.where(level[use] > 0, level[use], 1.0)
    return scale


def mase_scales(histories: Sequence[np.ndarray], season: int) -> np.ndarray:
    """(K,) the MASE scale of each history (1-D arrays, or a Panel): :func:`mase_scales_long`."""
    if hasattr(histories, "offsets") and hasattr(histories, "target"):  # a Panel
        return mase_scales_long(histories.target, histories.offsets, season)
    arrays = [np.asarray(h, dtype=np.float64).reshape(-1) for h in histories]
    offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
    np.cumsum([a.size for a in arrays], out=offsets[1:])
    values = np.concatenate(arrays) if arrays else np.zeros(0)
    return mase_scales_long(values, offsets, season)


# --- scores -------------------------------------------------------------------------------


def smape(truth: np.ndarray, point: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """(K,) M3/M4 sMAPE in percent: ``200 * mean |y - f| / (|y| + |f|)``; 0/0 terms count 0.

    Args:
        truth, point: ``(K, H)``; mask: ``(K, H)`` observed steps (bool or 1/0).
    """
    t = _truth(truth)
    f = _like("point", point, t.shape)
    m = _mask(mask, t.shape)
    err, denom = np.abs(t - f), np.abs(t) + np.abs(f)  # (K, H)
    with np.errstate(invalid="ignore", divide="ignore"):
        terms = np.where(denom > 0, err / denom, np.where(np.isnan(denom), np.nan, 0.0))
    return 200.0 * _mean(terms, m)


def mase(
    truth: np.ndarray, point: np.ndarray, scale: np.ndarray, mask: np.ndarray | None = None
) -> np.ndarray:
    """(K,) ``mean |y - f| / scale``; ``scale (K,)`` from :func:`mase_scales`."""
    t = _truth(truth)
    f = _like("point", point, t.shape)
    m, s = _mask(mask, t.shape), _scale(scale, t.shape[0])
    return _mean(np.abs(t - f), m) / s


def coverage(
    truth: np.ndarray, lower: np.ndarray, upper: np.ndarray, mask: np.ndarray | None = None
) -> np.ndarray:
    """(K,) the share of observed steps with ``lower <= y <= upper`` (all ``(K, H)``)."""
    t = _truth(truth)
    lo, hi = _like("lower", lower, t.shape), _like("upper", upper, t.shape)
    m = _mask(mask, t.shape)
    inside = ((lo <= t) & (t <= hi)).astype(np.float64)
    inside[np.isnan(t) | np.isnan(lo) | np.isnan(hi)] = np.nan
    return _mean(inside, m)


def _alpha(alpha) -> float:
    ok = isinstance(alpha, Real) and not isinstance(alpha, bool) and 0 < float(alpha) < 1
    if not ok:
        raise ValueError(f"alpha must be in (0, 1) (0.05 for a 95 % interval), got {alpha!r}")
    return float(alpha)


def msis(
    truth: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    scale: np.ndarray,
    alpha: float,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """(K,) M4's mean scaled interval score of the ``1 - alpha`` interval ``[lower, upper]``.

    Per step ``(u - l) + 2/alpha (l - y) 1{y < l} + 2/alpha (y - u) 1{y > u}``, averaged over
    the observed steps and divided by ``scale (K,)``.
    """
    t = _truth(truth)
    lo, hi = _like("lower", lower, t.shape), _like("upper", upper, t.shape)
    m, s, a = _mask(mask, t.shape), _scale(scale, t.shape[0]), _alpha(alpha)
    score = (hi - lo) + 2.0 / a * (np.maximum(lo - t, 0.0) + np.maximum(t - hi, 0.0))  # (K, H)
    return _mean(score, m) / s


def scaled_crps(
    truth: np.ndarray,
    quantiles: np.ndarray,
    levels: np.ndarray,
    scale: np.ndarray,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """(K,) the quantile approximation of the CRPS, scaled: mean over levels and observed steps
    of ``2 * pinball_q(y, f_q)``, divided by ``scale (K,)``.

    Args:
        truth: ``(K, H)``; quantiles: ``(K, H, Q)`` forecasts at ``levels (Q,)`` in (0, 1).
    """
    t = _truth(truth)
    q = np.asarray(levels, dtype=np.float64)
    if q.ndim != 1 or q.size == 0 or not ((q > 0) & (q < 1)).all():
        raise ValueError(f"levels must be a 1-D array of values in (0, 1), got {q.tolist()}")
    f = _like("quantiles", quantiles, (*t.shape, q.size))
    m, s = _mask(mask, t.shape), _scale(scale, t.shape[0])
    diff = t[..., None] - f  # (K, H, Q)
    pinball = np.maximum(q * diff, (q - 1.0) * diff)  # (K, H, Q)
    return _mean(2.0 * pinball.mean(axis=2), m) / s


def owa(
    smape_model: np.ndarray,
    mase_model: np.ndarray,
    smape_naive2: np.ndarray,
    mase_naive2: np.ndarray,
) -> float:
    """M4's overall weighted average, ``0.5 * (sMAPE / sMAPE_naive2 + MASE / MASE_naive2)``.

    Each term is the mean over series (``(K,)`` arrays); series where any of the four is NaN are
    left out of all four means, so both sides are averaged over the same series. NaN when none
    is left.
    """
    given = (smape_model, mase_model, smape_naive2, mase_naive2)
    arrays = [np.asarray(a, dtype=np.float64) for a in given]
    shape = arrays[0].shape
    if arrays[0].ndim != 1 or any(a.shape != shape for a in arrays):
        got = ", ".join(str(a.shape) for a in arrays)
        raise ValueError(f"owa needs four (K,) arrays of one shape, got {got}")
    keep = np.logical_and.reduce([~np.isnan(a) for a in arrays])
    if not keep.any():
        return float("nan")
    sm, mm, sn, mn = (a[keep].mean() for a in arrays)  # np.float64: x / 0 is inf, not an error
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(0.5 * (sm / sn + mm / mn))


def score_panel(
    truth: np.ndarray,
    point: np.ndarray,
    scale: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
    alpha: float | None = None,
    quantiles: np.ndarray | None = None,
    levels: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Per-series scores ``(K,)``: ``"smape"``, ``"mase"`` and, when given, ``"coverage"``
    (``lower`` and ``upper``), ``"msis"`` (those and ``alpha``) and ``"crps"`` (``quantiles``
    ``(K, H, Q)`` and ``levels (Q,)``).

    Raises:
        ValueError: a mismatched shape, only one of lower / upper, alpha without the interval,
            or only one of quantiles / levels.
    """
    if (lower is None) != (upper is None):
        raise ValueError("an interval needs both lower and upper, got only one")
    if alpha is not None and lower is None:
        raise ValueError("alpha (for msis) needs lower and upper, got neither")
    if (quantiles is None) != (levels is None):
        raise ValueError("crps needs both quantiles and levels, got only one")
    out = {"smape": smape(truth, point, mask), "mase": mase(truth, point, scale, mask)}
    if lower is not None:
        out["coverage"] = coverage(truth, lower, upper, mask)
        if alpha is not None:
            out["msis"] = msis(truth, lower, upper, scale, alpha, mask)
    if quantiles is not None:
        out["crps"] = scaled_crps(truth, quantiles, levels, scale, mask)
    return out
