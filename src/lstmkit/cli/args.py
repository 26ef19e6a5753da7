"""Arguments shared by the training subcommands, and their conversion to estimator options."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["add_common_train_args", "bounded", "positive_int", "source_path", "train_options"]


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
_positive_float = bounded(float, "a positive number", lambda v: v > 0)


# flag dest -> estimator option (None default: the estimator's own default applies)
_FLAGS = {
    "epochs": "epochs", "batch_size": "batch_size", "lr": "lr", "hidden": "hidden",
    "layers": "layers", "dropout": "dropout", "seed": "seed", "device": "device",
    "precision": "precision", "cell": "cell", "bidirectional": "bidirectional",
    "optimizer": "optimizer", "schedule": "schedule", "warmup": "warmup_epochs",
    "weight_decay": "weight_decay", "l1": "l1", "clip_norm": "clip_norm",
    "patience": "patience", "val_fraction": "val_fraction", "backend": "backend",
}  # fmt: skip


def add_common_train_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--cell", choices=["lstm", "peephole", "coupled", "gru", "layernorm"])
    g.add_argument("--hidden", type=positive_int, help="units per layer and direction")
    g.add_argument("--layers", type=positive_int, help="stacked recurrent layers")
    g.add_argument("--bidirectional", action="store_true", default=None)
    g.add_argument("--dropout", type=_fraction, help="dropout between recurrent layers")
    g.add_argument("--backend", choices=["auto", "torch", "fused", "reference"])
    t = p.add_argument_group("training")
    t.add_argument("--epochs", type=positive_int)
    t.add_argument("--batch-size", type=positive_int)
    t.add_argument("--lr", type=_positive_float, help="peak learning rate")
    t.add_argument("--optimizer", choices=["adam", "adamw", "rmsprop", "sgd"])
    t.add_argument("--schedule", choices=["cosine", "step", "plateau", "constant"])
    t.add_argument("--warmup", type=float, metavar="EPOCHS", help="linear warm-up length")
    t.add_argument("--weight-decay", type=float, help="L2 penalty (decoupled for adamw)")
    t.add_argument("--l1", type=float, help="L1 penalty on the weights")
    t.add_argument("--clip-norm", type=_positive_float, help="gradient clipping norm")
    t.add_argument("--patience", type=positive_int, help="early stopping patience (epochs)")
    t.add_argument(
        "--val-fraction", type=_fraction, help="validation hold-out of the training data"
    )
    t.add_argument("--seed", type=int, help="the same seed gives the same run")
    t.add_argument("--device", help="cpu, cuda, cuda:1, ...")
    t.add_argument("--precision", choices=["fp32", "bf16"])
    t.add_argument("--nproc", type=positive_int, metavar="N",
                   help="data-parallel processes on this machine (torch.distributed; default 1); "
                   "--batch-size is per process")  # fmt: skip
    o = p.add_argument_group("output")
    o.add_argument("--out", metavar="RUN_DIR", help="run directory (default runs/<task>-<time>)")
    o.add_argument("--overwrite", action="store_true", help="replace an existing run directory")


def train_options(args: argparse.Namespace) -> dict:
    """Estimator options from the flags the user gave (unset flags keep the defaults)."""
    return {opt: getattr(args, dest) for dest, opt in _FLAGS.items()
            if getattr(args, dest, None) is not None}  # fmt: skip


def source_path(source: str | None) -> str | None:
    """A ``--data`` value as the run's config.json keeps it: an existing file becomes an absolute
    path (so that evaluate / resume work from any directory); a built-in name stays a name."""
    if source is None:
        return None
    path = Path(source)
    return str(path.resolve()) if path.is_file() else source
