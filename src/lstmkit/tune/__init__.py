"""Hyperparameter search (``lstmkit tune``): an Optuna study with pruning over a task's search
space; each trial is a normal training run, the best one is kept. Needs the ``tune`` extra.

Names are imported on first use, so that ``lstmkit --help`` does not load torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["PRUNERS", "SPACES", "TASKS", "Param", "TaskSpec", "describe_space", "search_space",
           "tune"]  # fmt: skip

_HOME = {
    "PRUNERS": "search",
    "tune": "search",
    "SPACES": "space",
    "Param": "space",
    "describe_space": "space",
    "search_space": "space",
    "TASKS": "tasks",
    "TaskSpec": "tasks",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'lstmkit.tune' has no attribute {name!r}")
    return getattr(importlib.import_module(f"lstmkit.tune.{_HOME[name]}"), name)
