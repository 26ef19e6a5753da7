"""``lstmkit.PanelForecaster``: one LSTM trained across many series (a global forecaster).

``PanelForecaster(**options).fit(df, target="y", time_col="ds", id_col="unique_id")`` reads a
long table (or a wide one, a file, a built-in competition set such as ``"m3-monthly"``, or a
:class:`~lstmkit.data.panel.Panel`), holds out the last ``horizon`` steps of every series for
the test scores (the competition's own test part for a built-in), validates on the horizon
before that, and trains :class:`~lstmkit.models.panel.PanelForecastModel` on windows drawn from
every series. ``predict(df, future=...)`` forecasts the ``horizon`` steps after the end of
every series of ``df``. ``Forecaster.fit(..., id_col=...)`` trains one of these.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lstmkit.data.panel import Panel, PanelNames, future_block, is_builtin_panel
from lstmkit.data.panel import statbaselines as sb
from lstmkit.data.panel.windows import OriginWindows, TrainWindows, gather, train_origin_range
from lstmkit.estimators._base import SavedEstimator, fit_callbacks, resolve_seed, train_config
from lstmkit.estimators._panel_data import (
    CovariateStats,
    long_forecasts,
    panel_source,
    read_like,
    series_levels,
    split_test,
)
from lstmkit.estimators._panel_scores import (
    COMBINE,
    combine_forecasts,
    score_rows,
    test_origins,
    validation_scores,
    window_truth,
)
from lstmkit.models.panel import PanelConfig, PanelEnsemble, mase_weights
from lstmkit.runs import merge_config
from lstmkit.train import distributed
from lstmkit.train.checkpoint import atomic_write_json, load_safe, save_atomic
from lstmkit.train.config import TrainConfig
from lstmkit.train.progress import epoch_lines
from lstmkit.train.trainer import EpochCallback, Trainer

__all__ = ["PanelForecaster"]

log = logging.getLogger(__name__)

_MODEL = ("hidden", "layers", "cell", "dropout", "backend", "forget_bias", "decoder", "loss",
          "skip")  # fmt: skip
_WEIGHTINGS = ("none", "mase")
_STEPS_PER_EPOCH = 50  # windows_per_series=None: about this many batches per epoch


def default_lookback(horizon: int, season: int) -> int:
    """Two horizons back, at least two seasons and 8 steps."""
    return max(2 * horizon, 2 * season, 8)


class PanelForecaster(SavedEstimator):
    """Global LSTM forecaster over many series.

    Parameters
    ----------
    lookback : int or None, default None
        Steps read before each forecast origin (shorter series are left-padded and flagged as
        unobserved). None: ``max(2 * horizon, 2 * season, 8)``.
    horizon : int or None, default None
        Steps forecast. None: a built-in's competition horizon, else one season (1 without).
    hidden, layers, cell, dropout, backend, forget_bias
        The recurrent network (``lstmkit.nn.LSTM``).
    decoder : {"direct", "autoregressive"}, default "direct"
        All steps at once from the encoder's state, or step by step with sampled paths
        (DeepAR: teacher forcing in training).
    loss : {"mse", "pinball", "normal", "student-t", "negative-binomial"}, default "pinball"
    quantiles : tuple of float, default (0.1, 0.9)
        The quantile levels forecast (the median is added); the outermost pair is the interval
        scored by coverage and MSIS.
    anchor : {"none", "last", "season"} or None, default None
        Direct decoder: the network forecasts corrections to the last value or the seasonal
        naive (the last value without a season). None: "season" for the direct decoder (better
        on M1 than "none", measured), "none" for the autoregressive one and for counts.
    weighting : {"none", "mase"}, default "none"
        "mase": each training window's loss is weighted by its level over its look-back's mean
        absolute seasonal difference, so the loss in scaled units becomes MASE-like.
    combine : {"none", "mean", "median"}, default "none"
        Combine the LSTM's point forecast with AutoETS' and AutoTheta's (statsforecast, the
        ``datasets`` extra) by their mean or median; the quantiles move with the point.
    embedding : int, default 0
        Size of a learned series-id embedding (0: none; series unseen in training get zeros).
    skip : bool, default True
        Direct decoder: the scaled look-back also reaches the output layer.
    windows_per_series : int or None, default None
        Windows drawn from every series per epoch; None: about 50 batches per epoch.
    history : int or None, default None
        Only the last ``history`` origins of each series are trained on (None: all).
    samples : int, default 100
        Sample paths of the autoregressive decoder.
    ensemble : int, default 1
        Models trained from seeds ``random_state + i``; the point forecast is their median,
        the quantiles their mean.
    test_windows : int, default 1
        Test origins per series, ``horizon`` apart, at the end of each series (user data).
    val_windows : int, default 1
        Validation origins per series before the test part (0: no validation; the last
        epoch's weights are kept).
    baselines : bool, default True
        Score AutoETS and AutoTheta (statsforecast) beside the naive baselines.
    freq, season : the time column's frequency and the season length (None: inferred).
    epochs : int or None, default None
        None: as many as ``min_steps`` optimizer steps take (at least 1).
    min_steps, batch_size, lr, optimizer, momentum, weight_decay, l1, schedule, warmup_epochs, \
min_lr_ratio, step_size, gamma, plateau_patience, clip_norm, patience, device, precision
        The Trainer's settings, as for ``lstmkit.Classifier``.
    random_state : int or None, default 0
    verbose : int, default 0

    Notes
    -----
    ``score(df)`` is minus the mean MASE of the forecasts of the last horizon of every series.
    """

    task = "forecast"
    module_class = PanelEnsemble
    config_class = PanelConfig
    default_epochs = 30
    fit_hint = "fit(df, target=..., id_col=...)"

    def __init__(
        self,
        *,
        lookback: int | None = None,
        horizon: int | None = None,
        hidden: int = 64,
        layers: int = 2,
        cell: str = "lstm",
        dropout: float = 0.0,
        backend: str = "auto",
        forget_bias: float | None = 1.0,
        decoder: str = "direct",
        loss: str = "pinball",
        quantiles: tuple[float, ...] = (0.1, 0.9),
        anchor: str | None = None,
        weighting: str = "none",
        combine: str = "none",
        embedding: int = 0,
        skip: bool = True,
        windows_per_series: int | None = None,
        history: int | None = None,
        samples: int = 100,
        ensemble: int = 1,
        test_windows: int = 1,
        val_windows: int = 1,
        baselines: bool = True,
        freq: str | None = None,
        season: int | None = None,
        epochs: int | None = None,
        min_steps: int = 1500,
        batch_size: int = 256,
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
        patience: int | None = None,
        device: str = "cpu",
        precision: str = "fp32",
        random_state: int | None = 0,
        verbose: int = 0,
    ) -> None:
        for name, value in list(locals().items()):
            if name not in ("self", "__class__"):
                setattr(self, name, value)

    # ------------------------------------------------------------------ options
    def check_options(self, seed: int = 0) -> TrainConfig:
        """Every option checked before any data is read; the Trainer's config (epochs later)."""
        for name in ("lookback", "horizon", "season", "windows_per_series", "history"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
                raise ValueError(f"{name} must be a positive integer or None, got {v!r}")
        for name, low in (("samples", 1), ("ensemble", 1), ("test_windows", 1), ("val_windows", 0),
                          ("embedding", 0), ("min_steps", 0)):  # fmt: skip
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
        if self.weighting not in _WEIGHTINGS:
            raise ValueError(f"weighting must be one of {', '.join(_WEIGHTINGS)}, "
                             f"got {self.weighting!r}")  # fmt: skip
        if self.combine not in COMBINE:
            raise ValueError(f"combine must be one of {', '.join(COMBINE)}, got {self.combine!r}")
        if self.combine != "none" and not sb.has_statsforecast():
            raise ValueError(f"combine={self.combine!r} needs statsforecast: pip install "
                             "'lstmkit[datasets]' (or combine='none')")  # fmt: skip
        self._model_config(lookback=8, horizon=2, season=1)  # validates the model options
        epochs = self.default_epochs if self.epochs is None else self.epochs
        # no validation split: a panel's test part is each series' last horizon
        return replace(train_config(self, epochs, seed), val_fraction=0.0)

    def _model_config(self, **kw) -> PanelConfig:
        qs = tuple(float(q) for q in self.quantiles)
        anchor = self.anchor
        if anchor is None:
            direct = self.decoder == "direct" and self.loss != "negative-binomial"
            anchor = "season" if direct else "none"
        return PanelConfig(quantiles=qs, embedding=self.embedding, anchor=anchor,
                           members=self.ensemble,
                           num_series=kw.pop("num_series", 1 if self.embedding else 0),
                           **{k: getattr(self, k) for k in _MODEL}, **kw)  # fmt: skip

    @property
    def levels_(self) -> tuple[float, ...]:
        """The quantile levels forecast (empty for the mse head)."""
        if self.config_.loss == "mse":
            return ()
        return tuple(sorted({*self.config_.quantiles, 0.5}))

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        data,
        target=None,
        time_col: str | None = None,
        features: Sequence[str] | None = None,
        *,
        id_col: str | None = None,
        future_features: Sequence[str] | None = None,
        static_features: Sequence[str] | None = None,
        run_dir: str | Path | None = None,
        progress: bool = False,
        resume: bool = False,
        callbacks: Sequence[EpochCallback] = (),
    ) -> PanelForecaster:
        """Read the panel, train across every series, score the test part.

        ``data``: a DataFrame (long with ``id_col``; wide with a list of targets or ``"all"``),
        a CSV / Parquet path, a built-in panel name, or a Panel. ``features``: past covariates
        (known up to the forecast origin); ``future_features``: known over the horizon too;
        ``static_features``: one value per series.
        """
        c = self.check_options(resolve_seed(self.random_state))
        source = panel_source(data, target=target, time_col=time_col, id_col=id_col,
                              features=features, future_features=future_features,
                              static_features=static_features, freq=self.freq)  # fmt: skip
        panel = source.panel
        season = self.season or source.season or panel.season
        horizon = self.horizon or source.horizon or (season if season > 1 else 1)
        lookback = self.lookback or default_lookback(horizon, season)
        self.season_, self.horizon_, self.lookback_ = int(season), int(horizon), int(lookback)
        self.min_past_ = min(lookback, max(2, season))
        min_train = self.min_past_ + horizon * (1 + self.val_windows)
        train, test, _, dropped = split_test(source, horizon, self.test_windows, min_train)
        self.names_, self.freq_ = train.names, train.freq
        self.ids_ = train.ids
        self.stats_ = CovariateStats.fit(train)
        train_s = self.stats_.apply(train)
        self.report_ = dict(panel.report, source=source.name, series_dropped=dropped["count"],
                            dropped_min_length=dropped["min_length"],
                            series_untrained=dropped.get("untrained", 0),
                            dropped_examples=dropped["examples"])  # fmt: skip

        lengths = train.lengths()
        fit_len = lengths - horizon * self.val_windows  # what training windows may forecast
        lo, hi = train_origin_range(fit_len, horizon, min_past=self.min_past_,
                                    history=self.history)  # fmt: skip
        level = series_levels(train)
        logs = np.log(level[level > 0]) if (level > 0).any() else np.zeros(1)
        cfg = self._model_config(
            lookback=lookback, horizon=horizon, season=self.season_,
            past_size=train.past.shape[1], future_size=train.future.shape[1],
            static_size=train.static.shape[1], num_series=len(train) if self.embedding else 0,
            log_scale_center=float(logs.mean()), log_scale_spread=float(max(logs.std(), 1e-3)),
        )  # fmt: skip
        self.config_ = cfg
        per_series = self.windows_per_series
        if per_series is None:
            per_series = max(1, math.ceil(_STEPS_PER_EPOCH * c.batch_size / len(train)))
        windows = TrainWindows(train_s, lookback, horizon, lo, hi, c.batch_size, per_series)
        epochs = c.epochs
        if self.epochs is None:
            epochs = max(1, math.ceil(self.min_steps / max(len(windows), 1)))
        self.train_config_ = c = TrainConfig.from_dict(c.to_dict() | {"epochs": epochs})
        val = None
        if self.val_windows:
            k = np.arange(len(train))
            series = np.repeat(k, self.val_windows)
            back = np.tile(np.arange(self.val_windows, 0, -1), len(train)) * horizon
            origins = lengths[series] - back
            ok = origins >= self.min_past_  # a built-in's short series: no validation window
            val = OriginWindows(train_s, series[ok], origins[ok], lookback, horizon, 1024)
        torch.manual_seed(c.seed)
        self.model_ = PanelEnsemble(cfg)
        self.head_ = self.model_.head
        self.train_seconds_ = 0.0
        if run_dir is not None and distributed.is_main():
            merge_config(run_dir, self._config_dict())
        log.info("%d series, %d training windows per epoch, %d epochs, look-back %d, horizon %d",
                 len(train), windows.windows, epochs, lookback, horizon)  # fmt: skip
        bar = progress or self.verbose >= 1
        histories = []
        for i, member in enumerate(self.model_.members):
            histories.append(self._fit_member(i, member, c, windows, val, run_dir, bar, resume,
                                              callbacks))  # fmt: skip
        self.member_histories_ = histories
        self.history_ = histories[0] if len(histories) == 1 else [
            {"member": i, **row} for i, h in enumerate(histories) for row in h
        ]  # fmt: skip
        self.model_.eval()
        if run_dir is not None and distributed.is_main():  # the Trainer's model.pt is a member's
            save_atomic(self.model_.state_dict(), Path(run_dir) / "model.pt")
        self.test_metrics_ = {}  # scored by rank 0 alone (the other ranks' are discarded)
        if distributed.is_main():
            self.test_metrics_ = self._score_test(train, test)
        self.test_metrics_["series_dropped"] = dropped["count"]
        return self

    def _fit_member(self, i, member, c, windows, val, run_dir, bar, resume, callbacks):
        """Train member i (seed + i); with several members each keeps its checkpoints in
        ``run_dir/members/<i>``, and a finished one is loaded back on resume."""
        c = TrainConfig.from_dict(c.to_dict() | {"seed": c.seed + i})
        folder = run_dir
        if run_dir is not None and self.model_.config.members > 1:
            folder = Path(run_dir) / "members" / str(i)
            if distributed.is_main():
                folder.mkdir(parents=True, exist_ok=True)
            done = folder / "done.json"
            if resume and done.is_file():
                member.load_state_dict(load_safe(folder / "model.pt"))
                return json.loads(done.read_text())["history"]
        torch.manual_seed(c.seed)
        trainer = Trainer(member, c, self._step_loss, self._evaluate, folder, bar,
                          fit_callbacks(self, c.epochs, callbacks))  # fmt: skip
        checkpoint = None if folder is None else Path(folder) / "checkpoint.pt"
        if resume and checkpoint is not None and checkpoint.is_file():
            trainer.resume_from(checkpoint)
        with epoch_lines(self.verbose):
            trainer.fit(windows, val)
        self.train_seconds_ += trainer.train_seconds
        self.best_epoch_, self.clipped_steps_ = trainer.best_epoch, trainer.clip_count
        if folder is not None and folder != run_dir and distributed.is_main():
            atomic_write_json(Path(folder) / "done.json", {"history": trainer.history})
        return trainer.history

    def _batch_inputs(self, batch, emb: np.ndarray | None = None):
        y, obs, past, future, static, series, y_next, next_obs = batch
        if self.config_.embedding:
            series = series if emb is None else torch.from_numpy(emb[series.cpu().numpy()])
        else:
            series = None
        return (y, obs, past, future, static, series), y_next, next_obs

    def _step_loss(self, model, batch):
        inputs, y_next, next_obs = self._batch_inputs(batch)
        out, scale = model(*inputs, y_next=y_next)
        weight = None
        if self.weighting == "mase":
            weight = mase_weights(inputs[0], inputs[1], self.config_.season)
        return self.head_.loss(out, y_next, scale, next_obs, weight), len(y_next)

    def _evaluate(self, model, val: OriginWindows) -> dict[str, float]:
        """Validation: the head's loss; for the direct decoder also sMAPE and MASE
        (:func:`~lstmkit.estimators._panel_scores.window_scores`)."""
        return validation_scores(model, val.batches(), self._batch_inputs,
                                 self.config_.decoder == "direct")  # fmt: skip

    # ------------------------------------------------------------------ forecasting
    def _emb_map(self, panel: Panel) -> np.ndarray | None:
        """(K,) each series' embedding row (unseen ids: the zero row)."""
        if not self.config_.embedding:
            return None
        idx = pd.Index(self.ids_).get_indexer(panel.ids)
        return np.where(idx < 0, self.config_.num_series, idx).astype(np.int64)

    @torch.no_grad()
    def _forecast(self, panel_s: Panel, series: np.ndarray, origins: np.ndarray,
                  future_after: np.ndarray | None = None):  # fmt: skip
        """``(point (N, H), quantiles (N, H, Q) or None)`` in the data's units for windows
        (series[i], origins[i]) of a standardised panel."""
        self.model_.eval()
        m, cfg = self.model_, self.config_
        device = next(m.parameters()).device
        emb = self._emb_map(panel_s)
        levels = self.levels_
        step = 1024 if cfg.decoder == "direct" else max(1, 16384 // max(self.samples, 1))
        gen = torch.Generator().manual_seed(resolve_seed(self.random_state))
        points, quants = [], []
        for i in range(0, len(series), step):
            s = slice(i, i + step)
            batch = gather(panel_s, series[s], origins[s], cfg.lookback, cfg.horizon, future_after)
            batch = tuple(None if t is None else t.to(device) for t in batch)
            inputs, _, _ = self._batch_inputs(batch, emb)
            point, q = m.forecast_quantiles(inputs, levels, samples=self.samples, generator=gen)
            points.append(point)
            quants.append(q)
        point = np.concatenate(points)
        q = None if quants[0] is None else np.concatenate(quants)
        if self.combine == "none":
            return point, q
        t = panel_s.target
        start = panel_s.offsets[series]
        histories = [t[a : a + o] for a, o in zip(start, origins, strict=True)]
        t0 = time.perf_counter()
        stats = sb.statistical_forecasts(histories, cfg.horizon, self.season_)
        self.combined_ = {"lstm": point, **stats, "seconds": time.perf_counter() - t0}
        return combine_forecasts(point, q, stats, self.combine)

    def _score_test(self, train: Panel, test: Panel) -> dict:
        full = train.concat_tail(test)
        full_s = self.stats_.apply(full)
        series, origins = test_origins(train, test, self.horizon_, self.test_windows)
        point, q = self._forecast(full_s, series, origins)
        truth, inside, histories = window_truth(full, series, origins, self.horizon_)
        given = None
        if self.combine != "none":  # the statistical forecasts made already, and the LSTM's own
            given = {k: v for k, v in self.combined_.items() if k != "seconds"}
        metrics, table, base = score_rows(
            ids=train.ids, rows_series=series, histories=histories, truth=truth,
            mask=inside.astype(np.float64), point=point, quantiles=q, levels=self.levels_,
            season=self.season_, statistical=self.baselines, given=given,
        )  # fmt: skip
        if given:
            metrics["ets_seconds"] = metrics["theta_seconds"] = self.combined_["seconds"] / 2
        self.series_metrics_ = table
        self.last_scored_ = {"series": series, "origins": origins, "point": point,
                             "quantiles": q, "truth": truth, "mask": inside, "baselines": base,
                             "panel": full}  # fmt: skip
        return metrics

    def _panel_like(self, data) -> Panel:
        """New data read with the training columns (and frequency)."""
        self._check_fitted()
        return read_like(data, self.names_, self.ids_, self.freq_)

    def predict(self, data, future: pd.DataFrame | None = None) -> pd.DataFrame:
        """Long-format forecasts of the ``horizon`` steps after every series of ``data``: the id
        column, the time column (continuing each series' frequency), the target column (point
        forecast) and ``q<level>`` columns. ``future``: the future covariates over those steps
        (the id and time columns and the ``future_features``; ``horizon`` rows per series)."""
        panel = self._panel_like(data)
        if future is not None and not self.names_.future:
            raise ValueError("future covariates given, but the model was trained without "
                             "future_features: it has no use for them")  # fmt: skip
        H = self.horizon_
        after = self.stats_.future_block(future_block(panel, future, H))
        panel_s = self.stats_.apply(panel)
        k = np.arange(len(panel))
        point, q = self._forecast(panel_s, k, panel.lengths(), after if after.shape[2] else None)
        return long_forecasts(panel, point, q, self.levels_)

    def evaluate(self, data) -> dict:
        """Scores of the forecasts of the last ``horizon`` steps of every series of ``data``
        (the steps before are the history), beside the baselines; a built-in panel name is
        scored on its competition test part."""
        self._check_fitted()
        if isinstance(data, str) and is_builtin_panel(data) and not Path(data).exists():
            source = panel_source(data)
            return self._score_test(source.panel, source.test)
        panel = self._panel_like(data)
        head, tail = panel.split_tail(self.horizon_)
        return self._score_test(head, tail)

    def score(self, X, y=None) -> float:
        """Minus the mean MASE of ``evaluate(X)``: higher is better."""
        return -float(self.evaluate(X)["test_mase"])

    # ------------------------------------------------------------------ persistence
    def _config_dict(self) -> dict:
        return {
            "task": "forecast",
            "panel": True,
            "model": self.config_.to_dict(),
            "train": self.train_config_.to_dict(),
            "options": self._options(),
            "names": {
                k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(self.names_).items()
            },
            "freq": self.freq_,
            "season": self.season_,
            "lookback": self.lookback_,
            "horizon": self.horizon_,
            "min_past": self.min_past_,
            "ids": [i.item() if hasattr(i, "item") else i for i in self.ids_],
            "covariates": self.stats_.to_dict(),
            "levels": list(self.levels_),
        }

    def _restore(self, config: dict) -> None:
        self.head_ = self.model_.head
        n = config["names"]
        self.names_ = PanelNames(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in n.items()}
        )
        self.freq_, self.season_ = config["freq"], config["season"]
        self.lookback_, self.horizon_ = config["lookback"], config["horizon"]
        self.min_past_ = config["min_past"]
        self.ids_ = np.array(config["ids"], dtype=object)
        self.stats_ = CovariateStats.from_dict(config["covariates"])
