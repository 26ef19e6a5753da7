"""Small synthetic panels shared by the panel tests (CLI, data-parallel, serving)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def daily_panel(
    k: int,
    seed: int = 0,
    *,
    steps: tuple[int, int] = (50, 70),
    noise: float = 0.0,
    promo: bool = False,
    ids: str = "s{:02d}",
) -> pd.DataFrame:
    """A long table (``unique_id, ds, y``) of k daily series of ``steps`` (min, max) lengths
    with a weekly season, levels from 1 to 1000, ``noise`` relative Gaussian noise; with
    ``promo`` a 0/1 ``promo`` column on which days the target doubles (a covariate known
    ahead)."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(k):
        n = int(rng.integers(steps[0], steps[1] + 1))
        y = 10 ** (3 * i / (k - 1)) * (1 + 0.3 * np.sin(2 * np.pi * (np.arange(n) + i) / 7))
        if noise:
            y = y * (1 + noise * rng.normal(size=n))
        days = pd.date_range("2022-01-01", periods=n).strftime("%Y-%m-%d")
        frame = {"unique_id": ids.format(i), "ds": days, "y": y}
        if promo:
            frame["promo"] = (rng.random(n) < 0.3).astype(int)
            frame["y"] = y * (1 + frame["promo"])
        frames.append(pd.DataFrame(frame))
    return pd.concat(frames, ignore_index=True)
