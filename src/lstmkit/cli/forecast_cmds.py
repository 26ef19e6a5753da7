"""``lstmkit train forecast`` and ``lstmkit backtest``; ``predict`` / ``evaluate`` / ``resume``
of forecast runs are dispatched here from train_cmds."""

from __future__ import annotations

import argparse
from pathlib import Path

from lstmkit.cli.args import (
    add_common_train_args,
    add_run_dir,
    bounded,
    default_help,
    output_file,
    positive_int,
    source_path,
    train_options,
)
from lstmkit.cli.textgen_cmds import _train_tasks

__all__ = [
    "add_forecast_args",
    "forecast_inputs",
    "predict_forecast",
    "register",
    "resume_forecast",
]

_fraction = bounded(float, "a fraction in (0, 0.5]", lambda v: 0.0 < v <= 0.5)
_bins = bounded(int, "an integer >= 2", lambda v: v >= 2)
_steps = bounded(int, "an integer >= 0", lambda v: v >= 0)


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _quantiles(text: str) -> tuple[float, ...]:
    try:
        values = tuple(sorted({float(v) for v in text.split(",") if v.strip()}))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None
    if not values or not all(0.0 < q < 1.0 for q in values):
        raise argparse.ArgumentTypeError(f"expected quantile levels in (0, 1), got {text!r}")
    return values


def register(sub: argparse._SubParsersAction) -> None:
    t = _train_tasks(sub).add_parser(
        "forecast",
        help="multi-step time-series forecasting",
        description="Train an LSTM forecaster on a table (CSV or Parquet) or a built-in series "
        "(airline: shipped; co2: statsmodels; sf_temps: vega_datasets). The series is split in "
        "time order into train / validation / test parts; every statistic (outlier rule, "
        "scaler, bins) comes from the training part only.",
    )
    add_forecast_args(t)
    t.set_defaults(func=cmd_train_forecast)

    b = sub.add_parser(
        "backtest",
        help="rolling-origin evaluation of a forecast run",
        description="Forecast from each of the last K origins (one horizon apart) with the "
        "history before it; prints a table and writes backtest.csv, backtest.json and "
        "backtest.png.",
    )
    add_run_dir(b, "a forecast run directory")
    b.add_argument("--windows", type=positive_int, default=5, help="origins (default 5)")
    b.add_argument("--data", metavar="SOURCE", help="backtest on this data instead")
    b.add_argument("--refit", action="store_true", help="train a fresh model at every origin")
    b.add_argument("--out", metavar="DIR", help="where the files go (default: RUN_DIR)")
    b.set_defaults(func=cmd_backtest)


def add_forecast_args(t: argparse.ArgumentParser) -> None:
    """The flags of ``train forecast`` (data, pipeline, forecaster model and the common training
    flags); ``lstmkit tune forecast`` takes the same."""
    from lstmkit.estimators.forecaster import Forecaster

    def h(text: str, name: str, shown: str | None = None) -> str:
        return default_help(text, Forecaster, name, shown)

    t.add_argument(
        "--data",
        required=True,
        metavar="SOURCE",
        help="CSV / Parquet file or a built-in series name",
    )
    t.add_argument("--target", help="the column to forecast (built-ins have a default)")
    t.add_argument(
        "--time-col",
        help="the time column (default: a column named date, time, "
        "timestamp, ds, month, ...; none: positions)",
    )
    t.add_argument("--features", help="covariate columns, comma-separated")
    w = t.add_argument_group("window and data pipeline")
    w.add_argument("--lookback", type=positive_int, metavar="STEPS",
                   help=h("input window", "lookback", "one season (two when the series has "
                          "1,000 rows or more), at least the horizon and 8"))  # fmt: skip
    w.add_argument(
        "--horizon",
        type=positive_int,
        metavar="STEPS",
        help=h("steps forecast at once", "horizon", "one season, 1 without one"),
    )
    w.add_argument("--freq", help=h("pandas frequency", "freq", "inferred from the time column"))
    w.add_argument("--season", type=positive_int, metavar="STEPS",
                   help=h("season length for the seasonal-naive baseline and MASE", "season",
                          "from the frequency"))  # fmt: skip
    w.add_argument("--fill", choices=["interpolate", "ffill", "drop"],
                   help=h("missing values", "fill"))  # fmt: skip
    w.add_argument(
        "--outliers",
        choices=["hampel", "iqr", "zscore", "none"],
        help=h("outliers of the training part found and replaced by", "outliers"),
    )
    w.add_argument("--lags", type=_int_list, help=h("target lags as inputs, e.g. 1,7", "lags"))
    w.add_argument("--windows", type=_int_list,
                   help=h("rolling mean/std windows, e.g. 7,30", "windows"))  # fmt: skip
    w.add_argument(
        "--no-calendar",
        dest="calendar",
        action="store_false",
        default=None,
        help="no hour / weekday / month / day-of-year features (default: with them)",
    )
    w.add_argument(
        "--scaler",
        choices=["standard", "minmax", "robust", "none"],
        help=h("scaling of every column (fitted on the training part)", "scaler"),
    )
    w.add_argument("--transform", choices=["auto", "log", "none"],
                   help=h("model log(target); auto: when the training target is positive and "
                          "spans a factor of 2", "transform"))  # fmt: skip
    w.add_argument("--test-fraction", type=_fraction,
                   help=h("test part at the end (raised to hold a horizon of forecasts)",
                          "test_fraction"))  # fmt: skip
    m = t.add_argument_group("forecaster")
    m.add_argument("--quantiles", type=_quantiles,
                   help=h("e.g. 0.1,0.9: prediction intervals (pinball loss; the median is "
                          "added)", "quantiles"))  # fmt: skip
    m.add_argument("--bins", type=_bins,
                   help=h("turn the target into K >= 2 equal-frequency classes and forecast "
                          "them", "bins", "0: forecast the values"))  # fmt: skip
    m.add_argument("--per-series", action="store_true", default=None,
                   help=h("one LSTM encoder per input column, merged by a dense layer",
                          "per_series"))  # fmt: skip
    m.add_argument("--anchor", choices=["season", "last", "none"],
                   help=h("the forecast is a correction to the seasonal-naive or naive "
                          "forecast, or (none) a level", "anchor",
                          "season when the look-back holds a season, else last"))  # fmt: skip
    m.add_argument(
        "--pool",
        choices=["last", "mean", "max", "attention"],
        help=h("how the window's per-step features become one vector", "pool"),
    )
    m.add_argument("--head-dropout", type=bounded(float, "a number in [0, 1)",
                                                   lambda v: 0 <= v < 1),
                   help=h("dropout before the output layer", "head_dropout"))  # fmt: skip
    m.add_argument("--min-steps", type=_steps,
                   help=h("without --epochs, train at least this many optimizer steps",
                          "min_steps"))  # fmt: skip
    add_common_train_args(t, Forecaster)


