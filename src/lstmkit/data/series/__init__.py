"""The time-series data pipeline for forecasting.

A table (:func:`load_table`: a built-in series or a file) becomes a regular series
(:func:`prepare_frame` -> :class:`SeriesFrame`); then, split by split, missing values are filled
(:func:`fill_missing`), outliers replaced (:class:`OutlierRule`), features added
(:func:`add_features`) and columns scaled (:class:`Scaler`), all fitted on the training rows;
:func:`split_sizes` and :func:`make_windows` cut the (lookback, horizon) windows, and
:mod:`~lstmkit.data.series.baselines` gives the naive forecasts and metrics to beat.
"""

from lstmkit.data.series.baselines import (
    SEASONS,
    forecast_metrics,
    mase_scale,
    naive_forecast,
    season_for,
    seasonal_naive_forecast,
)
from lstmkit.data.series.features import add_features, calendar_fields, warmup_rows
from lstmkit.data.series.fill import FILL_METHODS, fill_missing
from lstmkit.data.series.frame import (
    SeriesFrame,
    forecast_decimals,
    prepare_frame,
    value_decimals,
)
from lstmkit.data.series.outliers import OUTLIER_METHODS, OutlierRule
from lstmkit.data.series.scalers import SCALERS, Scaler
from lstmkit.data.series.tables import BUILTIN_SERIES, load_table
from lstmkit.data.series.windows import make_windows, split_sizes

__all__ = [
    "BUILTIN_SERIES",
    "FILL_METHODS",
    "OUTLIER_METHODS",
    "SCALERS",
    "SEASONS",
    "OutlierRule",
    "Scaler",
    "SeriesFrame",
    "add_features",
    "calendar_fields",
    "fill_missing",
    "forecast_decimals",
    "forecast_metrics",
    "load_table",
    "make_windows",
    "mase_scale",
    "naive_forecast",
    "prepare_frame",
    "season_for",
    "seasonal_naive_forecast",
    "split_sizes",
    "value_decimals",
    "warmup_rows",
]
