"""Per-column scaling fitted on the training rows: standard, min-max, robust, or none.

``transform`` computes ``(a - center) / scale`` over the last axis; ``inverse`` undoes one
column's scaling, for example to bring forecasts of the target (column 0) back to its units.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["SCALERS", "Scaler"]

logger = logging.getLogger(__name__)

SCALERS = ("standard", "minmax", "robust", "none")


@dataclass
class Scaler:
    """``standard``: mean / std; ``minmax``: to [0, 1]; ``robust``: median / IQR; ``none``.

    A column that is constant in the training rows is only centred (its scale is 1).

    Example::

        scaler = Scaler("standard").fit(values[:n_train])  # (T, C)
        x = scaler.transform(values)  # (T, C)
        y = scaler.inverse(pred, column=0)  # (N, H) back in the target's units
    """

    method: str = "standard"
    # fitted, per column (None until fit): a -> (a - center) / scale
    center: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)
    scale: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.method not in SCALERS:
            raise ValueError(
                f"unknown scaler {self.method!r}: expected one of {', '.join(SCALERS)}"
            )

    def fit(self, a: np.ndarray) -> Scaler:
        """Fit on the training rows ``(T, C)`` only (NaN ignored); returns ``self``."""
        x = np.asarray(a, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] == 0:
            raise ValueError(f"fit expects a 2-D array (T, C) with T >= 1, got shape {x.shape}")
        present = (~np.isnan(x)).any(axis=0)  # (C,)
        if not present.all():
            column = int(np.argmin(present))
            raise ValueError(f"column {column} has no value in the {x.shape[0]} training rows")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            if self.method == "standard":
                center, scale = np.nanmean(x, axis=0), np.nanstd(x, axis=0)
            elif self.method == "minmax":
                center = np.nanmin(x, axis=0)
                scale = np.nanmax(x, axis=0) - center
            elif self.method == "robust":
                q1, center, q3 = np.nanpercentile(x, [25, 50, 75], axis=0)
                scale = q3 - q1
            else:
                center, scale = np.zeros(x.shape[1]), np.ones(x.shape[1])
        flat = ~(scale > 0)
        if flat.any():
            logger.debug(
                "scaler %s: columns %s are constant; scale 1", self.method, np.flatnonzero(flat)
            )
        self.center = center
        self.scale = np.where(flat, 1.0, scale)
        return self

    def _check(self, a: np.ndarray) -> np.ndarray:
        if self.center is None or self.scale is None:
            raise ValueError(f"Scaler({self.method!r}) is not fitted: call fit(train) first")
        return np.asarray(a, dtype=np.float64)

    def transform(self, a: np.ndarray) -> np.ndarray:
        """Scale ``a`` (..., C) column by column."""
        x = self._check(a)
        if x.ndim == 0 or x.shape[-1] != self.center.shape[0]:
            raise ValueError(
                f"Scaler was fitted on {self.center.shape[0]} columns, got shape {x.shape}"
            )
        return (x - self.center) / self.scale

    def inverse(self, a: np.ndarray, column: int = 0) -> np.ndarray:
        """Undo column ``column``'s scaling on ``a`` (any shape)."""
        x = self._check(a)
        n = self.center.shape[0]
        if (
            isinstance(column, bool)
            or not isinstance(column, int | np.integer)
            or not 0 <= column < n
        ):
            raise ValueError(f"column must be an integer in [0, {n}), got {column!r}")
        return x * self.scale[column] + self.center[column]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready method and fitted values."""
        return {
            "method": self.method,
            "center": None if self.center is None else self.center.tolist(),
            "scale": None if self.scale is None else self.scale.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Scaler:
        unknown = sorted(set(d) - {"method", "center", "scale"})
        if unknown:
            raise ValueError(f"unknown Scaler fields {unknown}; expected method, center, scale")
        scaler = cls(d.get("method", "standard"))
        if d.get("center") is not None and d.get("scale") is not None:
            scaler.center = np.asarray(d["center"], dtype=np.float64)
            scaler.scale = np.asarray(d["scale"], dtype=np.float64)
            if scaler.center.shape != scaler.scale.shape or scaler.center.ndim != 1:
                raise ValueError(
                    f"center and scale must be lists of the same length, got "
                    f"{len(d['center'])} and {len(d['scale'])}"
                )
        return scaler
