"""A raw table -> :class:`SeriesFrame`: numeric columns on a regular time grid, gaps as NaN.

:func:`prepare_frame` picks the time column, parses and sorts it, infers the frequency (also
when rows are missing), reindexes to the full regular range and checks that the target and the
covariates are numeric. Missing values stay NaN: filling is :mod:`lstmkit.data.series.fill`'s job.
Row numbers in error messages count table rows from 0, in the order they were given.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lstmkit.data.series._freq import LEGACY_AMBIGUOUS, normalise_alias, parse_offset
from lstmkit.data.series.tables import BUILTIN_SERIES, load_table

__all__ = [
    "BUILTIN_SERIES",
    "MAX_DECIMALS",
    "TIME_COLUMN_NAMES",
    "SeriesFrame",
    "forecast_decimals",
    "load_table",
    "prepare_frame",
    "value_decimals",
]

logger = logging.getLogger(__name__)

# lower-cased column names taken for the time column when none is named
TIME_COLUMN_NAMES = (
    "date",
    "datetime",
    "time",
    "timestamp",
    "ds",
    "month",
    "week",
    "day",
    "period",
    "year",
)
MAX_GROWTH = 10  # reindexing may make at most this many times the rows read (else: wrong freq)
MAX_DECIMALS = 6  # forecasts are never written with more decimals than this
_MONTH_DAYS = 30.436875  # mean Gregorian month
_WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


@dataclass
class SeriesFrame:
    """One series on a regular grid, ready for filling, features and windows."""

    data: pd.DataFrame  # (T, 1 + covariates) float64, target first; index: DatetimeIndex with
    # freq set, or RangeIndex without a time column; NaN where values are missing
    target: str
    time_col: str | None  # the time column of the source (None: none; or an unnamed DatetimeIndex)
    freq: str | None  # pandas offset alias of the index ("MS", "h", "W-SUN", ...); None: no time
    observed: np.ndarray  # bool (T,): the target was present in the source at that row
    report: dict  # {"rows": T, "rows_read": n, "gaps_reindexed": k, "missing": {column: n}}
    # (missing: NaN per column after reindexing, the added rows included)


def prepare_frame(
    df: pd.DataFrame,
    target: str,
    *,
    time_col: str | None = None,
    features: list[str] | None = None,
    freq: str | None = None,
) -> SeriesFrame:
    """A table as a regular series: target first, then ``features``, all float64.

    Args:
        df: the raw table (for example from :func:`load_table`).
        target: the column to forecast.
        time_col: the time column; ``None`` picks the first column (other than the target and
            the features) named one of :data:`TIME_COLUMN_NAMES`, case-insensitively, else the
            frame's ``DatetimeIndex``, else no time (a ``RangeIndex`` and ``freq=None``).
        features: covariate columns; ``None``: none.
        freq: a pandas offset alias (older spellings such as ``"H"``, ``"30T"``, ``"M"`` work);
            ``None`` infers it, also across missing rows.

    Raises:
        ValueError: a missing column, a non-numeric or all-NaN value column, a time value that
            is not a date, a duplicate timestamp, an unknown or ill-fitting ``freq``.
        TypeError: ``df`` is not a DataFrame.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
    if len(df) == 0:
        raise ValueError("the table has no rows; expected at least one row of values")
    features = list(features or [])
    columns = ", ".join(map(str, df.columns))
    for kind, name in [("target", target)] + [("feature", f) for f in features]:
        if name not in df.columns:
            raise ValueError(f"{kind} column {name!r} not found; columns: {columns}")
    if target in features or len(set(features)) != len(features):
        raise ValueError(f"features must be distinct and exclude the target, got {features}")
    for name in [target, *features]:
        if (count := int((df.columns == name).sum())) > 1:
            raise ValueError(f"column {name!r} appears {count} times; columns: {columns}")

    times, time_col = _time_values(df, target, time_col, features, columns)
    values = {name: _numeric(df[name], name) for name in [target, *features]}
    n = len(df)
    if times is None:
        if freq is not None:
            raise ValueError(
                f"freq {freq!r} given but the table has no time column (columns: {columns}); "
                "name it with time_col"
            )
        data = pd.DataFrame(values, index=pd.RangeIndex(n))
        freq_str, gaps = None, 0
    else:
        index = _parse_times(times, time_col)
        _check_duplicates(index, time_col)
        order = np.argsort(index.asi8, kind="stable")
        index = index[order]
        data = pd.DataFrame({k: v[order] for k, v in values.items()}, index=index)
        full = _regular_index(index, time_col, freq)
        if len(full) > MAX_GROWTH * n:
            raise ValueError(
                f"frequency {full.freqstr!r} would turn {n} rows into {len(full)} "
                f"({len(full) - n} added for gaps); check freq"
            )
        data = data.reindex(full)
        freq_str, gaps = full.freqstr, len(full) - n
    data.index.name = time_col
    observed = data[target].notna().to_numpy()
    missing = {str(c): int(data[c].isna().sum()) for c in data.columns}
    report = {"rows": len(data), "rows_read": n, "gaps_reindexed": gaps, "missing": missing}
    logger.info(
        "series %r: %d rows (%d read, %d added for gaps), freq %s, missing %s",
        target,
        len(data),
        n,
        gaps,
        freq_str,
        missing,
    )
    return SeriesFrame(data, target, time_col, freq_str, observed, report)


