"""``torch.compile`` of models holding lstmkit's layers: compile time, compiled vs eager step time.

For every cell and backend, a seed-002-sized classifier (2-layer recurrent encoder, hidden 128,
28 steps of 28 features, batch 64, linear head on the last step) runs a training step (forward,
cross-entropy, backward) eagerly and compiled with the default inductor backend. Reported: the
first compiled step's seconds less an eager step's (compile time: Dynamo, AOT autograd,
inductor, with inductor's caches off), the median eager and compiled step in ms (timed
interleaved), and their ratio; ``torch.nn.LSTM`` / ``GRU`` as
the anchor, measured in the same run. A second table times one small layer call (L=4, N=1,
I=H=8; inference and training) through the custom op and through the eager
``autograd.Function``: the dispatch cost that keeps eager mode off the custom op.

Run: ``.venv/bin/python benchmarks/compile.py [--repeats N] [--out FILE.json]``
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
import time
from pathlib import Path

import torch
import torch._inductor.config as inductor_config
from torch import nn

from lstmkit.kernels import _ext
from lstmkit.kernels.ops import OPS, _EagerLayer
from lstmkit.nn import GRU, LSTM

N, L, INPUT, HIDDEN, CLASSES = 64, 28, 28, 128, 10


class Classifier(nn.Module):
    def __init__(self, rnn: nn.Module) -> None:
        super().__init__()
        self.rnn, self.head = rnn, nn.Linear(HIDDEN, CLASSES)

    def forward(self, x):
        out = self.rnn(x)[0]
        return self.head(out[-1])


def build(cell: str, backend: str) -> nn.Module:
    torch.manual_seed(0)
    if backend == "torch.nn":
        rnn = (nn.GRU if cell == "gru" else nn.LSTM)(INPUT, HIDDEN, 2)
    elif cell == "gru":
        rnn = GRU(INPUT, HIDDEN, 2, backend=backend)
    else:
        rnn = LSTM(INPUT, HIDDEN, 2, cell=cell, backend=backend)
    return Classifier(rnn)


def training_step(fn, model: nn.Module, x, y) -> float:
    """Seconds of one forward + cross-entropy + backward through ``fn``."""
    start = time.perf_counter()
    model.zero_grad(set_to_none=True)
    nn.functional.cross_entropy(fn(x), y).backward()
    return time.perf_counter() - start


def measure(model: nn.Module, x, y, repeats: int) -> dict:
    """Compile seconds (the first compiled step less an eager step), then eager and compiled
    steps interleaved (the machine's noise hits both alike), medians in ms."""
    eager = [training_step(model, model, x, y) for _ in range(3)][-1]
    torch._dynamo.reset()
    compiled = torch.compile(model)
    compile_s = training_step(compiled, model, x, y) - eager
    times = {"eager": [], "compiled": []}
    for _ in range(repeats):
        times["eager"].append(training_step(model, model, x, y))
        times["compiled"].append(training_step(compiled, model, x, y))
    ms = {k: 1e3 * statistics.median(v) for k, v in times.items()}
    return {"compile_s": round(compile_s, 2), "eager_ms": round(ms["eager"], 2),
            "compiled_ms": round(ms["compiled"], 2),
            "speedup": round(ms["eager"] / ms["compiled"], 3)}  # fmt: skip


def dispatch_us(cell: str, repeats: int = 1000) -> dict:
    """Microseconds per call of one small layer through the custom op and through the eager
    autograd.Function: forward under no_grad (inference), and forward + backward (training)."""
    gen = torch.Generator().manual_seed(0)
    G = (3 if cell in ("gru", "coupled") else 4) * 8
    state = (torch.zeros(1, 8),) if cell == "gru" else (torch.zeros(1, 8), torch.zeros(1, 8))
    norms = (torch.ones(32), torch.zeros(32), torch.ones(8), torch.zeros(8))
    extra = {"peephole": (torch.zeros(24),), "layernorm": norms}
    tensors = (torch.randn(4, 1, 8, generator=gen), *state, torch.randn(G, 8), torch.randn(G, 8),
               torch.zeros(G), torch.zeros(G), *extra.get(cell, ()))  # fmt: skip
    tensors = tuple(t.requires_grad_() for t in tensors)
    fwd = OPS[cell][0]
    calls = {"custom_op": lambda: fwd(*tensors, False),
             "autograd_function": lambda: _EagerLayer.apply(cell, False, *tensors)}  # fmt: skip

    def timed(fn) -> float:
        for _ in range(50):
            fn()
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        return round(1e6 * (time.perf_counter() - start) / repeats, 1)

    result = {}
    for name, call in calls.items():
        with torch.no_grad():
            result[f"{name}_inference"] = timed(call)
        result[f"{name}_training"] = timed(lambda call=call: call()[0].sum().backward())
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--out", default="bench_results/compile.json")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    inductor_config.fx_graph_cache = False  # compile time as a new process pays it
    inductor_config.autotune_local_cache = False
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(L, N, INPUT, generator=gen)
    y = torch.randint(0, CLASSES, (N,), generator=gen)
    cases = [(c, b) for c in ("lstm", "coupled", "peephole", "layernorm", "gru")
             for b in ("torch.nn", "auto", "fused", "torch", "reference")
             if c in ("lstm", "gru") or b in ("fused", "reference")]  # fmt: skip
    torch.compile(lambda t: (t * 2).sum())(x)  # inductor's one-off start-up, in no row
    rows = []
    for cell, backend in cases:
        row = {"cell": cell, "backend": backend} | measure(build(cell, backend), x, y, args.repeats)
        print(json.dumps(row), flush=True)
        rows.append(row)
    dispatch = {cell: dispatch_us(cell) for cell in OPS}
    print(json.dumps({"dispatch_us": dispatch}), flush=True)
    result = {
        "benchmark": "compile",
        "shape": {"batch": N, "steps": L, "input": INPUT, "hidden": HIDDEN, "layers": 2},
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "cpp_kernels": _ext.load() is not None,
        "machine": platform.processor() or platform.machine(),
        "repeats": args.repeats, "rows": rows, "dispatch_us_small_layer": dispatch,
    }  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
