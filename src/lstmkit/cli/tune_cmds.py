"""``lstmkit tune classify|forecast|textgen``: hyperparameter search with Optuna and pruning.

Each task takes the flags of its ``lstmkit train`` command (a hyperparameter given with its flag
is fixed, not searched) plus the search's own: ``--trials``, ``--timeout``, ``--metric``,
``--pruner``, ``--continue``.
"""

from __future__ import annotations

import argparse
import csv
import logging
from pathlib import Path

from lstmkit.cli.args import bounded, positive_int
from lstmkit.cli.classify_cmds import add_classify_args, classify_inputs
from lstmkit.cli.forecast_cmds import add_forecast_args, forecast_inputs
from lstmkit.cli.textgen_cmds import add_textgen_args, textgen_inputs

__all__ = ["register"]

_seconds = bounded(float, "a positive number of seconds", lambda v: v > 0)

# task -> (add the train flags, flags -> (data, options), help)
_TASKS = {
    "classify": (add_classify_args, classify_inputs, "sequence classification"),
    "forecast": (add_forecast_args, forecast_inputs, "multi-step time-series forecasting"),
    "textgen": (add_textgen_args, textgen_inputs, "character- or word-level text generation"),
}
# the training messages of every trial; the search logs one line per trial instead
_QUIET = ("lstmkit.train", "lstmkit.tasks", "lstmkit.estimators", "lstmkit.kernels", "lstmkit.data")
# option -> flag where the flag is not --<option with - for _>
_FLAG_NAMES = {"warmup_epochs": "--warmup"}


def register(sub: argparse._SubParsersAction) -> None:
    from lstmkit.tune.space import SPACES, describe_space
    from lstmkit.tune.tasks import TASKS

    tune = sub.add_parser(
        "tune",
        help="hyperparameter search (Optuna, with pruning)",
        description="Search a task's hyperparameters: each trial trains a run; the best run, "
        "best.json, trials.csv and search.png are written to --out.",
    )
    tasks = tune.add_subparsers(dest="task", metavar="TASK", required=True)
    for name, (add_args, _, what) in _TASKS.items():
        space = "\n  ".join(describe_space(SPACES[name]({})))
        p = tasks.add_parser(
            name,
            help=what,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            description=f"Tune {what}: an Optuna TPE search, each trial a `lstmkit train "
            f"{name}` run scored on its validation split (never the test split) after every "
            "epoch; the median pruner stops trials worse than the earlier ones at the same "
            "epoch. Every flag of `lstmkit train` applies; a searched hyperparameter given "
            "with its flag is fixed.",
            epilog=f"searched:\n  {space}",
        )
        add_args(p)
        _add_search_args(p, name, tuple(TASKS[name].metrics))
        p.set_defaults(func=cmd_tune)


def _add_search_args(p: argparse.ArgumentParser, task: str, metrics: tuple[str, ...]) -> None:
    s = p.add_argument_group("search")
    s.add_argument("--trials", type=positive_int, default=20, help="trials (default 20)")
    s.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help="start no new trial after this many seconds",
    )
    s.add_argument(
        "--metric",
        choices=metrics,
        default="val_loss",
        help="validation objective (default val_loss)",
    )
    s.add_argument(
        "--pruner",
        choices=["median", "none"],
        default="median",
        help="stop poor trials early (default median)",
    )
    s.add_argument(
        "--continue",
        dest="resume",
        action="store_true",
        help="add the trials to the study in --out (same flags as before)",
    )
    if task != "textgen":
        s.add_argument(
            "--no-bidirectional",
            dest="bidirectional",
            action="store_false",
            default=None,
            help="fix bidirectional off (not searched)",
        )
    out = p._option_string_actions["--out"]
    out.metavar, out.help = "DIR", f"where the search goes (default runs/tune-{task}-<time>)"
    p._option_string_actions["--overwrite"].help = "replace an existing --out"


def cmd_tune(args: argparse.Namespace) -> int:
    from lstmkit.tune import tune

    _, inputs, _ = _TASKS[args.task]
    data, options = inputs(args)
    if args.resume and args.overwrite:
        raise ValueError("--continue adds to the study in --out; --overwrite would delete it")
    if (getattr(args, "nproc", None) or 1) > 1:
        raise ValueError("lstmkit tune runs its trials in this one process; --nproc is for "
                         "lstmkit train (train the best flags with --nproc N)")  # fmt: skip
    if getattr(args, "log", None):
        raise ValueError("lstmkit tune writes its trials to study.csv; --log tracks one "
                         "lstmkit train run (train the best flags with --log)")  # fmt: skip
    quiet = [] if args.verbose else [logging.getLogger(name) for name in _QUIET]
    levels = [lg.level for lg in quiet]
    for lg in quiet:
        lg.setLevel(logging.WARNING)
    try:
        summary = tune(
            args.task,
            data,
            options,
            args.out,
            trials=args.trials,
            timeout=args.timeout,
            seed=options.get("random_state", 0),
            metric=args.metric,
            pruner=args.pruner,
            overwrite=args.overwrite,
            resume=args.resume,
        )
    finally:
        for lg, level in zip(quiet, levels, strict=True):
            lg.setLevel(level)
    _print_summary(summary, args)
    return 0


def _print_summary(summary: dict, args: argparse.Namespace) -> None:
    out = Path(args.out) if args.out else Path(summary["run_dir"]).parent  # as the user wrote it
    counts, metric = summary["trials"], summary["metric"]["name"]
    print(
        f"\ntune {args.task} {args.data}: {counts['total']} trials ({counts['complete']} "
        f"complete, {counts['pruned']} pruned, {counts['failed']} failed) in "
        f"{summary.get('search_seconds', 0):.1f} s"
    )
    _print_table(out / "trials.csv")
    print(
        f"\nbest trial {summary['best_trial']}: {metric} {summary['best_value']:.4g} "
        f"({summary['metric']['direction']})"
    )
    test = summary["test_metrics"]
    if test:
        shown = [k for k in test if not k.startswith(("naive_", "baseline_"))][:6]
        print("  its test metrics: " + ", ".join(f"{k} {_short(str(test[k]))}" for k in shown))
    flags = _flags(summary["best_params"])
    print(f"  its flags: {flags}")
    print(f"\nwrote {out / 'best.json'}, {out / 'trials.csv'}, {out / 'search.png'}")
    print(f"best run: {out / 'best'}  (lstmkit evaluate / predict / load it)")
    print(f"train it longer: lstmkit train {args.task} <your data flags> {flags} --epochs N")


def _print_table(path: Path) -> None:
    if not path.is_file():
        return
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], [[_short(cell) for cell in r] for r in rows[1:]]
    rows = [header, *body]
    keep = [i for i, name in enumerate(header) if name != "error"]
    widths = [max(len(r[i]) for r in rows) for i in keep]
    for r in rows:
        cells = (f"{r[i]:<{w}}" for i, w in zip(keep, widths, strict=True))
        print(("  " + "  ".join(cells)).rstrip())


def _short(cell: str) -> str:
    """A number with a fraction to 4 significant digits (trials.csv keeps 6)."""
    if "." not in cell and "e" not in cell:
        return cell
    try:
        return f"{float(cell):.4g}"
    except ValueError:
        return cell


def _flags(params: dict) -> str:
    parts = []
    for name, v in params.items():
        flag = _FLAG_NAMES.get(name, "--" + name.replace("_", "-"))
        if isinstance(v, bool):
            parts.append(flag if v else "")  # off is the default of every boolean flag
        else:
            parts.append(f"{flag} {_fmt(v)}")
    return " ".join(p for p in parts if p)


def _fmt(v) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)
