"""High-level estimators with fit / predict / save, used by the CLI (one code path)."""

from lstmkit.estimators.classifier import Classifier
from lstmkit.estimators.regressor import Regressor
from lstmkit.estimators.textgen import TextGenerator


def __getattr__(name: str):
    if name == "Forecaster":  # pandas is imported only when forecasting
        from lstmkit.estimators.forecaster import Forecaster

        return Forecaster
    if name == "PanelForecaster":
        from lstmkit.estimators.panel_forecaster import PanelForecaster

        return PanelForecaster
    raise AttributeError(f"module 'lstmkit.estimators' has no attribute {name!r}")


__all__ = ["Classifier", "Forecaster", "PanelForecaster", "Regressor", "TextGenerator"]
