"""``LanguageModel``: embedding -> recurrent layers -> dropout -> linear over the vocabulary.

The word-level text generator of the Keras example, for characters or words, with any lstmkit
cell. ``forward(x, state)`` returns the next-token logits of every step and the final state, so a
caller can carry the state from one chunk of a long stream to the next (truncated BPTT) or from
one generated token to the next.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from lstmkit.kernels.cells import CELLS
from lstmkit.nn import BACKENDS, LSTM

__all__ = ["LanguageConfig", "LanguageModel", "filter_logits"]

State = tuple[Tensor, Tensor | None]


@dataclass(frozen=True)
class LanguageConfig:
    vocab_size: int  # V, tokens the model reads and predicts (ids 0..V-1)
    embedding: int = 256  # E, size of a token's vector
    hidden: int = 256  # H
    layers: int = 1
    cell: str = "lstm"
    dropout: float = 0.0  # between recurrent layers and on the top layer's output
    tie_weights: bool = False  # output layer shares the embedding matrix (needs E == H)
    backend: str = "auto"
    forget_bias: float | None = 1.0  # initial forget-gate bias (cells with one); None: torch's

    def __post_init__(self) -> None:
        for name in ("vocab_size", "embedding", "hidden", "layers"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {', '.join(CELLS)}, got {self.cell!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")
        if not isinstance(self.tie_weights, bool):
            raise TypeError(f"tie_weights must be True or False, got {self.tie_weights!r}")
        if self.tie_weights and self.embedding != self.hidden:
            raise ValueError(
                f"tie_weights needs embedding == hidden (the output layer reuses the embedding "
                f"matrix), got embedding {self.embedding} and hidden {self.hidden}; set embedding "
                f"to {self.hidden} or drop tie_weights"
            )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> LanguageConfig:
        return cls(**d)


class LanguageModel(nn.Module):
    """Next-token model over a vocabulary of ``config.vocab_size`` tokens.

    Inputs: ``x, state=None``
        x: (N, L) int64 token ids. state: ``(h, c)`` from a previous call, each
        (layers, N, H) (c None for gru), or None for a zero state.

    Outputs: ``logits, state``
        logits: (N, L, V), the scores of the token after each step. state: the final ``(h, c)``.

    Example::

        >>> lm = LanguageModel(LanguageConfig(vocab_size=70, embedding=64, hidden=128))
        >>> logits, state = lm(torch.randint(0, 70, (8, 100)))
        >>> logits, _ = lm(torch.randint(0, 70, (8, 100)), state)  # continues the streams
        >>> logits.shape
        torch.Size([8, 100, 70])
    """

    def __init__(self, config: LanguageConfig) -> None:
        super().__init__()
        self.config = c = config
        self.embedding = nn.Embedding(c.vocab_size, c.embedding)
        forget_bias = c.forget_bias if CELLS[c.cell].forget_block is not None else None  # gru: none
        self.rnn = LSTM(c.embedding, c.hidden, c.layers, cell=c.cell, dropout=c.dropout,
                        backend=c.backend, forget_bias=forget_bias, batch_first=True)  # fmt: skip
        self.dropout = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.hidden, c.vocab_size)
        if c.tie_weights:
            self.head.weight = self.embedding.weight  # one (V, H) tensor for both

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        if x.dim() != 2 or x.dtype != torch.int64:
            raise ValueError(
                f"x must be (N, L) int64 token ids, got shape {tuple(x.shape)} and {x.dtype}"
            )
        hx = None if state is None else (state[0] if state[1] is None else state)
        out, (h, c) = self.rnn(self.embedding(x), hx)  # out (N, L, H)
        return self.head(self.dropout(out)), (h, c)  # (N, L, V)


def filter_logits(logits: Tensor, top_k: int | None = None, top_p: float | None = None) -> Tensor:
    """Top-k and nucleus (top-p) filtering: logits (..., V) with the excluded tokens at -inf.

    ``top_k`` keeps the k highest scores; ``top_p`` keeps the smallest set of most likely tokens
    whose probabilities sum to at least p (always at least the most likely one). Both may be
    given; ``top_k=1`` or a tiny ``top_p`` leaves only the argmax (greedy decoding).
    """
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]  # (..., 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        before = torch.cumsum(probs, dim=-1) - probs  # mass of the more likely tokens
        drop_sorted = before >= top_p  # the first token always stays (before == 0)
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits
