"""Panels: many series in one forecaster.

A :class:`Panel` keeps K series as one long array per column plus series offsets
(:mod:`~lstmkit.data.panel.frame`); :func:`load_panel`, :func:`panel_from_long` and
:func:`panel_from_wide` build one from a table (:mod:`~lstmkit.data.panel.load`), and
:func:`load_builtin_panel` gives the M1, M3 and Tourism competition sets split as the
competitions did (:mod:`~lstmkit.data.panel.builtin`).
"""

from lstmkit.data.panel.builtin import (
    BUILTIN_PANELS,
    BuiltinPanel,
    is_builtin_panel,
    load_builtin_panel,
)
from lstmkit.data.panel.frame import Panel, PanelNames, shift_times
from lstmkit.data.panel.load import future_block, load_panel, panel_from_long, panel_from_wide

__all__ = [
    "BUILTIN_PANELS",
    "BuiltinPanel",
    "Panel",
    "PanelNames",
    "future_block",
    "is_builtin_panel",
    "load_builtin_panel",
    "load_panel",
    "panel_from_long",
    "panel_from_wide",
    "shift_times",
]