# --- precision ------------------------------------------------------------------------------


def value_decimals(values, most: int = MAX_DECIMALS) -> int:
    """The decimals a column's values are written with: the fewest digits after the point that
    hold every finite value exactly (airline's passenger counts: 0; 316.1 and 2.25: 2), at most
    ``most``. Text that is not a number and missing values are ignored; no value at all: ``most``.
    """
    v = pd.to_numeric(pd.Series(np.asarray(values).ravel()), errors="coerce").to_numpy(np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return most
    for d in range(most + 1):
        scaled = v * 10.0**d
        # 316.1 * 10 is 3161.0000000000005 in binary floating point: a relative tolerance
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-10 * np.maximum(1.0, np.abs(scaled))):
            return d
    return most


def forecast_decimals(values, extra: int = 2, most: int = MAX_DECIMALS) -> int:
    """The decimals forecasts of a column are written with: the data's own (``value_decimals``)
    plus ``extra``, at most ``most`` (monthly passenger counts -> 2; no float noise)."""
    return min(value_decimals(values, most) + extra, most)


# --- columns --------------------------------------------------------------------------------


def _time_values(
    df: pd.DataFrame, target: str, time_col: str | None, features: list[str], columns: str
) -> tuple[pd.Series | pd.Index | None, str | None]:
    if time_col is not None:
        in_index = isinstance(df.index, pd.DatetimeIndex) and df.index.name == time_col
        if time_col not in df.columns and in_index:  # a named DatetimeIndex
            return df.index, time_col
        if time_col not in df.columns:
            raise ValueError(f"time column {time_col!r} not found; columns: {columns}")
        if time_col == target or time_col in features:
            raise ValueError(f"time column {time_col!r} is also the target or a feature")
        return df[time_col], time_col
    for name in df.columns:
        if name != target and name not in features and str(name).lower() in TIME_COLUMN_NAMES:
            logger.info("time column: %r", name)
            return df[name], name
    if isinstance(df.index, pd.DatetimeIndex):
        return df.index, None if df.index.name is None else str(df.index.name)
    logger.info("no time column among %s: rows are taken as evenly spaced", columns)
    return None, None


def _numeric(column: pd.Series, name: str) -> np.ndarray:
    """float64 values; raises on text that is not a number or a column with no values."""
    if pd.api.types.is_datetime64_any_dtype(column) or pd.api.types.is_timedelta64_dtype(column):
        raise ValueError(f"column {name!r} must be numeric, got {column.dtype} values")
    if pd.api.types.is_numeric_dtype(column):
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        coerced = pd.to_numeric(column, errors="coerce")
        text = column.astype(object)
        blank = column.isna().to_numpy() | np.array(
            [isinstance(v, str) and not v.strip() for v in text], dtype=bool
        )
        bad = coerced.isna().to_numpy() & ~blank
        if bad.any():
            row = int(np.argmax(bad))
            raise ValueError(
                f"column {name!r} must be numeric; got {text.iloc[row]!r} at row {row}"
            )
        values = coerced.to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isnan(values).all():
        raise ValueError(f"column {name!r} has no values (all {len(values)} are missing)")
    return values


# --- time -----------------------------------------------------------------------------------


def _parse_times(times: pd.Series | pd.Index, name: str | None) -> pd.DatetimeIndex:
    label = "the index" if name is None else f"time column {name!r}"
    missing = np.asarray(pd.isna(times), dtype=bool)
    if missing.any():
        row = int(np.argmax(missing))
        raise ValueError(f"{label}: missing timestamp at row {row}; every row needs one")
    if _is_datetime(times):
        return pd.DatetimeIndex(times)
    raw = pd.Series(np.asarray(times, dtype=object))
    if pd.api.types.is_numeric_dtype(times) and not pd.api.types.is_bool_dtype(times):
        raw = _years_as_text(raw, label)  # 1990 -> "1990", 20200131 -> "20200131"
    parsed = _to_datetime(raw, label, mixed=False)
    if parsed.isna().any():  # some values in another format than the first: parse one by one
        parsed = _to_datetime(raw, label, mixed=True)
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise ValueError(f"{label}: cannot read {raw.iloc[row]!r} (row {row}) as a date")
    return pd.DatetimeIndex(parsed)


def _is_datetime(times: pd.Series | pd.Index) -> bool:
    return pd.api.types.is_datetime64_any_dtype(times)


def _years_as_text(raw: pd.Series, label: str) -> pd.Series:
    values = raw.to_numpy(dtype=np.float64)
    fractional = values != np.round(values)
    if fractional.any():
        row = int(np.argmax(fractional))
        raise ValueError(
            f"{label}: cannot read {raw.iloc[row]!r} (row {row}) as a date; expected dates or "
            "whole years"
        )
    return pd.Series([str(int(v)) for v in values])


