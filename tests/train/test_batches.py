"""TensorBatches: every sample once per epoch, and batches cut to their own longest length."""

from __future__ import annotations

import torch

from lstmkit.train import TensorBatches


def test_crop_cuts_each_batch_to_its_longest_length():
    """With crop=(x, lengths) each batch keeps the steps up to its own longest series; the
    samples, their order and the other tensors are those of the uncropped batches."""
    lengths = torch.tensor([3, 9, 2, 5, 4, 12, 1, 6])
    x = torch.randn(8, 12, 2)
    y = torch.arange(8)
    plain = TensorBatches((x, y, lengths), 3, shuffle=True)
    cropped = TensorBatches((x, y, lengths), 3, shuffle=True, crop=(0, 2))
    gen = [torch.Generator().manual_seed(7) for _ in range(2)]
    seen = []
    for (xp, yp, lp), (xc, yc, lc) in zip(
        plain.batches(gen[0]), cropped.batches(gen[1]), strict=True
    ):
        assert torch.equal(yp, yc) and torch.equal(lp, lc)
        assert xc.shape == (len(yc), int(lc.max()), 2)
        assert torch.equal(xc, xp[:, : int(lc.max())])
        seen += yc.tolist()
    assert sorted(seen) == list(range(8))
    shard = cropped.shard(1, 2)
    assert all(b[0].shape[1] == int(b[2].max()) for b in shard.batches(gen[0]))


def test_crop_without_lengths_passes_through():
    x = torch.randn(5, 7, 1)
    batches = TensorBatches((x, None), 2, shuffle=False, crop=(0, 1))
    assert [b[0].shape for b in batches.batches()] == [(2, 7, 1), (2, 7, 1), (1, 7, 1)]


def test_bucket_groups_like_lengths_and_still_covers_every_sample_once():
    """Bucketed batches: every sample once per epoch, the same batches for the same generator,
    far less padding than random batches, and a different batch order from epoch to epoch."""
    gen = torch.Generator().manual_seed(0)
    lengths = torch.randint(1, 200, (300,), generator=gen)
    x, y = torch.zeros(300, 200, 1), torch.arange(300)
    bucketed = TensorBatches((x, y, lengths), 10, shuffle=True, crop=(0, 2), bucket=True)
    random = TensorBatches((x, y, lengths), 10, shuffle=True, crop=(0, 2))

    def epoch(batches, seed):
        return list(batches.batches(torch.Generator().manual_seed(seed)))

    first = epoch(bucketed, 1)
    assert len(first) == len(bucketed) == 30
    assert sorted(torch.cat([b[1] for b in first]).tolist()) == list(range(300))
    assert all(torch.equal(a[1], b[1]) for a, b in zip(first, epoch(bucketed, 1), strict=True))
    assert [b[1][0] for b in first] != [b[1][0] for b in epoch(bucketed, 2)]

    def padding(batches):
        return sum(b[0].shape[1] * len(b[2]) - int(b[2].sum()) for b in batches)

    assert padding(first) < 0.2 * padding(epoch(random, 1))
    # unshuffled (validation) batches are never bucketed
    plain = TensorBatches((x, y, lengths), 10, shuffle=False, crop=(0, 2), bucket=True)
    assert torch.equal(torch.cat([b[1] for b in plain.batches()]), y)
