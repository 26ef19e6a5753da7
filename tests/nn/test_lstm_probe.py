"""probe=: zeros added to every step's h, whose gradient is the total dLoss/dh_t (BPTT's dh)."""

from __future__ import annotations

import pytest
import torch

from lstmkit.nn import LSTM

I, H, N, L = 3, 4, 3, 6
LENGTHS = torch.tensor([6, 2, 4])


def _loss(out, h_n, weights):
    return (out * weights).sum() + h_n.pow(2).sum()


@pytest.mark.parametrize("cell", ["lstm", "gru", "peephole"])
def test_probe_gradient_is_the_total_hidden_gradient(cell):
    """One layer, one direction: d loss / d probe equals autograd's gradient w.r.t. each step's
    h in a plain torch loop (the h node that feeds both the output and the next step)."""
    torch.manual_seed(0)
    lstm = LSTM(I, H, cell=cell, batch_first=True).double()
    x = torch.randn(N, L, I, dtype=torch.float64)
    w = torch.randn(N, L, H, dtype=torch.float64)
    probe = torch.zeros(1, 1, N, L, H, dtype=torch.float64, requires_grad=True)
    out, (h_n, _) = lstm(x, probe=probe)
    (dprobe,) = torch.autograd.grad(_loss(out, h_n[-1], w), probe)

    from lstmkit.nn import LSTMCell

    cell_mod = LSTMCell(I, H, cell=cell).double()
    cell_mod.load_state_dict({k.removesuffix("_l0"): v for k, v in lstm.state_dict().items()})
    h = torch.zeros(N, H, dtype=torch.float64)
    c = torch.zeros(N, H, dtype=torch.float64) if cell != "gru" else None
    hs = []
    for t in range(L):
        h, c = cell_mod(x[:, t], (h, c))
        hs.append(h)
    loss = _loss(torch.stack(hs, 1), hs[-1], w)
    expected = torch.stack(torch.autograd.grad(loss, hs), 1)  # (N, L, H)
    assert torch.allclose(dprobe[0, 0], expected, atol=1e-12)


def test_probe_gradient_matches_finite_differences_stacked_bidirectional_padded():
    """Two layers, both directions, right-padded batch: the probe's gradient is the derivative
    of the loss w.r.t. a perturbation of h_t (checked by central differences), zero at padded
    steps, and a zero probe leaves every output unchanged."""
    torch.manual_seed(1)
    lstm = LSTM(I, H, 2, bidirectional=True, batch_first=True).double()
    x = torch.randn(N, L, I, dtype=torch.float64)
    w = torch.randn(N, L, 2 * H, dtype=torch.float64)
    shape = (2, 2, N, L, H)
    probe = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
    out, (h_n, _) = lstm(x, lengths=LENGTHS, probe=probe)
    plain, (h_plain, _) = lstm(x, lengths=LENGTHS)
    assert torch.allclose(out, plain, atol=1e-12) and torch.allclose(h_n, h_plain, atol=1e-12)
    (grad,) = torch.autograd.grad(_loss(out, h_n, w), probe)

    def loss_at(p):
        with torch.no_grad():
            o, (hn, _) = lstm(x, lengths=LENGTHS, probe=p)
            return float(_loss(o, hn, w))

    gen = torch.Generator().manual_seed(2)
    eps = 1e-6
    for _ in range(12):
        k, d, n = (int(torch.randint(2, (1,), generator=gen)) for _ in range(3))
        t = int(torch.randint(int(LENGTHS[n]), (1,), generator=gen))
        j = int(torch.randint(H, (1,), generator=gen))
        bump = torch.zeros(shape, dtype=torch.float64)
        bump[k, d, n, t, j] = eps
        fd = (loss_at(bump) - loss_at(-bump)) / (2 * eps)
        assert abs(fd - float(grad[k, d, n, t, j])) < 1e-6, (k, d, n, t, j)
    padded = torch.arange(L)[None, :] >= LENGTHS[:, None]  # (N, L)
    assert grad[:, :, padded].abs().max() == 0
    assert grad.abs().sum() > 0


def test_probe_shape_is_checked():
    lstm = LSTM(I, H, batch_first=True)
    with pytest.raises(ValueError, match=r"probe must have shape \(1, 1, 3, 6, 4\)"):
        lstm(torch.randn(N, L, I), probe=torch.zeros(1, 1, N, L + 1, H))
