"""lstmkit.inspect on models: recorded gates, forget statistics, dLoss/dh_t, saliency."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lstmkit import reference
from lstmkit.inspect import (
    analyse,
    forget_stats,
    gate_trace,
    hidden_grad_norms,
    recording,
    saliency,
)
from lstmkit.models import FeatureConfig, ForecastConfig, ForecastModel

N, L, C = 2, 6, 3


def _x(seed: int = 1, n: int = N, length: int = L) -> torch.Tensor:
    return torch.randn(n, length, C, generator=torch.Generator().manual_seed(seed)).double()


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def _layer_params(model, suffix: str = "_l0") -> dict[str, np.ndarray]:
    rnn = model.features.rnn
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    return {n: getattr(rnn, n + suffix).detach().numpy() for n in names}


# ------------------------------------------------------------------ gates
def test_recorded_gates_equal_the_equations_by_hand(classifier):
    """Steps 0 and 1 of the recorded i, f, g, o, c, h, computed from the weights by hand."""
    model = classifier()
    x = _x()
    rec = gate_trace(model, x)
    p = _layer_params(model)
    H = p["weight_hh"].shape[1]
    h, c = np.zeros((N, H)), np.zeros((N, H))
    for t in range(2):
        a = x[:, t].numpy() @ p["weight_ih"].T + p["bias_ih"] + h @ p["weight_hh"].T + p["bias_hh"]
        i, f = _sigmoid(a[:, :H]), _sigmoid(a[:, H : 2 * H])
        g, o = np.tanh(a[:, 2 * H : 3 * H]), _sigmoid(a[:, 3 * H :])
        c = f * c + i * g
        h = o * np.tanh(c)
        for key, value in dict(i=i, f=f, g=g, o=o, c=c, h=h).items():
            np.testing.assert_allclose(rec[key][0, 0, :, t], value, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_recorded_gates_equal_lstmkit_reference(classifier, cell):
    """Every step, every gate: the NumPy reference run with the model's own parameters; both
    the plain recording (fused kernels) and the probed analysis (step by step) agree with it."""
    model = classifier(cell=cell, hidden=4)
    x = _x(2)
    rec = gate_trace(model, x)
    _, cache = reference.lstm_forward(x.numpy(), _layer_params(model), cell=cell)
    probed = analyse(model, x).recordings[0].values
    for key, value in cache["steps"].items():
        np.testing.assert_allclose(rec[key][0, 0], value, atol=1e-12, err_msg=key)
        np.testing.assert_allclose(probed[key][0, 0].numpy(), value, atol=1e-12, err_msg=key)
    for key in ("r", "z") if cell == "gru" else ("i", "f", "o"):
        assert ((rec[key] > 0) & (rec[key] < 1)).all()


def test_recording_sees_every_layer_direction_and_encoder(classifier):
    """Stacked bidirectional layers give (layers, D, N, L, H); a per-series forecaster has one
    recurrent layer per input column, told apart by name."""
    rec = gate_trace(classifier(layers=2, bidirectional=True, cell="peephole"), _x())
    assert set(rec) == {"i", "f", "g", "o", "c", "h"}
    assert all(v.shape == (2, 2, N, L, 5) for v in rec.values())
    cfg = ForecastConfig(FeatureConfig(input_size=2, hidden=3, layers=1), horizon=2,
                         per_series=True)  # fmt: skip
    model = ForecastModel(cfg).eval()
    x = torch.randn(N, 5, 2)
    with pytest.raises(ValueError, match="several recurrent layers"):
        gate_trace(model, x)
    one = gate_trace(model, x, rnn="encoders.1.rnn")
    assert one["h"].shape == (1, 1, N, 5, 3)
    with torch.no_grad(), recording(model) as recs:
        model(x)
    assert [r.name for r in recs] == ["encoders.0.rnn", "encoders.1.rnn"]
    np.testing.assert_array_equal(one["f"], recs[1].values["f"].numpy())


# ------------------------------------------------------------------ forget statistics
def test_forget_stats_equal_a_direct_count():
    rng = np.random.default_rng(0)
    f = rng.uniform(size=(2, 2, 3, 7, 4))  # (layers, D, N, L, H)
    lengths = np.array([7, 3, 5])
    stats = forget_stats({"f": f}, lengths, low=0.1, high=0.9)
    assert stats["gate"] == "f" and len(stats["layers"]) == 4
    for e in stats["layers"]:
        values = [f[e["layer"], e["direction"], n, t] for n in range(3) for t in range(lengths[n])]
        values = np.array(values)  # (valid steps, H)
        assert e["count"] == values.size
        assert e["share_low"] == pytest.approx((values < 0.1).sum() / values.size)
        assert e["share_high"] == pytest.approx((values > 0.9).sum() / values.size)
        assert e["mean"] == pytest.approx(values.mean())
        np.testing.assert_allclose(e["unit_share_high"], (values > 0.9).mean(0))
    assert forget_stats({"z": f, "r": f})["gate"] == "z"  # a GRU's update gate
    with pytest.raises(ValueError, match="no forget gate"):
        forget_stats({"i": f})


# ------------------------------------------------------------------ hidden-state gradients
def test_hidden_grad_norms_equal_autograd_through_a_torch_loop(classifier):
    """||dLoss/dh_t|| from the probe equals autograd's gradient w.r.t. each step's h in a
    torch.nn.LSTMCell loop with the same weights and the same loss (cross-entropy of the
    head on the last h against y)."""
    model = classifier(hidden=4)
    x, y = _x(3), torch.tensor([1, 3])
    norms = hidden_grad_norms(model, x, y)
    assert norms.shape == (1, 1, N, L)

    cell = torch.nn.LSTMCell(C, 4).double()
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in
                          model.features.rnn.state_dict().items()})  # fmt: skip
    h = c = torch.zeros(N, 4, dtype=torch.float64)
    hs = []
    for t in range(L):
        h, c = cell(x[:, t], (h, c))
        hs.append(h)
    loss = F.cross_entropy(model.head(hs[-1]), y, reduction="sum")
    expected = torch.stack([g.norm(dim=-1) for g in torch.autograd.grad(loss, hs)], 1)  # (N, L)
    np.testing.assert_allclose(norms[0, 0], expected.numpy(), rtol=1e-10)
    # without y the predicted class is the target
    pred = model(x).argmax(1)
    np.testing.assert_allclose(hidden_grad_norms(model, x), hidden_grad_norms(model, x, pred))


def test_small_recurrent_weights_make_the_gradient_vanish(classifier):
    """With W_hh scaled to spectral norm 0.05 and the forget gate shut (bias -8: no path
    through c), each step back multiplies dLoss/dh by at most ~0.05 * (1/4 + 1 + 1/4 + 1/4):
    the norm falls more than 10x per step towards the start. A GRU whose update gate is
    saturated at 1 (h_t ~ h_{t-1}) passes the gradient back unchanged instead."""
    model = classifier(hidden=6, forget_bias=None)
    rnn = model.features.rnn
    with torch.no_grad():
        rnn.weight_hh_l0.mul_(0.05 / torch.linalg.matrix_norm(rnn.weight_hh_l0, 2))
        rnn.bias_ih_l0[6:12] = -8.0  # forget gate f ~ 3e-4
    norms = hidden_grad_norms(model, _x(4), torch.tensor([0, 2]))[0, 0]  # (N, L)
    ratios = norms[:, :-1] / norms[:, 1:]  # each step back
    assert (ratios < 0.1).all(), ratios
    assert (norms[:, 0] / norms[:, -1] < 1e-5).all()

    gru = classifier(hidden=6, cell="gru", forget_bias=None)
    with torch.no_grad():
        gru.features.rnn.bias_ih_l0[6:12] = 12.0  # update gate z ~ 1
    norms = hidden_grad_norms(gru, _x(4), torch.tensor([0, 2]))[0, 0]
    np.testing.assert_allclose(norms[:, 0], norms[:, -1], rtol=1e-3)


def test_forecast_and_language_model_losses(classifier):
    """Forecast: the squared error against a known future, else the point forecast's sum;
    language model: the next-token loss (the last step predicts nothing, so its gradient is 0)."""
    from lstmkit.models import LanguageConfig, LanguageModel

    torch.manual_seed(0)
    model = ForecastModel(ForecastConfig(FeatureConfig(input_size=C, hidden=4), horizon=3,
                                         anchor="none")).double().eval()  # fmt: skip
    x, y = _x(5), torch.randn(N, 3, dtype=torch.float64)
    a = analyse(model, x, y)
    np.testing.assert_allclose(a.loss, ((model(x) - y) ** 2).mean(1).detach(), rtol=1e-12)
    b = analyse(model, x)
    np.testing.assert_allclose(b.loss, model(x).sum(1).detach(), rtol=1e-12)

    lm = LanguageModel(LanguageConfig(vocab_size=7, embedding=4, hidden=5)).eval()
    ids = torch.randint(0, 7, (1, 9), generator=torch.Generator().manual_seed(0))
    a = analyse(lm, ids)
    logits = lm(ids)[0]
    expected = F.cross_entropy(logits[0, :-1], ids[0, 1:])
    assert float(a.loss[0]) == pytest.approx(float(expected.detach()), rel=1e-6)
    assert a.inputs.shape == (1, 9, 4)  # saliency at the embedding vectors
    assert a.hidden_grads[0][0, 0, 0, -1].abs().max() == 0
    assert a.hidden_grads[0][0, 0, 0, :-1].norm(dim=-1).min() > 0


# ------------------------------------------------------------------ saliency
def test_saliency_is_zero_where_the_model_cannot_see(classifier):
    """Padded steps past each length, and a channel whose input weights are zero, get no
    saliency; every other step and channel does."""
    model = classifier(layers=2, bidirectional=True)
    with torch.no_grad():
        for d in ("", "_reverse"):
            getattr(model.features.rnn, f"weight_ih_l0{d}")[:, 1] = 0.0  # channel 1 unseen
    x, lengths = _x(6), torch.tensor([6, 4])
    sal = saliency(model, x, torch.tensor([0, 1]), lengths)
    assert sal.shape == (N, L, C)
    assert (sal[1, 4:] == 0).all()  # padding
    assert (sal[:, :, 1] == 0).all()  # the unseen channel
    seen = np.concatenate([sal[0][:, [0, 2]].ravel(), sal[1, :4][:, [0, 2]].ravel()])
    assert (seen > 0).all()
    gx = saliency(model, x, torch.tensor([0, 1]), lengths, times_input=True)
    a = analyse(model, x, torch.tensor([0, 1]), lengths)
    np.testing.assert_allclose(gx, (a.input_grad * x).numpy(), atol=1e-15)
    grad_norms = hidden_grad_norms(model, x, torch.tensor([0, 1]), lengths)
    assert (grad_norms[:, :, 1, 4:] == 0).all()  # (layers, D, N, L): no gradient past a length


def test_estimators_read_their_own_inputs(tiny_runs):
    """A fitted Classifier standardises X itself: gate_trace / saliency of the estimator equal
    those of its model on the standardised input; labels are the values y held."""
    import lstmkit
    from lstmkit.data import load_classification

    clf = lstmkit.load(tiny_runs.classify)
    data, _ = load_classification("digits")
    X, labels = data.X[:4], np.array(data.classes)[data.y[:4]].astype(int)
    xs, _ = clf._inputs(X, None)
    ours, theirs = gate_trace(clf, X), gate_trace(clf.model_, xs)
    for key in ours:
        np.testing.assert_array_equal(ours[key], theirs[key])
    idx = torch.tensor([list(clf.classes_).index(v) for v in labels])
    np.testing.assert_allclose(saliency(clf, X, labels), saliency(clf.model_, xs, idx), atol=1e-7)
    with pytest.raises(ValueError, match="channels"):
        gate_trace(clf, X[:, :, :5])
