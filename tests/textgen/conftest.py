"""Shared fixtures of the textgen tests: a small text and tiny model options."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def small_text() -> str:
    """The first ~6000 characters of the built-in kjv text (whole verses)."""
    from lstmkit.data.text import load_text

    text = load_text("kjv")
    return text[: text.index("\n", 6000) + 1]


@pytest.fixture(scope="session")
def tiny() -> dict:
    """Options of a tiny model that trains in well under a second per epoch."""
    return {"hidden": 24, "layers": 1, "batch_size": 8, "bptt": 16, "lr": 0.01, "epochs": 2}
