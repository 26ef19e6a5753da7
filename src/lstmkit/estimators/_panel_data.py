"""What the panel forecaster reads: a table, a file, a built-in name or a Panel, turned into the
training panel and the test panel it is scored on.

A built-in competition set (``m3-monthly``, ...) comes split as the competition did. For user
data the test part is the last ``test_windows * horizon`` steps of every series (one origin per
series, as in the M competitions; K origins ``horizon`` apart with ``test_windows=K``). Series
too short to give one training window and the validation window are dropped and counted.

Covariates are standardised with the training rows' mean and standard deviation
(``CovariateStats``), stored in the run so that predict applies the same.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from lstmkit.data.panel import (
    Panel,
    PanelNames,
    is_builtin_panel,
    load_builtin_panel,
    load_panel,
    shift_times,
)
from lstmkit.data.panel.load import panel_from_long, panel_from_wide

__all__ = [
    "CovariateStats",
    "PanelSource",
    "long_forecasts",
    "panel_source",
    "read_like",
    "read_panel",
    "series_levels",
    "split_test",
]

log = logging.getLogger(__name__)
_SHOWN = 5


@dataclass
class PanelSource:
    """A panel before the test split, or a built-in's (train, test) already split."""

    panel: Panel  # the whole data (user data) or the training part (a built-in)
    test: Panel | None  # a built-in's out-of-sample part; None: cut the tail off ``panel``
    horizon: int | None  # the competition's, for a built-in
    season: int | None  # the competition's, for a built-in
    name: str  # what the data was (a path, a built-in name, "DataFrame", "Panel")


def _names(seq) -> tuple[str, ...]:
    if seq is None:
        return ()
    if isinstance(seq, str):
        return tuple(s.strip() for s in seq.split(",") if s.strip())
    return tuple(seq)


def read_panel(
    data,
    *,
    target=None,
    time_col: str | None = None,
    id_col: str | None = None,
    features=None,
    future_features=None,
    static_features=None,
    freq: str | None = None,
) -> Panel:
    """A Panel from a DataFrame (long with ``id_col``; wide with several targets or ``"all"``;
    else one series), a file path, or a Panel (returned as it is)."""
    if isinstance(data, Panel):
        return data
    past, future, static = _names(features), _names(future_features), _names(static_features)
    if isinstance(data, str | Path):
        return load_panel(data, target=target, id_col=id_col, time_col=time_col, past=past,
                          future=future, static=static, freq=freq)  # fmt: skip
    if not isinstance(data, pd.DataFrame):
        raise TypeError(
            "expected a pandas DataFrame, a file path, a built-in panel name or a Panel, got "
            f"{type(data).__name__}"
        )
    if target is None:
        raise ValueError(f"target is required: a column of {list(map(str, data.columns))}")
    wide = not isinstance(target, str) or target.strip().lower() == "all" or "," in target
    if wide:
        if id_col is not None or static:
            raise ValueError(
                f"several targets ({target!r}) mean a wide table, one column per series; with "
                "id_col give one target (long format); static covariates need id_col"
            )
        return panel_from_wide(data, targets=target, time_col=time_col, past=past,
                               future=future, freq=freq)  # fmt: skip
    return panel_from_long(data, target=target, id_col=id_col, time_col=time_col, past=past,
                           future=future, static=static, freq=freq)  # fmt: skip


def panel_source(data, **columns) -> PanelSource:
    """``read_panel`` with built-in names kept split as their competition did."""
    if isinstance(data, str) and is_builtin_panel(data) and not Path(data).exists():
        b = load_builtin_panel(data)
        log.info("built-in panel %s: %s", data, b.description)
        return PanelSource(b.train, b.test, b.horizon, b.season, data.strip().lower())
    name = str(data) if isinstance(data, str | Path) else type(data).__name__
    return PanelSource(read_panel(data, **columns), None, None, None, name)


def split_test(
    source: PanelSource, horizon: int, test_windows: int, min_train: int
) -> tuple[Panel, Panel | None, np.ndarray, dict]:
    """``(train, test, test_origins_back, dropped)``: the training panel, the test panel (the
    last ``test_windows * horizon`` steps of each kept series, or the built-in's), and the
    report of the series dropped as too short (``{"count", "examples", "min_length"}``). A
    built-in keeps every series (the competition scores them all); ``"untrained"`` counts those
    too short to give a training window.

    Raises:
        ValueError: no series is long enough (the message gives the minimum length).
    """
    panel, test = source.panel, source.test
    held = 0 if test is not None else test_windows * horizon
    need = min_train + held
    lengths = panel.lengths()
    keep = lengths >= need
    dropped = {"count": int((~keep).sum()), "min_length": int(need), "examples": []}
    if not keep.any():
        raise ValueError(
            f"every series is too short: the longest has {int(lengths.max(initial=0))} steps, "
            f"expected at least {need} (a training window and the validation horizon"
            + (f", plus {held} test steps" if held else "")
            + "); lower lookback / horizon / test_windows or give longer series"
        )
    if test is not None:  # a competition scores every series: the short ones are forecast
        dropped["untrained"], dropped["count"] = dropped["count"], 0  # but give no window
        if dropped["untrained"]:
            log.info(
                "%d of %d series are shorter than %d steps: no training window, forecast from "
                "their history all the same", dropped["untrained"], len(panel), need,
            )  # fmt: skip
    elif dropped["count"]:
        ids = panel.ids[~keep][:_SHOWN]
        dropped["examples"] = [str(i) for i in ids]
        log.info(
            "%d of %d series dropped: shorter than %d steps (%s%s)",
            dropped["count"], len(panel), need, ", ".join(map(str, ids)),
            " ..." if dropped["count"] > _SHOWN else "",
        )  # fmt: skip
        panel = panel.subset(keep)
    if test is None and held:
        panel, test = panel.split_tail(held)
    return panel, test, keep, dropped


