"""Train-step speed of every cell and backend against torch.nn.LSTM, as ratios measured in one run.

A train step is forward + backward of ``output.sum()``. Timings are interleaved with the baseline
and reduced to medians, so the ratios hold on a noisy machine even where the seconds do not. The
machine's GEMM rate is measured in the same run, and each configuration's achieved FLOP rate is
reported as a fraction of it.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from lstmkit.kernels import _ext, _loops
from lstmkit.kernels.cells import CELLS
from lstmkit.memory import keep_freed_memory
from lstmkit.nn import LSTM

__all__ = [
    "CONFIGS",
    "QUICK_CONFIGS",
    "BenchRow",
    "case_count",
    "format_summary",
    "format_table",
    "gemm_gflops",
    "run_speed",
    "write_json",
]

log = logging.getLogger(__name__)

# (N, L, I, H, layers): the issue's sizes (seed 002's FashionMNIST model first).
CONFIGS = [(100, 28, 28, 128, 2), (32, 50, 1, 64, 2), (16, 200, 8, 32, 1), (64, 100, 64, 256, 1)]
QUICK_CONFIGS = [(100, 28, 28, 128, 2), (16, 200, 8, 32, 1)]


@dataclass
class BenchRow:
    config: str  # "N,L,I,H,layers"
    cell: str
    backend: str  # what was asked for; "fused-eager" = fused kernels with the eager loops
    ms: float  # median train-step time
    ratio: float  # ms / torch.nn.LSTM's ms at the same size, measured interleaved
    gflops: float  # achieved GFLOP/s (GEMM work of the step / time)
    gemm_fraction: float  # gflops / the machine's measured GEMM rate


def gemm_gflops(size: int = 1024, reps: int = 10) -> float:
    """The machine's float32 GEMM rate with the current thread count (median of reps)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    return 2 * size**3 / sorted(times)[reps // 2] / 1e9


def step_flops(cell: str, cfg: tuple[int, ...]) -> float:
    """GEMM FLOPs of one train step: forward (input + recurrent projections) times 3."""
    N, L, I, H, layers = cfg
    G = CELLS[cell].blocks * H
    total = 0.0
    for k in range(layers):
        inp = I if k == 0 else H
        total += 2 * L * N * G * (inp + H)
    return 3 * total


