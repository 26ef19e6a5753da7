"""The flags ``train classify`` and ``train regress`` share (data, the network), their metrics
printout, and reading the input sequences of ``predict`` / ``extract``."""

from __future__ import annotations

import argparse
from pathlib import Path

from lstmkit.cli.args import bounded, default_help, positive_int

__all__ = [
    "add_network_args",
    "add_sequence_data_args",
    "print_metrics",
    "read_sequence_inputs",
    "unit_fraction",
]

_count = bounded(int, "an integer >= 0", lambda v: v >= 0)
_odd = bounded(int, "an odd integer >= 1", lambda v: v >= 1 and v % 2 == 1)
unit_fraction = bounded(float, "a number in [0, 1)", lambda v: 0.0 <= v < 1.0)
_unit_closed = bounded(float, "a number in [0, 1]", lambda v: 0.0 <= v <= 1.0)
_half = bounded(float, "a fraction in (0, 0.5]", lambda v: 0.0 < v <= 0.5)


def add_sequence_data_args(c: argparse.ArgumentParser, hold_out: str) -> None:
    """--data, --test-data, --test-fraction, --data-dir."""
    c.add_argument("--data", required=True, metavar="SOURCE", help="built-in name or file")
    c.add_argument("--test-data", metavar="FILE", help="separate test set (else the source's "
                   f"own test split, or {hold_out})")  # fmt: skip
    c.add_argument("--test-fraction", type=_half, default=0.2,
                   help="hold-out fraction without a test set (default %(default)s)")  # fmt: skip
    c.add_argument("--data-dir", help="where built-in data sets are looked up and cached")


def add_network_args(m, estimator: type, averaged: str) -> None:
    """The network flags of a sequence estimator (``averaged``: what an ensemble averages)."""

    def h(text: str, name: str, shown: str | None = None) -> str:
        return default_help(text, estimator, name, shown)

    m.add_argument(
        "--arch",
        choices=["auto", "encoder", "lstm-fcn", "mlstm-fcn"],
        help=h(
            "the network: front end + recurrence + pooling, or LSTM-FCN / "
            "MLSTM-FCN (a convolutional branch beside the recurrence); auto: "
            "lstm-fcn below 10,000 training sequences, else encoder",
            "arch",
        ),
    )
    m.add_argument(
        "--fcn-shuffle",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=h("lstm-fcn: the recurrence reads each channel as one step", "fcn_shuffle"),
    )
    m.add_argument(
        "--series-norm",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=h("lstm-fcn: read each series z-normalised, its scale beside", "series_norm"),
    )
    m.add_argument("--rnn-dropout", type=unit_fraction,
                   help=h("lstm-fcn: dropout on the recurrent branch's last state",
                          "rnn_dropout"))  # fmt: skip
    m.add_argument("--pool", choices=["last", "mean", "max", "attention"],
                   help=h("how the per-step features become one vector", "pool"))  # fmt: skip
    m.add_argument("--conv-channels", type=_count,
                   help=h("Conv1d front end channels, 0 for none", "conv_channels"))  # fmt: skip
    m.add_argument("--conv-kernel", type=_odd, help=h("front end kernel size (odd)",
                                                       "conv_kernel"))  # fmt: skip
    m.add_argument("--conv-stride", type=positive_int,
                   help=h("front end stride: the recurrence sees ceil(L / stride) steps",
                          "conv_stride", "2 with a front end, else 1"))  # fmt: skip
    m.add_argument("--head-dropout", type=unit_fraction,
                   help=h("dropout before the linear head", "head_dropout"))  # fmt: skip
    m.add_argument("--ensemble", type=positive_int, metavar="K",
                   help=h(f"train K models (seeds seed..seed+K-1), average their {averaged}",
                          "ensemble"))  # fmt: skip
    m.add_argument(
        "--augment",
        choices=["none", "slice", "mixup"],
        help=h("training-time augmentation: window slicing or mixup", "augment"),
    )
    m.add_argument("--swa", type=_unit_closed, metavar="FRACTION",
                   help=h("average the weights of this last fraction of the epochs (stochastic "
                          "weight averaging) instead of keeping the best epoch's", "swa",
                          "0: the best epoch's"))  # fmt: skip
    m.add_argument("--min-steps", type=_count,
                   help=h("without --epochs, train at least this many optimizer steps",
                          "min_steps"))  # fmt: skip


def print_metrics(metrics: dict, run_dir: Path | None = None, plots: str = "confusion.png") -> None:
    keys = [k for k in metrics if not k.startswith(("test_precision_", "test_recall_"))]
    width = max(len(k) for k in keys)
    for k in keys:
        v = metrics[k]
        print(f"  {k:<{width}}  {v:.4f}" if isinstance(v, float) else f"  {k:<{width}}  {v}")
    if run_dir is not None:
        print(f"\nrun directory: {run_dir}  (metrics.json, loss.png, {plots}, model.pt)")


def read_sequence_inputs(path: Path):
    """X (and lengths) to predict on: an .npz without labels is fine here."""
    from lstmkit.data.load import read_inputs

    X, _, lengths = read_inputs(path)
    return X, lengths
