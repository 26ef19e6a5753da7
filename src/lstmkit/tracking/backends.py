"""The two places a run's numbers go: TensorBoard event files and MLflow runs.

A backend has ``start(params, start_step)``, ``scalars(step, values)``, ``finish(metrics,
run_dir)`` and ``close(failed)``; ``state()`` is what config.json keeps so that ``lstmkit
resume`` continues the same TensorBoard directory or MLflow run.
"""

from __future__ import annotations

import importlib
import json
import time
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_MLFLOW_DIR", "TRACKERS", "check_tracker", "make_backend"]

TRACKERS = ("tensorboard", "mlflow")
DEFAULT_MLFLOW_DIR = "mlruns"  # beside the runs: mlruns/mlflow.db and mlruns/artifacts/
_NEEDS = {"tensorboard": ("tensorboard", "tensorboard"), "mlflow": ("mlflow", "mlflow")}


def check_tracker(kind: str) -> None:
    """A one-line error unless ``kind`` is a tracker whose library is installed."""
    if kind not in TRACKERS:
        raise ValueError(f"--log must be one of {', '.join(TRACKERS)}, got {kind!r}")
    module, extra = _NEEDS[kind]
    try:
        importlib.import_module(module)
    except ImportError:
        raise ValueError(
            f"--log {kind} needs the {module} package, which is not installed: "
            f"pip install 'lstmkit[{extra}]'"
        ) from None


def make_backend(kind: str, run_dir: Path, task: str, state: dict | None = None):
    """The backend of ``kind`` for ``run_dir``; ``state``: the ``mlflow_uri`` to use and what an
    earlier start recorded (config.json's ``tracking``: the MLflow ``run_id``)."""
    check_tracker(kind)
    state = state or {}
    if kind == "tensorboard":
        return TensorBoardBackend(run_dir)
    return MlflowBackend(run_dir, task, state.get("mlflow_uri"), state.get("run_id"))


class TensorBoardBackend:
    """Event files in ``<run_dir>/tensorboard`` (``tensorboard --logdir <run_dir>``)."""

    def __init__(self, run_dir: Path) -> None:
        self.log_dir = Path(run_dir) / "tensorboard"
        self.writer = None

    def start(self, params: dict, start_step: int) -> None:
        from torch.utils.tensorboard import SummaryWriter

        # a resumed run: events past its checkpoint's epoch (written before it was stopped)
        # are dropped, so the curves hold each epoch once
        self.writer = SummaryWriter(str(self.log_dir), purge_step=start_step + 1)
        if start_step == 0:
            self.writer.add_text("config", f"```\n{json.dumps(params, indent=1)}\n```", 0)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        for tag, v in values.items():
            self.writer.add_scalar(tag, v, step)

    def finish(self, metrics: dict[str, float], run_dir: Path) -> None:
        step = int(metrics.get("epochs_run", 0))
        self.scalars(step, {f"test/{k}": v for k, v in metrics.items()})
        self.close(False)

    def close(self, failed: bool) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def state(self) -> dict:
        return {"log": "tensorboard"}


class MlflowBackend:
    """One MLflow run: parameters from config.json, metrics per epoch, the run directory as
    artifacts at the end. The store: ``mlflow_uri``, else ``sqlite:///mlruns/mlflow.db`` with
    artifacts in ``mlruns/artifacts`` (view with ``mlflow ui --backend-store-uri
    sqlite:///mlruns/mlflow.db``)."""

    def __init__(self, run_dir: Path, task: str, uri: str | None, run_id: str | None) -> None:
        self.run_dir, self.task = Path(run_dir), task
        self.uri, self.run_id = uri, run_id
        self.client = None

    def _connect(self):
        from mlflow.tracking import MlflowClient

        artifacts = None
        if self.uri is None:
            root = Path(DEFAULT_MLFLOW_DIR).resolve()
            root.mkdir(parents=True, exist_ok=True)
            self.uri = f"sqlite:///{root / 'mlflow.db'}"
            artifacts = (root / "artifacts").as_uri()
        self.client = MlflowClient(self.uri)
        name = f"lstmkit-{self.task}"
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        return self.client.create_experiment(name, artifact_location=artifacts)

    def start(self, params: dict, start_step: int) -> None:
        from mlflow.entities import Param

        experiment = self._connect()
        if self.run_id is not None:  # lstmkit resume: the same MLflow run continues
            self.client.update_run(self.run_id, status="RUNNING")
            return
        tags = {"lstmkit.run_dir": str(self.run_dir.resolve())}
        run = self.client.create_run(experiment, run_name=self.run_dir.name, tags=tags)
        self.run_id = run.info.run_id
        flat = [Param(k, str(v)[:6000]) for k, v in _flatten(params).items()]
        for i in range(0, len(flat), 100):  # MLflow takes at most 100 parameters a call
            self.client.log_batch(self.run_id, params=flat[i : i + 100])

    def scalars(self, step: int, values: dict[str, float]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(_key(k), float(v), now, step) for k, v in values.items()]
        for i in range(0, len(metrics), 1000):
            self.client.log_batch(self.run_id, metrics=metrics[i : i + 1000])

    def finish(self, metrics: dict[str, float], run_dir: Path) -> None:
        self.scalars(
            int(metrics.get("epochs_run", 0)), {f"test/{k}": v for k, v in metrics.items()}
        )
        self.client.log_artifacts(self.run_id, str(run_dir), "run")
        self.client.set_terminated(self.run_id, "FINISHED")

    def close(self, failed: bool) -> None:
        if self.client is not None and self.run_id is not None:
            self.client.set_terminated(self.run_id, "FAILED" if failed else "KILLED")

    def state(self) -> dict:
        return {"log": "mlflow", "mlflow_uri": self.uri, "run_id": self.run_id}


def _key(tag: str) -> str:
    """An MLflow metric name: letters, digits, ``_ - . / space`` only."""
    return "".join(c if c.isalnum() or c in "_-./ " else "_" for c in tag)


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out |= _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    return out
