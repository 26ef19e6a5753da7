"""lstmkit: LSTM networks from the gate equations up.

Submodules are imported lazily, so that ``import lstmkit.reference`` (NumPy only) never
pulls in torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "kernels", "nn", "reference"]

_SUBMODULES = {"kernels", "nn", "reference", "cli"}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"lstmkit.{name}")
    raise AttributeError(f"module 'lstmkit' has no attribute {name!r}")
