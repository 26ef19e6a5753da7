"""What every estimator shares: the fitted check, ``save`` to a run directory, ``load`` from one.

A subclass names its ``task``, its ``module_class`` / ``config_class`` (the nn.Module and the
config dataclass that rebuilds it), writes ``_config_dict()`` and restores its own fitted state
in ``_restore(config)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from lstmkit.runs import merge_config, read_config
from lstmkit.train.checkpoint import load_safe, save_atomic

__all__ = ["SavedEstimator"]


class SavedEstimator:
    task: ClassVar[str]
    module_class: ClassVar[type]
    config_class: ClassVar[type]
    fit_hint: ClassVar[str] = "fit(...)"

    options: dict[str, Any]

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise ValueError(
                f"this {type(self).__name__} is not fitted yet; call {self.fit_hint} first"
            )

    def _config_dict(self) -> dict:
        raise NotImplementedError

    def _restore(self, config: dict) -> None:
        """Set the fitted attributes other than the model from a config.json dict."""

    def save(self, run_dir: str | Path) -> Path:
        """Write config.json and model.pt (``load`` / ``lstmkit.load`` read them back)."""
        self._check_fitted()
        run_dir = Path(run_dir)
        merge_config(run_dir, self._config_dict())
        save_atomic(self.model_.state_dict(), run_dir / "model.pt")
        return run_dir

    @classmethod
    def from_config(cls, config: dict, state: dict | None):
        if config.get("task") != cls.task:
            raise ValueError(f"expected a {cls.task} run, got task {config.get('task')!r}")
        self = cls(**config.get("options", {}))
        self.config_ = cls.config_class.from_dict(config["model"])
        self.model_ = cls.module_class(self.config_)
        if state is not None:
            self.model_.load_state_dict(state)
        self.model_.eval()
        self._restore(config)
        return self

    @classmethod
    def load(cls, run_dir: str | Path):
        run_dir = Path(run_dir)
        config = read_config(run_dir)
        if config["task"] != cls.task:
            raise ValueError(f"{run_dir} is a {config['task']} run, not a {cls.task} run")
        return cls.from_config(config, load_safe(run_dir / "model.pt"))
