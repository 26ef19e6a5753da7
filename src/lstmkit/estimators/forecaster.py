"""``lstmkit.Forecaster``: multi-step time-series forecasting in the scikit-learn manner.

``Forecaster(**options).fit(df, target="y", time_col="date").predict(df)``; the CLI's ``train
forecast``, ``predict``, ``evaluate`` and ``backtest`` run exactly this code. Options: the
window (``lookback``, ``horizon``), the data pipeline (``fill``, ``outliers``, ``lags``,
``windows``, ``calendar``, ``scaler``, ``freq``, ``season``, ``test_fraction``), the model
(``hidden``, ``layers``, ``cell``, ``bidirectional``, ``dropout``, ``pool``, ``quantiles``,
``bins``, ``anchor``, ``per_series``, ``head_dropout``, ``backend``) and the Trainer's (every
field of ``TrainConfig``; ``val_fraction`` is the chronological validation split), each a
keyword argument of ``__init__`` (a scikit-learn estimator: ``get_params`` / ``clone`` work).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lstmkit.data.series.baselines import mase_scale, season_for
from lstmkit.data.series.frame import prepare_frame
from lstmkit.data.series.pipeline import PipelineConfig, Prepared, SeriesPipeline
from lstmkit.data.series.windows import make_windows
from lstmkit.estimators._base import (
    SavedEstimator,
    fit_callbacks,
    init_defaults,
    resolve_seed,
    train_config,
)
from lstmkit.estimators._forecast_parts import (
    decode_forecast,
    fit_bins,
    forecast_config,
    forecast_loss,
    test_fraction_for,
    window_scores,
    window_sizes,
)
from lstmkit.models.forecast import ForecastConfig, ForecastModel
from lstmkit.runs import merge_config
from lstmkit.train import distributed
from lstmkit.train.batches import TensorBatches
from lstmkit.train.config import TrainConfig
from lstmkit.train.progress import epoch_lines
from lstmkit.train.trainer import EpochCallback, Trainer

__all__ = ["DEFAULT_EPOCHS", "Forecaster"]

log = logging.getLogger(__name__)

# Options that build the network (the rest are the data pipeline's and the Trainer's).
_MODEL_OPTIONS = (
    "hidden", "layers", "cell", "bidirectional", "dropout", "pool", "backend", "forget_bias",
    "head_dropout", "quantiles", "bins", "anchor", "per_series",
)  # fmt: skip
DEFAULT_EPOCHS = 20
# Options whose single-series default differs from PanelForecaster's (used unless set).
_PANEL_OWN = ("layers", "batch_size", "lr", "min_steps", "quantiles", "anchor")


class Forecaster(SavedEstimator):
    """LSTM forecaster: direct multi-step, optional quantiles or bins.

    Parameters
    ----------
    lookback : int or None, default None
        Steps the network reads before each forecast origin. None: one season (two when the
        series has 1,000 rows or more), at least the horizon and at least 8.
    horizon : int or None, default None
        Steps forecast from each origin. None: one season (1 without a season).
    hidden : int, default 64
    layers : int, default 1
    cell : {"lstm", "peephole", "coupled", "gru", "layernorm"}, default "lstm"
    bidirectional : bool, default False
        Read the look-back window in both directions.
    dropout : float, default 0.0
        Between recurrent layers.
    pool : {"last", "mean", "max", "attention"}, default "last"
        How the window's per-step features become one vector.
    head_dropout : float, default 0.0
    forget_bias : float or None, default 1.0
    backend : {"auto", "torch", "fused", "reference"}, default "auto"
    quantiles : tuple of float, default ()
        Forecast these quantiles (pinball loss; the median is added and is the point forecast).
    bins : int, default 0
        K >= 2: turn the target into K equal-frequency classes (seed 001) and forecast them.
    anchor : {"last", "season"} or None, default None
        The network forecasts the change from the last value or from the value a season ago;
        None: "season" when the look-back holds a season, else "last".
    per_series : bool, default False
        One LSTM encoder per input column, merged by a dense layer (seed 001).
    fill : str, default "interpolate"
        How missing values are filled (docs: Forecasting).
    outliers : str, default "hampel"
        How outliers of the training part are found and replaced.
    lags, windows : tuple of int, default ()
        Lagged copies and rolling-window means of the target as extra input channels.
    calendar : bool, default True
        Calendar features of the time column (month, weekday, hour, ... as the frequency has).
    scaler : str, default "standard"
        How every column is scaled (fitted on the training part).
    transform : {"auto", "none", "log"}, default "auto"
        auto: log for a positive series with a multiplicative season.
    freq : str or None, default None
        The time column's frequency (pandas alias); None: inferred.
    season : int or None, default None
        Steps per season; None: from the frequency.
    test_fraction : float, default 0.15
        The last part of the series held out for the test metrics (raised to hold a horizon
        of forecasts).
    epochs : int or None, default None
        None: 20, and at least ``min_steps`` optimizer steps.
    min_steps : int, default 600
    batch_size : int, default 32
    lr : float, default 3e-3
    optimizer, momentum, weight_decay, l1, schedule, warmup_epochs, min_lr_ratio, step_size, \