def forecast_inputs(args: argparse.Namespace) -> tuple[dict, dict]:
    """The run's ``data`` section and the estimator options from the flags of
    ``add_forecast_args``, every option validated (nothing is written yet)."""
    from lstmkit.estimators.forecaster import Forecaster

    options = train_options(args, Forecaster)
    Forecaster(**options).check_options()  # every option checked before anything is written
    features = [f.strip() for f in args.features.split(",") if f.strip()] if args.features else None
    data = {
        "source": source_path(args.data),
        "target": args.target,
        "time_col": args.time_col,
        "features": features,
    }
    return data, options


def cmd_train_forecast(args: argparse.Namespace) -> int:
    from lstmkit.cli.launch import train_task
    from lstmkit.tasks.forecast import run_forecast

    data, options = forecast_inputs(args)
    return train_task(args, "forecast", run_forecast, data, options, _print_summary)


def _print_summary(metrics: dict, run_dir: Path) -> None:
    print(
        f"forecast: {metrics['test_windows']} test windows, horizon {metrics['horizon']}, "
        f"look-back {metrics['lookback']}, season {metrics['season']}"
    )
    rows = [("lstmkit", "test"), ("seasonal naive", "baseline"), ("naive", "naive")]
    print(f"  {'model':<16}{'MAE':>12}{'RMSE':>12}{'sMAPE %':>10}{'MASE':>8}")
    for name, key in rows:
        if f"{key}_mae" in metrics:
            print(
                f"  {name:<16}{metrics[f'{key}_mae']:>12.4g}{metrics[f'{key}_rmse']:>12.4g}"
                f"{metrics[f'{key}_smape']:>10.2f}{metrics[f'{key}_mase']:>8.3f}"
            )
    if "test_coverage" in metrics:
        print(f"  interval coverage {metrics['test_coverage']:.3f}")
    print(
        f"  epochs {metrics['epochs_run']}, trained in {metrics['train_seconds']:.1f} s, "
        f"{metrics['params']} parameters"
    )
    print(
        f"\nrun directory: {run_dir}  (metrics.json, forecast.png, residuals.png, loss.png, "
        "model.pt)"
    )


def resume_forecast(run_dir: Path, config: dict):
    """``lstmkit resume`` of a forecast run: its work and report (train_cmds.cmd_resume runs
    them)."""
    from lstmkit.cli.launch import resume_work
    from lstmkit.tasks.forecast import run_forecast

    def report(metrics: dict, run_dir: Path) -> None:
        print(f"resumed {run_dir}")
        _print_summary(metrics, run_dir)

    return resume_work(run_forecast, config), report


def predict_forecast(args: argparse.Namespace) -> int:
    """``lstmkit predict`` for a forecast run: CSV of the horizon after the input's end."""
    import sys

    from lstmkit.tasks.forecast import predict_run

    path = None if args.output is None else output_file(args.output, args.overwrite)
    table = predict_run(args.run_dir, args.input)
    text = table.to_csv(index=False)
    if path is None:
        sys.stdout.write(text)
        return 0
    from lstmkit.train.checkpoint import atomic_write_text

    atomic_write_text(path, text)
    print(f"wrote a {len(table)}-step forecast to {path}")
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    from lstmkit.tasks.forecast import backtest_run

    table = backtest_run(
        args.run_dir,
        args.windows,
        source=args.data,
        refit=args.refit,
        out=Path(args.out) if args.out else None,
    )
    cols = ["origin", "mae", "mase", "baseline_mae", "baseline_mase"]
    print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(
        f"mean MASE {table['mase'].mean():.3f} (seasonal naive {table['baseline_mase'].mean():.3f})"
    )
    print(f"wrote backtest.csv, backtest.json, backtest.png to {args.out or args.run_dir}")
    return 0
