"""``SeriesPipeline``: a prepared ``SeriesFrame`` to scaled model inputs, fitted on training rows.

Order of work (fit): chronological split sizes -> missing values filled within each split (no
value crosses a split edge) -> outlier rule fitted on the training rows, applied to all (Hampel
is causal, IQR / z-score are pointwise) -> derived features (lags, rolling statistics, calendar)
-> the rows the lags and windows need to warm up dropped -> scaler fitted on the training rows.
No statistic of validation or test rows reaches the outlier rule, the scaler or the bins.
``transform`` runs the same steps on new data with everything fitted kept fixed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from itertools import pairwise

import numpy as np
import pandas as pd

from lstmkit.data.series.features import add_features, warmup_rows
from lstmkit.data.series.fill import fill_missing
from lstmkit.data.series.frame import SeriesFrame
from lstmkit.data.series.outliers import OutlierRule
from lstmkit.data.series.scalers import Scaler

__all__ = ["PipelineConfig", "Prepared", "SeriesPipeline"]


@dataclass(frozen=True)
class PipelineConfig:
    lookback: int
    horizon: int
    fill: str = "interpolate"  # interpolate, ffill, drop
    outliers: str = "hampel"  # hampel, iqr, zscore, none
    outlier_window: int = 7  # hampel's trailing window (the Forecaster uses one season, >= 7)
    lags: tuple[int, ...] = ()  # target lags as extra input columns
    windows: tuple[int, ...] = ()  # rolling mean / std windows of the target
    calendar: bool = True  # sin/cos calendar features when there is a time column
    scaler: str = "standard"  # standard, minmax, robust, none
    transform: str = "none"  # "log": the model works on log(target) (multiplicative seasons);
    # "auto": log when the training target is positive and spans a factor of 2 or more
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    season: int = 1  # for transform="auto"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["lags"], d["windows"] = list(self.lags), list(self.windows)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> PipelineConfig:
        return cls(**{**d, "lags": tuple(d["lags"]), "windows": tuple(d["windows"])})


@dataclass
class Prepared:
    """Rows ready for windows: ``values`` (T, C) scaled inputs (target in column 0), ``y`` (T,)
    the target in original units (filled, not outlier-cleaned: the truth metrics compare with),
    ``observed`` (T,) the target was in the data, ``index`` the rows' timestamps / positions,
    ``bounds`` the split edges ``(0, train_end, val_end, T)``."""

    values: np.ndarray
    y: np.ndarray
    observed: np.ndarray
    index: pd.Index
    bounds: tuple[int, int, int, int]
    report: dict = field(default_factory=dict)

    def split(self, name: str) -> tuple[int, int]:
        k = ("train", "val", "test").index(name)
        return self.bounds[k], self.bounds[k + 1]


class SeriesPipeline:
    """Fit with ``fit_transform(frame)``; ``transform(frame)`` afterwards; ``state`` is JSON."""

    def __init__(self, config: PipelineConfig, state: dict | None = None) -> None:
        self.config = config
        self.state = state

    @property
    def scaler(self) -> Scaler:
        """The fitted scaler (column 0 is the target)."""
        if self.state is None:
            raise ValueError("the pipeline is not fitted; call fit_transform first")
        return Scaler.from_dict(self.state["scaler"])

    def fit_transform(self, frame: SeriesFrame) -> Prepared:
        from lstmkit.data.series.windows import split_sizes

        c = self.config
        data = frame.data
        warm = warmup_rows(c.lags, c.windows)
        try:
            n_train, n_val, n_test = split_sizes(
                max(len(data) - warm, 0), c.lookback, c.horizon, c.val_fraction, c.test_fraction
            )
        except ValueError as e:
            if not warm:
                raise
            raise ValueError(
                f"lags {list(c.lags)} and windows {list(c.windows)} use the first {warm} of the "
                f"{len(data)} rows; of the rest: {e}"
            ) from None
        edges = np.cumsum([0, n_train + warm, n_val, n_test])
        parts, filled = [], {}
        observed = pd.Series(frame.observed, index=data.index)
        for a, b in pairwise(edges):  # fill within each split
            part, counts = fill_missing(data.iloc[a:b], c.fill)
            parts.append(part)
            for k, v in counts.items():
                filled[k] = filled.get(k, 0) + int(v)
        bounds = tuple(int(v) for v in np.cumsum([0] + [len(p) for p in parts]))
        data = pd.concat(parts)
        y = data[frame.target].to_numpy(np.float64)  # the truth: filled, not cleaned
        transform = _resolve_transform(c.transform, y[: bounds[1]], c.season)
        self.state = {"transform": transform}
        data = self._transform_target(data, frame.target)
        rule = OutlierRule(c.outliers, window=c.outlier_window).fit(
            data.iloc[: bounds[1]].to_numpy(np.float64)
        )
        state = self.state | {"columns_in": list(data.columns), "outliers": rule.to_dict()}
        prepared = self._derive(data, y, observed.reindex(data.index).to_numpy(bool), frame, rule)
        cut = len(data) - len(prepared.values)  # warm-up rows dropped (all in training)
        values = prepared.values
        scaler = Scaler(c.scaler).fit(values[: bounds[1] - cut])
        state |= {"scaler": scaler.to_dict(), "columns": prepared.report.pop("columns")}
        self.state = state
        prepared.values = scaler.transform(values).astype(np.float32)
        prepared.bounds = tuple(max(0, b - cut) for b in bounds)  # type: ignore[assignment]
        prepared.report |= {"filled": filled, "split_rows": [n_train, n_val, n_test]}
        return prepared

    def transform(self, frame: SeriesFrame) -> Prepared:
        """The fitted steps on new data, all of it one test segment (bounds ``(0, 0, 0, T)``)."""
        if self.state is None:
            raise ValueError("the pipeline is not fitted; call fit_transform first")
        expected = self.state["columns_in"]
        if list(frame.data.columns) != expected:
            raise ValueError(
                f"the data's columns {list(frame.data.columns)} differ from the training "
                f"data's {expected}"
            )
        data, filled = fill_missing(frame.data, self.config.fill)
        observed = pd.Series(frame.observed, index=frame.data.index).reindex(data.index)
        rule = OutlierRule.from_dict(self.state["outliers"])
        y = data[frame.target].to_numpy(np.float64)
        data = self._transform_target(data, frame.target)
        prepared = self._derive(data, y, observed.to_numpy(bool), frame, rule)
        prepared.report.pop("columns")
        scaler = Scaler.from_dict(self.state["scaler"])
        prepared.values = scaler.transform(prepared.values).astype(np.float32)
        T = len(prepared.values)
        prepared.bounds = (0, 0, 0, T)  # score(prep, "test") sees every window
        prepared.report["filled"] = {k: int(v) for k, v in filled.items()}
        return prepared

    def _transform_target(self, data: pd.DataFrame, target: str) -> pd.DataFrame:
        if self.state.get("transform", self.config.transform) == "none":
            return data
        low = float(data[target].min())
        if not low > 0:
            chosen = (
                " (chosen by 'auto' from the training rows)"
                if self.config.transform == "auto"
                else ""
            )
            raise ValueError(
                f"transform 'log'{chosen} needs a positive target; '{target}' goes down to "
                f"{low:g}; pass transform 'none' (--transform none)"
            )
        return data.assign(**{target: np.log(data[target])})

    def inverse_target(self, a: np.ndarray) -> np.ndarray:
        """Model units (scaled, transformed) of the target back to the data's units."""
        a = self.scaler.inverse(a, 0)
        return np.exp(a) if self.state.get("transform", self.config.transform) == "log" else a

    def _derive(
        self,
        data: pd.DataFrame,
        y: np.ndarray,
        observed: np.ndarray,
        frame: SeriesFrame,
        rule: OutlierRule,
    ) -> Prepared:
        c = self.config
        cleaned, counts = rule.apply(data.to_numpy(np.float64))
        clean = pd.DataFrame(cleaned, index=data.index, columns=data.columns)
        feats = add_features(
            clean, frame.target, frame.freq, lags=c.lags, windows=c.windows, calendar=c.calendar
        )
        warm = warmup_rows(c.lags, c.windows)
        if len(feats) <= warm:
            raise ValueError(
                f"{len(feats)} rows are too few for lags {list(c.lags)} and windows "
                f"{list(c.windows)}: they need more than {warm}"
            )
        feats = feats.iloc[warm:]
        report = {
            "outliers_replaced": {col: int(n) for col, n in zip(data.columns, counts, strict=True)},
            "columns": list(feats.columns),
        }
        return Prepared(
            feats.to_numpy(np.float64), y[warm:], observed[warm:], feats.index, (0, 0, 0, 0), report
        )


