"""``lstmkit.Forecaster``: multi-step time-series forecasting in the scikit-learn manner.

``Forecaster(**options).fit(df, target="y", time_col="date").predict(df)``; the CLI's ``train
forecast``, ``predict``, ``evaluate`` and ``backtest`` run exactly this code. Options: the
window (``lookback``, ``horizon``), the data pipeline (``fill``, ``outliers``, ``lags``,
``windows``, ``calendar``, ``scaler``, ``freq``, ``season``, ``test_fraction``), the model
(``hidden``, ``layers``, ``cell``, ``bidirectional``, ``dropout``, ``pool``, ``quantiles``,
``bins``, ``anchor``, ``per_series``, ``head_dropout``, ``backend``) and the Trainer's (every
field of ``TrainConfig``; ``val_fraction`` is the chronological validation split).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from lstmkit.data.series.baselines import (
    forecast_metrics,
    mase_scale,
    naive_forecast,
    season_for,
    seasonal_naive_forecast,
)
from lstmkit.data.series.frame import prepare_frame
from lstmkit.data.series.pipeline import PipelineConfig, Prepared, SeriesPipeline
from lstmkit.data.series.windows import make_windows
from lstmkit.estimators._saved import SavedEstimator
from lstmkit.models.features import FeatureConfig
from lstmkit.models.forecast import ForecastConfig, ForecastModel, pinball_loss
from lstmkit.runs import merge_config
from lstmkit.train import distributed
from lstmkit.train.batches import TensorBatches
from lstmkit.train.config import TrainConfig
from lstmkit.train.trainer import EpochCallback, Trainer

__all__ = ["DEFAULTS", "Forecaster", "split_options"]

log = logging.getLogger(__name__)

MODEL_OPTIONS = {
    "hidden": 64,
    "layers": 1,
    "cell": "lstm",
    "bidirectional": False,
    "dropout": 0.0,
    "pool": "last",
    "backend": "auto",
    "forget_bias": 1.0,
    "head_dropout": 0.0,
    "quantiles": (),
    "bins": 0,
    "anchor": None,  # None: "season" when the look-back holds a season, else "last"
    "per_series": False,
}
DATA_OPTIONS = {
    "lookback": None,
    "horizon": None,  # None: from the season (see _window)
    "fill": "interpolate",
    "outliers": "hampel",
    "lags": (),
    "windows": (),
    "calendar": True,
    "scaler": "standard",
    "transform": "auto",  # "log" / "none"; auto: log for a positive, multiplicative season
    "freq": None,
    "season": None,
    "test_fraction": 0.15,
    "min_steps": 600,  # without epochs: train at least this many optimizer steps
}
DEFAULTS = (
    MODEL_OPTIONS
    | DATA_OPTIONS
    | {"epochs": 20, "batch_size": 32, "lr": 3e-3, "val_fraction": 0.15, "patience": None}
)
_TRAIN_FIELDS = {f.name for f in fields(TrainConfig)}


def split_options(options: dict) -> tuple[dict, dict, TrainConfig]:
    """(model options, data options, TrainConfig), all validated; unknown names are an error."""
    known = set(MODEL_OPTIONS) | set(DATA_OPTIONS) | _TRAIN_FIELDS
    unknown = set(options) - known
    if unknown:
        raise ValueError(f"unknown options {sorted(unknown)}; known: {', '.join(sorted(known))}")
    merged = DEFAULTS | options
    model = {k: merged[k] for k in MODEL_OPTIONS}
    data = {k: merged[k] for k in DATA_OPTIONS}
    for name in ("lookback", "horizon", "season"):
        v = data[name]
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    for name in ("lags", "windows"):
        v = data[name] = tuple(data[name])
        if any(not isinstance(k, int) or k < 1 for k in v):
            raise ValueError(f"{name} must be positive integers, got {list(v)}")
    if data["transform"] not in ("auto", "none", "log"):
        raise ValueError(f"transform must be auto, none or log, got {data['transform']!r}")
    steps = data["min_steps"]
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
        raise ValueError(f"min_steps must be an integer >= 0, got {steps!r}")
    if not 0.0 < data["test_fraction"] < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1), got {data['test_fraction']}")
    qs = tuple(float(q) for q in model["quantiles"])
    if qs:
        qs = tuple(sorted({*qs, 0.5}))  # in order, with the median (the point forecast)
    model["quantiles"] = qs
    train = TrainConfig(**{k: v for k, v in merged.items() if k in _TRAIN_FIELDS})
    _forecast_config(model, input_size=1, horizon=1)  # validates the model options
    return model, data, train


def _forecast_config(
    model: dict, input_size: int, horizon: int, season: int = 1, lookback: int = 1
) -> ForecastConfig:
    own = ("head_dropout", "quantiles", "bins", "anchor", "per_series")
    fc = FeatureConfig(input_size=input_size, **{k: v for k, v in model.items() if k not in own})
    anchor = model["anchor"]
    if anchor is None:
        anchor = "season" if 1 < season <= lookback else "last"
    return ForecastConfig(
        fc,
        horizon,
        quantiles=tuple(model["quantiles"]),
        bins=model["bins"],
        anchor=anchor,
        season=season,
        per_series=model["per_series"],
        head_dropout=model["head_dropout"],
    )


def _window(data: dict, season: int, rows: int) -> tuple[int, int]:
    """lookback and horizon: the user's, else one season ahead from one season back (two
    seasons back when the series has 1,000 rows or more); a horizon of at least 1 and a
    look-back of at least 8."""
    horizon = data["horizon"] or (season if season > 1 else 1)
    seasons = 2 if rows >= 1000 else 1
    lookback = data["lookback"] or max(seasons * season, horizon, 8)
    return lookback, horizon


def _test_fraction(data: dict, lookback: int, horizon: int, rows: int) -> float:
    """The test fraction, raised so that the test part holds ``horizon`` windows at least (one
    horizon of forecasts laid end to end, from as many origins)."""
    need = (lookback + 2 * horizon - 1) / max(rows, 1)
    return min(max(data["test_fraction"], need), 0.5)


class Forecaster(SavedEstimator):
    """LSTM forecaster: direct multi-step, optional quantiles or bins.

    Example::

        >>> fc = Forecaster(horizon=12, epochs=30).fit(df, target="passengers", time_col="month")
        >>> fc.predict(df)          # the 12 months after df's end
        >>> fc.test_metrics_        # lstmkit vs seasonal naive on the test windows
    """

    task = "forecast"
    module_class = ForecastModel
    config_class = ForecastConfig
    fit_hint = "fit(df, target=...)"

    def __init__(self, **options) -> None:
        self.model_options, self.data_options, self.train_config = split_options(options)
        self.options = options

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        data: pd.DataFrame,
        target: str,
        time_col: str | None = None,
        features: list[str] | None = None,
        *,
        run_dir: str | Path | None = None,
        progress: bool = False,
        resume: bool = False,
        callbacks: Sequence[EpochCallback] = (),
    ) -> Forecaster:
        """Prepare the series (pipeline fitted on the training part), train, score the test part.

        ``run_dir``: write checkpoints, history and model there (``resume=True`` continues from
        its checkpoint.pt). ``callbacks``: the Trainer's ``on_epoch_end(epoch, record)`` hooks.
        """
        d = self.data_options
        frame = prepare_frame(data, target, time_col=time_col, features=features, freq=d["freq"])
        self.season_ = d["season"] or season_for(frame.freq)
        rows = len(frame.data)
        self.lookback_, self.horizon_ = _window(d, self.season_, rows)
        test_fraction = _test_fraction(d, self.lookback_, self.horizon_, rows)
        self.frame_meta_ = {
            "target": frame.target,
            "time_col": frame.time_col,
            "features": list(features or []),
            "freq": frame.freq,
        }
        pc = PipelineConfig(
            self.lookback_,
            self.horizon_,
            fill=d["fill"],
            outliers=d["outliers"],
            outlier_window=max(7, self.season_),
            lags=d["lags"],
            windows=d["windows"],
            calendar=d["calendar"],
            scaler=d["scaler"],
            transform=d["transform"],
            val_fraction=self.train_config.val_fraction,
            test_fraction=test_fraction,
            season=self.season_,
        )
        self.pipeline_ = SeriesPipeline(pc)
        prep = self.pipeline_.fit_transform(frame)
        self.prepared_ = prep
        self.report_ = frame.report | prep.report
        a, b = prep.split("train")
        self.mase_scale_ = mase_scale(prep.y[a:b], self.season_)
        cfg = _forecast_config(
            self.model_options, prep.values.shape[1], self.horizon_, self.season_, self.lookback_
        )
        self.bin_edges_ = self.bin_centers_ = None
        if cfg.bins:
            self._fit_bins(prep.values[a:b, 0], cfg.bins)
        self.config_ = cfg
        c = self.train_config
        train_x, train_y, _ = self._windows(prep, "train")
        if len(train_x) == 0:
            raise ValueError("the training split holds no complete window; lower lookback/horizon")
        epochs = c.epochs
        if "epochs" not in self.options:
            per_epoch = max(1, math.ceil(len(train_x) / c.batch_size))
            epochs = max(c.epochs, math.ceil(d["min_steps"] / per_epoch))
        self.train_config = c = replace(c, epochs=epochs)
        torch.manual_seed(c.seed)
        self.model_ = ForecastModel(cfg)
        if run_dir is not None and distributed.is_main():  # rank 0 writes the run directory
            merge_config(run_dir, self._config_dict())
        train = TensorBatches((train_x, self._encode(train_y)), c.batch_size, True)
        val_x, val_y, _ = self._windows(prep, "val")
        val = TensorBatches((val_x, self._encode(val_y)), 256, False) if len(val_x) else None
        trainer = Trainer(
            self.model_, c, self._step_loss, self._evaluate, run_dir, progress, callbacks
        )
        if resume:
            trainer.resume_from(Path(run_dir) / "checkpoint.pt")
        self.history_ = trainer.fit(train, val)
        self.trainer_ = trainer
        self.model_.eval()
        self.test_metrics_ = self.score(prep, "test")
        return self

    def _fit_bins(self, train_target: np.ndarray, bins: int) -> None:
        """Equal-frequency bins of the (scaled) training target; a bin's value is its median."""
        train_target = train_target.astype(np.float64)  # as saved in config.json: float64
        edges = np.quantile(train_target, np.linspace(0, 1, bins + 1)[1:-1])
        idx = np.searchsorted(edges, train_target)
        centers = [
            np.median(train_target[idx == k]) if np.any(idx == k) else np.nan for k in range(bins)
        ]
        centers = pd.Series(centers).interpolate(limit_direction="both").to_numpy()
        self.bin_edges_, self.bin_centers_ = edges, centers

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
        cfg = self.config_
        if cfg.bins:
            return F.cross_entropy(out.float().reshape(-1, cfg.bins), y.reshape(-1))
        if cfg.quantiles:
            q = torch.tensor(cfg.quantiles, device=out.device)
            return pinball_loss(out.float(), y, q)
        return F.mse_loss(out.float(), y)

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
        inverse = self.pipeline_.inverse_target
        cfg = self.config_
        if cfg.bins:
            p = np.exp(out - out.max(-1, keepdims=True))
            p /= p.sum(-1, keepdims=True)
            return inverse(p @ self.bin_centers_), None  # expected bin value
        if cfg.quantiles:
            qs = inverse(np.sort(out, axis=-1))  # sorted: no crossing quantiles
            return qs[..., list(cfg.quantiles).index(0.5)], qs
        return inverse(out), None

    def score(self, prep: Prepared, split: str = "test") -> dict[str, float]:
        """Metrics of the model and of the naive / seasonal-naive baselines on a split's windows."""
        x, _, origins = self._windows(prep, split)
        if len(x) == 0:
            raise ValueError(
                f"the {split} part holds no complete window of "
                f"{self.lookback_} + {self.horizon_} rows"
            )
        point, qs = self._forecast(x)
        H = self.horizon_
        steps = origins[:, None] + np.arange(H)  # (N, H) rows forecast
        truth, mask = prep.y[steps], prep.observed[steps]
        kw = {}
        if qs is not None:
            kw = {"lower": qs[..., 0], "upper": qs[..., -1]}
        out = {
            f"test_{k}": v
            for k, v in forecast_metrics(truth, point, self.mase_scale_, mask=mask, **kw).items()
        }
        if origins.min() >= self.season_:
            sn = seasonal_naive_forecast(prep.y, origins, H, self.season_)
            base = forecast_metrics(truth, sn, self.mase_scale_, mask=mask)
            out |= {f"baseline_{k}": v for k, v in base.items()}
        naive = forecast_metrics(
            truth, naive_forecast(prep.y, origins, H), self.mase_scale_, mask=mask
        )
        out |= {f"naive_{k}": v for k, v in naive.items()}
        out["test_windows"] = len(origins)
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
        return self.score(self.prepare(data), "test")

    def predict(self, data: pd.DataFrame) -> pd.DataFrame:
        """The ``horizon`` steps after the end of ``data``: the time column continuing the
        frequency (or positions), the target (point forecast) and ``q<level>`` columns."""
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
        return {
            "task": "forecast",
            "model": self.config_.to_dict(),
            "train": self.train_config.to_dict(),
            "options": {k: list(v) if isinstance(v, tuple) else v for k, v in self.options.items()},
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
