"""Arguments shared by the subcommands, and their conversion to estimator options.

A training flag's destination is the estimator parameter it sets (``--seed`` sets
``random_state``, ``--warmup`` sets ``warmup_epochs``), and its help shows the default the
estimator applies, read from the estimator's own signature: the help cannot drift from the code.
"""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "UserError",
    "add_common_train_args",
    "add_run_dir",
    "bounded",
    "default_help",
    "estimator_defaults",
    "output_file",
    "positive_int",
    "source_path",
    "train_options",
    "train_tasks",
]


class UserError(Exception):
    """A mistake the user can fix: printed as one line, exit code 1."""


def bounded(cast: Callable[[str], Any], what: str, ok: Callable[[Any], bool]):
    """An argparse type: ``cast(text)``, which must satisfy ``ok``; a mistake reads
    ``expected <what>, got <value>``."""

    def convert(text: str):
        try:
            v = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not ok(v):
            raise argparse.ArgumentTypeError(f"expected {what}, got {v}")
        return v

    return convert


positive_int = bounded(int, "a positive integer", lambda v: v >= 1)
_fraction = bounded(float, "a number in [0, 1)", lambda v: 0.0 <= v < 1.0)
_val_fraction = bounded(float, "a number in [0, 0.5]", lambda v: 0.0 <= v <= 0.5)
_positive_float = bounded(float, "a positive number", lambda v: v > 0)
_non_negative = bounded(float, "a number >= 0", lambda v: v >= 0)
_decay = bounded(float, "a number in (0, 1]", lambda v: 0.0 < v <= 1.0)


def _forget_bias(text: str) -> float | None:
    if text.strip().lower() == "none":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or none, got {text!r}") from None


def estimator_defaults(estimator: type) -> dict[str, Any]:
    """Parameter name -> default of an estimator class's ``__init__``."""
    params = inspect.signature(estimator.__init__).parameters
    return {k: p.default for k, p in params.items() if k != "self"}


def default_help(text: str, estimator: type, name: str, shown: str | None = None) -> str:
    """``text (default <the estimator's default>)``; ``shown`` words a default of None."""
    value = estimator_defaults(estimator)[name]
    if shown is None:
        if isinstance(value, bool):
            shown = "on" if value else "off"
        elif isinstance(value, tuple):
            shown = ",".join(map(str, value)) or "none"
        else:
            shown = "none" if value is None else f"{value:g}" if isinstance(value, float) else value
    return f"{text} (default {shown})"


def add_run_dir(p: argparse.ArgumentParser, what: str = "a run directory that lstmkit train "
                "wrote") -> None:  # fmt: skip
    p.add_argument("run_dir", metavar="RUN_DIR", help=what)


