"""lstmkit.data.panel.metrics: the M-competition scores per series, against hand-computed values,
the single-series metrics of lstmkit.data.series.baselines and a loop over series."""

from __future__ import annotations

import numpy as np
import pytest

from lstmkit.data.panel import metrics as pm
from lstmkit.data.series.baselines import forecast_metrics, mase_scale


def test_smape_of_a_known_pair_with_a_zero_over_zero_term() -> None:
    truth, point = np.array([[100.0, 0.0, 50.0]]), np.array([[110.0, 0.0, 40.0]])
    # terms 10/210, 0 (0/0), 10/90: 200/3 (1/21 + 1/9) = 2000/189
    assert pm.smape(truth, point) == pytest.approx([2000 / 189])
    # masking the 0/0 step divides by two steps instead of three
    assert pm.smape(truth, point, mask=[[1, 0, 1]]) == pytest.approx([1000 / 63])
    assert pm.smape(truth, truth)[0] == 0.0
    assert pm.smape([[1.0]], [[-1.0]])[0] == pytest.approx(200.0)  # the upper bound


def test_mask_ignores_steps_and_a_series_with_none_observed_is_nan() -> None:
    truth = np.array([[1.0, np.nan, 3.0], [5.0, 5.0, 5.0]])  # a NaN in a masked step is ignored
    point = np.array([[2.0, 0.0, 3.0], [4.0, 4.0, 4.0]])
    mask = np.array([[True, False, True], [False, False, False]])
    scale = np.array([1.0, 1.0])
    got = pm.score_panel(truth, point, scale, mask, lower=point - 1, upper=point + 1, alpha=0.1)
    assert got["mase"][0] == pytest.approx(0.5) and np.isnan(got["mase"][1])
    assert got["coverage"][0] == 1.0 and np.isnan(got["coverage"][1])
    assert np.isnan(got["smape"][1]) and np.isnan(got["msis"][1])
    assert np.isnan(pm.mase(truth, point, scale))[0]  # unmasked, the NaN step counts


def test_panel_scores_match_the_single_series_metrics() -> None:
    rng = np.random.default_rng(0)
    truth, point = rng.uniform(1, 10, (4, 6)), rng.uniform(1, 10, (4, 6))
    mask = rng.random((4, 6)) > 0.3
    scale = np.array([0.5, 1.0, 2.0, 3.0])
    s, m = pm.smape(truth, point, mask), pm.mase(truth, point, scale, mask)
    c = pm.coverage(truth, point - 2, point + 2, mask)
    for k in range(4):
        ref = forecast_metrics(
            truth[k], point[k], scale[k], lower=point[k] - 2, upper=point[k] + 2, mask=mask[k]
        )
        assert (s[k], m[k], c[k]) == pytest.approx((ref["smape"], ref["mase"], ref["coverage"]))


def test_mase_scales_of_seasonal_short_and_constant_histories() -> None:
    histories = [
        np.array([1, 2, 3, 4, 2, 4, 6, 8.0]),  # season 4: |2-1|, |4-2|, |6-3|, |8-4| -> 2.5
        np.array([1, 3, 2, 5.0]),  # not longer than the season: lag 1 -> (2 + 1 + 3) / 3
        np.array([1, 2, 1, 2, 1, 2.0], dtype=np.float32),  # y_t - y_{t-4} all 0: lag 1 -> 1.0
        np.array([5, 5, 5.0]),  # constant: mean |y|
        np.array([-3.0]),  # length 1: mean |y|
        np.array([0, 0.0]),  # all zero: 1.0
    ]
    got = pm.mase_scales(histories, season=4)
    assert got == pytest.approx([2.5, 2.0, 1.0, 5.0, 3.0, 1.0])
    # a series constant at the season but not at lag 1 falls back to the lag-1 scale
    assert pm.mase_scales([np.array([1, 2, 1, 2, 1, 2.0])], season=2) == pytest.approx([1.0])
    assert np.all(got > 0) and got.dtype == np.float64


