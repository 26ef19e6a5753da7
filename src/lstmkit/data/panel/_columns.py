"""Reading a table's columns for a panel: series ids, numbers, static values and times.

Errors name the column, the series and an offending value, in one line.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd

from lstmkit.data.series.frame import TIME_COLUMN_NAMES, _to_datetime

logger = logging.getLogger("lstmkit.data.panel.load")


def check_table(df) -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
    if len(df) == 0:
        raise ValueError(
            f"the table has no rows (columns: {column_list(df) or 'none'}); expected at least one"
        )


def column_list(df: pd.DataFrame) -> str:
    return ", ".join(map(str, df.columns))


def name_tuple(cols) -> tuple[str, ...]:
    if isinstance(cols, str):
        cols = [c.strip() for c in cols.split(",") if c.strip()]
    return tuple(cols or ())


def check_columns(df, target, past, future, static, columns) -> None:
    kinds = [("target", target)] + [(f"{kind} covariate", c) for kind, cs in
             (("past", past), ("future", future), ("static", static)) for c in cs]  # fmt: skip
    for kind, name in kinds:
        if name not in df.columns:
            raise ValueError(f"{kind} column {name!r} not found; columns: {columns}")
        if (count := int((df.columns == name).sum())) > 1:
            raise ValueError(f"column {name!r} appears {count} times; columns: {columns}")


def check_min_length(min_length) -> None:
    if isinstance(min_length, bool) or not isinstance(min_length, int | np.integer) or \
            min_length < 1:  # fmt: skip
        raise ValueError(f"min_length must be an integer >= 1, got {min_length!r}")


def pick_time_col(df, time_col, used, columns) -> str | None:
    if time_col is not None:
        if time_col not in df.columns:
            raise ValueError(f"time column {time_col!r} not found; columns: {columns}")
        return time_col
    for name in df.columns:
        if name not in used and str(name).lower() in TIME_COLUMN_NAMES:
            logger.info("time column: %r", name)
            return name
    logger.info("no time column among %s: rows are steps in the order given", columns)
    return None


def plain(value):
    """A numpy scalar as a Python one (for messages and JSON)."""
    return value.item() if isinstance(value, np.generic) else value


def factorize_ids(column: pd.Series, id_col: str) -> tuple[np.ndarray, np.ndarray]:
    missing = column.isna().to_numpy()
    if missing.any():
        raise ValueError(
            f"id column {id_col!r}: missing id at row {int(np.argmax(missing))}; every row "
            "needs one"
        )
    if isinstance(column.dtype, pd.CategoricalDtype):  # the categories' order, the used ones
        codes = column.cat.codes.to_numpy().astype(np.int64)
        used = np.bincount(codes, minlength=len(column.cat.categories)) > 0
        remap = np.cumsum(used) - 1
        return remap[codes], np.asarray(column.cat.categories)[used]
    values = column.to_numpy()
    if values.dtype.kind in "iu" and (np.diff(values) >= 0).all():  # sorted ids: no hashing
        change = np.empty(len(values), bool)
        change[0], change[1:] = True, values[1:] != values[:-1]
        return np.cumsum(change) - 1, values[change]
    try:
        codes, uniques = pd.factorize(values, sort=True)
    except TypeError:  # ids of several types (1 and "a"): the order they appear in
        codes, uniques = pd.factorize(values, sort=False)
    return codes.astype(np.int64), np.asarray(uniques)


def is_number_column(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def numeric_column(column: pd.Series, what: str, codes=None, ids=None) -> np.ndarray:
    """float32 values; ValueError naming the series (when ``codes`` / ``ids`` say it) and a
    value that is not a number."""
    if pd.api.types.is_datetime64_any_dtype(column) or pd.api.types.is_timedelta64_dtype(column):
        raise ValueError(f"{what} must be numeric, got {column.dtype} values")
    if pd.api.types.is_numeric_dtype(column):
        return column.to_numpy(dtype=np.float32, na_value=np.nan)
    coerced = pd.to_numeric(column, errors="coerce")
    text = column.astype(object)
    blank = column.isna().to_numpy()
    try:
        blank = blank | text.str.strip().eq("").fillna(False).to_numpy(bool)
    except AttributeError:  # no text at all (numbers as objects)
        pass
    bad = coerced.isna().to_numpy() & ~blank
    if bad.any():
        row = int(np.argmax(bad))
        where = "" if codes is None else f"series {plain(ids[codes[row]])!r}: "
        raise ValueError(
            f"{where}{what} must be numeric, got {text.iloc[row]!r} (row {row}); "
            f"{int(bad.sum())} such values"
        )
    return coerced.to_numpy(dtype=np.float32, na_value=np.nan)


def numeric_matrix(df, cols, codes=None, ids=None) -> np.ndarray:
    out = np.empty((len(df), len(cols)), dtype=np.float32)
    for j, c in enumerate(cols):
        out[:, j] = numeric_column(df[c], f"covariate {c!r}", codes, ids)
    return out


def static_values(df, cols, codes, ids, order) -> np.ndarray:
    """(K, S): each series' value of each static column; it must be the same on every row."""
    k = len(ids)
    out = np.empty((k, len(cols)), dtype=np.float32)
    sorted_codes = codes if order is None else codes[order]
    for j, c in enumerate(cols):
        v = numeric_column(df[c], f"static covariate {c!r}", codes, ids)
        v = v if order is None else v[order]
        valid = ~np.isnan(v)
        rows = np.flatnonzero(valid)  # sorted by series
        first = np.full(k, -1)  # each series' first row with a value
        if rows.size:
            cs = sorted_codes[rows]
            starts = np.flatnonzero(np.r_[True, cs[1:] != cs[:-1]])
            first[cs[starts]] = rows[starts]
        if (first < 0).any():
            i = int(np.argmax(first < 0))
            raise ValueError(
                f"static covariate {c!r} has no value in series {plain(ids[i])!r}; expected "
                "one value per series"
            )
        value = v[first]  # (K,)
        differ = valid & (v != value[sorted_codes])
        if differ.any():
            r = int(np.argmax(differ))
            s = sorted_codes[r]
            raise ValueError(
                f"static covariate {c!r} must be constant within a series, but series "
                f"{plain(ids[s])!r} has {value[s]:g} and {v[r]:g}; use a past or future "
                "covariate for values that change"
            )
        out[:, j] = value
    return out