def _resolve_transform(transform: str, train_target: np.ndarray, season: int) -> str:
    """ "auto" -> "log" when the training target is positive and its seasonal swings grow with
    its level (a multiplicative season, as airline's): between the first and the second half of
    the training rows, the swing (mean distance from the one-season moving average) grows by at
    least the square root of the level's growth, and the level grows by 30 % or more."""
    if transform != "auto":
        return transform
    y = train_target[np.isfinite(train_target)]
    m = max(int(season), 1)
    if y.size < 4 * m or y.min() <= 0:
        return "none"
    if m > 1:  # the seasonal swing: distance from the one-season moving average
        trend = np.convolve(y, np.ones(m) / m, mode="valid")  # (T - m + 1,)
        y, dev = y[m // 2 : m // 2 + trend.size], np.abs(y[m // 2 : m // 2 + trend.size] - trend)
    else:
        dev = np.abs(np.diff(y, prepend=y[0]))
    halves, swings = np.array_split(y, 2), np.array_split(dev, 2)
    level = [h.mean() for h in halves]
    swing = [h.mean() for h in swings]
    if level[1] < 1.3 * level[0] or swing[0] <= 0:
        return "none"
    return "log" if swing[1] / swing[0] >= np.sqrt(level[1] / level[0]) else "none"
