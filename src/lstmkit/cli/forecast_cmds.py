"""``lstmkit train forecast`` and ``lstmkit backtest``; ``predict`` / ``evaluate`` / ``resume``
of forecast runs are dispatched here from run_cmds."""

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
    train_tasks,
)

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
    t = train_tasks(sub).add_parser(
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
        "backtest.png. On a panel run every series gets its last K origins (counted back from "
        "its own end) and is scored beside seasonal naive, naive and Naive2.",
    )
    add_run_dir(b, "a forecast run directory")
    b.add_argument("--windows", type=positive_int, default=5, help="origins (default 5)")
    b.add_argument("--data", metavar="SOURCE", help="backtest on this data instead")
    b.add_argument("--refit", action="store_true", help="train a fresh model at every origin")
    b.add_argument("--out", metavar="DIR", help="where the files go (default: RUN_DIR)")
    b.add_argument("--baselines", action="store_true", help="panel runs: also score AutoETS "
                   "and AutoTheta (statsforecast; slow)")  # fmt: skip
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
    _add_panel_args(t)
    add_common_train_args(t, Forecaster)


def _add_panel_args(t: argparse.ArgumentParser) -> None:
    """Many series in one model (SPEC 8): the flags of PanelForecaster alone."""
    from lstmkit.estimators.panel_forecaster import PanelForecaster

    def h(text: str, name: str, shown: str | None = None) -> str:
        return default_help(text, PanelForecaster, name, shown)

    p = t.add_argument_group(
        "many series (a global model)",
        "Used with --id-col (long table), several --target columns or 'all' (wide table), "
        "--future-features / --static-features, or a built-in panel (m1-*, m3-*, tourism-*). "
        "The test part is the last horizon of every series (a built-in's: the competition's). "
        "Panel defaults: --layers 2, --batch-size 256, --lr 0.003, --quantiles 0.1,0.9.",
    )
    p.add_argument("--id-col", help="the series id column of a long table")
    p.add_argument("--future-features", help="covariates known over the horizon too (calendar, "
                   "prices, weather forecasts), comma-separated")  # fmt: skip
    p.add_argument("--static-features", help="one value per series, comma-separated")
    p.add_argument("--loss", choices=["mse", "pinball", "normal", "student-t",
                                      "negative-binomial"],
                   help=h("output head and training loss", "loss"))  # fmt: skip
    p.add_argument("--decoder", choices=["direct", "autoregressive"],
                   help=h("all steps at once, or step by step with sampled paths (DeepAR)",
                          "decoder"))  # fmt: skip
    p.add_argument("--weighting", choices=["none", "mase"],
                   help=h("training windows weighted alike, or MASE-like (level over the "
                          "look-back's seasonal difference)", "weighting"))  # fmt: skip
    p.add_argument("--combine", choices=["none", "mean", "median"],
                   help=h("combine the LSTM's forecast with AutoETS and AutoTheta forecasts "
                          "(statsforecast)", "combine"))  # fmt: skip
    p.add_argument("--embedding", type=_steps, metavar="SIZE",
                   help=h("learned series-id embedding size (0: none)", "embedding"))  # fmt: skip
    p.add_argument("--test-windows", type=positive_int, metavar="K",
                   help=h("test origins per series, a horizon apart", "test_windows"))  # fmt: skip
    p.add_argument("--val-windows", type=_steps, metavar="K",
                   help=h("validation origins per series before the test part",
                          "val_windows"))  # fmt: skip
    p.add_argument("--samples", type=positive_int,
                   help=h("sample paths of the autoregressive decoder", "samples"))  # fmt: skip
    p.add_argument("--windows-per-series", type=positive_int, metavar="N",
                   help=h("training windows drawn from every series per epoch",
                          "windows_per_series", "about 50 batches per epoch"))  # fmt: skip
    p.add_argument("--history", type=positive_int, metavar="STEPS",
                   help=h("train on the last STEPS origins of each series only", "history",
                          "all"))  # fmt: skip
    p.add_argument("--no-baselines", dest="baselines", action="store_false", default=None,
                   help="skip the AutoETS / AutoTheta baselines (default: scored when "
                   "statsforecast is installed)")  # fmt: skip


