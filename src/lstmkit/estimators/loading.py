"""``lstmkit.load``: the trained estimator of a run directory, by the task its config.json
names (the run directory itself is read by ``lstmkit.runs``, the layer below)."""

from __future__ import annotations

from pathlib import Path

from lstmkit.runs import read_config

__all__ = ["load"]


def load(run_dir: str | Path):
    """Rebuild the trained estimator of a run directory (no training code runs)."""
    config = read_config(run_dir)
    task = config["task"]
    if task == "classify":
        from lstmkit.estimators.classifier import Classifier as cls
    elif task == "regress":
        from lstmkit.estimators.regressor import Regressor as cls
    elif task == "forecast" and config.get("panel"):
        from lstmkit.estimators.panel_forecaster import PanelForecaster as cls
    elif task == "forecast":
        from lstmkit.estimators.forecaster import Forecaster as cls
    elif task == "textgen":
        from lstmkit.estimators.textgen import TextGenerator as cls
    else:
        raise ValueError(f"{run_dir}: task {task!r} cannot be loaded by this lstmkit version")
    return cls.load(run_dir)
