"""Raw tables for forecasting: the built-in series (``airline``, ``co2``, ``sf_temps``) and files.

:func:`load_table` reads one; :func:`lstmkit.data.series.frame.prepare_frame` turns it into a
regular series. Nothing here downloads: ``airline`` ships inside lstmkit, ``co2`` and ``sf_temps``
come from the local copies that the ``statsmodels`` and ``vega_datasets`` packages install.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

__all__ = ["BUILTIN_SERIES", "TABLE_FORMATS", "BuiltinSeries", "load_table"]

logger = logging.getLogger(__name__)

TABLE_FORMATS = ".csv, .txt, .tsv, .parquet, .pq"


@dataclass(frozen=True)
class BuiltinSeries:
    """Where a built-in series comes from and which of its columns to use by default."""

    load: Callable[[], pd.DataFrame]  # the raw table, the time as a column
    target: str
    time_col: str
    description: str  # one line: what it is, how long, its frequency


def _load_airline() -> pd.DataFrame:
    with resources.files("lstmkit").joinpath("datasets", "airline.csv").open("rb") as f:
        return pd.read_csv(f)


def _load_co2() -> pd.DataFrame:
    try:
        from statsmodels.datasets import co2
    except ImportError as exc:
        raise ValueError(
            "the built-in series 'co2' needs statsmodels: pip install statsmodels"
        ) from exc
    data = co2.load_pandas().data  # DatetimeIndex (weekly, W-SAT), one column co2
    return data.rename_axis("date").reset_index()


def _load_sf_temps() -> pd.DataFrame:
    try:
        from vega_datasets import local_data
    except ImportError as exc:
        raise ValueError(
            "the built-in series 'sf_temps' needs vega_datasets: pip install vega_datasets"
        ) from exc
    return local_data.sf_temps()[["date", "temp"]]  # the copy installed with the package


BUILTIN_SERIES: dict[str, BuiltinSeries] = {
    "airline": BuiltinSeries(
        _load_airline,
        "passengers",
        "month",
        "monthly international airline passengers (thousands), 1949-1960, 144 rows; "
        "ships with lstmkit",
    ),
    "co2": BuiltinSeries(
        _load_co2,
        "co2",
        "date",
        "weekly atmospheric CO2 at Mauna Loa (ppm), 1958-2001, 2284 rows with 59 missing; "
        "from statsmodels",
    ),
    "sf_temps": BuiltinSeries(
        _load_sf_temps,
        "temp",
        "date",
        "hourly San Francisco temperatures (F), 2010, 8759 rows; from vega_datasets",
    ),
}


def load_table(source: str, data_dir: str | Path | None = None) -> tuple[pd.DataFrame, dict]:
    """A built-in series name or a table file, and the column defaults for it.

    Args:
        source: ``airline``, ``co2``, ``sf_temps`` (a file of that name in the working directory
            wins), or a ``.csv`` / ``.txt`` / ``.tsv`` / ``.parquet`` / ``.pq`` file.
        data_dir: the folder a relative file path is taken from (default: the working
            directory). Built-in series ignore it.

    Returns:
        ``(table, defaults)``: the raw table and ``{"target": ..., "time_col": ...}`` for a
        built-in series (``{}`` for a file).

    Raises:
        ValueError: a missing file or folder, an unknown suffix, an empty file (0 bytes or no
            rows), a file that cannot be parsed, a missing optional package (the message names
            what to ``pip install``).
    """
    if not isinstance(source, str | Path):
        raise TypeError(f"source must be a series name or a file path, got {type(source).__name__}")
    name = str(source).strip()
    path = Path(name).expanduser()
    if data_dir is not None and not path.is_absolute():
        path = Path(data_dir).expanduser() / path
    key = name.lower()
    if key in BUILTIN_SERIES and not path.exists():
        builtin = BUILTIN_SERIES[key]
        table = builtin.load()
        logger.info("built-in series %s: %s", key, builtin.description)
        return table, {"target": builtin.target, "time_col": builtin.time_col}
    return _read_file(path), {}


def _read_file(path: Path) -> pd.DataFrame:
    if not path.is_file():
        kind = "is a directory, not a file" if path.is_dir() else "not found"
        raise ValueError(
            f"data file {kind}: {path}; expected a {TABLE_FORMATS} file or a built-in series "
            f"({', '.join(BUILTIN_SERIES)})"
        )
    suffix = path.suffix.lower()
    if suffix not in _READERS:
        raise ValueError(
            f"unknown table file type {path.name!r}: expected one of {TABLE_FORMATS}, "
            f"or a built-in series ({', '.join(BUILTIN_SERIES)})"
        )
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: empty file (0 bytes); expected a table with a header row")
    logger.info("loading %s", path)
    table = _READERS[suffix](path)
    if len(table) == 0:
        raise ValueError(
            f"{path}: no rows (columns: {', '.join(map(str, table.columns)) or 'none'}); "
            "expected a header row and at least one data row"
        )
    return table


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _sniff_separator(path: Path) -> str:
    """The delimiter of a text table: one of , tab ; | by the sniffer, else runs of whitespace
    when the header has several words, else a tab (a single column)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        sample = f.read(65536)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",\t;|").delimiter
    except csv.Error:
        header = sample.splitlines()[0] if sample.strip() else ""
        return r"\s+" if len(header.split()) > 1 else "\t"


def _read_text_table(path: Path, sep: str | None) -> pd.DataFrame:
    """``sep=None``: infer the delimiter (see :func:`_sniff_separator`)."""
    try:
        return pd.read_csv(path, sep=sep or _sniff_separator(path))
    except pd.errors.EmptyDataError:
        raise ValueError(
            f"{path}: no columns (blank file); expected a table with a header row"
        ) from None
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); expected a text table"
        ) from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise ValueError(f"{path}: could not parse the table ({_first_line(exc)})") from None


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ValueError(
            f"reading {path.name} needs pyarrow: pip install pyarrow (or lstmkit[datasets])"
        ) from None
    try:
        return pd.read_parquet(path, engine="pyarrow")
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise ValueError(f"{path}: could not read parquet ({_first_line(exc)})") from None


_READERS: dict[str, Callable[[Path], pd.DataFrame]] = {
    ".csv": lambda path: _read_text_table(path, ","),
    ".txt": lambda path: _read_text_table(path, None),
    ".tsv": lambda path: _read_text_table(path, None),
    ".parquet": _read_parquet,
    ".pq": _read_parquet,
}
