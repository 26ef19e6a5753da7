"""Speed benchmark: train-step time of every cell and backend vs torch.nn.LSTM.

Run: ``make bench`` or ``.venv/bin/python benchmarks/speed.py [--quick] [--out FILE]``.
Prints a Markdown table and writes it as JSON (default bench_results/speed.json).
"""

import sys

from lstmkit.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
