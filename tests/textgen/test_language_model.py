"""lstmkit.models.LanguageModel and the sampling filters."""

import pytest
import torch

from lstmkit.models import LanguageConfig, LanguageModel
from lstmkit.models.language import filter_logits


@pytest.mark.parametrize("cell", ["lstm", "gru", "peephole"])
def test_forward_shapes_and_state_carry(cell):
    torch.manual_seed(0)
    lm = LanguageModel(LanguageConfig(vocab_size=11, embedding=6, hidden=8, layers=2, cell=cell))
    lm.eval()
    x = torch.randint(0, 11, (3, 10))
    logits, (h, c) = lm(x)
    assert logits.shape == (3, 10, 11) and h.shape == (2, 3, 8)
    assert (c is None) == (cell == "gru")
    first, state = lm(x[:, :4])  # two chunks with the carried state == one pass
    second, _ = lm(x[:, 4:], state)
    torch.testing.assert_close(torch.cat([first, second], 1), logits, rtol=1e-5, atol=1e-6)


def test_tie_weights_shares_the_tensor():
    lm = LanguageModel(LanguageConfig(vocab_size=20, embedding=16, hidden=16, tie_weights=True))
    assert lm.head.weight is lm.embedding.weight
    n_tied = sum(p.numel() for p in lm.parameters())
    untied = LanguageModel(LanguageConfig(vocab_size=20, embedding=16, hidden=16))
    assert sum(p.numel() for p in untied.parameters()) - n_tied == 20 * 16
    with pytest.raises(ValueError, match="embedding == hidden"):
        LanguageConfig(vocab_size=20, embedding=8, hidden=16, tie_weights=True)
    again = LanguageModel(LanguageConfig(vocab_size=20, embedding=16, hidden=16, tie_weights=True))
    again.load_state_dict(lm.state_dict())
    assert again.head.weight is again.embedding.weight
    assert torch.equal(again.head.weight, lm.embedding.weight)


def test_config_round_trip_and_errors():
    c = LanguageConfig(vocab_size=5, embedding=4, hidden=4, cell="coupled", dropout=0.1)
    assert LanguageConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ValueError, match="cell"):
        LanguageConfig(vocab_size=5, cell="rnn")
    with pytest.raises(ValueError, match="vocab_size"):
        LanguageConfig(vocab_size=0)
    lm = LanguageModel(c)
    with pytest.raises(ValueError, match="int64"):
        lm(torch.randn(2, 3))


def test_filter_logits_top_k_and_top_p():
    logits = torch.tensor([1.0, 3.0, 2.0, 0.0])
    greedy = filter_logits(logits, top_k=1)
    assert torch.isfinite(greedy).tolist() == [False, True, False, False]
    two = filter_logits(logits, top_k=2)
    assert torch.isfinite(two).tolist() == [False, True, True, False]
    tiny = filter_logits(logits, top_p=1e-6)  # only the argmax survives
    assert torch.isfinite(tiny).tolist() == [False, True, False, False]
    p = torch.softmax(logits, 0)  # top two hold ~0.90 of the mass
    nucleus = filter_logits(logits, top_p=float(p[1] + p[2]) - 1e-4)
    assert torch.isfinite(nucleus).tolist() == [False, True, True, False]
    assert torch.equal(filter_logits(logits, top_p=1.0), logits)
    assert torch.equal(filter_logits(logits, top_k=10), logits)
    both = filter_logits(logits, top_k=3, top_p=1e-6)
    assert torch.isfinite(both).sum() == 1
    kept = filter_logits(logits, top_k=2)
    assert torch.equal(kept[[1, 2]], logits[[1, 2]])  # survivors keep their scores
