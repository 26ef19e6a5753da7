"""``lstmkit``: one command with subcommands. User mistakes end in one line and exit 1 or 2."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from lstmkit import __version__
from lstmkit.cli import (
    classify_cmds,
    core_cmds,
    export_cmds,
    forecast_cmds,
    inspect_cmds,
    regress_cmds,
    run_cmds,
    serve_cmds,
    textgen_cmds,
    tune_cmds,
)
from lstmkit.cli.args import UserError
from lstmkit.memory import keep_freed_memory

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    """Usage mistakes in one line (argparse prints the whole usage block otherwise)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lstmkit",
        description="LSTM networks from the gate equations up: train, inspect, export, serve.",
    )
    parser.add_argument("--version", action="version", version=f"lstmkit {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run_cmds.register_train(sub)  # `train`: each task module adds its TASK
    classify_cmds.register(sub)  # `train classify`
    run_cmds.register(sub)  # `evaluate`, `predict`, `extract`, `resume` of any task's run
    regress_cmds.register(sub)  # `train regress`
    textgen_cmds.register(sub)  # `train textgen`, and `generate`
    forecast_cmds.register(sub)  # adds `train forecast`, and `backtest`
    core_cmds.register(sub)
    inspect_cmds.register(sub)  # `inspect`
    tune_cmds.register(sub)  # `tune classify|forecast|textgen`
    serve_cmds.register(sub)
    export_cmds.register(sub)  # `export`
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 with a usage line on bad usage
    args.argv = list(sys.argv[1:] if argv is None else argv)  # what --nproc re-launches
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(message)s" if not args.verbose else "%(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("matplotlib", "mlflow", "alembic"):  # --log mlflow's store set-up lines
        logging.getLogger(noisy).setLevel(logging.WARNING)
    keep_freed_memory()  # no page faults for every step's big buffers (lstmkit.memory)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt as e:
        run_dir = getattr(e, "run_dir", None)  # launch.Interrupted: a checkpoint was written
        hint = f"; continue with: lstmkit resume {run_dir}" if run_dir is not None else ""
        print(f"lstmkit: interrupted{hint}", file=sys.stderr)
        return 130
    except (UserError, ValueError, TypeError, OSError) as e:
        if args.verbose:
            raise
        print(f"lstmkit {args.command}: error: {e}", file=sys.stderr)
        return 1
