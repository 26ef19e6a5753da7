"""Outlier rules fitted on the training rows: a causal Hampel filter, IQR fences, z-scores.

``hampel`` compares each value with the median of the ``window`` values before it (never the
value itself or later ones) and replaces it by that median when it lies more than ``threshold``
robust sigmas away; ``iqr`` and ``zscore`` clip values to bounds fitted on the training rows. NaN
values stay NaN and are never counted.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["MAD_TO_SIGMA", "OUTLIER_METHODS", "OutlierRule"]

logger = logging.getLogger(__name__)

OUTLIER_METHODS = ("hampel", "iqr", "zscore", "none")
MAD_TO_SIGMA = 1.4826  # MAD * 1.4826 estimates sigma for normal data
_MIN_HISTORY = 3  # hampel leaves a value alone until this many earlier values are present


@dataclass
class OutlierRule:
    """How outliers are found and replaced; ``fit`` on the training rows, ``apply`` to any rows.

    Example::

        rule = OutlierRule("hampel", window=7).fit(train)  # train: (T, C)
        cleaned, counts = rule.apply(values)  # (T', C), (C,)
    """

    method: str = "hampel"
    window: int = 7  # hampel: the previous `window` values (not the current one)
    threshold: float = 3.0  # hampel: robust sigmas (MAD * 1.4826); zscore: sigmas
    iqr_k: float = 1.5  # iqr: fences at Q1 - k*IQR and Q3 + k*IQR
    # fitted, per column (None until fit): iqr / zscore bounds; hampel: the floor under the
    # window's robust sigma. A column with no spread in the training rows is never flagged
    # (bounds -inf / inf, floor inf)
    lower: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)
    upper: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)
    floor: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.method not in OUTLIER_METHODS:
            raise ValueError(
                f"unknown outlier method {self.method!r}: expected one of "
                f"{', '.join(OUTLIER_METHODS)}"
            )
        if isinstance(self.window, bool) or not isinstance(self.window, int) or self.window < 1:
            raise ValueError(f"window must be an integer >= 1, got {self.window!r}")
        if not self.threshold > 0:
            raise ValueError(f"threshold must be > 0, got {self.threshold!r}")
        if not self.iqr_k > 0:
            raise ValueError(f"iqr_k must be > 0, got {self.iqr_k!r}")

    @property
    def fitted(self) -> bool:
        return self.method == "none" or self.floor is not None or self.lower is not None

    def fit(self, train: np.ndarray) -> OutlierRule:
        """Fit on the training rows ``(T, C)`` only (NaN ignored); returns ``self``."""
        x = _as_2d(train, "train")
        if x.shape[0] == 0:
            raise ValueError("fit needs at least one training row, got 0")
        present = (~np.isnan(x)).any(axis=0)  # (C,)
        if not present.all():
            column = int(np.argmin(present))
            raise ValueError(f"column {column} has no value in the {x.shape[0]} training rows")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN differences
            if self.method == "iqr":
                q1, q3 = np.nanpercentile(x, [25, 75], axis=0)  # (C,) each
                spread = q3 - q1
                low, high = q1 - self.iqr_k * spread, q3 + self.iqr_k * spread
            elif self.method == "zscore":
                mean, spread = np.nanmean(x, axis=0), np.nanstd(x, axis=0)
                low, high = mean - self.threshold * spread, mean + self.threshold * spread
            elif self.method == "hampel":
                self.floor = _hampel_floor(x)
                return self
            else:
                return self
        flat = ~(spread > 0)  # a constant training column: nothing to compare with
        self.lower = np.where(flat, -np.inf, low)
        self.upper = np.where(flat, np.inf, high)
        return self

    def apply(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(cleaned (T, C), count per column (C,))``; ``x`` is not changed."""
        x = _as_2d(x, "x")
        if not self.fitted:
            raise ValueError(f"OutlierRule({self.method!r}) is not fitted: call fit(train) first")
        if self.method == "none":
            return x.copy(), np.zeros(x.shape[1], dtype=np.int64)
        fitted = self.floor if self.method == "hampel" else self.lower
        if x.shape[1] != fitted.shape[0]:
            raise ValueError(
                f"OutlierRule was fitted on {fitted.shape[0]} columns, got {x.shape[1]}"
            )
        if self.method == "hampel":
            cleaned, flagged = self._hampel(x)
        else:
            flagged = (x < self.lower) | (x > self.upper)  # NaN compares False
            cleaned = np.clip(x, self.lower, self.upper)
        counts = flagged.sum(axis=0).astype(np.int64)
        if counts.any():
            logger.debug("%s replaced %s values per column", self.method, counts.tolist())
        return cleaned, counts

    def _hampel(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        T, C = x.shape
        padded = np.concatenate([np.full((self.window, C), np.nan), x], axis=0)
        past = np.lib.stride_tricks.sliding_window_view(padded, self.window, axis=0)[:T]
        # past[t] = x[t - window : t]: (T, C, window), NaN before the first row
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows
            median = np.nanmedian(past, axis=-1)  # (T, C)
            mad = np.nanmedian(np.abs(past - median[..., None]), axis=-1)  # (T, C)
        sigma = np.maximum(MAD_TO_SIGMA * mad, self.floor)  # (T, C)
        history = (~np.isnan(past)).sum(axis=-1) >= min(_MIN_HISTORY, self.window)
        with np.errstate(invalid="ignore"):
            flagged = history & (np.abs(x - median) > self.threshold * sigma)
        return np.where(flagged, median, x), flagged

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings and fitted values (infinite bounds written as None)."""
        return {
            "method": self.method,
            "window": self.window,
            "threshold": self.threshold,
            "iqr_k": self.iqr_k,
            "lower": _encode(self.lower),
            "upper": _encode(self.upper),
            "floor": _encode(self.floor),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OutlierRule:
        known = {"method", "window", "threshold", "iqr_k", "lower", "upper", "floor"}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown OutlierRule fields {unknown}; expected {sorted(known)}")
        rule = cls(**{k: d[k] for k in ("method", "window", "threshold", "iqr_k") if k in d})
        rule.lower = _decode(d.get("lower"), -np.inf)
        rule.upper = _decode(d.get("upper"), np.inf)
        rule.floor = _decode(d.get("floor"), np.inf)
        return rule


def _as_2d(a: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(a, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (T, C), got shape {x.shape}")
    return x


def _hampel_floor(x: np.ndarray) -> np.ndarray:
    """Per column: the robust sigma of one step's noise, MAD(diff) * 1.4826 / sqrt(2).

    It keeps a flat window (MAD 0) from flagging every small change; 10% of the column's standard
    deviation when the steps have no spread; inf for a constant column (never flagged).
    """
    steps = np.diff(x, axis=0)  # (T-1, C)
    mad = np.nanmedian(np.abs(steps - np.nanmedian(steps, axis=0)), axis=0) if len(steps) else 0
    floor = np.nan_to_num(MAD_TO_SIGMA * mad / np.sqrt(2.0) * np.ones(x.shape[1]))
    fallback = np.nan_to_num(0.1 * np.nanstd(x, axis=0))
    floor = np.where(floor > 0, floor, fallback)
    return np.where(floor > 0, floor, np.inf)


def _encode(a: np.ndarray | None) -> list[float | None] | None:
    return None if a is None else [float(v) if np.isfinite(v) else None for v in a]


def _decode(values: list[float | None] | None, missing: float) -> np.ndarray | None:
    if values is None:
        return None
    return np.array([missing if v is None else v for v in values], dtype=np.float64)
