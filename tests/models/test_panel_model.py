"""PanelForecastModel: shapes of both decoders with every kind of covariate and the series
embedding, per-window scaling, reproducible sample paths, gradients to every parameter."""

from __future__ import annotations

import math

import pytest
import torch

from lstmkit.models.heads import make_head
from lstmkit.models.panel import PanelConfig, PanelForecastModel, mase_weights, window_scale

N, L, H, P, F, S, K = 6, 12, 4, 2, 3, 2, 5  # windows, look-back, horizon, covariates, series


def _model(**kw) -> PanelForecastModel:
    torch.manual_seed(0)
    cfg = dict(lookback=L, horizon=H, past_size=P, future_size=F, static_size=S,
               num_series=K, embedding=3, hidden=8, layers=1)  # fmt: skip
    return PanelForecastModel(PanelConfig(**(cfg | kw))).eval()


def _inputs(seed: int = 0, level: float = 1.0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = (1 + torch.rand(N, L, generator=g)) * level
    obs = torch.ones(N, L)
    obs[0, :5] = 0.0  # a short series, left-padded
    y[0, :5] = 0.0
    return {
        "y": y,
        "obs": obs,
        "past": torch.randn(N, L, P, generator=g),
        "future": torch.randn(N, L + H, F, generator=g),
        "static": torch.randn(N, S, generator=g),
        "series": torch.tensor([0, 1, 2, 3, 4, K]),  # K: a series unseen in training
    }


@pytest.mark.parametrize("loss", ["mse", "pinball", "normal", "student-t", "negative-binomial"])
def test_direct_decoder_shapes(loss: str) -> None:
    m = _model(loss=loss)
    x = _inputs()
    out, scale = m(**x)
    assert out.shape == (N, H, m.head.params) and scale.shape == (N,)
    point, paths, raw = m.forecast(**x)
    assert point.shape == (N, H) and paths is None
    torch.testing.assert_close(raw[0], out)
    assert torch.isfinite(point).all()


@pytest.mark.parametrize(("loss", "paths"), [("normal", 7), ("student-t", 7), ("mse", 1)])
def test_autoregressive_decoder_shapes(loss: str, paths: int) -> None:
    m = _model(decoder="autoregressive", loss=loss)
    x = _inputs()
    y_next = torch.rand(N, H)
    out, scale = m(**x, y_next=y_next)
    assert out.shape == (N, H, m.head.params) and scale.shape == (N,)
    point, drawn, raw = m.forecast(**x, samples=7)
    assert point.shape == (N, H) and raw is None
    assert drawn.shape == (N, paths, H)  # a head without a distribution feeds its point back
    torch.testing.assert_close(point, drawn.median(dim=1).values)
    with pytest.raises(ValueError, match="y_next"):
        m(**x)


def test_without_covariates_or_embedding() -> None:
    for decoder in ("direct", "autoregressive"):
        m = _model(past_size=0, future_size=0, static_size=0, num_series=0, embedding=0,
                   decoder=decoder, loss="normal")  # fmt: skip
        y, obs = torch.rand(N, L) + 1, torch.ones(N, L)
        point, _, _ = m.forecast(y, obs, samples=3)
        assert point.shape == (N, H) and torch.isfinite(point).all()


def test_window_scale_is_the_mean_level_of_the_observed_look_back() -> None:
    y = torch.tensor([[0.0, 0.0, 2.0, -4.0], [0.0, 0.0, 0.0, 0.0], [9.0, 1.0, 1.0, 1.0]])
    obs = torch.tensor([[0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0], [0.0, 1.0, 1.0, 1.0]])
    torch.testing.assert_close(window_scale(y, obs), torch.tensor([3.0, 1.0, 1.0]))


@pytest.mark.parametrize("loss", ["mse", "pinball", "normal", "student-t"])
def test_direct_forecast_scales_with_the_data(loss: str) -> None:
    """y x 1000 gives the forecast x 1000: the network sees each window in its own units; the
    log-scale input is standardised with a centre that moves by log(1000) with the data (as
    fit sets it from the training windows)."""
    small = _model(loss=loss)
    big = _model(loss=loss, log_scale_center=math.log(1000.0))
    big.load_state_dict(small.state_dict())
    x, xb = _inputs(), _inputs(level=1000.0)
    p_small, _, (out_s, scale_s) = small.forecast(**x)
    p_big, _, (out_b, scale_b) = big.forecast(**xb)
    torch.testing.assert_close(scale_b, scale_s * 1000, rtol=1e-5, atol=0)
    torch.testing.assert_close(p_big, p_small * 1000, rtol=1e-4, atol=1e-3)
    if loss != "mse":
        q_s = small.head.quantiles(out_s, scale_s, (0.1, 0.9))
        q_b = big.head.quantiles(out_b, scale_b, (0.1, 0.9))
        torch.testing.assert_close(q_b, q_s * 1000, rtol=1e-4, atol=1e-3)
    # the level itself is an input: unadjusted, the same weights see a different window
    p_other, _, _ = small.forecast(**xb)
    assert not torch.allclose(p_other, p_small * 1000, rtol=1e-3)


def test_unobserved_look_back_steps_do_not_matter() -> None:
    m = _model()
    x = _inputs()
    x2 = {k: v.clone() for k, v in x.items()}
    x2["past"][0, :5] = 0.0
    p, _, _ = m.forecast(**x2)
    x2["y"][0, :5] = 0.0  # already 0 where not observed: gather writes zeros there
    p2, _, _ = m.forecast(**x2)
    torch.testing.assert_close(p, p2)
    x2["obs"][0, :5] = 1.0  # now the zeros count as observed values
    p3, _, _ = m.forecast(**x2)
    assert not torch.allclose(p3[0], p[0])
    torch.testing.assert_close(p3[1:], p[1:])  # windows are independent


def test_autoregressive_paths_are_reproducible_from_the_generator() -> None:
    m = _model(decoder="autoregressive", loss="student-t")
    x = _inputs()

    def paths(seed: int) -> torch.Tensor:
        return m.forecast(**x, samples=20, generator=torch.Generator().manual_seed(seed))[1]

    a, b, c = paths(5), paths(5), paths(6)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.std(dim=1).min() > 0  # paths differ from one another
    # the default generator is seeded too
    assert torch.equal(m.forecast(**x, samples=20)[1], m.forecast(**x, samples=20)[1])


def test_autoregressive_forecast_feeds_its_draws_back() -> None:
    """With the mse head the one path is deterministic; teacher forcing on that path gives the
    same outputs as the step-by-step forecast."""
    m = _model(decoder="autoregressive", loss="mse")
    x = _inputs()
    point, _, _ = m.forecast(**x)
    out, scale = m(**x, y_next=point)
    torch.testing.assert_close(m.head.point(out, scale), point, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("decoder", ["direct", "autoregressive"])
def test_gradient_reaches_every_parameter(decoder: str) -> None:
    m = _model(decoder=decoder, loss="normal", layers=2).train()
    x = _inputs()
    y_next = torch.rand(N, H) + 1
    out, scale = m(**x, y_next=y_next)
    m.head.loss(out, y_next, scale).backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name
    emb = m.embed.weight.grad
    assert torch.count_nonzero(emb[K]) == 0  # the unseen-series row is never trained


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"decoder": "bogus"}, "decoder must be one of direct, autoregressive"),
        ({"loss": "bogus"}, "loss must be one of"),
        ({"embedding": 3, "num_series": 0}, "num_series > 0"),
        ({"anchor": "last", "decoder": "autoregressive"}, "direct decoder only"),
        ({"quantiles": (0.1, 1.0)}, r"quantiles must lie in \(0, 1\)"),
        ({"horizon": 0}, "horizon must be a positive integer, got 0"),
    ],
)
def test_config_errors(kw: dict, match: str) -> None:
    base = dict(lookback=L, horizon=H, past_size=0, num_series=0, embedding=0)
    with pytest.raises(ValueError, match=match):
        PanelConfig(**(base | kw))


