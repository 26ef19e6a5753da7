"""SequenceRegressor: the classifier's network with a head of T targets in y's units."""

import pytest
import torch

from lstmkit.models import (
    FCNConfig,
    FeatureConfig,
    RegressorConfig,
    SequenceClassifier,
    SequenceRegressor,
)

FC = FeatureConfig(input_size=3, hidden=8, layers=1)


def test_outputs_are_the_head_mapped_back_to_target_units():
    torch.manual_seed(0)
    config = RegressorConfig(FC, 2, target_mean=(10.0, -3.0), target_std=(2.0, 0.5))
    model = SequenceRegressor(config).eval()
    x = torch.randn(4, 7, 3)
    z = SequenceClassifier.forward(model, x)  # the head's standardised output
    assert model(x).shape == (4, 2)
    torch.testing.assert_close(model(x), z * torch.tensor([2.0, 0.5]) + torch.tensor([10.0, -3.0]))
    assert "target_mean" not in model.state_dict()  # rebuilt from the config, not the weights


def test_ensemble_is_the_mean_of_its_members():
    torch.manual_seed(0)
    model = SequenceRegressor(RegressorConfig(FC, 1, ensemble=3)).eval()
    x = torch.randn(5, 6, 3)
    members = torch.stack([m(x) for m in model.members])
    torch.testing.assert_close(model(x), members.mean(0))
    assert not torch.allclose(members[0], members[1])


def test_lstm_fcn_regressor_and_config_round_trip():
    fcn = FCNConfig(channels=2, length=9)
    fc = FeatureConfig(input_size=fcn.rnn_input_size, hidden=8, layers=1, pool="last")
    config = RegressorConfig(fc, 1, arch="lstm-fcn", fcn=fcn, names=("fat",))
    assert RegressorConfig.from_dict(config.to_dict()) == config
    assert SequenceRegressor(config).eval()(torch.randn(3, 9, 2)).shape == (3, 1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"targets": 0, "target_mean": (), "target_std": ()}, "targets must be an integer >= 1"),
        ({"targets": 2}, "target_mean needs 2 values"),
        ({"target_std": (0.0,)}, "target_std must be > 0"),
        ({"names": ("a", "b")}, "2 target names for 1 targets"),
        ({"ensemble": 0}, "ensemble must be an integer >= 1"),
        ({"arch": "lstm-fcn"}, "needs fcn config"),
    ],
)
def test_bad_configs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RegressorConfig(FC, **kwargs)