def first_valid(v: np.ndarray) -> int:
    valid = ~np.isnan(v)
    return int(np.argmax(valid)) if valid.any() else len(v)


# --- time -----------------------------------------------------------------------------------


def time_values(column, name, codes=None, ids=None, kind=None) -> tuple[np.ndarray, str]:
    """(int64 values, kind): nanoseconds (``"datetime"``) or positions (``"position"``).

    Datetimes as they are (time zones: in UTC); whole numbers are years (four digits) or
    YYYYMMDD dates (eight), else positions; text is parsed once per distinct value.
    ``kind`` forces one reading (a future table read like its panel).
    """
    label = f"time column {name!r}"
    missing = column.isna().to_numpy()
    if missing.any():
        row = int(np.argmax(missing))
        where = "" if codes is None else f" (series {plain(ids[codes[row]])!r})"
        raise ValueError(f"{label}: missing time at row {row}{where}; every row needs one")
    if pd.api.types.is_datetime64_any_dtype(column):
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            logger.info("%s: time zone %s, read in UTC", label, column.dtype.tz)
            column = column.dt.tz_convert("UTC").dt.tz_localize(None)
        if kind == "position":
            raise ValueError(f"{label}: expected positions (as in the panel), got dates")
        return column.to_numpy("datetime64[ns]").view(np.int64), "datetime"
    if is_number_column(column):
        v = column.to_numpy(np.float64)
        whole = (v == np.round(v)).all()
        lo, hi = (v.min(), v.max()) if len(v) else (0, 0)
        is_year = 1000 <= lo and hi <= 2999
        is_ymd = 10000101 <= lo and hi <= 29991231
        if whole and (kind == "position" or (kind is None and not (is_year or is_ymd))):
            return v.astype(np.int64), "position"
        if not whole:
            row = int(np.argmax(v != np.round(v)))
            raise ValueError(
                f"{label}: cannot read {column.iloc[row]!r} (row {row}) as a date or a "
                "position; expected dates, whole years or integer steps"
            )
        column = pd.Series(v.astype(np.int64)).astype(str)
    elif kind == "position":
        raise ValueError(f"{label}: expected integer positions (as in the panel), got text")
    codes_t, uniques = pd.factorize(column.astype(object))
    raw = pd.Series(np.asarray(uniques, dtype=object))
    parsed = _to_datetime(raw, label, mixed=False)
    if parsed.isna().any():  # some in another format than the first: one by one
        parsed = _to_datetime(raw, label, mixed=True)
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(np.argmax(bad[codes_t]))
        raise ValueError(
            f"{label}: cannot read {column.iloc[row]!r} (row {row}) as a date; expected "
            "dates such as 2020-01-31, whole years or integer steps"
        )
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = parsed.to_numpy("datetime64[ns]").view(np.int64)
    return values[codes_t], "datetime"
