"""Where a train step's time goes: torch.profiler over forward + backward of one configuration,
for torch.nn.LSTM and lstmkit's fused cells, grouped into GEMMs, lstmkit's C++ time loops and
everything else, beside the GEMM work's share of the machine's GEMM rate.

Run: ``.venv/bin/python benchmarks/profile_step.py [--config N,L,I,H,layers] [--out FILE.json]``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from lstmkit.bench import _train_step, gemm_gflops, step_flops
from lstmkit.memory import keep_freed_memory
from lstmkit.nn import LSTM

GEMM_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear")


def profile(name: str, module: torch.nn.Module, x: torch.Tensor, reps: int = 10) -> dict:
    step = _train_step(module, x)
    for _ in range(3):
        step()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for _ in range(reps):
            step()
    groups = {"gemm": 0.0, "lstmkit loop": 0.0, "oneDNN rnn": 0.0, "other": 0.0}
    total = 0.0
    top = []
    for e in prof.key_averages():
        us = e.self_cpu_time_total / reps
        total += us
        key = e.key
        if key in GEMM_OPS:
            groups["gemm"] += us
        elif "lstmkit" in key:
            groups["lstmkit loop"] += us
        elif "mkldnn_rnn" in key or ("_lstm" in key.lower() and "mkldnn" in key):
            groups["oneDNN rnn"] += us
        else:
            groups["other"] += us
        top.append((us, key))
    top.sort(reverse=True)
    return {
        "name": name,
        "ms": total / 1000,
        "groups_ms": {k: round(v / 1000, 3) for k, v in groups.items()},
        "top": [(k, round(us / 1000, 3)) for us, k in top[:8]],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="100,28,28,128,2")
    ap.add_argument("--out", default="bench_results/profile_step.json")
    ap.add_argument(
        "--system-malloc", action="store_true", help="leave malloc as it is (lstmkit.memory)"
    )
    ap.add_argument(
        "--rounds", type=int, default=3, help="profile every path this many times, interleaved; "
        "keep each path's fastest round (this machine's noise only ever adds time)"
    )  # fmt: skip
    args = ap.parse_args()
    malloc = False if args.system_malloc else keep_freed_memory()
    N, L, I, H, layers = (int(v) for v in args.config.split(","))
    torch.manual_seed(0)
    x = torch.randn(N, L, I)
    modules = {"torch.nn.LSTM": torch.nn.LSTM(I, H, layers, batch_first=True)}
    for cell in ("lstm", "peephole", "coupled", "gru", "layernorm"):
        modules[f"fused {cell}"] = LSTM(I, H, layers, cell=cell, backend="fused", batch_first=True)
    rate, best = 0.0, {}
    for _ in range(max(1, args.rounds)):
        rate = max(rate, gemm_gflops())  # the machine's limit: the best rate seen
        for name, module in modules.items():
            r = profile(name, module, x)
            if name not in best or r["ms"] < best[name]["ms"]:
                best[name] = r
    rows = []
    for name, r in best.items():
        cell = "lstm" if name == "torch.nn.LSTM" else name.split()[1]
        flops = step_flops(cell, (N, L, I, H, layers))
        r["gemm_fraction_of_step"] = round(flops / (r["ms"] / 1000) / 1e9 / rate, 3)
        rows.append(r)
    threads = torch.get_num_threads()
    print(f"\n(N, L, I, H, layers) = ({args.config}); GEMM rate {rate:.0f} GFLOP/s, {threads} "
          f"threads, malloc keeps freed memory: {'yes' if malloc else 'no'}; ms per train step "
          "(profiled, self CPU time)\n")  # fmt: skip
    print("| path | step ms | GEMMs | lstmkit loops | oneDNN RNN | other | of GEMM rate |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        g = r["groups_ms"]
        cells = [g["gemm"], g["lstmkit loop"], g["oneDNN rnn"], g["other"]]
        print(f"| {r['name']} | {r['ms']:.1f} | " + " | ".join(f"{v:.1f}" for v in cells)
              + f" | {r['gemm_fraction_of_step']:.2f} |")  # fmt: skip
    for r in rows:
        print(f"\n{r['name']}: " + ", ".join(f"{k} {v:.2f} ms" for k, v in r["top"]))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "config": args.config,
        "gemm_gflops": rate,
        "malloc_keeps_freed_memory": malloc,
        "rounds": args.rounds,
    }
    out.write_text(json.dumps({**meta, "rows": rows}, indent=1))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
