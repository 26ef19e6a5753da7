"""The speed benchmark's arithmetic: FLOP counts and the GEMM rate."""

import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from lstmkit import bench


def test_step_flops_counts_forward_gemms_three_times():
    # one layer: 2*L*N*G*(I+H) forward, x3 for forward + backward
    N, L, I, H = 2, 3, 5, 7
    assert bench.step_flops("lstm", (N, L, I, H, 1)) == 3 * 2 * L * N * 4 * H * (I + H)
    assert bench.step_flops("gru", (N, L, I, H, 1)) == 3 * 2 * L * N * 3 * H * (I + H)
    # second layer reads H features
    two = bench.step_flops("lstm", (N, L, I, H, 2))
    assert two == pytest.approx(3 * 2 * L * N * 4 * H * ((I + H) + (H + H)))


def test_gemm_rate_is_the_flops_over_the_median_time(monkeypatch):
    """With a clock whose reps take 4, 1 and 2 ms (after 3 untimed warm-ups): 2 * n^3 FLOPs
    over the median, 2 ms."""
    ticks = iter([0.0, 0.004, 1.0, 1.001, 2.0, 2.002])
    monkeypatch.setattr(bench, "time", SimpleNamespace(perf_counter=lambda: next(ticks)))
    assert bench.gemm_gflops(size=128, reps=3) == pytest.approx(2 * 128**3 / 0.002 / 1e9)


def _numpy_gflops(size: int, reps: int) -> float:
    a = np.random.default_rng(0).standard_normal((size, size)).astype(np.float32)
    a @ a  # warm-up
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        a @ a
        times.append(time.perf_counter() - t)
    return 2 * size**3 / sorted(times)[reps // 2] / 1e9


def test_gemm_rate_agrees_with_a_numpy_matmul_timed_beside_it():
    """Another BLAS on the same machine, same size, both on one thread (two thread pools
    spinning side by side slow each other 500x): within 10x either way (measured 0.5x); a wrong
    FLOP count, unit or timed region is off by 100x or more."""
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            ratio = bench.gemm_gflops(size=128, reps=11) / _numpy_gflops(128, reps=11)
    finally:
        torch.set_num_threads(threads)
    assert 0.1 < ratio < 10, ratio


def test_case_count_matches_run():
    rows, _ = bench.run_speed(quick=True, configs=[(2, 3, 2, 4, 1)])
    # every case plus the torch.nn.LSTM row per config
    assert len(rows) == bench.case_count(quick=True, configs=[(2, 3, 2, 4, 1)]) + 1
