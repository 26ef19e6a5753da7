"""Tables -> :class:`~lstmkit.data.panel.frame.Panel`: long format, wide format, files, built-ins.

Long format (:func:`panel_from_long`) has one row per (series, time step), as Nixtla's
``unique_id, ds, y``; wide format (:func:`panel_from_wide`) one column per series. Rows are
sorted by (id, time) with one ``np.lexsort`` (none when they already are), every series is put on
its own regular grid of the panel's one frequency (rows added for missing steps), missing target
values inside a series are interpolated linearly and covariates filled forward then backward, all
vectorised over the long arrays: a Python loop runs per series only for the rare ones whose time
stamps do not sit on the common grid. ``report`` counts what was trimmed, added and filled.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from lstmkit.data.panel._columns import (
    check_columns,
    check_min_length,
    check_table,
    column_list,
    factorize_ids,
    first_valid,
    is_number_column,
    name_tuple,
    numeric_column,
    numeric_matrix,
    pick_time_col,
    plain,
    static_values,
    time_values,
)
from lstmkit.data.panel._grid import (
    check_duplicates,
    fill_column,
    grid_positions,
    inner_rows,
    interpolate,
    scatter,
    sort_order,
)
from lstmkit.data.panel.frame import Panel, PanelNames, _offsets, _ranges, shift_times
from lstmkit.data.series.frame import MAX_GROWTH
from lstmkit.data.series.tables import load_table

__all__ = ["future_block", "load_panel", "panel_from_long", "panel_from_wide"]

logger = logging.getLogger(__name__)

_SHOWN = 5  # series named in an error message, at most
_EXAMPLES = 20  # dropped ids kept in the report, at most


def panel_from_long(
    df: pd.DataFrame,
    *,
    target: str,
    id_col: str | None = None,
    time_col: str | None = None,
    past: Sequence[str] = (),
    future: Sequence[str] = (),
    static: Sequence[str] = (),
    freq: str | None = None,
    min_length: int = 1,
) -> Panel:
    """A long table (one row per series and time step) as a panel.

    Args:
        df: the table, rows in any order.
        target: the column to forecast.
        id_col: the series id column; ``None``: the whole table is one series, whose id is
            ``target``.
        time_col: the time column; ``None`` takes the first column named one of
            ``TIME_COLUMN_NAMES`` (``date``, ``ds``, ``time``, ...) if there is one, else rows
            are steps in the order given. Dates (or whole years, or YYYYMMDD numbers) give a
            datetime panel; other integers are positions (step 1).
        past, future, static: covariate columns (see :class:`Panel`); static ones must be
            constant within each series.
        freq: the common frequency (a pandas alias); ``None`` infers it from the series.
        min_length: series with fewer steps (after reindexing) are dropped and counted.

    Raises:
        ValueError: a missing column (the message lists the columns), a duplicate (id, time)
            pair, a non-numeric value, a time value that is not a date, series of different
            frequencies, a static column that varies within a series, no series long enough.
    """
    check_table(df)
    columns = column_list(df)
    if id_col is not None and id_col not in df.columns:
        raise ValueError(f"id column {id_col!r} not found; expected one of the columns: {columns}")
    past, future, static = name_tuple(past), name_tuple(future), name_tuple(static)
    check_columns(df, target, past, future, static, columns)
    used = {id_col, target, *past, *future, *static}
    time_col = pick_time_col(df, time_col, used, columns)
    chosen = [c for c in (id_col, time_col, target, *past, *future, *static) if c is not None]
    if len(set(chosen)) != len(chosen):
        raise ValueError(
            f"the id, time, target and covariate columns must be distinct, got id {id_col!r}, "
            f"time {time_col!r}, target {target!r}, past {list(past)}, future {list(future)}, "
            f"static {list(static)}"
        )
    check_min_length(min_length)

    if id_col is None:
        codes, ids = np.zeros(len(df), dtype=np.int64), np.array([target], dtype=object)
    else:
        codes, ids = factorize_ids(df[id_col], id_col)
    y = numeric_column(df[target], f"target {target!r}", codes, ids)
    if time_col is None:
        times, kind = None, None
    else:
        times, kind = time_values(df[time_col], time_col, codes, ids)
    if freq is not None and kind != "datetime":
        raise ValueError(
            f"freq {freq!r} given but the table has no date column (columns: {columns}); "
            "name it with time_col"
        )
    names = PanelNames(id_col, time_col, target, past, future, static)
    return _assemble(
        codes,
        ids,
        times,
        kind,
        y,
        lambda: numeric_matrix(df, past, codes, ids),
        lambda: numeric_matrix(df, future, codes, ids),
        lambda order: static_values(df, static, codes, ids, order),
        names,
        freq,
        min_length,
    )


def panel_from_wide(
    df: pd.DataFrame,
    *,
    targets: Sequence[str] | str,
    time_col: str | None = None,
    past: Sequence[str] = (),
    future: Sequence[str] = (),
    freq: str | None = None,
    min_length: int = 1,
    id_name: str = "series",
    value_name: str = "value",
) -> Panel:
    """A wide table (one column per series, one row per time step) as a panel.

    Args:
        targets: the series' columns, or ``"all"``: every numeric column but the time column
            and the covariates.
        time_col: as in :func:`panel_from_long` (a ``DatetimeIndex`` also serves).
        past, future: covariate columns shared by every series (calendar, weather, ...).
        id_name, value_name: the id and target names the panel's forecasts are written with.

    Each column's leading and trailing missing values are trimmed, so the series may have
    different lengths and starts; the rest follows :func:`panel_from_long` (ids are the column
    names, in the order given).
    """
    check_table(df)
    if isinstance(df.index, pd.DatetimeIndex) and time_col in (None, df.index.name):
        name = df.index.name or "date"
        df = df.rename_axis(name).reset_index()
        time_col = name
    columns = column_list(df)
    past, future = name_tuple(past), name_tuple(future)
    time_col = pick_time_col(df, time_col, {*past, *future}, columns)
    skip = {time_col, *past, *future}
    if isinstance(targets, str) and targets.strip().lower() == "all":
        targets = [c for c in df.columns if c not in skip and is_number_column(df[c])]
        if not targets:
            raise ValueError(
                f"target 'all': no numeric column besides the time and covariate columns; "
                f"columns: {columns}"
            )
    targets = name_tuple(targets)  # a list, or a comma list
    if not targets:
        raise ValueError("targets is empty; expected column names or 'all'")
    for name in targets:
        if name not in df.columns:
            raise ValueError(f"target column {name!r} not found; columns: {columns}")
    check_columns(df, targets[0], past, future, (), columns)
    if len(set(targets)) != len(targets) or skip & set(targets):
        raise ValueError(
            f"targets must be distinct and exclude the time and covariate columns, got {targets}"
        )
    check_min_length(min_length)
    if time_col in (id_name, value_name) or id_name == value_name:
        raise ValueError(
            f"id_name {id_name!r} and value_name {value_name!r} must differ from each other and "
            f"from the time column {time_col!r}"
        )
    if time_col is None:
        times, kind = np.arange(len(df), dtype=np.int64), "position"
    else:
        times, kind = time_values(df[time_col], time_col)
        if (np.diff(times) < 0).any():  # trim the ends in time order
            order = np.argsort(times, kind="stable")
            df, times = df.iloc[order].reset_index(drop=True), times[order]
    if freq is not None and kind != "datetime":
        raise ValueError(
            f"freq {freq!r} given but the table has no date column (columns: {columns}); "
            "name it with time_col"
        )

    k = len(targets)
    ids = np.array(targets, dtype=object)
    values = [numeric_column(df[c], f"target {c!r}", np.full(len(df), i), ids) for i, c in
              enumerate(targets)]  # fmt: skip
    first = np.array([first_valid(v) for v in values])
    last = np.array([len(v) - 1 - first_valid(v[::-1]) for v in values])
    lengths = np.maximum(last - first + 1, 0)  # 0: a column with no value
    rows = _ranges(first, lengths)  # (T,) rows of the table, series after series
    codes = np.repeat(np.arange(k), lengths)
    y = np.concatenate(
        [v[f : f + n] for v, f, n in zip(values, first, lengths, strict=True)] or [[]]
    )
    times = times[rows]
    trimmed = int(len(df) * k - lengths.sum())
    names = PanelNames(id_name, time_col, value_name, past, future, ())
    panel = _assemble(
        codes,
        ids,
        times,
        kind,
        y.astype(np.float32),
        lambda: numeric_matrix(df, past)[rows],
        lambda: numeric_matrix(df, future)[rows],
        lambda order: np.zeros((k, 0), np.float32),
        names,
        freq,
        min_length,
        rows_read=len(df) * k,
        trimmed=trimmed,
    )
    panel.report["layout"] = "wide"
    return panel


def load_panel(
    source: str | Path,
    *,
    target: str | Sequence[str] | None = None,
    id_col: str | None = None,
    time_col: str | None = None,
    past: Sequence[str] = (),
    future: Sequence[str] = (),
    static: Sequence[str] = (),
    freq: str | None = None,
    min_length: int = 1,
    data_dir: str | Path | None = None,
) -> Panel:
    """A panel from a file (CSV / Parquet, read as :func:`~lstmkit.data.series.load_table`
    does) or a built-in name.

    A built-in panel (``m3-monthly``, ...; :data:`~lstmkit.data.panel.builtin.BUILTIN_PANELS`)
    comes whole, the competition's test part as the last ``report["horizon"]`` steps of every
    series, so ``split_tail(report["horizon"])`` gives the competition's split; the column
    arguments do not apply to it. A file is long format when ``id_col`` is given, wide when
    ``target`` is a comma list, a list or ``"all"``, else one series (a built-in single series
    such as ``airline`` also works, its target and time column by default).
    """
    from lstmkit.data.panel.builtin import is_builtin_panel, load_builtin_panel

    name = str(source).strip()
    path = Path(name).expanduser()
    if data_dir is not None and not path.is_absolute():
        path = Path(data_dir).expanduser() / path
    if is_builtin_panel(name) and not path.exists():
        builtin = load_builtin_panel(name)
        panel = builtin.train.concat_tail(builtin.test)
        logger.info("built-in panel %s: %s", name, builtin.description)
        return panel
    table, defaults = load_table(name, data_dir)
    target = defaults.get("target") if target is None else target
    time_col = defaults.get("time_col") if time_col is None else time_col
    if target is None:
        raise ValueError(
            f"no target column given for {name}; expected a column name, a comma list or "
            f"'all' (columns: {column_list(table)})"
        )
    if isinstance(target, str) and target.strip().lower() != "all" and "," not in target:
        kwargs = dict(id_col=id_col, past=past, future=future, static=static)
        panel = panel_from_long(table, target=target.strip(), time_col=time_col, freq=freq,
                                min_length=min_length, **kwargs)  # fmt: skip
    else:
        if isinstance(target, str) and target.strip().lower() != "all":
            target = [t.strip() for t in target.split(",") if t.strip()]
        if id_col is not None or static:
            raise ValueError(
                f"several targets ({target}) mean a wide table, one column per series; "
                "with an id column give one target (long format), and static covariates "
                "need an id column"
            )
        panel = panel_from_wide(table, targets=target, time_col=time_col, past=past,
                                future=future, freq=freq, min_length=min_length)  # fmt: skip
    panel.report["source"] = name
    return panel


def future_block(panel: Panel, future_df: pd.DataFrame | None, horizon: int) -> np.ndarray:
    """(K, horizon, F) float32: the future covariates over the ``horizon`` steps after each
    series' end, from a table with the panel's id and time columns and its future columns.

    A table without the id column gives every series the same values (matched by time);
    without a time column in the panel, each series' rows are its steps in order. Rows for
    other series or times are ignored.

    Raises:
        ValueError: a missing column, a duplicate (id, time) row, or a value missing for some
            series and steps (the message names them).
    """
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ValueError(f"horizon must be an integer >= 1, got {horizon!r}")
    names, k, h = panel.names, len(panel), int(horizon)
    if not names.future:
        return np.zeros((k, h, 0), dtype=np.float32)
    if future_df is None:
        raise ValueError(
            f"the future covariates {list(names.future)} are needed over the {h} steps after "
            "each series; pass a table of them (--future FILE)"
        )
    check_table(future_df)
    columns = column_list(future_df)
    by_id = names.id_col is not None and names.id_col in future_df.columns
    need = [c for c in (names.time_col, *names.future) if c is not None]
    missing = [c for c in need if c not in future_df.columns]
    if missing or (not by_id and names.time_col is None and k > 1):
        want = [c for c in (names.id_col, *need) if c is not None]
        raise ValueError(
            f"the future table needs the columns {want}; missing {missing or [names.id_col]}; "
            f"columns: {columns}"
        )
    n = len(future_df)
    series = panel.index_of(future_df[names.id_col]) if by_id else np.zeros(n, np.int64)
    if not by_id and k > 1:  # shared by every series: one copy of the rows per series
        series, rows = np.repeat(np.arange(k), n), np.tile(np.arange(n), k)
    else:
        rows = np.arange(n)
    known = series >= 0
    if by_id and not known.any():
        theirs = ", ".join(repr(plain(v)) for v in pd.unique(future_df[names.id_col])[:3])
        ours = ", ".join(repr(plain(v)) for v in panel.ids[:3])
        raise ValueError(
            f"no row of the future table is for a series of the panel: its {names.id_col!r} "
            f"holds {theirs}, ...; expected ids such as {ours}"
        )
    if not known.all():
        logger.info("future table: %d rows for series not in the panel, ignored", (~known).sum())
    series, rows = series[known], rows[known]
    if names.time_col is None:  # each series' rows in order are its steps after the end
        order = np.argsort(series, kind="stable")
        series, rows = series[order], rows[order]
        counts = np.bincount(series, minlength=k)
        step = np.arange(len(series)) - np.repeat(_offsets(counts)[:-1], counts)
    else:
        kind = "datetime" if panel.freq is not None else "position"
        t = time_values(future_df[names.time_col], f"future {names.time_col}", kind=kind)[0]
        t = t[rows]
        expected = shift_times(
            np.repeat(panel.start, h),
            np.repeat(panel.lengths(), h) + np.tile(np.arange(h), k),
            panel.freq,
        ).view(np.int64)  # (K * H,) the times after each series' end
        grid = pd.MultiIndex.from_arrays([np.repeat(np.arange(k), h), expected])
        at = grid.get_indexer(pd.MultiIndex.from_arrays([series, t]))
        step = np.where(at >= 0, at % h, -1)
    inside = (step >= 0) & (step < h)
    series, rows, step = series[inside], rows[inside], step[inside]
    cell = series * h + step
    per_cell = np.bincount(cell, minlength=k * h)
    if (per_cell > 1).any():
        dup = int(np.argmax(per_cell > 1))
        raise ValueError(
            f"the future table has several rows for series {panel.ids[dup // h]!r} at step "
            f"{dup % h + 1} of the horizon; expected one row per series and time"
        )
    values = numeric_matrix(future_df, names.future)
    block = np.full((k * h, len(names.future)), np.nan, dtype=np.float32)
    block[cell] = values[rows]
    block = block.reshape(k, h, len(names.future))
    hole = np.isnan(block).any(axis=2)  # (K, H)
    if hole.any():
        bad = np.flatnonzero(hole.any(axis=1))
        shown = "; ".join(_missing_steps(panel, i, np.flatnonzero(hole[i]), h) for i in bad[:3])
        more = f"; and {len(bad) - 3} more series" if len(bad) > 3 else ""
        raise ValueError(
            f"future covariates {list(names.future)} missing for {len(bad)} of {k} series over "
            f"the {h}-step horizon: {shown}{more}; expected one row per series and step after "
            "its end"
        )
    return block


# --- assembling -----------------------------------------------------------------------------


def _assemble(codes, ids, times, kind, y, past_of, future_of, static_of, names, freq,
              min_length, *, rows_read=None, trimmed=0) -> Panel:  # fmt: skip
    """Sort, check, trim, grid, drop, reindex and fill the long columns of a panel."""
    rows_read = len(y) if rows_read is None else rows_read
    k = len(ids)
    order = sort_order(codes, times)
    if order is not None:
        codes, y = codes[order], y[order]
        times = None if times is None else times[order]
    counts = np.bincount(codes, minlength=k)
    if times is not None:
        check_duplicates(codes, times, kind, ids, names)
    static = static_of(order)  # (K, S), checked against every row
    past, future = past_of(), future_of()
    if order is not None:
        past, future = past[order], future[order]

    # missing target values at a series' ends: cut (nothing to interpolate from)
    keep = inner_rows(y, counts)
    if not keep.all():
        trimmed += int((~keep).sum())
        codes, y, past, future = codes[keep], y[keep], past[keep], future[keep]
        times = None if times is None else times[keep]
        counts = np.bincount(codes, minlength=k)
    offsets = _offsets(counts)

    # every series on its own regular grid: pos = step from its start
    alias = None
    first = offsets[:-1][counts > 0]
    if times is None:
        pos = np.arange(len(y)) - np.repeat(offsets[:-1], counts)
        start = np.zeros(k, np.int64)
    elif kind == "position":
        start = np.zeros(k, np.int64)
        start[counts > 0] = times[first]
        pos = times - np.repeat(start, counts)
    else:
        alias, pos = grid_positions(times, counts, ids, freq, names.time_col)
        start = np.zeros(k, "datetime64[ns]")
        start[counts > 0] = times[first].view("datetime64[ns]")
    lengths = np.zeros(k, np.int64)
    lengths[counts > 0] = pos[offsets[1:][counts > 0] - 1] + 1
    grown = int(lengths.sum())
    if len(y) and grown > MAX_GROWTH * len(y):
        raise ValueError(
            f"frequency {alias or 'step 1'!r} would turn {len(y)} rows into {grown} "
            f"({grown - len(y)} added for gaps); check freq or the time column"
        )

    # too short: dropped
    short = lengths < min_length
    report = {"rows_read": rows_read, "trimmed": trimmed}
    if short.all():
        raise ValueError(
            f"no series has at least min_length={min_length} steps: all {k} are shorter "
            f"(the longest has {int(lengths.max(initial=0))}); lower min_length or the "
            "horizon / lookback"
        )
    if short.any():
        dropped = ids[short]
        logger.warning(
            "%d of %d series dropped: fewer than %d steps (%s%s)", short.sum(), k, min_length,
            ", ".join(map(repr, dropped[:_SHOWN])), ", ..." if len(dropped) > _SHOWN else "",
        )  # fmt: skip
        report["dropped_examples"] = [plain(i) for i in dropped[:_EXAMPLES]]
        rows = np.repeat(~short, counts)
        y, pos, past, future = y[rows], pos[rows], past[rows], future[rows]
        ids, static, start = ids[~short], static[~short], start[~short]
        counts, lengths = counts[~short], lengths[~short]
        offsets = _offsets(counts)
    report["series_dropped"] = int(short.sum())

    # gaps: reindexed, then filled
    gappy = lengths > counts
    new_offsets = _offsets(lengths)
    if gappy.any():
        dest = np.repeat(new_offsets[:-1], counts) + pos
        y = scatter(y, dest, new_offsets[-1])
        past = scatter(past, dest, new_offsets[-1])
        future = scatter(future, dest, new_offsets[-1])
    filled = {names.target: interpolate(y)}
    for cols, values in ((names.past, past), (names.future, future)):
        for j, col in enumerate(cols):
            filled[col] = fill_column(values[:, j], new_offsets, ids, col)
    report.update(
        series=len(ids),
        rows=int(new_offsets[-1]),
        gaps_reindexed=int(new_offsets[-1] - len(pos)),
        series_with_gaps=int(gappy.sum()),
        filled=filled,
        freq=alias,
        min_steps=int(lengths.min()),
        max_steps=int(lengths.max()),
    )
    logger.info(
        "panel: %d series (%d dropped), %d rows (%d read, %d added for gaps, %d trimmed), "
        "freq %s, filled %s", report["series"], report["series_dropped"], report["rows"],
        rows_read, report["gaps_reindexed"], trimmed, alias, filled,
    )  # fmt: skip
    return Panel(ids, new_offsets, y, past, future, static, start, alias, names, report)


def _missing_steps(panel: Panel, i: int, steps: np.ndarray, h: int) -> str:
    """``'a' (steps 2, 3: 2020-01-08, 2020-01-09)``: series i's missing horizon steps."""
    times = panel.future_times(i, h)[steps[:4]]
    if panel.freq is None:
        shown = "position " + ", ".join(map(str, times))
    else:
        shown = ", ".join(str(t.date()) if t == t.normalize() else str(t) for t in times)
    more = ", ..." if len(steps) > 4 else ""
    nums = ", ".join(str(s + 1) for s in steps[:4])
    label = "step" if len(steps) == 1 else "steps"
    return f"{plain(panel.ids[i])!r} ({label} {nums}{more}: {shown}{more})"
