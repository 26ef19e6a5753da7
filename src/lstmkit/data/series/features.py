"""Features made from the series itself: lags, trailing rolling statistics, calendar cycles.

Every feature at row t uses rows <= t only. Calendar fields are encoded as a sin / cos pair on
their cycle (hour of day, day of week, month of year, day of year), and only the fields that
vary at the series' frequency are added.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from lstmkit.data.series._freq import nominal_step, parse_offset

__all__ = ["add_features", "calendar_fields", "warmup_rows"]

logger = logging.getLogger(__name__)

_DAY = pd.Timedelta(days=1)


def warmup_rows(lags: Sequence[int] = (), windows: Sequence[int] = ()) -> int:
    """How many leading rows :func:`add_features` leaves NaN: ``max(lags, windows - 1, 0)``."""
    return max([0, *lags, *(w - 1 for w in windows)])


def calendar_fields(freq: str | None) -> tuple[str, ...]:
    """The calendar fields that vary at ``freq``: ``hour`` below a day, ``weekday`` below a week,
    ``month`` at a month or finer, ``dayofyear`` at a day or finer; none for ``None``."""
    if freq is None:
        return ()
    step = nominal_step(parse_offset(freq))
    fields = []
    if step < _DAY:
        fields.append("hour")
    if step < 7 * _DAY:
        fields.append("weekday")
    if step <= 31 * _DAY:
        fields.append("month")
    if step <= _DAY:
        fields.append("dayofyear")
    return tuple(fields)


def add_features(
    data: pd.DataFrame,
    target: str,
    freq: str | None,
    *,
    lags: tuple[int, ...] = (),
    windows: tuple[int, ...] = (),
    calendar: bool = True,
) -> pd.DataFrame:
    """A new frame: ``target``, the other columns, then ``lag_<k>``, ``roll_mean_<w>`` /
    ``roll_std_<w>`` (over the w rows ending at the current one; std with ddof 1) and, with a
    ``DatetimeIndex`` and ``calendar``, ``<field>_sin`` / ``<field>_cos`` for the fields of
    :func:`calendar_fields` (``freq=None``: the index's own frequency).

    The first :func:`warmup_rows` rows hold NaN in the lag / rolling columns; the caller drops
    them.

    Raises:
        ValueError: ``target`` missing, a lag < 1 or a window < 2 (or repeated), a new column
            name that already exists.
    """
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(data).__name__}")
    if target not in data.columns:
        raise ValueError(
            f"target column {target!r} not found; columns: {', '.join(map(str, data.columns))}"
        )
    _check_steps(lags, 1, "lags")
    _check_steps(windows, 2, "windows")
    y = data[target].astype(np.float64)
    out = pd.concat([y, data.drop(columns=[target]).astype(np.float64)], axis=1)
    new: dict[str, pd.Series] = {}
    for k in lags:
        new[f"lag_{k}"] = y.shift(k)
    for w in windows:
        rolling = y.rolling(w, min_periods=w)
        new[f"roll_mean_{w}"] = rolling.mean()
        new[f"roll_std_{w}"] = rolling.std(ddof=1)
    if calendar and isinstance(data.index, pd.DatetimeIndex):
        alias = freq if freq is not None else data.index.freqstr
        if alias is None:
            logger.info("calendar features skipped: the index has no frequency and freq is None")
        for name, (phase, period) in _calendar(data.index, calendar_fields(alias)).items():
            angle = 2 * np.pi * phase / period
            new[f"{name}_sin"] = pd.Series(np.sin(angle), index=data.index)
            new[f"{name}_cos"] = pd.Series(np.cos(angle), index=data.index)
    clash = sorted(set(new) & set(map(str, out.columns)))
    if clash:
        raise ValueError(f"feature columns {clash} already exist in the data; rename them first")
    return pd.concat([out, pd.DataFrame(new, index=data.index)], axis=1)


def _check_steps(steps: Sequence[int], minimum: int, name: str) -> None:
    for s in steps:
        if isinstance(s, bool) or not isinstance(s, int | np.integer) or s < minimum:
            raise ValueError(f"{name} must be integers >= {minimum}, got {list(steps)}")
    if len(set(steps)) != len(steps):
        raise ValueError(f"{name} must not repeat, got {list(steps)}")


def _calendar(
    index: pd.DatetimeIndex, fields: Sequence[str]
) -> dict[str, tuple[np.ndarray, np.ndarray | float]]:
    """field -> (phase, period): the position in the cycle, 0 at its start."""
    out: dict[str, tuple[np.ndarray, np.ndarray | float]] = {}
    for name in fields:
        if name == "hour":
            out[name] = (np.asarray(index.hour + index.minute / 60.0, dtype=np.float64), 24.0)
        elif name == "weekday":
            out[name] = (np.asarray(index.dayofweek, dtype=np.float64), 7.0)
        elif name == "month":
            out[name] = (np.asarray(index.month - 1, dtype=np.float64), 12.0)
        else:  # dayofyear: 365 or 366 days
            days = np.where(index.is_leap_year, 366.0, 365.0)
            out[name] = (np.asarray(index.dayofyear - 1, dtype=np.float64), days)
    return out