def is_panel(args: argparse.Namespace) -> bool:
    """Whether the flags ask for a global model over many series."""
    from lstmkit.data.panel import is_builtin_panel

    target = args.target or ""
    many = target.strip().lower() == "all" or "," in target
    return bool(args.id_col or args.future_features or args.static_features or many
                or is_builtin_panel(args.data))  # fmt: skip


def _columns(text: str | None) -> list[str] | None:
    return [f.strip() for f in text.split(",") if f.strip()] if text else None


def panel_inputs(args: argparse.Namespace) -> tuple[dict, dict]:
    """The ``data`` section and PanelForecaster options of a panel run, every option checked;
    a single-series flag given with a panel is an error naming it."""
    from lstmkit.estimators.forecaster import Forecaster
    from lstmkit.estimators.panel_forecaster import PanelForecaster

    options = train_options(args, PanelForecaster)
    single = sorted(set(train_options(args, Forecaster)) - set(options))
    if single:
        flags = ", ".join("--" + k.replace("_", "-") for k in single)
        raise ValueError(
            f"{flags}: single-series options, not for a panel (--id-col, several targets or a "
            "built-in panel); see lstmkit train forecast --help"
        )
    if "quantiles" in options:
        options["quantiles"] = tuple(q for q in options["quantiles"] if q != 0.5) or (0.1, 0.9)
    PanelForecaster(**options).check_options()
    data = {"source": source_path(args.data), "target": args.target, "time_col": args.time_col,
            "id_col": args.id_col, "features": _columns(args.features),
            "future_features": _columns(args.future_features),
            "static_features": _columns(args.static_features)}  # fmt: skip
    return data, options


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

    if is_panel(args):
        from lstmkit.tasks.panel import run_panel_forecast

        data, options = panel_inputs(args)
        return train_task(args, "forecast", run_panel_forecast, data, options, _print_panel)
    data, options = forecast_inputs(args)
    return train_task(args, "forecast", run_forecast, data, options, _print_summary)


def _print_panel(metrics: dict, run_dir: Path) -> None:
    print(
        f"forecast: {metrics['series']} series ({metrics['series_dropped']} dropped as too "
        f"short), {metrics['test_windows']} test windows, horizon {metrics['horizon']}, "
        f"look-back {metrics['lookback']}, season {metrics['season']}"
    )
    owa = "test_owa" in metrics
    print(f"  {'model':<16}{'sMAPE %':>10}{'MASE':>8}" + (f"{'OWA':>8}" if owa else ""))
    rows = [("lstmkit", "test"), ("  LSTM alone", "lstm"), ("seasonal naive", "baseline"),
            ("naive", "naive"), ("naive2", "naive2"), ("AutoETS", "ets"),
            ("AutoTheta", "theta")]  # fmt: skip
    for name, key in rows:
        if metrics.get(f"{key}_smape") is None:
            continue
        line = f"  {name:<16}{metrics[f'{key}_smape']:>10.2f}{metrics[f'{key}_mase']:>8.3f}"
        if owa and metrics.get(f"{key}_owa") is not None:
            line += f"{metrics[f'{key}_owa']:>8.3f}"
        print(line)
    if metrics.get("test_coverage") is not None:
        print(
            f"  {metrics['test_interval']:.0%} interval: coverage "
            f"{metrics['test_coverage']:.3f}, MSIS {metrics['test_msis']:.3f}; scaled CRPS "
            f"{metrics['test_crps']:.4f}"
        )
    print(f"  epochs {metrics['epochs_run']}, trained in {metrics['train_seconds']:.1f} s, "
          f"{metrics['params']} parameters")  # fmt: skip
    print(f"\nrun directory: {run_dir}  (metrics.json, series_metrics.csv, forecast.png, "
          "loss.png, model.pt)")  # fmt: skip


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
    """``lstmkit resume`` of a forecast run: its work and report (run_cmds.cmd_resume runs
    them)."""
    from lstmkit.cli.launch import resume_work
    from lstmkit.tasks.forecast import run_forecast

    summary = _print_panel if config.get("panel") else _print_summary

    def report(metrics: dict, run_dir: Path) -> None:
        print(f"resumed {run_dir}")
        summary(metrics, run_dir)

    if config.get("panel"):
        from lstmkit.tasks.panel import run_panel_forecast

        return resume_work(run_panel_forecast, config), report
    return resume_work(run_forecast, config), report


