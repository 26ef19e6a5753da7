"""lstmkit: LSTM networks from the gate equations up.

Submodules are imported lazily, so that ``import lstmkit.reference`` (NumPy only) never
pulls in torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = [
    "Classifier",
    "Forecaster",
    "PanelForecaster",
    "Regressor",
    "TextGenerator",
    "__version__",
    "kernels",
    "load",
    "models",
    "nn",
    "reference",
    "train",
]

_SUBMODULES = {
    "kernels",
    "nn",
    "reference",
    "cli",
    "models",
    "train",
    "data",
    "viz",
    "estimators",
    "inspect",
}
_ATTRS = {
    "Classifier": "lstmkit.estimators",
    "Forecaster": "lstmkit.estimators",
    "PanelForecaster": "lstmkit.estimators",
    "Regressor": "lstmkit.estimators",
    "TextGenerator": "lstmkit.estimators",
    "load": "lstmkit.estimators.loading",
}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"lstmkit.{name}")
    if name in _ATTRS:
        return getattr(importlib.import_module(_ATTRS[name]), name)
    raise AttributeError(f"module 'lstmkit' has no attribute {name!r}")