def test_config_round_trips() -> None:
    cfg = _model(decoder="autoregressive", loss="student-t", quantiles=(0.2, 0.8)).config
    assert PanelConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.levels == (0.2, 0.8)
    assert PanelConfig(lookback=4, horizon=2, quantiles=(0.9, 0.1)).levels == (0.1, 0.5, 0.9)


def test_mase_weights_are_level_over_the_seasonal_difference() -> None:
    y = torch.tensor([[10.0, 20.0, 12.0, 22.0, 14.0, 24.0],  # lag-2 steps of 2, level 17
                      [0.0, 5.0, 5.0, 5.0, 5.0, 5.0],  # first step unobserved, flat: floored
                      [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]])  # fmt: skip
    obs = torch.ones_like(y)
    obs[1, 0] = 0.0
    w = mase_weights(y, obs, season=2, floor=0.01)
    assert w[0].item() == pytest.approx(17.0 / 2.0)
    assert w[1].item() == pytest.approx(100.0)
    assert w[2].item() == pytest.approx((63.0 / 6) / ((3 + 6 + 12 + 24) / 4))
    # no seasonal pair inside a 2-step window: the lag-1 difference
    assert mase_weights(y[:, :2], obs[:, :2], season=12)[0].item() == pytest.approx(15.0 / 10.0)


def test_head_loss_weights_windows() -> None:
    head = make_head("pinball", (0.1, 0.9))
    out = torch.randn(3, 4, len(head.levels))
    y, scale, mask = torch.rand(3, 4), torch.ones(3), torch.ones(3, 4)
    per_window = torch.stack([head.loss(out[i : i + 1], y[i : i + 1], scale[:1]) for i in range(3)])
    w = torch.tensor([1.0, 3.0, 0.0])
    expected = (per_window * w).sum() / w.sum()
    assert head.loss(out, y, scale, mask, w).item() == pytest.approx(expected.item(), rel=1e-5)
    assert head.loss(out, y, scale, mask, torch.ones(3)).item() == pytest.approx(
        head.loss(out, y, scale, mask).item(), rel=1e-6
    )