def add_common_train_args(p: argparse.ArgumentParser, estimator: type) -> None:
    """The model and training flags every task shares; each help shows ``estimator``'s default.
    A flag left out keeps the estimator's default (its value stays None here)."""

    def h(text: str, name: str, shown: str | None = None) -> str:
        return default_help(text, estimator, name, shown)

    has = estimator_defaults(estimator)
    g = p.add_argument_group("model")
    per_arch = has["cell"] is None  # the sequence estimators: chosen with --arch
    g.add_argument("--cell", choices=["lstm", "peephole", "coupled", "gru", "layernorm"],
                   help=h("the recurrent step", "cell", "lstm for lstm-fcn, gru for the encoder"
                          if per_arch else None))  # fmt: skip
    g.add_argument("--hidden", type=positive_int, metavar="H",
                   help=h("units per layer and direction", "hidden"))  # fmt: skip
    g.add_argument("--layers", type=positive_int,
                   help=h("stacked recurrent layers", "layers",
                          "1 for lstm-fcn, 2 for the encoder" if per_arch else None))  # fmt: skip
    if "bidirectional" in has:
        g.add_argument("--bidirectional", action="store_true", default=None,
                       help=h("read in both directions", "bidirectional"))  # fmt: skip
    g.add_argument("--dropout", type=_fraction,
                   help=h("dropout between recurrent layers", "dropout"))  # fmt: skip
    g.add_argument("--forget-bias", type=_forget_bias, metavar="B",
                   help=h("initial forget-gate bias; none keeps torch's uniform init",
                          "forget_bias"))  # fmt: skip
    g.add_argument("--backend", choices=["auto", "torch", "fused", "reference"],
                   help=h("kernels of the recurrence", "backend"))  # fmt: skip
    t = p.add_argument_group("training")
    epochs_default = None
    if has["epochs"] is None:
        epochs_default = f"{estimator.default_epochs}, more for small data: --min-steps"
    t.add_argument("--epochs", type=positive_int, help=h("training epochs", "epochs",
                                                          epochs_default))  # fmt: skip
    t.add_argument("--batch-size", type=positive_int, help=h("batch size", "batch_size"))
    t.add_argument("--lr", type=_positive_float, help=h("peak learning rate", "lr"))
    t.add_argument("--optimizer", choices=["adam", "adamw", "rmsprop", "sgd"],
                   help=h("optimizer", "optimizer"))  # fmt: skip
    t.add_argument("--momentum", type=_non_negative, help=h("sgd / rmsprop momentum", "momentum"))
    t.add_argument("--schedule", choices=["cosine", "step", "plateau", "constant"],
                   help=h("learning rate after the warm-up", "schedule"))  # fmt: skip
    t.add_argument("--warmup", dest="warmup_epochs", type=_non_negative, metavar="EPOCHS",
                   help=h("linear warm-up from lr/10, in epochs", "warmup_epochs"))  # fmt: skip
    t.add_argument("--min-lr-ratio", type=bounded(float, "a number in [0, 1]",
                                                   lambda v: 0 <= v <= 1),
                   help=h("cosine floor as a fraction of --lr", "min_lr_ratio"))  # fmt: skip
    t.add_argument("--step-size", type=positive_int, metavar="EPOCHS",
                   help=h("step schedule: epochs between decays", "step_size"))  # fmt: skip
    t.add_argument("--gamma", type=_decay, help=h("step / plateau decay factor", "gamma"))
    t.add_argument("--plateau-patience", type=positive_int, metavar="EPOCHS",
                   help=h("plateau schedule: epochs without improvement before a decay",
                          "plateau_patience"))  # fmt: skip
    t.add_argument("--weight-decay", type=_non_negative,
                   help=h("L2 penalty (decoupled for adamw)", "weight_decay"))  # fmt: skip
    t.add_argument("--l1", type=_non_negative, help=h("L1 penalty on the weights", "l1"))
    t.add_argument("--clip-norm", type=_positive_float,
                   help=h("gradient clipping by global norm", "clip_norm"))  # fmt: skip
    t.add_argument("--patience", type=positive_int, metavar="EPOCHS",
                   help=h("stop after this many epochs without a better validation loss",
                          "patience"))  # fmt: skip
    t.add_argument("--val-fraction", type=_val_fraction,
                   help=h("validation part of the training data", "val_fraction"))  # fmt: skip
    t.add_argument("--seed", dest="random_state", type=int, metavar="SEED",
                   help=h("the same seed gives the same run", "random_state"))  # fmt: skip
    t.add_argument("--device", help=h("cpu, cuda, cuda:1, ...", "device"))
    t.add_argument("--precision", choices=["fp32", "bf16"],
                   help=h("bf16: train under autocast", "precision"))  # fmt: skip
    t.add_argument("--nproc", type=positive_int, metavar="N",
                   help="data-parallel processes on this machine (torch.distributed; default 1); "
                   "--batch-size is per process")  # fmt: skip
    o = p.add_argument_group("output")
    o.add_argument("--out", metavar="RUN_DIR", help="run directory (default runs/<task>-<time>)")
    o.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    o.add_argument("--log", choices=["tensorboard", "mlflow"],
                   help="track the run: TensorBoard event files in RUN_DIR/tensorboard, or an "
                   "MLflow run (extras lstmkit[tensorboard], lstmkit[mlflow])")  # fmt: skip
    o.add_argument("--mlflow-uri", metavar="URI",
                   help="--log mlflow: the tracking server or store (default: "
                   "sqlite:///mlruns/mlflow.db, artifacts in mlruns/artifacts)")  # fmt: skip


def train_options(args: argparse.Namespace, estimator: type) -> dict:
    """Estimator options from the flags the user gave: every flag whose destination is a
    parameter of ``estimator`` and was set (unset flags keep the estimator's defaults)."""
    names = set(estimator_defaults(estimator)) - {"verbose"}  # -v is the command's log level
    return {name: getattr(args, name) for name in sorted(names)
            if getattr(args, name, None) is not None}  # fmt: skip


def output_file(path: str, overwrite: bool, suffix: str | None = None) -> Path:
    """An ``--output`` file to write: in a folder that exists (none is made), with ``suffix``
    when given, and only over an existing file with ``--overwrite``."""
    out = Path(path)
    if suffix is not None and out.suffix != suffix:
        raise ValueError(f"--output must be a {suffix} file, got {out.name}")
    if not out.parent.is_dir():
        raise ValueError(
            f"--output {path}: the folder {out.parent} does not exist; create it or choose "
            "another path"
        )
    if out.is_dir():
        raise ValueError(f"--output {path} is a folder; give a file name")
    if out.exists() and not overwrite:
        raise ValueError(f"{out} exists; pass --overwrite to replace it")
    return out


def source_path(source: str | None) -> str | None:
    """A ``--data`` value as the run's config.json keeps it: an existing file becomes an absolute
    path (so that evaluate / resume work from any directory); a built-in name stays a name."""
    if source is None:
        return None
    path = Path(source)
    return str(path.resolve()) if path.is_file() else source


def train_tasks(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The ``TASK`` subparsers of ``lstmkit train`` (registered by run_cmds)."""
    train = sub.choices["train"]
    for action in train._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise RuntimeError("lstmkit train has no task subcommands")  # a wiring bug, not user input
