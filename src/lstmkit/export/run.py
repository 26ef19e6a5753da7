"""``lstmkit export``: a run's model to ONNX or TorchScript, optionally int8, checked and timed.

The exported file is checked against the PyTorch model (lstmkit's own kernels) on held-out
inputs (the run's test split; random inputs of the right shape when its data is gone), timed at
batch 1 and batch 64, and, with ``quantize="int8"``, scored on the test split beside the fp32
export. ``export.json`` in the run directory says what was written and measured (SPEC 7).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lstmkit.estimators.loading import load
from lstmkit.export.formats import OnnxFormat, TorchScriptFormat
from lstmkit.export.graph import task_graph
from lstmkit.export.measure import call_module, latency_ms, max_abs_diff, scored_estimator
from lstmkit.runs import read_config
from lstmkit.train.checkpoint import atomic_write_json

__all__ = ["FORMATS", "TOLERANCE", "export_run"]

log = logging.getLogger(__name__)

FORMATS = {"onnx": ".onnx", "torchscript": ".torchscript.pt"}
# the run's own files: never an export target, --overwrite or not
_PROTECTED = ("model.pt", "checkpoint.pt", "config.json", "metrics.json", "history.csv")
TOLERANCE = 1e-4  # max |export - PyTorch| on held-out inputs, scaled by max(1, |PyTorch|)
_CHECK_ROWS = 64


@dataclass
class Heldout:
    """Inputs to check and time the export on, in the graph's input order."""

    inputs: list[np.ndarray | None]  # (N, ...) each; None for an absent optional input
    source: str  # "test split" or "random"
    with_lengths: bool = False

    def rows(self, n: int) -> list[np.ndarray | None]:
        """The first n rows (repeated when there are fewer), states sliced on their axis 1."""
        out = []
        for k, a in enumerate(self.inputs):
            if a is None:
                out.append(None)
                continue
            axis = 1 if (k > 0 and a.ndim == 3) else 0  # h0 / c0: (layers, N, H)
            reps = -(-n // a.shape[axis])
            out.append(np.ascontiguousarray(np.repeat(a, reps, axis=axis).take(range(n), axis)))
        return out


def export_run(
    run_dir: str | Path,
    fmt: str = "onnx",
    *,
    quantize: str | None = None,
    output: str | Path | None = None,
    overwrite: bool = False,
    loop: str = "auto",
) -> dict[str, Any]:
    """Export the model of ``run_dir``; returns what ``export.json`` holds."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if quantize not in (None, "int8"):
        raise ValueError(f"quantize must be int8 or None, got {quantize!r}")
    run_dir = Path(run_dir)
    config = read_config(run_dir)
    est = load(run_dir)
    task = est.task
    suffix = (".int8" if quantize else "") + FORMATS[fmt]
    path = Path(output) if output else run_dir / f"model{suffix}"
    if path.resolve().parent == run_dir.resolve() and path.name in _PROTECTED:
        raise ValueError(f"--output {path} would replace the run's own {path.name}; choose another")
    if path.exists() and not overwrite:
        raise ValueError(f"{path} exists; pass --overwrite to replace it or choose --output")
    if not path.parent.is_dir():
        raise ValueError(f"the directory of --output {path} does not exist")
    held = _heldout(est, config, run_dir)
    reference = task_graph(est, est.model_, with_lengths=held.with_lengths)
    with torch.no_grad():
        expected = call_module(reference, held.inputs)
    exporter = _EXPORTERS[fmt]
    fp32_path = path if not quantize else path.with_name(path.name.replace(".int8", ""))
    if quantize and fp32_path == path:  # an --output without ".int8" in its name
        fp32_path = path.with_name(f"{path.stem}.fp32{path.suffix}")
    info = exporter.export(est, held, fp32_path, loop)
    runner = exporter.runner(fp32_path)
    diff = _scaled_diff(runner(*held.inputs), expected)
    if not diff <= TOLERANCE:
        raise ValueError(
            f"the exported model differs from the PyTorch model by {diff:.2e} (> {TOLERANCE:g}) "
            f"on {held.source} inputs; {fp32_path} is kept for inspection"
        )
    result: dict[str, Any] = {
        "format": fmt,
        "path": str(fp32_path.resolve()),
        "size_bytes": fp32_path.stat().st_size,
        "max_abs_diff": diff,
        "task": task,
        "check_inputs": held.source,
        "inputs": exporter.input_names(task, held, est),
        **info,
    }
    if not quantize:
        result["latency_ms"] = _latencies({"fp32": runner}, held)["fp32"]
        result |= _metric(est, runner, held, run_dir, "")
    else:
        q_runner = exporter.quantize(est, held, fp32_path, path, info)
        times = _latencies({"int8": q_runner, "fp32": runner}, held)
        result |= {
            "path": str(path.resolve()),
            "size_bytes": path.stat().st_size,
            "quantize": "int8",
            "fp32_path": str(fp32_path.resolve()),
            "fp32_size_bytes": fp32_path.stat().st_size,
            "fp32_max_abs_diff": diff,
            "max_abs_diff": max_abs_diff(q_runner(*held.inputs), expected),
            "latency_ms": times["int8"],
            "fp32_latency_ms": times["fp32"],
        }
        result |= _metric(est, q_runner, held, run_dir, "")
        result |= _metric(est, runner, held, run_dir, "fp32_")
    result["threads"] = torch.get_num_threads()
    atomic_write_json(run_dir / "export.json", result)
    return result


# ---------------------------------------------------------------------------- inputs
def _heldout(est, config: dict, run_dir: Path) -> Heldout:
    try:
        return _HELDOUT[est.task](est, config, run_dir)
    except (ValueError, OSError, KeyError) as e:
        log.warning("held-out data not available (%s); checking on random inputs", e)
        return _random_inputs(est)


def _classify_heldout(est, config: dict, run_dir: Path) -> Heldout:
    from importlib import import_module

    load_split = import_module(f"lstmkit.tasks.{est.task}").load_split  # classify or regress
    _, test = load_split(config["data"])
    X = test.X[:_CHECK_ROWS].astype(np.float32)
    lengths = test.lengths
    with_lengths = lengths is not None and bool((lengths < test.X.shape[1]).any())
    inputs = [X, lengths[:_CHECK_ROWS].astype(np.int64) if with_lengths else None]
    return Heldout(inputs, "test split", with_lengths)


def _forecast_heldout(est, config: dict, run_dir: Path) -> Heldout:
    from lstmkit.tasks.forecast import _own_prepared

    x, _, _ = est._windows(_own_prepared(run_dir, est), "test")
    return Heldout([x[:_CHECK_ROWS].numpy().astype(np.float32)], "test split")


def _textgen_heldout(est, config: dict, run_dir: Path) -> Heldout:
    from lstmkit.tasks.textgen import load_parts

    ids = np.asarray(est.tokenizer_.encode(load_parts(config["data"])[1]), dtype=np.int64)
    L = 32
    n = min(8, len(ids) // L)
    if n < 1:
        raise ValueError("the test text is shorter than one check window")
    return Heldout([ids[: n * L].reshape(n, L), *_zero_state(est, n)], "test split")


def _zero_state(est, n: int) -> list[np.ndarray | None]:
    rnn = est.model_.rnn
    zeros = np.zeros((rnn.num_layers, n, rnn.hidden_size), dtype=np.float32)
    return [zeros, zeros.copy() if rnn.spec.has_cell_state else None]


def _random_inputs(est) -> Heldout:
    rng = np.random.default_rng(0)
    if est.task in ("classify", "regress"):
        C, fcn = est.config_.input_channels, est.config_.fcn
        L = 32 if fcn is None or not fcn.shuffle else min(32, fcn.length)  # its longest input
        X = (rng.standard_normal((_CHECK_ROWS, L, C)) * est.std_ + est.mean_).astype(np.float32)
        return Heldout([X, None], "random")
    if est.task == "forecast":
        F = est.config_.features.input_size
        X = rng.standard_normal((_CHECK_ROWS, est.lookback_, F)).astype(np.float32)
        return Heldout([X], "random")
    ids = rng.integers(0, len(est.tokenizer_), (8, 32)).astype(np.int64)
    return Heldout([ids, *_zero_state(est, 8)], "random")


_HELDOUT = {"classify": _classify_heldout, "regress": _classify_heldout,
            "forecast": _forecast_heldout, "textgen": _textgen_heldout}  # fmt: skip


def _scaled_diff(got, expected) -> float:
    scale = max([1.0] + [float(np.abs(e).max()) for e in expected if e.size])
    return max_abs_diff(got, expected) / scale


def _latencies(runners: dict, held: Heldout) -> dict[str, dict[str, float]]:
    """{runner name: {"batch_1": ms, "batch_64": ms}}, the runners timed interleaved."""
    length = held.inputs[0].shape[1]
    out: dict[str, dict[str, float]] = {name: {} for name in runners}
    for n in (1, 64):
        inputs = held.rows(n)
        if held.with_lengths:
            inputs[1] = np.full(n, length, dtype=np.int64)
        for name, ms in latency_ms(runners, inputs).items():
            out[name][f"batch_{n}"] = ms
    return out


def _metric(est, runner, held: Heldout, run_dir: Path, prefix: str) -> dict[str, float]:
    """The test metric with the exported model in the estimator's place ({} without data)."""
    if held.source != "test split":
        return {}
    from importlib import import_module

    evaluate_run = import_module(f"lstmkit.tasks.{est.task}").evaluate_run
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = evaluate_run(run_dir, estimator=scored_estimator(est, runner, held.with_lengths))
    keys = {"classify": ("test_accuracy", "test_macro_f1"), "regress": ("test_rmse", "test_r2"),
            "forecast": ("test_mae", "test_mase"),
            "textgen": ("test_bpc", "test_perplexity")}[est.task]  # fmt: skip
    return {prefix + k: m[k] for k in keys if k in m}


_EXPORTERS = {"onnx": OnnxFormat(), "torchscript": TorchScriptFormat()}
