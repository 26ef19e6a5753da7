"""Missing values: interpolate, carry forward, or drop the rows.

:func:`fill_missing` only looks at the rows it is given; the pipeline calls it once per split so
that no value is carried or interpolated across a split edge.
"""

from __future__ import annotations

import logging

import pandas as pd

__all__ = ["FILL_METHODS", "fill_missing"]

logger = logging.getLogger(__name__)

FILL_METHODS = ("interpolate", "ffill", "drop")


def fill_missing(
    df: pd.DataFrame, method: str = "interpolate"
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Fill (or drop) the NaN values of ``df``.

    Args:
        df: numeric columns; a ``DatetimeIndex`` makes interpolation time-weighted.
        method: ``"interpolate"``: linear in time (in row position without a ``DatetimeIndex``),
            values before the first / after the last present one take the nearest present value;
            ``"ffill"``: the last present value, and at the start the first present one;
            ``"drop"``: drop every row with any NaN.

    Returns:
        ``(frame, counts)``: a new frame and, per column, how many NaN values were filled (for
        ``"drop"``: how many NaN values the dropped rows held).

    Raises:
        ValueError: an unknown method, or a column with no value at all in these rows (nothing
            to fill from; ``"drop"`` would leave no row).
        TypeError: ``df`` is not a DataFrame.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
    if method not in FILL_METHODS:
        raise ValueError(
            f"unknown fill method {method!r}: expected one of {', '.join(FILL_METHODS)}"
        )
    nan_counts = df.isna().sum()
    counts = {str(c): int(nan_counts[c]) for c in df.columns}
    if not any(counts.values()):
        return df.copy(), counts
    empty = [str(c) for c in df.columns if nan_counts[c] == len(df)]
    if empty:
        raise ValueError(
            f"column {empty[0]!r} has no value in these {len(df)} rows; nothing to fill from "
            "(use a longer split or drop the column)"
        )
    if method == "drop":
        filled = df.dropna(how="any")
    elif method == "ffill":
        filled = df.ffill().bfill()
    else:
        how = "time" if isinstance(df.index, pd.DatetimeIndex) else "linear"
        filled = df.interpolate(method=how).ffill().bfill()  # edges: the nearest present value
    logger.debug("fill_missing(%s): %s", method, counts)
    return filled, counts