def predict_forecast(args: argparse.Namespace) -> int:
    """``lstmkit predict`` for a forecast run: CSV of the horizon after the input's end."""
    import sys

    from lstmkit.runs import read_config
    from lstmkit.tasks.forecast import predict_run

    path = None if args.output is None else output_file(args.output, args.overwrite)
    if read_config(args.run_dir).get("panel"):
        from lstmkit.tasks.panel import predict_panel_run

        table = predict_panel_run(args.run_dir, args.input, getattr(args, "future", None))
    elif getattr(args, "future", None) is not None:
        raise ValueError("--future applies to panel forecast runs (trained with "
                         "--future-features)")  # fmt: skip
    else:
        table = predict_run(args.run_dir, args.input)
    text = table.to_csv(index=False)
    if path is None:
        sys.stdout.write(text)
        return 0
    from lstmkit.train.checkpoint import atomic_write_text

    atomic_write_text(path, text)
    print(f"wrote {len(table)} forecast rows to {path}")
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    from lstmkit.runs import read_config
    from lstmkit.tasks.forecast import backtest_run

    if read_config(args.run_dir).get("panel"):
        return _backtest_panel(args)
    if args.baselines:
        raise ValueError("--baselines applies to panel runs (AutoETS / AutoTheta on every "
                         "series); this run forecasts one series")  # fmt: skip
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


def _backtest_panel(args: argparse.Namespace) -> int:
    """``lstmkit backtest`` of a panel run: a line per origin, then the means over every
    window, beside seasonal naive."""
    from lstmkit.tasks.panel_backtest import backtest_panel_run

    table = backtest_panel_run(args.run_dir, args.windows, source=args.data, refit=args.refit,
                               out=Path(args.out) if args.out else None,
                               statistical=args.baselines)  # fmt: skip
    s = table.attrs["summary"]
    print(
        f"backtest: {s['series']} series, {s['windows']} origin"
        f"{'s a horizon (' + str(s['horizon']) + ') apart' if s['windows'] > 1 else ''}, "
        f"{s['rows']} windows" + (", refit at every origin" if s["refit"] else "")
    )
    if s["series_fewer_windows"] or s["series_too_short"]:
        print(f"  {s['series_fewer_windows']} series with fewer windows, "
              f"{s['series_too_short']} too short for any (under {s['min_history']} steps "
              "before an origin)")  # fmt: skip
    print(f"  {'origin':<8}{'windows':>8}{'sMAPE %':>10}{'MASE':>8}"
          f"{'seasonal naive sMAPE %':>24}{'MASE':>8}")  # fmt: skip

    def line(label: str, n: int, r: dict) -> str:
        cells = [r.get(k) for k in ("smape", "mase", "baseline_smape", "baseline_mase")]
        v = [float("nan") if c is None else c for c in cells]
        return f"  {label:<8}{n:>8}{v[0]:>10.2f}{v[1]:>8.3f}{v[2]:>24.2f}{v[3]:>8.3f}"

    for r in s["origins"]:
        print(line(f"end-{r['window']}H", r["series"], r))
    print(line("all", s["rows"], s["mean"]))
    m = s["mean"]
    if m.get("smape") is not None and m.get("baseline_mase") is not None:
        print(
            f"mean sMAPE {m['smape']:.2f} %, MASE {m['mase']:.3f} (seasonal naive "
            f"{m['baseline_smape']:.2f} %, {m['baseline_mase']:.3f}) over {s['rows']} windows"
        )
    print(f"wrote backtest.csv, backtest.json, backtest.png to {args.out or args.run_dir}")
    return 0