gamma, plateau_patience, clip_norm, patience, device, precision
        The Trainer's settings, as for ``lstmkit.Classifier``.
    val_fraction : float, default 0.15
        The part before the test part used for validation (chronological); at most 0.5.
    random_state : int or None, default 0
    verbose : int, default 0
        1: one line per epoch on stderr and a progress bar where someone watches.

    Notes
    -----
    ``score(df)`` is minus the mean absolute scaled error (MASE) of the forecasts of every
    complete window of ``df``: higher is better, as scikit-learn expects.

    Examples
    --------
    ::

        >>> fc = Forecaster(horizon=12, epochs=30).fit(df, target="passengers", time_col="month")
        >>> fc.predict(df)          # the 12 months after df's end
        >>> fc.test_metrics_        # lstmkit vs seasonal naive on the test windows
    """

    task = "forecast"
    module_class = ForecastModel
    config_class = ForecastConfig
    default_epochs = DEFAULT_EPOCHS  # with epochs=None: at least these, and min_steps steps
    fit_hint = "fit(df, target=...)"

    def __init__(
        self,
        *,
        lookback: int | None = None,
        horizon: int | None = None,
        hidden: int = 64,
        layers: int = 1,
        cell: str = "lstm",
        bidirectional: bool = False,
        dropout: float = 0.0,
        pool: str = "last",
        head_dropout: float = 0.0,
        forget_bias: float | None = 1.0,
        backend: str = "auto",
        quantiles: tuple[float, ...] = (),
        bins: int = 0,
        anchor: str | None = None,
        per_series: bool = False,
        fill: str = "interpolate",
        outliers: str = "hampel",
        lags: tuple[int, ...] = (),
        windows: tuple[int, ...] = (),
        calendar: bool = True,
        scaler: str = "standard",
        transform: str = "auto",
        freq: str | None = None,
        season: int | None = None,
        test_fraction: float = 0.15,
        epochs: int | None = None,
        min_steps: int = 600,
        batch_size: int = 32,
        lr: float = 3e-3,
        optimizer: str = "adam",
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        l1: float = 0.0,
        schedule: str = "cosine",
        warmup_epochs: float = 0.0,
        min_lr_ratio: float = 0.0,
        step_size: int = 10,
        gamma: float = 0.1,
        plateau_patience: int = 2,
        clip_norm: float | None = 1.0,
        val_fraction: float = 0.15,
        patience: int | None = None,
        device: str = "cpu",
        precision: str = "fp32",
        random_state: int | None = 0,
        verbose: int = 0,
    ) -> None:
        self._store(locals())

    def check_options(self, seed: int = 0) -> tuple[dict, TrainConfig]:
        """Every option checked before any data is read: (the model options, with the median
        added to the quantiles, and the Trainer's config; its epochs decided later)."""
        for name in ("lookback", "horizon", "season"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        for name in ("lags", "windows"):
            v = getattr(self, name)
            if any(not isinstance(k, int) or isinstance(k, bool) or k < 1 for k in v):
                raise ValueError(f"{name} must be positive integers, got {list(v)}")
        if self.transform not in ("auto", "none", "log"):
            raise ValueError(f"transform must be auto, none or log, got {self.transform!r}")
        steps = self.min_steps
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
            raise ValueError(f"min_steps must be an integer >= 0, got {steps!r}")
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"test_fraction must lie in (0, 1), got {self.test_fraction}")
        model = {k: getattr(self, k) for k in _MODEL_OPTIONS}
        qs = tuple(float(q) for q in model["quantiles"])
        model["quantiles"] = tuple(sorted({*qs, 0.5})) if qs else ()  # in order, with the median
        epochs = DEFAULT_EPOCHS if self.epochs is None else self.epochs
        config = train_config(self, epochs, seed)
        forecast_config(model, input_size=1, horizon=1)  # validates the model options
        return model, config

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        data: pd.DataFrame,
        target: str,
        time_col: str | None = None,
        features: list[str] | None = None,
        *,
        id_col: str | None = None,
        future_features: list[str] | None = None,
        static_features: list[str] | None = None,
        run_dir: str | Path | None = None,
        progress: bool = False,
        resume: bool = False,
        callbacks: Sequence[EpochCallback] = (),
    ) -> Forecaster:
        """Prepare the series (pipeline fitted on the training part), train, score the test part.

        ``run_dir``: write checkpoints, history and model there (``resume=True`` continues from
        its checkpoint.pt). ``callbacks``: the Trainer's ``on_epoch_end(epoch, record)`` hooks.

        Many series (``id_col``, several targets, ``future_features`` or ``static_features``)
        train one global :class:`~lstmkit.PanelForecaster` with this estimator's shared options
        (kept as ``panel_``; ``predict`` / ``evaluate`` / ``score`` / ``save`` go to it).
        """
        many = not isinstance(target, str) or target.strip().lower() == "all" or "," in target
        if id_col is not None or many or future_features or static_features:
            self.panel_ = self._panel_estimator().fit(
                data, target, time_col, features, id_col=id_col, future_features=future_features,
                static_features=static_features, run_dir=run_dir, progress=progress,
                resume=resume, callbacks=callbacks,
            )  # fmt: skip
            self.model_, self.test_metrics_ = self.panel_.model_, self.panel_.test_metrics_
            return self
        self.panel_ = None
        model, c = self.check_options(resolve_seed(self.random_state))
        if not isinstance(data, pd.DataFrame):
            raise TypeError(f"fit expects a pandas DataFrame, got {type(data).__name__}")
        frame = prepare_frame(data, target, time_col=time_col, features=features, freq=self.freq)
        self.season_ = self.season or season_for(frame.freq)
        rows = len(frame.data)
        self.lookback_, self.horizon_ = window_sizes(self, self.season_, rows)
        test_fraction = test_fraction_for(self, self.lookback_, self.horizon_, rows)
        self.frame_meta_ = {
            "target": frame.target,
            "time_col": frame.time_col,
            "features": list(features or []),
            "freq": frame.freq,
        }
        pc = PipelineConfig(
            self.lookback_,
            self.horizon_,
            fill=self.fill,
            outliers=self.outliers,
            outlier_window=max(7, self.season_),
            lags=tuple(self.lags),
            windows=tuple(self.windows),
            calendar=self.calendar,
            scaler=self.scaler,
            transform=self.transform,
            val_fraction=c.val_fraction,
            test_fraction=test_fraction,
            season=self.season_,
        )
        self.pipeline_ = SeriesPipeline(pc)
        prep = self.pipeline_.fit_transform(frame)
        self.prepared_ = prep
        self.report_ = frame.report | prep.report
        a, b = prep.split("train")
        self.mase_scale_ = mase_scale(prep.y[a:b], self.season_)
        cfg = forecast_config(
            model, prep.values.shape[1], self.horizon_, self.season_, self.lookback_
        )
        self.bin_edges_ = self.bin_centers_ = None
        if cfg.bins:
            self.bin_edges_, self.bin_centers_ = fit_bins(prep.values[a:b, 0], cfg.bins)
        self.config_ = cfg
        train_x, train_y, _ = self._windows(prep, "train")
        if len(train_x) == 0:
            a, b = prep.split("train")
            raise ValueError(
                f"the training part ({b - a} rows) holds no complete window of lookback "
                f"{self.lookback_} + horizon {self.horizon_} rows; it needs "
                f"{self.lookback_ + self.horizon_}: lower lookback / horizon, val_fraction or "
                "test_fraction, or give a longer series"
            )
        epochs = c.epochs
        if self.epochs is None:
            per_epoch = max(1, math.ceil(len(train_x) / c.batch_size))
            epochs = max(c.epochs, math.ceil(self.min_steps / per_epoch))
        self.train_config_ = c = replace(c, epochs=epochs)
        torch.manual_seed(c.seed)
        self.model_ = ForecastModel(cfg)
        if run_dir is not None and distributed.is_main():  # rank 0 writes the run directory
            merge_config(run_dir, self._config_dict())
        train = TensorBatches((train_x, self._encode(train_y)), c.batch_size, True)
        val_x, val_y, _ = self._windows(prep, "val")
        val = TensorBatches((val_x, self._encode(val_y)), 256, False) if len(val_x) else None
        callbacks = fit_callbacks(self, epochs, callbacks)
        bar = progress or self.verbose >= 1
        trainer = Trainer(self.model_, c, self._step_loss, self._evaluate, run_dir, bar, callbacks)
        if resume:
            trainer.resume_from(Path(run_dir) / "checkpoint.pt")
        with epoch_lines(self.verbose):
            trainer.fit(train, val)
        self._keep_training_facts(trainer)
        self.test_metrics_ = self.score_prepared(prep, "test")
        return self

    def _panel_estimator(self):
        from lstmkit.estimators.panel_forecaster import PanelForecaster

        own = Forecaster._get_param_names()
        mine = self.get_params(deep=False)
        defaults = init_defaults(Forecaster)
        # the options both take, except those left at Forecaster's single-series defaults
        # where the panel model has its own (layers, batch_size, lr, min_steps, quantiles)
        shared = {k: mine[k] for k in PanelForecaster._get_param_names() if k in own
                  and not (k in _PANEL_OWN and mine[k] == defaults[k])}  # fmt: skip
        if "quantiles" in shared:
            shared["quantiles"] = tuple(q for q in self.quantiles if q != 0.5) or (0.1, 0.9)
        return PanelForecaster(**shared)

    def _windows(self, prep: Prepared, split: str):
        a, b = prep.split(split)
        x, y, origins = make_windows(
            prep.values, prep.values[:, 0], a, b, self.lookback_, self.horizon_
        )
        return (
            torch.from_numpy(np.ascontiguousarray(x, np.float32)),
            torch.from_numpy(np.ascontiguousarray(y, np.float32)),
            origins,
        )

    def _encode(self, y: torch.Tensor) -> torch.Tensor:
        if self.bin_edges_ is None:
            return y
        return torch.from_numpy(np.searchsorted(self.bin_edges_, y.numpy()).astype(np.int64))

    def _loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return forecast_loss(self.config_, out, y)

    def _step_loss(self, model, batch):
        x, y = batch
        return self._loss(model(x), y), len(x)

    def _evaluate(self, model, batches: TensorBatches) -> dict[str, float]:
        total, n = 0.0, 0
        device = next(model.parameters()).device
        for x, y in batches.batches():
            total += float(self._loss(model(x.to(device)), y.to(device))) * len(x)
            n += len(x)
        return {"loss": total / max(n, 1)}

    # ------------------------------------------------------------------ predict
    @torch.no_grad()
    def _forecast(self, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
        """Point (N, H) and quantiles (N, H, Q) or None, in original units."""
        self.model_.eval()
        device = next(self.model_.parameters()).device
        out = torch.cat(
            [self.model_(x[i : i + 512].to(device)).float().cpu() for i in range(0, len(x), 512)]
        ).numpy()
        return decode_forecast(out, self.config_, self.pipeline_.inverse_target, self.bin_centers_)

    def score_prepared(self, prep: Prepared, split: str = "test") -> dict[str, float]:
        """Metrics of the model and of the naive / seasonal-naive baselines on the windows of a
        split of prepared data (``prepare``)."""
        x, _, origins = self._windows(prep, split)
        if len(x) == 0:
            raise ValueError(
                f"the {split} part holds no complete window of "
                f"{self.lookback_} + {self.horizon_} rows"
            )
        point, qs = self._forecast(x)
        out, truth = window_scores(prep, origins, point, qs, self.season_, self.mase_scale_)
        self.last_scored_ = {
            "origins": origins,
            "point": point,
            "quantiles": qs,
            "truth": truth,
            "index": prep.index,
        }
        return out

    def prepare(self, data: pd.DataFrame) -> Prepared:
        """New data through the fitted pipeline (same columns as in training)."""
        self._check_fitted()
        if not isinstance(data, pd.DataFrame):
            raise TypeError(
                f"expected a pandas DataFrame with the training columns, got {type(data).__name__}"
            )
        m = self.frame_meta_
        frame = prepare_frame(
            data,
            m["target"],
            time_col=m["time_col"],
            features=m["features"] or None,
            freq=m["freq"],
        )
        return self.pipeline_.transform(frame)

    def evaluate(self, data: pd.DataFrame) -> dict[str, float]:
        """Metrics over every complete window of ``data`` (treated as test data)."""
        if getattr(self, "panel_", None) is not None:
            return self.panel_.evaluate(data)
        return self.score_prepared(self.prepare(data), "test")

    def score(self, X: pd.DataFrame, y=None) -> float:
        """Minus the mean absolute scaled error (MASE) over every complete window of the table
        ``X`` (same columns as in training): higher is better, as scikit-learn expects."""
        if getattr(self, "panel_", None) is not None:
            return self.panel_.score(X)
        return -float(self.evaluate(X)["test_mase"])

    def predict(self, data: pd.DataFrame, future: pd.DataFrame | None = None) -> pd.DataFrame:
        """The ``horizon`` steps after the end of ``data``: the time column continuing the
        frequency (or positions), the target (point forecast) and ``q<level>`` columns.
        ``future``: future covariates over the horizon (models fitted on many series only)."""
        if getattr(self, "panel_", None) is not None:
            return self.panel_.predict(data, future)
        if future is not None:
            raise ValueError("future covariates apply to a model fitted with future_features")
        prep = self.prepare(data)
        if len(prep.values) < self.lookback_:
            raise ValueError(
                f"predict needs at least {self.lookback_} rows after preparation "
                f"(the look-back), got {len(prep.values)}"
            )
        x = torch.from_numpy(prep.values[None, -self.lookback_ :].astype(np.float32))
        point, qs = self._forecast(x)
        m = self.frame_meta_
        idx = prep.index
        if isinstance(idx, pd.DatetimeIndex) and m["freq"]:
            future = pd.date_range(idx[-1], periods=self.horizon_ + 1, freq=m["freq"])[1:]
        else:
            future = np.arange(len(data), len(data) + self.horizon_)
        out = pd.DataFrame({m["time_col"] or "step": future, m["target"]: point[0]})
        if qs is not None:
            for j, q in enumerate(self.config_.quantiles):
                out[f"q{q:g}"] = qs[0, :, j]
        return out

    # ------------------------------------------------------------------ persistence
    def _config_dict(self) -> dict:
        if getattr(self, "panel_", None) is not None:
            return self.panel_._config_dict()
        return {
            "task": "forecast",
            "model": self.config_.to_dict(),
            "train": self.train_config_.to_dict(),
            "options": self._options(),
            "frame": self.frame_meta_,
            "pipeline": {"config": self.pipeline_.config.to_dict(), "state": self.pipeline_.state},
            "season": self.season_,
            "lookback": self.lookback_,
            "horizon": self.horizon_,
            "mase_scale": self.mase_scale_,
            "bins": None
            if self.bin_edges_ is None
            else {"edges": self.bin_edges_.tolist(), "centers": self.bin_centers_.tolist()},
        }

    def _restore(self, config: dict) -> None:
        p = config["pipeline"]
        self.pipeline_ = SeriesPipeline(PipelineConfig.from_dict(p["config"]), p["state"])
        self.frame_meta_ = config["frame"]
        self.season_, self.mase_scale_ = config["season"], config["mase_scale"]
        self.lookback_, self.horizon_ = config["lookback"], config["horizon"]
        bins = config.get("bins")
        self.bin_edges_ = None if bins is None else np.asarray(bins["edges"], dtype=np.float64)
        self.bin_centers_ = None if bins is None else np.asarray(bins["centers"], dtype=np.float64)
