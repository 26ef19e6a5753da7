"""lstmkit.data.panel.statbaselines: naive, seasonal naive, Naive2 (against a loop over series as
M4's benchmark code writes it) and the statsforecast AutoETS / AutoTheta baselines."""

from __future__ import annotations

import logging
import sys

import numpy as np
import pytest

from lstmkit.data.panel import Panel, PanelNames
from lstmkit.data.panel import statbaselines as sb
from lstmkit.data.series.baselines import naive_forecast, seasonal_naive_forecast


def _naive2_loop(y: np.ndarray, horizon: int, m: int) -> np.ndarray:
    """(H,) M4's Naive2 for one series, written out step by step (the reference)."""
    n = len(y)
    naive = np.full(horizon, y[-1])
    if m == 1 or n < 3 * m or (y <= 0).any():
        return naive
    d = y - y.mean()

    def acf(k: int) -> float:
        return float((d[k:] * d[: n - k]).sum() / (d * d).sum())

    limit = 1.645 * np.sqrt((1 + 2 * sum(acf(k) ** 2 for k in range(1, m))) / n)
    if not abs(acf(m)) > limit:
        return naive
    w = np.r_[0.5, np.ones(m - 1), 0.5] / m if m % 2 == 0 else np.ones(m) / m
    trend = np.convolve(y, w, mode="valid")  # trend[j] is centred on y[j + len(w) // 2]
    inner = slice(len(w) // 2, len(w) // 2 + len(trend))
    ratio = np.full(n, np.nan)
    ratio[inner] = y[inner] / trend
    si = np.array([np.nanmean(ratio[p::m]) for p in range(m)])
    si /= si.mean()
    return y[-1] / si[(n - 1) % m] * si[(n + np.arange(horizon)) % m]


def _seasonal(n: int, m: int, level: float = 100.0, noise: float = 0.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    pattern = 1 + 0.4 * np.sin(2 * np.pi * np.arange(m) / m + 0.3)
    return level * pattern[np.arange(n) % m] + noise * rng.normal(size=n)


def test_naive_and_seasonal_naive_match_the_single_series_baselines() -> None:
    rng = np.random.default_rng(0)
    histories = [rng.normal(size=n) for n in (1, 2, 5, 12, 30)]
    got_n, got_s = sb.naive(histories, 7), sb.seasonal_naive(histories, 7, season=4)
    assert got_n.shape == got_s.shape == (5, 7) and got_n.dtype == np.float64
    for k, y in enumerate(histories):
        o = np.array([len(y)])
        assert np.array_equal(got_n[k], naive_forecast(y, o, 7)[0])
        ref = seasonal_naive_forecast(y, o, 7, 4)[0] if len(y) >= 4 else naive_forecast(y, o, 7)[0]
        assert np.array_equal(got_s[k], ref), k
    assert sb.seasonal_naive([np.arange(1, 9.0)], 6, 4).tolist() == [[5, 6, 7, 8, 5, 6]]
    assert sb.seasonal_naive([np.arange(1, 9.0)], 3, 1).tolist() == [[8, 8, 8]]


def test_naive2_reproduces_a_strong_season_at_any_phase() -> None:
    for n in (48, 49, 55):  # the last phase moves with the length
        y = _seasonal(n, 12)
        assert np.allclose(sb.naive2([y], 18, 12), sb.seasonal_naive([y], 18, 12))
    y = _seasonal(40, 4, noise=0.5)
    got = sb.naive2([y], 8, 4)[0]
    assert np.abs(got - _seasonal(48, 4)[40:]).max() < 2.0  # the season, not a flat line
    assert np.ptp(got) > 30


def test_naive2_is_naive_without_a_season_or_without_positive_values() -> None:
    rng = np.random.default_rng(3)
    flat = 50 + rng.normal(size=60)  # white noise: no season found
    seasonal_negative = _seasonal(48, 12) - 100  # seasonal but with values <= 0
    short = _seasonal(30, 12)  # under three seasons
    constant = np.full(40, 5.0)
    histories = [flat, seasonal_negative, short, constant, np.array([2.0]), np.array([1.0, 3.0])]
    assert np.array_equal(sb.naive2(histories, 5, 12), sb.naive(histories, 5))
    assert np.array_equal(sb.naive2([_seasonal(48, 12)], 5, 1), sb.naive([_seasonal(48, 12)], 5))


@pytest.mark.parametrize("m", [4, 7, 12])
def test_naive2_matches_a_loop_over_series(m: int) -> None:
    rng = np.random.default_rng(m)
    histories = []
    for i in range(60):
        n = int(rng.integers(1, 8 * m))
        if i % 3 == 0:
            y = 10 + rng.gamma(2.0, size=n)  # mostly not seasonal
        else:
            y = _seasonal(n, m, level=50, noise=float(rng.uniform(0, 15)), seed=i) + 0.5 * i
        histories.append(np.abs(y) if i % 5 else y - 60)  # a few non-positive ones
    got = sb.naive2(histories, 2 * m, m)
    ref = np.stack([_naive2_loop(np.asarray(y, dtype=np.float64), 2 * m, m) for y in histories])
    assert np.allclose(got, ref, rtol=1e-9, atol=1e-9)
    assert (~np.isclose(got, sb.naive(histories, 2 * m))).any(axis=1).sum() >= 10  # both kinds


def test_baselines_take_a_panel_and_refuse_empty_histories_and_bad_arguments() -> None:
    y = np.r_[_seasonal(48, 12), np.arange(1, 4.0)].astype(np.float32)
    panel = Panel(
        ids=np.array(["a", "b"], dtype=object),
        offsets=np.array([0, 48, 51]),
        target=y,
        past=np.zeros((51, 0), np.float32),
        future=np.zeros((51, 0), np.float32),
        static=np.zeros((2, 0), np.float32),
        start=np.array([0, 0]),
        freq=None,
        names=PanelNames("id", None, "y"),
    )
    histories = [y[:48], y[48:]]
    assert np.array_equal(sb.naive2(panel, 6, 12), sb.naive2(histories, 6, 12))
    with pytest.raises(ValueError, match=r"1 histories are empty \(series \[1\]\)"):
        sb.naive([np.ones(3), np.array([])], 2)
    with pytest.raises(ValueError, match="horizon must be an integer >= 1, got 0"):
        sb.seasonal_naive([np.ones(3)], 0, 2)
    with pytest.raises(ValueError, match=r"season must be an integer >= 1, got 2\.5"):
        sb.naive2([np.ones(3)], 2, 2.5)
    assert sb.naive([], 3).shape == (0, 3)


# --- statsforecast ------------------------------------------------------------------------

H, SEASON = 6, 4


def _stat_histories() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(histories, truths): a linear trend, a seasonal series, two tiny ones, noise."""
    t = np.arange(40 + H, dtype=np.float64)
    trend = 10 + 2 * t
    seasonal = _seasonal(40 + H, SEASON, level=30)
    noise = 20 + np.random.default_rng(5).normal(size=30 + H)
    whole = [trend, seasonal, np.array([5.0]), np.array([3.0, 4.0]), noise]
    histories = [y[:-H] if len(y) > H else y for y in whole]
    return histories, [y[-H:] for y in whole]


@pytest.fixture(scope="module")
def stat_run():
    """One statistical_forecasts call shared by the tests (numba compiles on first use)."""
    pytest.importorskip("statsforecast")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    log = logging.getLogger(sb.__name__)
    log.addHandler(handler)
    try:
        histories, truths = _stat_histories()
        out = sb.statistical_forecasts(histories, H, SEASON)
    finally:
        log.removeHandler(handler)
    return histories, truths, out, records


def test_statistical_forecasts_shapes_order_and_fallbacks(stat_run) -> None:
    histories, _, out, records = stat_run
    assert sb.has_statsforecast()
    assert list(out) == ["ets", "theta"]
    for f in out.values():
        assert f.shape == (len(histories), H) and f.dtype == np.float64 and np.isfinite(f).all()
        # the order of the histories: each forecast sits at its own series' level
        assert f[0, 0] > 80 and 0 < f[1].min() and f[1].max() < 50 and abs(f[4].mean() - 20) < 3
        assert np.array_equal(f[2], np.full(H, 5.0))  # too short to fit: seasonal naive
    assert any("seasonal naive used" in r.getMessage() for r in records)
    assert all(r.levelno == logging.WARNING for r in records)


def test_autoets_beats_naive_on_a_trend_and_a_season(stat_run) -> None:
    histories, truths, out, _ = stat_run
    naive = sb.naive(histories, H)
    for k in (0, 1):  # the linear trend and the seasonal series
        ets_mae = np.abs(out["ets"][k] - truths[k]).mean()
        naive_mae = np.abs(naive[k] - truths[k]).mean()
        assert ets_mae < 0.5 * naive_mae, (k, ets_mae, naive_mae)


def test_statistical_forecasts_name_the_extra_without_statsforecast(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "statsforecast", None)  # import statsforecast fails
    with pytest.raises(ImportError, match=r"pip install 'lstmkit\[datasets\]'"):
        sb.statistical_forecasts([np.ones(5)], 2, 1)
    with pytest.raises(ValueError, match="models must be among"):
        sb.statistical_forecasts([np.ones(5)], 2, 1, models=("arima",))
