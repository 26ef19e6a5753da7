"""ForecastModel: output shapes, the naive anchor, per-series encoders, the pinball loss."""

import pytest
import torch

from lstmkit.models import FeatureConfig, ForecastConfig, ForecastModel
from lstmkit.models.forecast import pinball_loss


def _model(**kw):
    torch.manual_seed(0)
    fc = FeatureConfig(input_size=3, hidden=8, layers=1)
    return ForecastModel(ForecastConfig(fc, horizon=5, **kw))


@pytest.mark.parametrize(
    "kw, shape",
    [({}, (4, 5)), ({"quantiles": (0.1, 0.5, 0.9)}, (4, 5, 3)), ({"bins": 6}, (4, 5, 6))],
)
def test_output_shapes(kw, shape):
    assert _model(**kw)(torch.randn(4, 11, 3)).shape == shape


def test_anchor_adds_the_last_target_value():
    m = _model()
    torch.nn.init.zeros_(m.head.weight)
    torch.nn.init.zeros_(m.head.bias)
    x = torch.randn(4, 11, 3)
    out = m(x)  # a zero head forecasts "no change": the naive forecast
    torch.testing.assert_close(out, x[:, -1, :1].expand(4, 5))
    m2 = _model(anchor="none")
    torch.nn.init.zeros_(m2.head.weight)
    torch.nn.init.zeros_(m2.head.bias)
    assert torch.count_nonzero(m2(x)) == 0


def test_season_anchor_is_the_seasonal_naive_forecast():
    m = _model(anchor="season", season=4)
    torch.nn.init.zeros_(m.head.weight)
    torch.nn.init.zeros_(m.head.bias)
    x = torch.randn(2, 11, 3)
    expected = x[:, [7, 8, 9, 10, 7], 0]  # y[t+h-m*(h//m+1)] for h = 0..4, m = 4
    torch.testing.assert_close(m(x), expected)


def test_per_series_encoders_see_one_column_each():
    m = _model(per_series=True)
    assert len(m.encoders) == 3 and m.encoders[0].config.input_size == 1
    x = torch.randn(2, 7, 3, requires_grad=True)
    m.encoders[1](x[:, :, 1:2])[0].sum().backward()  # encoder 1 reads column 1 only
    assert torch.count_nonzero(x.grad[:, :, [0, 2]]) == 0
    assert torch.count_nonzero(x.grad[:, :, 1]) > 0
    assert m(torch.randn(2, 7, 3)).shape == (2, 5)


def test_pinball_loss_by_hand():
    pred = torch.tensor([[[1.0, 2.0]]])  # (1, 1, 2): quantiles 0.1 and 0.9
    target = torch.tensor([[1.5]])
    q = torch.tensor([0.1, 0.9])
    # q=0.1: under-forecast by 0.5 -> 0.1*0.5; q=0.9: over-forecast by 0.5 -> 0.1*0.5
    assert pinball_loss(pred, target, q).item() == pytest.approx((0.05 + 0.05) / 2)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"horizon": 0}, "horizon must be a positive integer"),
        ({"quantiles": (0.9, 0.1)}, "increasing"),
        ({"quantiles": (0.5, 1.0)}, r"\(0, 1\)"),
        ({"bins": 1}, "at least 2"),
        ({"bins": 3, "quantiles": (0.5,)}, "cannot be combined"),
        ({"target_index": 3}, "target_index"),
        ({"anchor": "mean"}, "anchor must be one of"),
    ],
)
def test_config_errors(kw, match):
    fc = FeatureConfig(input_size=3, hidden=8)
    with pytest.raises(ValueError, match=match):
        ForecastConfig(fc, **({"horizon": 2} | kw))


def test_config_round_trip():
    fc = FeatureConfig(input_size=3, hidden=8)
    cfg = ForecastConfig(fc, horizon=4, quantiles=(0.1, 0.5, 0.9), per_series=True)
    assert ForecastConfig.from_dict(cfg.to_dict()) == cfg