@dataclass(frozen=True)
class CovariateStats:
    """Mean and standard deviation of each covariate column over the training rows."""

    past: tuple[tuple[float, float], ...] = ()
    future: tuple[tuple[float, float], ...] = ()
    static: tuple[tuple[float, float], ...] = ()

    @classmethod
    def fit(cls, panel: Panel) -> CovariateStats:
        def stats(a: np.ndarray) -> tuple[tuple[float, float], ...]:
            if a.shape[1] == 0 or a.shape[0] == 0:
                return tuple((0.0, 1.0) for _ in range(a.shape[1]))
            mean, std = a.astype(np.float64).mean(0), a.astype(np.float64).std(0)
            return tuple(
                (float(m), float(s) if s > 1e-12 else 1.0) for m, s in zip(mean, std, strict=True)
            )

        return cls(stats(panel.past), stats(panel.future), stats(panel.static))

    def apply(self, panel: Panel) -> Panel:
        """The panel with its covariates standardised (the target untouched)."""

        def scaled(a: np.ndarray, stats) -> np.ndarray:
            if not stats:
                return a
            m = np.array([s[0] for s in stats], dtype=np.float32)
            s = np.array([s[1] for s in stats], dtype=np.float32)
            return (a - m) / s

        return replace(panel, past=scaled(panel.past, self.past),
                       future=scaled(panel.future, self.future),
                       static=scaled(panel.static, self.static))  # fmt: skip

    def future_block(self, block: np.ndarray) -> np.ndarray:
        """(K, H, F) future covariates over the horizon, standardised."""
        if not self.future:
            return block
        m = np.array([s[0] for s in self.future], dtype=np.float32)
        s = np.array([s[1] for s in self.future], dtype=np.float32)
        return ((block - m) / s).astype(np.float32)

    def to_dict(self) -> dict:
        return {k: [list(p) for p in getattr(self, k)] for k in ("past", "future", "static")}

    @classmethod
    def from_dict(cls, d: dict) -> CovariateStats:
        return cls(
            **{k: tuple(tuple(p) for p in d.get(k, ())) for k in ("past", "future", "static")}
        )


def series_levels(panel: Panel) -> np.ndarray:
    """(K,) each series' mean |y|."""
    a = np.abs(panel.target.astype(np.float64))
    total = np.add.reduceat(a, panel.offsets[:-1]) if len(a) else np.zeros(len(panel))
    return total / np.maximum(panel.lengths(), 1)


def long_forecasts(
    panel: Panel, point: np.ndarray, q: np.ndarray | None, levels: tuple[float, ...]
) -> pd.DataFrame:
    """The forecasts ``point (K, H)`` (and ``q (K, H, Q)``) of the steps after every series'
    end in long format: id, time (continuing each series' frequency), target, ``q<level>``."""
    n, (K, H) = panel.names, point.shape
    steps = np.repeat(panel.lengths(), H) + np.tile(np.arange(H), K)
    times = shift_times(np.repeat(panel.start, H), steps, panel.freq)
    out = pd.DataFrame({n.id_col or "series": np.repeat(panel.ids, H),
                        n.time_col or "step": times, n.target: point.reshape(-1)})  # fmt: skip
    if q is not None:
        for j, level in enumerate(levels):
            out[f"q{level:g}"] = q[..., j].reshape(-1)
    return out


def read_like(data, names: PanelNames, ids: np.ndarray, freq: str | None) -> Panel:
    """New data read with a trained model's columns and frequency (``names``; ``ids``: the
    training series, the columns of a wide table); a Panel is taken as it is."""
    if isinstance(data, Panel):
        return data
    wide = names.id_col == "series" and names.target == "value"
    wide = wide and "series" not in getattr(data, "columns", ())
    return read_panel(data, target=list(ids) if wide else names.target, time_col=names.time_col,
                      id_col=None if wide else names.id_col, features=names.past,
                      future_features=names.future, static_features=names.static,
                      freq=freq)  # fmt: skip