def test_mase_scales_long_matches_a_loop_and_the_list_form() -> None:
    rng = np.random.default_rng(1)
    lengths = rng.integers(1, 30, 200)
    offsets = np.r_[0, np.cumsum(lengths)]
    values = rng.normal(10, 3, offsets[-1])
    values[offsets[5] : offsets[6]] = 7.0  # one constant series
    got = pm.mase_scales_long(values, offsets, season=7)
    for k in range(len(lengths)):
        y = values[offsets[k] : offsets[k + 1]]
        if len(y) > 7:
            ref = mase_scale(y, 7)
        elif len(y) > 1:
            ref = mase_scale(y, 1)
        else:
            ref = abs(y[0])
        assert got[k] == pytest.approx(ref if ref > 0 else np.abs(y).mean()), k
    histories = [values[offsets[k] : offsets[k + 1]] for k in range(len(lengths))]
    assert np.array_equal(pm.mase_scales(histories, 7), got)


def test_mase_scales_long_is_vectorised_over_many_series() -> None:
    lengths = np.full(100_000, 20)
    offsets = np.r_[0, np.cumsum(lengths)]
    values = np.tile(np.r_[np.arange(10.0), np.arange(10.0)], 100_000)  # period 10
    got = pm.mase_scales_long(values, offsets, season=10)  # seasonal diffs 0 -> lag 1
    assert got.shape == (100_000,) and got == pytest.approx(np.full(100_000, 27 / 19))


def test_mase_coverage_and_msis_with_misses_above_and_below() -> None:
    assert pm.mase([[3.0, 5.0]], [[1.0, 5.0]], [2.0]) == pytest.approx([0.5])
    truth = np.array([[1.0, 2.0, 3.0, 4.0]])
    lower, upper = np.array([[0.0, 2.5, 3.0, 5.0]]), np.array([[2.0, 3.0, 3.0, 6.0]])
    assert pm.coverage(truth, lower, upper) == pytest.approx([0.5])  # 1 in, 2 below, 3 on, 4 below
    # alpha 0.2 (2 / alpha = 10): inside -> width 2; below by 2 -> 6 + 20; above by 2 -> 4 + 20
    truth = np.array([[5.0, 0.0, 12.0]])
    lower, upper = np.array([[4.0, 2.0, 6.0]]), np.array([[6.0, 8.0, 10.0]])
    assert pm.msis(truth, lower, upper, [2.0], alpha=0.2) == pytest.approx([(2 + 26 + 24) / 3 / 2])


def test_scaled_crps_perfect_known_and_point_forecast() -> None:
    truth = np.array([[1.0, 4.0]])
    levels = np.array([0.1, 0.5, 0.9])
    perfect = np.repeat(truth[..., None], 3, axis=2)  # (K, H, Q)
    assert pm.scaled_crps(truth, perfect, levels, [1.0]) == pytest.approx([0.0])
    # y = 1, q0.1 = 0, q0.9 = 2: pinball 0.1 and 0.1, twice their mean 0.2, scale 0.5 -> 0.4
    got = pm.scaled_crps([[1.0]], [[[0.0, 2.0]]], [0.1, 0.9], [0.5])
    assert got == pytest.approx([0.4])
    # every quantile at the point forecast, symmetric levels: the CRPS is the MAE (so MASE)
    rng = np.random.default_rng(2)
    t, f = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    q = np.repeat(f[..., None], 3, axis=2)
    scale = np.array([1.0, 2.0, 0.5])
    assert pm.scaled_crps(t, q, levels, scale) == pytest.approx(pm.mase(t, f, scale))


def test_owa_of_naive2_against_itself_and_of_a_better_model() -> None:
    s, m = np.array([10.0, 20.0, np.nan]), np.array([1.0, 3.0, np.nan])
    assert pm.owa(s, m, s, m) == pytest.approx(1.0)
    assert pm.owa(s / 2, m / 4, s, m) == pytest.approx(0.5 * (0.5 + 0.25))
    # a NaN in one array drops that series from every mean
    s2 = np.array([10.0, np.nan, 5.0])
    assert pm.owa(s2, m, s, m) == pytest.approx(1.0)
    assert np.isnan(pm.owa([np.nan], [1.0], [1.0], [1.0]))
    with pytest.raises(ValueError, match=r"four \(K,\) arrays"):
        pm.owa(s, m, s[:2], m)


