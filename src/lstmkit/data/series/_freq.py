"""Frequency aliases: pandas 3 spellings from the older ones users type, and an offset's step."""

from __future__ import annotations

import re

import pandas as pd
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import BaseOffset

__all__ = ["LEGACY_AMBIGUOUS", "nominal_step", "normalise_alias", "parse_offset"]

# older unit spellings (pandas < 2.2) -> the pandas 3 ones; case matters ("MS" is month start,
# "ms" milliseconds), so only these exact spellings are rewritten
_LEGACY_UNITS = {
    "H": "h",
    "BH": "bh",
    "CBH": "cbh",
    "T": "min",
    "S": "s",
    "L": "ms",
    "U": "us",
    "N": "ns",
    "M": "ME",
    "BM": "BME",
    "CBM": "CBME",
    "SM": "SME",
    "Q": "QE",
    "BQ": "BQE",
    "A": "YE",
    "Y": "YE",
    "AS": "YS",
    "BA": "BYE",
    "BY": "BYE",
    "BAS": "BYS",
}
# spellings that only said "monthly" / "quarterly" / "yearly": month starts may be meant too
LEGACY_AMBIGUOUS = frozenset({"M", "Q", "A", "Y"})
_ALIAS = re.compile(r"^\s*(\d*)\s*([A-Za-z]+)(-[A-Za-z]+)?\s*$")


def normalise_alias(freq: str) -> tuple[str, str]:
    """``"30T"`` -> ``("30min", "T")``: the pandas 3 spelling and the unit as typed."""
    match = _ALIAS.match(freq)
    if match is None:
        return freq.strip(), ""
    count, unit, anchor = match.groups()
    return f"{count}{_LEGACY_UNITS.get(unit, unit)}{anchor or ''}", unit


def parse_offset(freq: str) -> BaseOffset:
    """The pandas offset of an alias, old spellings included; ValueError for an unknown one."""
    if not isinstance(freq, str):
        raise TypeError(f"freq must be a pandas offset alias string, got {type(freq).__name__}")
    alias, _ = normalise_alias(freq)
    try:
        return to_offset(alias)
    except ValueError:
        raise ValueError(
            f"unknown frequency {freq!r}: expected a pandas offset alias such as "
            "'h', '30min', 'D', 'B', 'W-SUN', 'MS', 'ME', 'QS', 'YS'"
        ) from None


def nominal_step(offset: BaseOffset) -> pd.Timedelta:
    """The length of one step of ``offset`` (a month counts as 31 days, a year as 365)."""
    stamps = pd.date_range("2001-01-01", periods=2, freq=offset)  # 2001: not a leap year
    return stamps[1] - stamps[0]
