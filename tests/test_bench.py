"""The speed benchmark's arithmetic: FLOP counts and the GEMM rate."""

import pytest

from lstmkit import bench


def test_step_flops_counts_forward_gemms_three_times():
    # one layer: 2*L*N*G*(I+H) forward, x3 for forward + backward
    N, L, I, H = 2, 3, 5, 7
    assert bench.step_flops("lstm", (N, L, I, H, 1)) == 3 * 2 * L * N * 4 * H * (I + H)
    assert bench.step_flops("gru", (N, L, I, H, 1)) == 3 * 2 * L * N * 3 * H * (I + H)
    # second layer reads H features
    two = bench.step_flops("lstm", (N, L, I, H, 2))
    assert two == pytest.approx(3 * 2 * L * N * 4 * H * ((I + H) + (H + H)))


def test_gemm_rate_is_positive_and_plausible():
    rate = bench.gemm_gflops(size=128, reps=3)
    assert 0.1 < rate < 1e5


def test_case_count_matches_run():
    rows, _ = bench.run_speed(quick=True, configs=[(2, 3, 2, 4, 1)])
    # every case plus the torch.nn.LSTM row per config
    assert len(rows) == bench.case_count(quick=True, configs=[(2, 3, 2, 4, 1)]) + 1
