"""forecast.png and residuals.png: what the figures hold, read back through matplotlib."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.ticker import MaxNLocator

from lstmkit.viz.forecast import MAX_WINDOWS, plot_forecast, plot_residuals, shown_windows


def _scored(windows: int, H: int = 6, T: int = 80, quantiles: bool = True, seed: int = 0):
    """A monthly series of T rows whose last ``windows`` origins were scored (horizon H)."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2000-01-01", periods=T, freq="MS")
    y = 100 + np.cumsum(rng.normal(size=T))
    origins = np.arange(T - H - windows + 1, T - H + 1)  # (W,) the first row forecast
    steps = origins[:, None] + np.arange(H)  # (W, H)
    point = y[steps] + rng.normal(size=(windows, H))
    qs = None
    if quantiles:
        qs = np.stack([point - 2, point, point + 2], axis=-1)  # (W, H, 3)
    scored = {"origins": origins, "point": point, "quantiles": qs, "truth": y[steps]}
    test_start = T - H - windows + 1 - 12  # the look-back of the first window
    bounds = (0, test_start - 10, test_start, T)
    return index, y, scored, bounds


def _forecast_lines(fig):
    return [line for ax in fig.axes for line in ax.get_lines() if line.get_gid() == "forecast"]


def _intervals(fig):
    return [c for ax in fig.axes for c in ax.collections if isinstance(c, PolyCollection)]


@pytest.mark.parametrize("windows", [1, 4, MAX_WINDOWS])
def test_few_windows_are_all_drawn_with_their_intervals(tmp_path, windows):
    index, y, scored, bounds = _scored(windows)
    path = tmp_path / "forecast.png"
    fig = plot_forecast(index, y, scored, (0.1, 0.5, 0.9), bounds, path, "forecast airline: y",
                        xlabel="month", ylabel="passengers", context=12)  # fmt: skip
    assert path.read_bytes()[:4] == b"\x89PNG"
    lines = _forecast_lines(fig)
    assert len(lines) == windows
    assert len(_intervals(fig)) == windows  # one 0.1-0.9 band per window
    for line, j in zip(lines, range(windows), strict=True):  # each from its own origin
        xs = np.asarray(line.get_xdata(), dtype="datetime64[ns]")
        assert xs[0] == index[scored["origins"][j]].to_datetime64()
        np.testing.assert_array_equal(line.get_ydata(), scored["point"][j])
    for ax in fig.axes:
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("month", "passengers")
    assert f"all {windows} test windows" in fig.axes[0].get_title()
    colors = {line.get_color() for line in lines}
    assert len(colors) == windows  # told apart by colour


def test_many_windows_are_a_spread_few(tmp_path):
    W = 40
    index, y, scored, bounds = _scored(W, quantiles=False)
    fig = plot_forecast(index, y, scored, (), bounds, tmp_path / "f.png", "t", xlabel="month",
                        ylabel="passengers")  # fmt: skip
    lines = _forecast_lines(fig)
    chosen = shown_windows(W)
    assert len(lines) == len(chosen) == MAX_WINDOWS
    assert chosen[0] == 0 and chosen[-1] == W - 1  # from the first origin to the last
    starts = [np.asarray(line.get_xdata(), dtype="datetime64[ns]")[0] for line in lines]
    assert starts == [index[scored["origins"][j]].to_datetime64() for j in chosen]
    assert not _intervals(fig)  # no quantiles, no bands
    assert f"{MAX_WINDOWS} of {W} test windows" in fig.axes[0].get_title()


def test_without_a_time_column_the_axis_is_steps(tmp_path):
    _, y, scored, bounds = _scored(3)
    fig = plot_forecast(np.arange(len(y)), y, scored, (0.1, 0.5, 0.9), bounds,
                        tmp_path / "f.png", "t", ylabel="y")  # fmt: skip
    assert fig.axes[0].get_xlabel() == "step"
    locator = fig.axes[1].xaxis.get_major_locator()
    assert isinstance(locator, MaxNLocator) and locator._integer


def test_residuals_have_integer_steps_ahead(tmp_path):
    _, _, scored, _ = _scored(5, H=4)
    fig = plot_residuals(scored, tmp_path / "residuals.png", "t", ylabel="passengers")
    steps_ax = fig.axes[1]
    assert steps_ax.get_xlabel() == "steps ahead"
    locator = steps_ax.xaxis.get_major_locator()
    assert isinstance(locator, MaxNLocator) and locator._integer
    ticks = [t for t in steps_ax.get_xticks() if 1 <= t <= 4]
    assert ticks and all(float(t).is_integer() for t in ticks)


def test_a_run_titles_its_plots_with_the_file_name(tmp_path, monkeypatch):
    """run_forecast on a CSV given by its absolute path: the title names the file, the axes
    the time column and the target."""
    import lstmkit.tasks.forecast as task

    rng = np.random.default_rng(0)
    n = 90
    df = pd.DataFrame({"day": pd.date_range("2021-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
                       "units": np.round(50 + 10 * np.sin(np.arange(n) * 2 * np.pi / 7)
                                         + rng.normal(size=n), 1)})  # fmt: skip
    csv = tmp_path / "data" / "shop sales.csv"
    csv.parent.mkdir()
    df.to_csv(csv, index=False)
    figures = {}

    def keep(name, plot):
        def wrapper(*args, **kwargs):
            figures[name] = (plot(*args, **kwargs), args, kwargs)
            return figures[name][0]

        monkeypatch.setattr(task, name, wrapper)

    keep("plot_forecast", task.plot_forecast)
    keep("plot_residuals", task.plot_residuals)
    run = tmp_path / "run"
    run.mkdir()
    options = {"hidden": 8, "epochs": 1, "min_steps": 1, "horizon": 7, "lookback": 14,
               "quantiles": [0.1, 0.9]}  # fmt: skip
    task.run_forecast({"source": str(csv.resolve()), "target": "units"}, options, run)

    fig, args, _ = figures["plot_forecast"]
    title = args[6]
    assert title == "forecast shop sales.csv: units" and str(tmp_path) not in title
    assert (fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()) == ("day", "units")
    scored = args[2]
    assert len(_forecast_lines(fig)) == len(shown_windows(len(scored["origins"])))
    assert len(_intervals(fig)) == len(_forecast_lines(fig))
    res_fig = figures["plot_residuals"][0]
    assert res_fig.axes[1].xaxis.get_major_locator()._integer
    assert (run / "forecast.png").is_file() and (run / "residuals.png").is_file()
