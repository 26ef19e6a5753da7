"""Chronological splits and the (lookback, horizon) windows cut from them.

A window's inputs are ``lookback`` consecutive rows of ``values``; its targets are the next
``horizon`` values of ``target``; its origin is the index of its first target row.
"""

from __future__ import annotations

import numpy as np

__all__ = ["make_windows", "split_sizes"]


def _positive_int(value: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def split_sizes(
    n: int,
    lookback: int,
    horizon: int,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
) -> tuple[int, int, int]:
    """Rows in the chronological train / validation / test splits (in that order).

    A split of fraction 0 is empty; every other split, and always the training split, holds at
    least ``lookback + horizon`` rows (one window). The validation and test splits hold
    ``round(n * fraction)`` rows, raised to that minimum; training gets the rest.

    Raises:
        ValueError: the series is too short ("series has 30 rows; lookback 24 + horizon 12 needs
            at least 108 (36 per split)"), the fractions leave training too few rows, or an
            argument is out of range.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"n must be an integer >= 0, got {n!r}")
    _positive_int(lookback, "lookback")
    _positive_int(horizon, "horizon")
    for name, f in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0 <= f < 1:
            raise ValueError(f"{name} must be in [0, 1), got {f!r}")
    if val_fraction + test_fraction >= 1:
        raise ValueError(
            f"val_fraction + test_fraction must be < 1 (training needs rows), got "
            f"{val_fraction} + {test_fraction}"
        )
    need = lookback + horizon
    val = max(round(n * val_fraction), need) if val_fraction > 0 else 0
    test = max(round(n * test_fraction), need) if test_fraction > 0 else 0
    splits = 1 + (val_fraction > 0) + (test_fraction > 0)
    if n < splits * need:
        raise ValueError(
            f"series has {n} rows; lookback {lookback} + horizon {horizon} needs at least "
            f"{splits * need} ({need} per split)"
        )
    train = n - val - test
    if train < need:
        raise ValueError(
            f"series has {n} rows; val_fraction {val_fraction} and test_fraction "
            f"{test_fraction} leave training {train} rows, fewer than lookback {lookback} + "
            f"horizon {horizon} = {need}; lower the fractions"
        )
    return int(train), int(val), int(test)


def make_windows(
    values: np.ndarray,
    target: np.ndarray,
    start: int,
    stop: int,
    lookback: int,
    horizon: int,
    stride: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every ``stride``-th window lying wholly in rows ``[start, stop)``.

    Args:
        values: ``(T, C)`` model inputs.
        target: ``(T,)`` the series to forecast (often ``values[:, 0]`` before scaling).

    Returns:
        ``(inputs (N, lookback, C), targets (N, horizon), origins (N,))``, copies in the dtypes
        of ``values`` and ``target``; the first origin is ``start + lookback``. ``N`` is 0 when
        the rows hold no whole window.
    """
    values = np.asarray(values)
    target = np.asarray(target)
    if values.ndim != 2:
        raise ValueError(f"values must be a 2-D array (T, C), got shape {values.shape}")
    if target.ndim != 1 or target.shape[0] != values.shape[0]:
        raise ValueError(
            f"target must be a 1-D array of {values.shape[0]} values (T,), got shape {target.shape}"
        )
    _positive_int(lookback, "lookback")
    _positive_int(horizon, "horizon")
    _positive_int(stride, "stride")
    T = values.shape[0]
    if not 0 <= start <= stop <= T:
        raise ValueError(f"expected 0 <= start <= stop <= {T}, got start {start}, stop {stop}")
    span = lookback + horizon
    count = (stop - start - span) // stride + 1 if stop - start >= span else 0
    origins = start + lookback + stride * np.arange(count, dtype=np.int64)  # (N,)
    if count == 0:
        return (
            np.empty((0, lookback, values.shape[1]), dtype=values.dtype),
            np.empty((0, horizon), dtype=target.dtype),
            origins,
        )
    x_view = np.lib.stride_tricks.sliding_window_view(values[start:stop], lookback, axis=0)
    y_view = np.lib.stride_tricks.sliding_window_view(target[start:stop], horizon)
    first = origins - start  # (N,) offsets of the origins inside [start, stop)
    inputs = x_view[first - lookback].transpose(0, 2, 1).copy()  # (N, lookback, C)
    targets = y_view[first].copy()  # (N, horizon)
    return inputs, targets, origins