def _time_pair(base: Callable, other: Callable, reps: int) -> tuple[float, float]:
    """Interleaved medians (seconds) of two callables; fast ones get more repetitions (up to
    ~1 s of measuring), since this machine's timings are noisy."""
    for _ in range(2):
        base()
        other()
    t = time.perf_counter()
    base()
    other()
    reps = max(reps, min(41, int(1.0 / max(time.perf_counter() - t, 1e-6))))
    tb, to = [], []
    for _ in range(reps):
        for fn, acc in ((base, tb), (other, to)):
            t = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t)
    return sorted(tb)[reps // 2], sorted(to)[reps // 2]


def _train_step(module: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        module.zero_grad(set_to_none=True)
        module(x)[0].sum().backward()

    return run


def _cases(quick: bool) -> list[tuple[str, str]]:
    cases = []
    for cell, spec in CELLS.items():
        backends = ["auto", "fused"] if spec.torch_native else ["fused"]
        backends += ["fused-eager"]
        if not quick:
            backends += ["reference"]
        cases += [(cell, b) for b in backends]
    return cases


def case_count(quick: bool = False, configs: Iterable | None = None) -> int:
    """How many measurements ``run_speed`` makes (for a progress bar)."""
    n = len(list(configs or (QUICK_CONFIGS if quick else CONFIGS)))
    return n * len(_cases(quick))


def run_speed(
    quick: bool = False,
    configs: Iterable[tuple[int, ...]] | None = None,
    threads: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[list[BenchRow], dict]:
    """Measure every (config, cell, backend); return rows and run metadata."""
    if threads:
        torch.set_num_threads(threads)
    configs = list(configs or (QUICK_CONFIGS if quick else CONFIGS))
    reps = 5 if quick else 9
    peak = (
        gemm_gflops()
    )  # the best rate seen in the run (re-measured per size): the machine's limit
    malloc = keep_freed_memory()  # as the lstmkit command runs
    meta = {
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cpp_kernels": _ext.load(),
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "quick": quick,
        "malloc_keeps_freed_memory": malloc,
    }
    rows: list[BenchRow] = []
    torch.manual_seed(0)
    for cfg in configs:
        N, L, I, H, layers = cfg
        peak = max(peak, gemm_gflops())
        x = torch.randn(N, L, I)
        base = _train_step(torch.nn.LSTM(I, H, layers, batch_first=True), x)
        name = ",".join(map(str, cfg))
        for cell, backend in _cases(quick):
            if progress:
                progress(f"{name} {cell} {backend}")
            real = "fused" if backend == "fused-eager" else backend
            step = _train_step(LSTM(I, H, layers, cell=cell, backend=real, batch_first=True), x)
            if backend == "fused-eager":
                with _loops.eager():
                    tb, to = _time_pair(base, step, max(3, reps // 2))
            else:
                tb, to = _time_pair(base, step, reps if backend != "reference" else 3)
            gf = step_flops(cell, cfg) / to / 1e9
            rows.append(BenchRow(name, cell, backend, to * 1e3, to / tb, gf, 0.0))
        tb, _ = _time_pair(base, base, reps)
        gf = step_flops("lstm", cfg) / tb / 1e9
        rows.append(BenchRow(name, "torch.nn.LSTM", "-", tb * 1e3, 1.0, gf, 0.0))
    peak = max(peak, gemm_gflops())
    for r in rows:
        r.gemm_fraction = r.gflops / peak
    meta["gemm_gflops"] = round(peak, 1)
    return rows, meta


def format_table(rows: list[BenchRow], meta: dict) -> str:
    """A Markdown table of the rows, with the machine line above it."""
    head = (
        f"GEMM rate {meta['gemm_gflops']} GFLOP/s, {meta['threads']} threads, torch "
        f"{meta['torch']}, C++ kernels {'on' if meta['cpp_kernels'] else 'off'}, malloc keeps "
        f"freed memory: {'yes' if meta.get('malloc_keeps_freed_memory') else 'no'}"
    )
    lines = [
        head,
        "",
        "| N,L,I,H,layers | cell | backend | ms/step | x torch.nn.LSTM | GFLOP/s | of GEMM |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.config} | {r.cell} | {r.backend} | {r.ms:.2f} | {r.ratio:.2f} | "
            f"{r.gflops:.1f} | {r.gemm_fraction:.2f} |"
        )
    return "\n".join(lines)


def format_summary(rows: list[BenchRow]) -> str:
    """One line per size: torch's time, then each cell's ratio (fused; auto for lstm) and the
    best GEMM fraction reached."""
    configs = list(dict.fromkeys(r.config for r in rows))
    cells = [c for c in CELLS]
    head = "| N,L,I,H,layers | torch.nn.LSTM ms | auto (lstm) | " + " | ".join(
        f"{c} fused" for c in cells
    )
    head += " | lstm fused-eager | lstm reference | best of GEMM |"
    lines = [head, "|---|" + "---:|" * (len(cells) + 5)]
    for cfg in configs:
        by = {(r.cell, r.backend): r for r in rows if r.config == cfg}
        cols = [f"{by[('torch.nn.LSTM', '-')].ms:.1f}"]
        for key in [("lstm", "auto")] + [(c, "fused") for c in cells]:
            cols.append(f"{by[key].ratio:.2f}x" if key in by else "-")
        for key in [("lstm", "fused-eager"), ("lstm", "reference")]:
            cols.append(f"{by[key].ratio:.2f}x" if key in by else "-")
        cols.append(f"{max(r.gemm_fraction for r in by.values()):.2f}")
        lines.append(f"| {cfg} | " + " | ".join(cols) + " |")
    return "\n".join(lines)


def write_json(path: str | Path, rows: list[BenchRow], meta: dict) -> Path:
    """Write {"meta": ..., "rows": [...]} atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps({"meta": meta, "rows": [asdict(r) for r in rows]}, indent=2))
    tmp.replace(path)
    return path