def test_score_panel_keys() -> None:
    truth = np.ones((2, 3))
    quantiles = np.ones((2, 3, 2))
    got = pm.score_panel(truth, truth, np.ones(2), quantiles=quantiles, levels=[0.1, 0.9])
    assert sorted(got) == ["crps", "mase", "smape"]
    got = pm.score_panel(truth, truth, np.ones(2), lower=truth, upper=truth)
    assert sorted(got) == ["coverage", "mase", "smape"]
    got = pm.score_panel(truth, truth, np.ones(2), lower=truth, upper=truth, alpha=0.05)
    assert sorted(got) == ["coverage", "mase", "msis", "smape"]
    assert all(v.shape == (2,) for v in got.values())


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda t: pm.smape(t, np.ones((2, 4))), r"point must have shape \(2, 3\).*got \(2, 4\)"),
        (lambda t: pm.smape(t[0], t[0]), r"truth must be \(K, H\).*got shape \(3,\)"),
        (lambda t: pm.smape(t, t, mask=np.ones((3, 2))), r"mask must have shape \(2, 3\)"),
        (lambda t: pm.smape(t, t, mask=np.full((2, 3), 2)), "mask must be bool or 1/0"),
        (lambda t: pm.mase(t, t, np.ones(3)), r"scale must have shape \(2,\).*got \(3,\)"),
        (lambda t: pm.mase(t, t, np.array([1.0, 0.0])), "scale must be finite and > 0"),
        (lambda t: pm.coverage(t, t, np.ones((2, 2))), r"upper must have shape \(2, 3\)"),
        (lambda t: pm.msis(t, t, t, np.ones(2), alpha=1.5), r"alpha must be in \(0, 1\)"),
        (
            lambda t: pm.scaled_crps(t, np.ones((2, 3, 3)), [0.1, 0.9], np.ones(2)),
            r"quantiles must have shape \(2, 3, 2\).*got \(2, 3, 3\)",
        ),
        (lambda t: pm.scaled_crps(t, t[..., None], [1.0], np.ones(2)), r"levels must be"),
        (lambda t: pm.score_panel(t, t, np.ones(2), lower=t), "both lower and upper"),
        (lambda t: pm.score_panel(t, t, np.ones(2), alpha=0.1), "alpha .* needs lower"),
        (lambda t: pm.score_panel(t, t, np.ones(2), levels=[0.5]), "quantiles and levels"),
        (lambda t: pm.mase_scales_long(np.ones(3), np.array([0, 2]), 1), "rise from 0 to 3"),
        (lambda t: pm.mase_scales([t[0]], 0), "season must be an integer >= 1"),
    ],
)
def test_errors_name_expected_and_got(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call(np.ones((2, 3)))


def test_owa_from_forecasts_naive2_is_one_and_the_season_wins_on_seasonal_series() -> None:
    from lstmkit.data.panel import statbaselines as sb

    t = np.arange(60)
    whole = [50 * (1 + 0.4 * np.sin(2 * np.pi * (t + k) / 12)) + k for k in range(5)]
    histories, truth = [y[:48] for y in whole], np.stack([y[48:] for y in whole])
    scale = pm.mase_scales(histories, 12)
    n2, snaive = sb.naive2(histories, 12, 12), sb.seasonal_naive(histories, 12, 12)
    s2, m2 = pm.smape(truth, n2), pm.mase(truth, n2, scale)
    assert pm.owa(s2, m2, s2, m2) == pytest.approx(1.0)
    naive = sb.naive(histories, 12)
    assert pm.owa(pm.smape(truth, naive), pm.mase(truth, naive, scale), s2, m2) > 2.0
    # an exactly periodic series: the seasonal naive is perfect, and so is Naive2
    assert np.allclose(pm.mase(truth, snaive, scale), 0.0) and np.allclose(m2, 0.0, atol=1e-9)


def test_mase_scale_of_rounding_noise_falls_back() -> None:
    """A series periodic up to float error has seasonal differences of ~1e-14, not 0: its scale
    falls back as a constant season's does, so an exact seasonal forecast scores ~0, not ~1."""
    t = np.arange(48)
    y = 50 * (1 + 0.4 * np.sin(2 * np.pi * t / 12))  # sin(x + 2 pi) != sin(x) in float64
    assert 0 < np.abs(y[12:] - y[:-12]).max() < 1e-12
    lag1 = np.abs(np.diff(y)).mean()
    assert pm.mase_scales([y], 12) == pytest.approx([lag1])
    y32 = y.astype(np.float32)  # as a Panel stores it: a few ulps at most
    assert pm.mase_scales([y32], 12) == pytest.approx([np.abs(np.diff(y32.astype(float))).mean()])
    # a genuine small seasonal change is kept: a trend of 1e-3 a step, 2.4e-4 of the level a year
    assert pm.mase_scales([50 + 1e-3 * t], 12) == pytest.approx([0.012])
