"""lstmkit.memory: with keep_freed_memory() a training loop stops page-faulting its buffers in
on every step; LSTMKIT_MALLOC=system leaves malloc alone. Each case runs in its own process,
since malloc's settings are process-wide."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="glibc malloc only",
)

_SCRIPT = textwrap.dedent(
    """
    import resource, sys
    import torch
    from lstmkit.memory import keep_freed_memory
    from lstmkit.nn import LSTM
    on = keep_freed_memory() if sys.argv[1] == "keep" else False
    torch.manual_seed(0)
    model, x = LSTM(8, 64, 2, batch_first=True, backend=sys.argv[2]), torch.randn(64, 50, 8)
    def step():
        model.zero_grad(set_to_none=True)
        model(x)[0].sum().backward()
    for _ in range(5):
        step()
    # the quietest of three windows: a one-off burst of faults is not what is measured
    counts = []
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(10):
            step()
        counts.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    print(on, min(counts))
    """
)


def _run(mode: str, backend: str = "auto", **env: str) -> tuple[bool, int]:
    """(in effect, minor page faults of 10 train steps after 5 warm-up steps: the fewest of three
    such windows)"""
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT, mode, backend], capture_output=True, text=True, timeout=120,
        env={**os.environ, **env},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    on, faults = proc.stdout.split()
    return on == "True", int(faults)


@pytest.mark.parametrize("backend", ["auto", "fused"])
def test_keep_freed_memory_stops_page_faults_of_train_steps(backend):
    on, kept = _run("keep", backend)
    off, default = _run("default", backend)
    assert on and not off
    # measured: torch's LSTM ~53000 faults with glibc's defaults, the fused kernels ~2000; kept,
    # under 10 for both
    assert default > 500, f"the default malloc was expected to fault, got {default}"
    assert kept < default / 10, f"faults with keep_freed_memory {kept}, default {default}"


def test_lstmkit_malloc_system_leaves_malloc_alone():
    on, faults = _run("keep", LSTMKIT_MALLOC="system")
    assert not on
    assert faults > 500