def _to_datetime(raw: pd.Series, label: str, *, mixed: bool) -> pd.Series:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "could not infer format"
            return pd.to_datetime(raw, errors="coerce", format="mixed" if mixed else None)
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. mixed time zones
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{label}: cannot read the dates ({first})") from None


def _check_duplicates(index: pd.DatetimeIndex, name: str | None) -> None:
    duplicated = index.duplicated(keep="first")
    if duplicated.any():
        row = int(np.argmax(duplicated))
        first = int(np.argmax(index == index[row]))
        label = "the index" if name is None else f"time column {name!r}"
        raise ValueError(
            f"{label}: duplicate timestamp {index[row]} (rows {first} and {row}); "
            "aggregate or drop the duplicates first"
        )


# --- frequency ------------------------------------------------------------------------------


def _regular_index(index: pd.DatetimeIndex, name: str | None, freq: str | None) -> pd.DatetimeIndex:
    """The full regular range from the first to the last timestamp; every timestamp on it."""
    label = "the index" if name is None else f"time column {name!r}"
    if freq is None:
        alias = _infer_frequency(index, label)
    else:
        alias = parse_offset(freq).freqstr
        _, unit = normalise_alias(freq)
        if unit in LEGACY_AMBIGUOUS and not _fits(index, alias) and len(index) > 1:
            guess = _infer_frequency(index, label)  # "M": month ends or month starts
            if _months(parse_offset(guess)) == _months(parse_offset(alias)):
                logger.info("freq %r read as %r: the timestamps fall on %s", freq, guess, guess)
                alias = guess
    full = pd.date_range(index[0], index[-1], freq=alias, name=name)
    off_grid = ~index.isin(full)
    if off_grid.any():
        row = int(np.argmax(off_grid))
        hint = "the steps between timestamps are irregular"
        if freq is not None:
            try:
                hint = f"the timestamps look like {_infer_frequency(index, label)!r}"
            except ValueError:
                pass
        raise ValueError(
            f"{label}: {index[row]} is not on the {alias!r} grid starting at {index[0]}; {hint}"
        )
    return full


def _fits(index: pd.DatetimeIndex, alias: str) -> bool:
    return bool(index.isin(pd.date_range(index[0], index[-1], freq=alias)).all())


def _months(offset: pd.DateOffset) -> int:
    step = pd.date_range("2001-01-01", periods=2, freq=offset)
    return round((step[1] - step[0]) / pd.Timedelta(days=_MONTH_DAYS))


def _infer_frequency(index: pd.DatetimeIndex, label: str = "the index") -> str:
    """The offset alias of sorted, unique timestamps, which may have gaps.

    ``pd.infer_freq`` when there are none; otherwise the most common step between timestamps,
    read as months, quarters or years when it is about a whole number of months (with the anchor
    that puts every timestamp on the grid), as ``"W-<day>"`` for 7 days, ``"B"`` for one day
    with only weekdays and weekends skipped, else as a fixed step (``"D"``, ``"h"``, ``"15min"``).
    """
    if len(index) < 2:
        raise ValueError(f"{label}: one timestamp gives no frequency; pass freq")
    if len(index) >= 3:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            inferred = pd.infer_freq(index)
        if inferred is not None:
            return inferred
    steps = pd.Series(index[1:] - index[:-1])
    counts = steps.value_counts()
    step = min(counts.index[counts == counts.max()])  # the most common; the smallest of ties
    days = step / pd.Timedelta(days=1)
    months = round(days / _MONTH_DAYS)
    if days >= 28 and abs(days - months * _MONTH_DAYS) <= 3 * max(1, months // 12):
        return _calendar_alias(index, months, label)
    if step == pd.Timedelta(days=7):
        return f"W-{_WEEKDAYS[index[0].dayofweek]}"
    if step == pd.Timedelta(days=1) and index.dayofweek.max() < 5:
        if (steps == pd.Timedelta(days=3)).any() and (index.dayofweek == 0).any():
            return "B"  # weekdays only, weekends skipped
    if step % pd.Timedelta(days=1) == pd.Timedelta(0):
        return f"{int(days)}D" if days > 1 else "D"
    return pd.tseries.frequencies.to_offset(step).freqstr


def _calendar_alias(index: pd.DatetimeIndex, months: int, label: str) -> str:
    anchor = _MONTHS[index[0].month - 1]
    if months % 12 == 0:
        n, bases = months // 12, (f"YS-{anchor}", f"YE-{anchor}")
    elif months % 3 == 0:
        n, bases = months // 3, (f"QS-{anchor}", f"QE-{anchor}")
    else:
        n, bases = months, ("MS", "ME")
    for base in bases:
        alias = f"{n}{base}" if n > 1 else base
        if _fits(index, alias):
            full = pd.date_range(index[0], index[-1], freq=alias)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                canonical = pd.infer_freq(full) if len(full) >= 3 else None
            return canonical or full.freqstr
    raise ValueError(
        f"{label}: timestamps about {months} month(s) apart but not all on month starts or "
        f"month ends (first: {index[0]}); align them to month starts"
    )
