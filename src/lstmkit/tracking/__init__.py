"""Experiment tracking of a training run: TensorBoard event files in the run directory, or an
MLflow run (a local SQLite store by default, a tracking server with ``mlflow_uri``).

Every epoch: the history row (losses, validation metrics, learning rate, gradient norm, ...)
and the keep-gate saturation that ``lstmkit inspect`` reports, measured on a fixed batch of
validation sequences; at the end the test metrics, and for MLflow the parameters of
config.json and the run directory as artifacts. ``--log tensorboard|mlflow`` on any
``lstmkit train`` command; both backends are optional extras.
"""

from lstmkit.tracking.backends import TRACKERS, check_tracker, make_backend
from lstmkit.tracking.tracker import Tracker

__all__ = ["TRACKERS", "Tracker", "check_tracker", "make_backend"]
