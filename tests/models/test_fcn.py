"""LSTM-FCN / MLSTM-FCN branches: shapes, padding, the dimension shuffle, configs, bad input."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lstmkit.models import ClassifierConfig, FCNConfig, FeatureConfig, SequenceClassifier
from lstmkit.models.fcn import FCNBranches, MaskedBatchNorm1d

pytestmark = pytest.mark.usefixtures("one_thread")


def _model(
    arch="lstm-fcn", C=3, L=20, shuffle=True, cell="lstm", K=4, series_norm=False
) -> SequenceClassifier:
    torch.manual_seed(0)
    fcn = FCNConfig(C, L, shuffle, arch == "mlstm-fcn", 0.8, series_norm)
    rnn = FeatureConfig(input_size=fcn.rnn_input_size, hidden=8, layers=1, cell=cell)
    return SequenceClassifier(ClassifierConfig(rnn, K, arch=arch, fcn=fcn)).eval()


@pytest.mark.parametrize("arch", ["lstm-fcn", "mlstm-fcn"])
@pytest.mark.parametrize("shuffle", [True, False])
def test_shapes_and_padding(arch, shuffle):
    """A short sequence alone and padded into a longer batch with lengths: the same logits (the
    conv branch masks the padded steps, the shuffled recurrence pads with zeros itself)."""
    model = _model(arch, shuffle=shuffle)
    x = torch.randn(2, 20, 3)
    assert model(x).shape == (2, 4)
    short = torch.randn(1, 13, 3)
    padded = torch.cat([F.pad(short, (0, 0, 0, 7)), x[:1]])
    lengths = torch.tensor([13, 20])
    with torch.no_grad():
        torch.testing.assert_close(model(padded, lengths)[:1], model(short), rtol=1e-5, atol=1e-6)
        pooled, local = model.features(padded, lengths)
    assert pooled.shape == (2, 128 + 8) and local.shape == (2, 20, 128)
    assert local[0, 13:].abs().max() == 0  # zeros past the length


@pytest.mark.parametrize("arch", ["lstm-fcn", "mlstm-fcn"])
def test_training_forward_ignores_padding(arch):
    """In training mode too (batch statistics), a batch's outputs do not depend on how far it is
    padded: batch norm counts only the valid steps (before, 300 steps of padding dragged its
    mean toward the padding and changed every series' logits)."""
    model = _model(arch, L=40).train()
    model.features.rnn_dropout.p = 0.0
    x = torch.randn(4, 12, 3)
    lengths = torch.tensor([12, 5, 9, 12])
    x = x * (torch.arange(12)[None, :, None] < lengths[:, None, None])
    torch.manual_seed(1)
    cropped = model(x, lengths)
    torch.manual_seed(1)
    padded = model(F.pad(x, (0, 0, 0, 28)), lengths)
    torch.testing.assert_close(padded, cropped, rtol=1e-5, atol=1e-5)
    norms = [m for m in model.modules() if isinstance(m, MaskedBatchNorm1d)]
    assert len(norms) == 3 and all(int(m.num_batches_tracked) == 2 for m in norms)


@pytest.mark.parametrize("momentum", [0.1, None])
def test_masked_batch_norm_is_batch_norm_over_the_valid_steps(momentum):
    """Outputs and running statistics (exponential or cumulative) equal torch's BatchNorm1d
    over the valid steps laid end to end; with no mask, or in eval mode, it is BatchNorm1d."""
    torch.manual_seed(0)
    x = torch.randn(5, 4, 12, dtype=torch.float64)
    lengths = torch.tensor([12, 7, 3, 12, 9])
    mask = (torch.arange(12)[None] < lengths[:, None]).unsqueeze(1)
    ours = MaskedBatchNorm1d(4, momentum=momentum).double()
    theirs = torch.nn.BatchNorm1d(4, momentum=momentum).double()
    with torch.no_grad():
        ours.weight.uniform_(0.5, 2), ours.bias.uniform_(-1, 1)
        theirs.load_state_dict(ours.state_dict())
    for _ in range(2):
        out = ours(x, mask)
        valid = torch.cat([x[i, :, :n] for i, n in enumerate(lengths)], 1)[None]
        ref = theirs(valid)
        got = torch.cat([out[i, :, :n] for i, n in enumerate(lengths)], 1)[None]
        torch.testing.assert_close(got, ref)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        torch.testing.assert_close(getattr(ours, name), getattr(theirs, name))
    torch.testing.assert_close(ours(x), theirs(x))  # no mask: plain batch norm
    ours.eval(), theirs.eval()
    torch.testing.assert_close(ours(x, mask), theirs(x))  # eval: running statistics


def test_shuffle_reads_channels_as_steps():
    """Shuffled, the recurrence reads C steps of L features: its LSTM has input size L."""
    model = _model(C=3, L=20)
    assert model.features.rnn.input_size == 20
    seen = []
    model.features.rnn.register_forward_hook(lambda m, args, out: seen.append(args[0].shape))
    model(torch.randn(5, 20, 3))
    assert seen == [torch.Size([5, 3, 20])]  # batch_first, 3 steps of 20 features
    assert _model(shuffle=False).features.rnn.input_size == 3


def test_squeeze_excite_only_in_mlstm_fcn():
    names = lambda m: {n for n, _ in m.named_parameters()}  # noqa: E731
    assert not any("excite" in n for n in names(_model("lstm-fcn")))
    assert sum("excite" in n for n in names(_model("mlstm-fcn"))) == 8  # 2 blocks x 2 Linear
    # the gate scales channels: zeroing its output bias moves the logits
    model = _model("mlstm-fcn")
    x = torch.randn(2, 20, 3)
    before = model(x)
    with torch.no_grad():
        model.features.excite[0].gate[2].bias.fill_(-20.0)  # gate ~0: channels switched off
    assert not torch.allclose(model(x), before)


@pytest.mark.parametrize("cell", ["gru", "layernorm"])
def test_any_cell_trains(cell):
    model = _model(cell=cell).train()
    x, y = torch.randn(16, 20, 3), torch.randint(0, 4, (16,))
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    losses = []
    for _ in range(15):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("shuffle", [True, False])
def test_series_norm_reads_every_scale_alike_and_tells_the_head_the_scale(shuffle):
    """series_norm: a series and the same series scaled by 1e-4 and shifted give the same
    per-step maps and the same branch features (what PLAID's currents, spread over six orders
    of magnitude, need); only the 2C statistics at the end of the pooled features differ.
    Padding is ignored as without it; constant series and a training batch of one are fine."""
    model = _model(shuffle=shuffle, series_norm=True)
    x, lengths = torch.randn(3, 20, 3, dtype=torch.float64), torch.tensor([20, 11, 6])
    model = model.double()
    with torch.no_grad():
        pooled, local = model.features(x, lengths)
        pooled2, local2 = model.features(x * 1e-4 - 2.0, lengths)
    assert pooled.shape == (3, 128 + 8 + 6)
    torch.testing.assert_close(local2, local)
    torch.testing.assert_close(pooled2[:, :-6], pooled[:, :-6])
    assert (pooled2[:, -6:] - pooled[:, -6:]).abs().min() > 0.01
    with torch.no_grad():
        alone = model(F.pad(x[1:2, :11], (0, 0, 0, 9)), lengths[1:2])
    torch.testing.assert_close(alone, model(x, lengths)[1:2])
    model.train()
    flat = torch.zeros(2, 20, 3, dtype=torch.float64)
    model(flat).sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    assert model(x[:1]).shape == (1, 4)  # batch of one: the running statistics


def test_config_round_trip():
    model = _model("mlstm-fcn", shuffle=False, series_norm=True)
    again = ClassifierConfig.from_dict(model.config.to_dict())
    assert again == model.config
    assert again.input_channels == 3 and again.fcn.rnn_input_size == 3
    assert again.fcn.series_norm
    old = model.config.to_dict()
    del old["fcn"]["series_norm"]  # a config.json written before the option: off
    assert not ClassifierConfig.from_dict(old).fcn.series_norm


def test_bad_input():
    model = _model(L=20)
    with pytest.raises(ValueError, match=r"at most 20 steps.*got 25"):
        model(torch.randn(1, 25, 3))
    with pytest.raises(ValueError, match="pool must be None or 'none'"):
        model.features(torch.randn(1, 20, 3), pool="mean")
    rnn = FeatureConfig(input_size=3, hidden=8)
    with pytest.raises(ValueError, match="needs fcn config"):
        ClassifierConfig(rnn, 2, arch="lstm-fcn")
    with pytest.raises(ValueError, match="arch must be one of"):
        ClassifierConfig(rnn, 2, arch="fcn")
    with pytest.raises(ValueError, match="reads 20 features per step"):
        FCNBranches(FCNConfig(3, 20), rnn)
    with pytest.raises(ValueError, match="rnn_dropout"):
        FCNConfig(3, 20, rnn_dropout=1.0)
