"""What every estimator shares: scikit-learn's parameter contract, the fitted check, the Trainer's
config from the estimator's parameters, ``save`` to a run directory and ``load`` from one.

A subclass takes every option as an explicit keyword argument of ``__init__`` and stores it
unchanged (``sklearn.base.BaseEstimator`` then gives ``get_params`` / ``set_params`` /
``clone``); ``fit`` validates and sets the fitted attributes (ending in ``_``). It names its
``task``, its ``module_class`` / ``config_class`` (the nn.Module and the config dataclass that
rebuild it), writes ``_config_dict()`` and restores its own fitted state in ``_restore(config)``.
"""

from __future__ import annotations

import inspect
import random
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from lstmkit.runs import read_config, write_run_dir
from lstmkit.train.checkpoint import atomic_write_json, load_safe, save_atomic
from lstmkit.train.config import TrainConfig
from lstmkit.train.progress import EpochLines
from lstmkit.train.trainer import EpochCallback, Trainer

__all__ = ["SavedEstimator", "fit_callbacks", "json_value", "resolve_seed", "train_config"]

# Option names of runs written by earlier versions -> today's parameter names.
_RENAMED = {"seed": "random_state"}
_TRAIN_FIELDS = tuple(f.name for f in fields(TrainConfig) if f.name not in ("seed", "epochs"))


def resolve_seed(random_state: object) -> int:
    """The seed of one fit: ``random_state``, or a drawn one for ``None``."""
    if random_state is None:
        return random.SystemRandom().randrange(2**31)
    if isinstance(random_state, bool) or not isinstance(random_state, int | np.integer):
        raise ValueError(f"random_state must be an integer or None, got {random_state!r}")
    return int(random_state)


def init_defaults(cls: type) -> dict[str, Any]:
    """Parameter name -> default of ``cls.__init__`` (the signature scikit-learn reads)."""
    return {k: p.default for k, p in inspect.signature(cls.__init__).parameters.items()}


def train_config(est: BaseEstimator, epochs: int, seed: int) -> TrainConfig:
    """The Trainer's config from an estimator's parameters of the same names (TrainConfig's
    default for a field the estimator lacks), validated by TrainConfig (``seed``: from
    ``resolve_seed(est.random_state)``)."""
    given = {k: getattr(est, k) for k in _TRAIN_FIELDS if hasattr(est, k)}
    return TrainConfig(epochs=epochs, seed=seed, **given)


def fit_callbacks(est: BaseEstimator, epochs: int, callbacks: Sequence[EpochCallback]):
    """The Trainer's callbacks of one fit: the user's, then one line per epoch with verbose."""
    verbose = est.verbose
    if isinstance(verbose, bool) or not isinstance(verbose, int) or verbose < 0:
        raise ValueError(f"verbose must be an integer >= 0, got {verbose!r}")
    return (*callbacks, EpochLines(epochs)) if verbose else tuple(callbacks)


def json_value(v: Any) -> Any:
    """A parameter value as config.json holds it (tuples as lists, NumPy scalars as numbers)."""
    if isinstance(v, tuple | list):
        return [json_value(x) for x in v]
    if isinstance(v, dict):
        return {k: json_value(x) for k, x in v.items()}
    return v.item() if hasattr(v, "item") else v


class SavedEstimator(BaseEstimator):
    task: ClassVar[str]
    module_class: ClassVar[type]
    config_class: ClassVar[type]
    fit_hint: ClassVar[str] = "fit(...)"

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "model_")

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call {self.fit_hint} first"
            )

    def _options(self) -> dict[str, Any]:
        """Every parameter, as config.json's ``options`` keeps it."""
        return {k: json_value(v) for k, v in self.get_params(deep=False).items()}

    def _store(self, params: dict) -> None:
        """Keep every ``__init__`` argument unchanged under its own name (scikit-learn's rule)."""
        for name, value in params.items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)

    def _keep_training_facts(self, trainer: Trainer) -> None:
        """What a fit reports besides the model: ``history_``, ``train_seconds_``,
        ``best_epoch_`` (0: no epoch improved), ``clipped_steps_``."""
        self.history_ = trainer.history
        self.train_seconds_ = trainer.train_seconds
        self.best_epoch_, self.clipped_steps_ = trainer.best_epoch, trainer.clip_count
        self.averaged_epochs_ = trainer.swa.count  # swa: the epochs whose weights were averaged
        self.model_.eval()

    def _config_dict(self) -> dict:
        raise NotImplementedError

    def _restore(self, config: dict) -> None:
        """Set the fitted attributes other than the model from a config.json dict."""

    def save(self, run_dir: str | Path, *, overwrite: bool = False) -> Path:
        """Write config.json and model.pt into ``run_dir`` (``load`` / ``lstmkit.load`` read them
        back). An existing non-empty ``run_dir`` is refused unless ``overwrite=True``, which
        replaces it as a whole (nothing of the old run stays beside the new one)."""
        self._check_fitted()

        def write(folder: Path) -> None:
            atomic_write_json(folder / "config.json", self._config_dict())
            save_atomic(self.model_.state_dict(), folder / "model.pt")

        return write_run_dir(run_dir, write, overwrite=overwrite)

    @classmethod
    def from_config(cls, config: dict, state: dict | None):
        if config.get("task") != cls.task:
            raise ValueError(f"expected a {cls.task} run, got task {config.get('task')!r}")
        options = {_RENAMED.get(k, k): v for k, v in config.get("options", {}).items()}
        defaults = init_defaults(cls)
        for k, v in options.items():  # JSON keeps tuples as lists: give them back as tuples
            if isinstance(v, list) and isinstance(defaults.get(k), tuple):
                options[k] = tuple(v)
        self = cls(**options)
        self.config_ = cls.config_class.from_dict(config["model"])
        self.model_ = cls.module_class(self.config_)
        if state is not None:
            _load_state(self.model_, state)
        self.model_.eval()
        self.train_config_ = TrainConfig.from_dict(config["train"])
        self._restore(config)
        return self

    @classmethod
    def load(cls, run_dir: str | Path):
        run_dir = Path(run_dir)
        config = read_config(run_dir)
        if config["task"] != cls.task:
            raise ValueError(f"{run_dir} is a {config['task']} run, not a {cls.task} run")
        return cls.from_config(config, load_safe(run_dir / "model.pt"))


def _load_state(model, state: dict) -> None:
    """``model.load_state_dict(state)``, with a one-line error where model.pt does not hold the
    network config.json describes (an ensemble short of members, files of two runs)."""
    expected, held = set(model.state_dict()), set(state)
    if expected == held:
        model.load_state_dict(state)
        return
    missing, extra = sorted(expected - held), sorted(held - expected)
    members = getattr(model, "members", None)
    if members is not None:
        have = {k.split(".")[1] for k in held if k.startswith("members.")}
        detail = f"it holds {len(have)} of the {len(members)} ensemble members config.json names"
    else:
        detail = f"{len(missing)} weights missing ({', '.join(missing[:3]) or 'none'}), "
        detail += f"{len(extra)} unexpected ({', '.join(extra[:3]) or 'none'})"
    raise ValueError(
        f"model.pt does not match config.json: {detail}; the run is incomplete (lstmkit resume "
        "finishes it) or its files come from different runs"
    )
