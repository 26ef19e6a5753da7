"""Online inference at batch 1: milliseconds per time step of ``lstmkit.nn.LSTMStream`` against
calling ``LSTM.forward`` on a length-1 sequence with the state passed back in, and against
``torch.nn.LSTM`` / ``GRU`` doing the same (plain cells), all timed interleaved in one run.

Run: ``.venv/bin/python benchmarks/streaming.py [--out FILE.json]``
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch

from lstmkit.export.measure import latency_ms
from lstmkit.nn import LSTM, LSTMStream

CELLS = ["lstm", "gru", "peephole", "coupled", "layernorm"]
SIZE = {"input": 28, "hidden": 128, "layers": 2}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench_results/streaming.json")
    args = ap.parse_args()
    torch.manual_seed(0)
    I, H, layers = SIZE["input"], SIZE["hidden"], SIZE["layers"]
    x = torch.randn(1, I)
    rows = []
    for cell in CELLS:
        lstm = LSTM(I, H, layers, cell=cell, batch_first=True).eval()
        stream = LSTMStream(lstm)
        state = [None]

        def forward_step(xt, lstm=lstm, state=state):
            out, state[0] = lstm(xt[:, None], state[0])
            return out

        runners = {"stream": stream.step, "forward": forward_step}
        if cell in ("lstm", "gru"):
            ref = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(I, H, layers).eval()
            tstate = [None]

            def torch_step(xt, ref=ref, tstate=tstate):
                out, tstate[0] = ref(xt[None], tstate[0])  # (1, N, I): time-major
                return out

            runners["torch.nn"] = torch_step
        with torch.no_grad():
            ms = latency_ms(runners, [x])
        rows.append({"cell": cell, **{f"{k}_ms": v for k, v in ms.items()}})
    print(f"\nbatch 1, one step, {layers} layers, input {I}, hidden {H}, "
          f"{torch.get_num_threads()} threads (ms per step)\n")  # fmt: skip
    print("| cell | LSTMStream.step | LSTM.forward, length 1 | torch.nn, length 1 |")
    print("|---|---:|---:|---:|")
    for r in rows:
        t = f"{r['torch.nn_ms']:.4f}" if "torch.nn_ms" in r else "-"
        print(f"| {r['cell']} | {r['stream_ms']:.4f} | {r['forward_ms']:.4f} | {t} |")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"machine": platform.processor() or platform.machine(), "size": SIZE,
            "threads": torch.get_num_threads(), "torch": torch.__version__}  # fmt: skip
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
