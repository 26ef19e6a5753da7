"""``lstmkit train`` in a child process, killed with SIGKILL in the middle of an epoch after its
first checkpoints: what ``lstmkit resume`` must recover from (no handler, no flush, no cleanup).

The child is the real CLI (``lstmkit.cli.main.main``) with one addition, a global optimizer
step pre-hook: once ``history.csv`` shows ``after`` epochs (checkpoint.pt is written just before
it), the hook lets one more step of the next epoch through and, at the second, touches a marker
file and sleeps. The parent waits for the marker and kills: the kill lands at a known point
(mid-epoch, gradients of a batch computed, its step not taken) instead of a racy one, and the
numbers trained before it are the CLI's own (sleeping changes none of them).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

_CHILD = """
import sys, time
from pathlib import Path
from torch.optim.optimizer import register_optimizer_step_pre_hook
from lstmkit.cli.main import main

history, after, marker = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
steps = [0]

def pause(optimizer, args, kwargs):
    if history.exists() and len(history.read_text().splitlines()) > after:  # header + rows
        steps[0] += 1
        if steps[0] == 2:  # the second step of epoch after + 1
            marker.touch()
            time.sleep(600)

register_optimizer_step_pre_hook(pause)
sys.exit(main(sys.argv[4:]))
"""


def train_and_kill_9(
    args: Sequence[object], out: Path, *, after: int, env: Mapping[str, str], timeout=120
) -> None:
    """Run ``lstmkit ARGS --out OUT`` in a child, kill -9 it mid-epoch ``after + 1`` (see the
    module docstring); asserts that it was killed there, with ``after`` epochs checkpointed."""
    marker, log = out.parent / f"{out.name}.paused", out.parent / f"{out.name}.log"
    argv = [*map(str, args), "--out", str(out)]
    cmd = [sys.executable, "-c", _CHILD, str(out / "history.csv"), str(after), str(marker), *argv]
    with log.open("w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=dict(env))
    try:
        deadline = time.monotonic() + timeout
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert marker.exists(), (
            f"the run never reached epoch {after + 1} (exit {proc.poll()}): "
            f"{log.read_text()[-2000:]}"
        )
        os.kill(proc.pid, signal.SIGKILL)
        code = proc.wait(timeout=30)
        assert code == -signal.SIGKILL, f"exit {code}, expected death by SIGKILL"
    finally:
        if proc.poll() is None:  # an assertion above failed: leave no process behind
            proc.kill()
            proc.wait()
    assert not (out / "metrics.json").exists(), "the run finished before it was killed"
    epoch = torch.load(out / "checkpoint.pt", weights_only=True)["epoch"]
    assert epoch == after, f"killed after checkpoint {epoch}, expected {after}"


def assert_same_run(full: Path, resumed: Path, skip: Sequence[str] = ("train_seconds",)) -> None:
    """Bit-identical model.pt and metrics.json (but for the timings in ``skip``)."""
    a = json.loads((full / "metrics.json").read_text())
    b = json.loads((resumed / "metrics.json").read_text())
    keys = (a.keys() | b.keys()) - set(skip)
    differ = {k: (a.get(k), b.get(k)) for k in sorted(keys) if a.get(k) != b.get(k)}
    assert not differ, f"metrics.json differs (uninterrupted, resumed): {differ}"
    sa = torch.load(full / "model.pt", weights_only=True)
    sb = torch.load(resumed / "model.pt", weights_only=True)
    assert sa.keys() == sb.keys(), (sorted(sa), sorted(sb))
    differ = [k for k in sa if not torch.equal(sa[k], sb[k])]
    assert not differ, f"model.pt tensors differ: {differ}"
