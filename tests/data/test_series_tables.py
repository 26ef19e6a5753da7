"""lstmkit.data.series load_table: the built-in series (offline) and table files."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lstmkit.data.series import BUILTIN_SERIES, load_table, prepare_frame


def _bad(source: str, match: str, **kwargs: object) -> None:
    with pytest.raises(ValueError, match=match) as info:
        load_table(source, **kwargs)
    assert "\n" not in str(info.value)


# --- built-ins -------------------------------------------------------------------------------


def test_builtin_names() -> None:
    assert set(BUILTIN_SERIES) == {"airline", "co2", "sf_temps"}


def test_airline_ships_with_the_package() -> None:
    table, defaults = load_table("airline")
    assert defaults == {"target": "passengers", "time_col": "month"}
    assert list(table.columns) == ["month", "passengers"] and len(table) == 144
    assert table["month"].iloc[0] == "1949-01-01" and table["month"].iloc[-1] == "1960-12-01"
    # Box & Jenkins series G: first and last values, the well-known peak and the total
    assert table["passengers"].iloc[:3].tolist() == [112, 118, 132]
    assert table["passengers"].iloc[-1] == 432 and table["passengers"].max() == 622
    assert table["passengers"].sum() == 40363
    frame = prepare_frame(table, **defaults)
    assert frame.freq == "MS" and frame.report["gaps_reindexed"] == 0


def test_airline_matches_sktime() -> None:
    sktime_datasets = pytest.importorskip("sktime.datasets")
    y = sktime_datasets.load_airline()
    table, _ = load_table("AIRLINE")  # names are case-insensitive
    np.testing.assert_array_equal(table["passengers"].to_numpy(np.float64), y.to_numpy())


def test_co2_weekly_with_missing_values() -> None:
    pytest.importorskip("statsmodels")
    table, defaults = load_table("co2")
    assert defaults == {"target": "co2", "time_col": "date"}
    frame = prepare_frame(table, **defaults)
    assert frame.freq == "W-SAT" and frame.report["rows"] == 2284
    assert frame.report["missing"] == {"co2": 59} and int((~frame.observed).sum()) == 59


def test_sf_temps_hourly() -> None:
    pytest.importorskip("vega_datasets")
    table, defaults = load_table("sf_temps")
    assert defaults == {"target": "temp", "time_col": "date"}
    frame = prepare_frame(table, **defaults)
    assert frame.freq == "h" and frame.report["rows_read"] == 8759
    assert frame.report["rows"] == 8760 and frame.report["gaps_reindexed"] == 1


def test_missing_package_names_the_pip_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "statsmodels.datasets", None)  # import fails
    _bad("co2", r"needs statsmodels: pip install statsmodels")
    monkeypatch.setitem(sys.modules, "vega_datasets", None)
    _bad("sf_temps", r"needs vega_datasets: pip install vega_datasets")


# --- files -----------------------------------------------------------------------------------


def test_csv_tsv_txt_and_parquet(tmp_path: Path) -> None:
    expected = pd.DataFrame({"date": ["2020-01-01", "2020-01-02"], "y": [1.5, 2.5]})
    (tmp_path / "a.csv").write_text("date,y\n2020-01-01,1.5\n2020-01-02,2.5\n")
    (tmp_path / "a.tsv").write_text("date\ty\n2020-01-01\t1.5\n2020-01-02\t2.5\n")
    (tmp_path / "a.txt").write_text("date;y\n2020-01-01;1.5\n2020-01-02;2.5\n")  # sniffed
    for name in ("a.csv", "a.tsv", "a.txt"):
        table, defaults = load_table(str(tmp_path / name))
        assert defaults == {}
        pd.testing.assert_frame_equal(table, expected, check_dtype=False)
    pytest.importorskip("pyarrow")
    expected.to_parquet(tmp_path / "a.parquet")
    table, _ = load_table("a.parquet", data_dir=tmp_path)  # relative to data_dir
    pd.testing.assert_frame_equal(table, expected, check_dtype=False)


def test_single_column_tsv(tmp_path: Path) -> None:
    (tmp_path / "one.tsv").write_text("y\n1\n2\n3\n")
    table, _ = load_table(str(tmp_path / "one.tsv"))
    assert list(table.columns) == ["y"] and table["y"].tolist() == [1, 2, 3]


def test_file_errors(tmp_path: Path) -> None:
    _bad(str(tmp_path / "nope.csv"), r"data file not found: .*nope\.csv; expected a \.csv")
    _bad(str(tmp_path), r"is a directory, not a file")
    (tmp_path / "x.xlsx").write_text("a")
    _bad(str(tmp_path / "x.xlsx"), r"unknown table file type 'x\.xlsx': expected one of \.csv")
    (tmp_path / "empty.csv").write_bytes(b"")
    _bad(str(tmp_path / "empty.csv"), r"empty\.csv: empty file \(0 bytes\)")
    (tmp_path / "header.csv").write_text("date,y\n")
    _bad(str(tmp_path / "header.csv"), r"header\.csv: no rows \(columns: date, y\)")
    (tmp_path / "blank.csv").write_text("\n\n")
    _bad(str(tmp_path / "blank.csv"), r"blank\.csv: no columns")
    (tmp_path / "bin.csv").write_bytes(b"a,b\n\xff\xfe\x00\x81,2\n")
    _bad(str(tmp_path / "bin.csv"), r"bin\.csv: not UTF-8 text")
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n3,4,5,6\n")
    _bad(str(tmp_path / "ragged.csv"), r"ragged\.csv: could not parse the table")


def test_parquet_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bad.parquet").write_bytes(b"not parquet at all")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    _bad(str(tmp_path / "bad.parquet"), r"bad\.parquet needs pyarrow: pip install pyarrow")
    monkeypatch.undo()
    pytest.importorskip("pyarrow")
    _bad(str(tmp_path / "bad.parquet"), r"bad\.parquet: could not read parquet")


def test_whitespace_separated_txt(tmp_path: Path) -> None:
    (tmp_path / "w.txt").write_text("day  value\n2020-01-01   3\n2020-01-02 4\n")
    table, _ = load_table(str(tmp_path / "w.txt"))
    assert list(table.columns) == ["day", "value"] and table["value"].tolist() == [3, 4]
