"""``lstmkit train regress``, and ``predict`` / ``resume`` of regress runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lstmkit.cli.args import (
    add_common_train_args,
    default_help,
    output_file,
    source_path,
    train_options,
    train_tasks,
)
from lstmkit.cli.launch import resume_work, train_task
from lstmkit.cli.sequence_args import add_network_args, add_sequence_data_args, print_metrics

__all__ = ["add_regress_args", "predict_regress", "register", "regress_inputs", "resume_regress"]


def register(sub: argparse._SubParsersAction) -> None:
    r = train_tasks(sub).add_parser(
        "regress",
        help="a numeric target per sequence",
        description="Train an LSTM sequence regressor. SOURCE is the built-in tecator "
        "(near-infrared spectra -> fat content, from the sktime wheel) or a file: .npz with X "
        "(N, L[, C]), a numeric y (N,) or (N, T) and optional lengths; a .ts file with "
        "'@targetLabel true'; a .tsv with the target in the first column. Inputs are "
        "standardised per channel and targets by their mean and spread, both with statistics "
        "of the training split; predictions come back in the units of y.",
    )
    add_regress_args(r)
    r.set_defaults(func=cmd_train_regress)


def add_regress_args(r: argparse.ArgumentParser) -> None:
    """The flags of ``train regress``: data, the network, the loss, the common training flags."""
    from lstmkit.estimators.regressor import Regressor

    add_sequence_data_args(r, "a random hold-out")
    m = r.add_argument_group("regressor")
    add_network_args(m, Regressor, "predictions")
    m.add_argument("--loss", choices=["mse", "huber", "mae"],
                   help=default_help("the training loss, on standardised targets",
                                     Regressor, "loss"))  # fmt: skip
    add_common_train_args(r, Regressor)


def regress_inputs(args: argparse.Namespace) -> tuple[dict, dict]:
    """The run's ``data`` section and the estimator options, every option validated."""
    from lstmkit.estimators.regressor import Regressor

    options = train_options(args, Regressor)
    Regressor(**options).check_options()  # every option checked before anything is written
    data = {"source": source_path(args.data), "test_source": source_path(args.test_data),
            "test_fraction": args.test_fraction}  # fmt: skip
    return data, options


def _report(verb: str):
    def report(metrics: dict, run_dir: Path) -> None:
        print(f"{verb}: test RMSE {metrics['test_rmse']:.4g} (mean predictor "
              f"{metrics['baseline_rmse']:.4g}), R² {metrics['test_r2']:.4f}")  # fmt: skip
        print_metrics(metrics, run_dir, "predicted.png")

    return report


def cmd_train_regress(args: argparse.Namespace) -> int:
    from lstmkit.tasks.regress import run_regress

    data, options = regress_inputs(args)
    return train_task(args, "regress", run_regress, data, options, _report(f"regress {args.data}"))


def resume_regress(run_dir: Path, config: dict):
    """``lstmkit resume`` of a regress run: its work and report for ``run_training``."""
    from lstmkit.tasks.regress import run_regress

    return resume_work(run_regress, config), _report(f"resumed {run_dir}")


def predict_regress(args: argparse.Namespace) -> int:
    """``lstmkit predict`` of a regress run: a ``value`` column per input sequence."""
    from lstmkit.estimators.loading import load
    from lstmkit.tasks.regress import predictions_table
    from lstmkit.train.checkpoint import atomic_write_text

    path = None if args.output is None else output_file(args.output, args.overwrite)
    reg = load(args.run_dir)
    X, lengths = regression_inputs(Path(args.input))
    text = predictions_table(reg, X, lengths).to_csv(index=False, float_format="%.6g")
    if path is None:
        sys.stdout.write(text)
        return 0
    atomic_write_text(path, text)
    print(f"wrote {len(X)} predictions to {path}")
    return 0


def regression_inputs(path: Path):
    """X and lengths of an .npz (X alone is enough), a regression .ts / .tsv file, or a built-in
    name (its test split)."""
    from lstmkit.data.regression import REGRESSION_BUILTINS, load_regression

    if str(path).lower() in REGRESSION_BUILTINS and not path.exists():
        train, test = load_regression(str(path))
        data = test if test is not None else train
        return data.X, data.lengths
    if path.suffix.lower() == ".npz":
        from lstmkit.data.load import read_inputs

        X, _, lengths = read_inputs(path)
        return X, lengths
    from lstmkit.data.regression import load_file

    data = load_file(path)
    return data.X, data.lengths
