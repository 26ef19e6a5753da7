"""Window slicing and mixup of training batches."""

import pytest
import torch

from lstmkit.train.augment import check_augment, mixup, window_slice


def test_window_slice_of_a_ramp_is_a_ramp_of_slope_ratio_inside_each_length():
    torch.manual_seed(0)
    steps = torch.arange(20, dtype=torch.float32)
    x = torch.stack([steps, steps * 2], -1).expand(4, -1, -1).clone()  # (4, 20, 2)
    lengths = torch.tensor([20, 11, 5, 1])
    out = window_slice(x, lengths, ratio=0.8)
    for i, n in enumerate(lengths.tolist()):
        if n > 1:
            d = out[i, :n].diff(dim=0)
            torch.testing.assert_close(d[:, 0], torch.full((n - 1,), 0.8))
            torch.testing.assert_close(d[:, 1], torch.full((n - 1,), 1.6))
            assert out[i, 0, 0] >= 0 and out[i, n - 1, 0] <= n - 1 + 1e-5  # a window of it
        assert torch.equal(out[i, n:], x[i, n:])  # padded steps untouched
    assert torch.equal(out[3, 0], x[3, 0])  # one valid step: nothing to slice


def test_window_slice_ratio_1_is_identity_and_random_windows_differ():
    torch.manual_seed(1)
    x = torch.randn(8, 30, 3)
    torch.testing.assert_close(window_slice(x, None, ratio=1.0), x)
    a, b = window_slice(x), window_slice(x)
    assert not torch.equal(a, b)
    assert a.shape == x.shape
    with pytest.raises(ValueError, match=r"ratio must lie in \(0, 1\]"):
        window_slice(x, None, ratio=0.0)


def test_mixup_blends_pairs_and_keeps_the_longer_length():
    torch.manual_seed(2)
    x = torch.randn(6, 10, 2)
    lengths = torch.tensor([10, 3, 7, 5, 9, 2])
    mixed, lm, perm, lam = mixup(x, lengths)
    assert 0.0 <= lam <= 1.0
    torch.testing.assert_close(mixed, lam * x + (1 - lam) * x[perm])
    assert torch.equal(lm, torch.maximum(lengths, lengths[perm]))
    assert sorted(perm.tolist()) == list(range(6))


def test_check_augment_names_the_choices():
    assert check_augment("slice") == "slice"
    with pytest.raises(ValueError, match="augment must be one of none, slice, mixup, got 'crop'"):
        check_augment("crop")
