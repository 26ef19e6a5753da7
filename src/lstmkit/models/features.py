"""``FeatureExtractor``: seed 000's LSTM-based local feature extraction network.

Per-timestep hidden states of the top layer are the local features ``(N, L, D*H)``; pooling them
gives one feature vector per sequence ``(N, D*H)``. An optional Conv1d front end extracts local
patterns before the recurrence (the CNN + LSTM combination of seed 000).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lstmkit.kernels.cells import CELLS
from lstmkit.nn import BACKENDS, LSTM

__all__ = ["POOLS", "FeatureConfig", "FeatureExtractor"]

POOLS = ("last", "mean", "max", "attention", "none")


@dataclass(frozen=True)
class FeatureConfig:
    input_size: int  # C, features per step
    hidden: int = 128  # H per direction
    layers: int = 2
    cell: str = "lstm"
    bidirectional: bool = False
    dropout: float = 0.0  # between recurrent layers
    pool: str = "last"
    conv_channels: int = 0  # 0: no Conv1d front end
    conv_kernel: int = 3  # odd, so that the sequence keeps its length (at stride 1)
    conv_stride: int = 1  # > 1 shortens the sequence the LSTM sees: L -> ceil(L / stride)
    backend: str = "auto"
    forget_bias: float | None = 1.0

    def __post_init__(self) -> None:
        for name in ("input_size", "hidden", "layers"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {', '.join(CELLS)}, got {self.cell!r}")
        if self.pool not in POOLS:
            raise ValueError(f"pool must be one of {', '.join(POOLS)}, got {self.pool!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")
        if self.conv_stride < 1 or (self.conv_stride > 1 and not self.conv_channels):
            raise ValueError(
                f"conv_stride must be >= 1 and needs conv_channels > 0, got {self.conv_stride}"
            )
        if self.conv_channels < 0 or self.conv_kernel < 1 or self.conv_kernel % 2 == 0:
            raise ValueError(
                f"conv_channels must be >= 0 and conv_kernel odd and >= 1, got "
                f"{self.conv_channels} and {self.conv_kernel}"
            )

    @property
    def out_features(self) -> int:
        return self.hidden * (2 if self.bidirectional else 1)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> FeatureConfig:
        return cls(**d)


class FeatureExtractor(nn.Module):
    """Conv1d front end (optional) -> stacked LSTM -> pooling.

    Inputs: x (N, L, C), lengths (N,) or None.
    Outputs: ``(pooled, local)``: pooled (N, D*H) (None when ``pool="none"``) and local
    (N, L, D*H), zeros at padded steps.

    Example::

        >>> fx = FeatureExtractor(FeatureConfig(input_size=28, hidden=64, pool="mean"))
        >>> pooled, local = fx(torch.randn(8, 28, 28))
        >>> pooled.shape, local.shape
        (torch.Size([8, 64]), torch.Size([8, 28, 64]))
    """

    def __init__(self, config: FeatureConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.conv = None
        rnn_in = c.input_size
        if c.conv_channels:
            self.conv = nn.Conv1d(c.input_size, c.conv_channels, c.conv_kernel,
                                  stride=c.conv_stride, padding=c.conv_kernel // 2)  # fmt: skip
            rnn_in = c.conv_channels
        self.rnn = LSTM(
            rnn_in, c.hidden, c.layers, cell=c.cell, bidirectional=c.bidirectional,
            dropout=c.dropout if c.layers > 1 else 0.0, backend=c.backend,
            forget_bias=c.forget_bias if CELLS[c.cell].forget_block is not None else None,
            batch_first=True,
        )  # fmt: skip
        self.attn = None
        if c.pool == "attention":
            self.attn = nn.Sequential(
                nn.Linear(c.out_features, c.out_features), nn.Tanh(), nn.Linear(c.out_features, 1)
            )

    def forward(
        self, x: Tensor, lengths: Tensor | None = None, pool: str | None = None
    ) -> tuple[Tensor | None, Tensor]:
        """``pool`` overrides the configured pooling (``"attention"`` needs a model trained
        with it)."""
        pool = self.config.pool if pool is None else pool
        if pool not in POOLS:
            raise ValueError(f"pool must be one of {', '.join(POOLS)}, got {pool!r}")
        if pool == "attention" and self.attn is None:
            raise ValueError("pool='attention' needs a model trained with attention pooling")
        if self.conv is not None:
            x = F.relu(self.conv(x.transpose(1, 2))).transpose(1, 2)  # (N, L', conv_channels)
            if lengths is not None and self.config.conv_stride > 1:
                s = self.config.conv_stride
                lengths = torch.div(lengths + s - 1, s, rounding_mode="floor")
        local, (h_n, _) = self.rnn(x, lengths=lengths)  # (N, L, D*H)
        mask = None
        if lengths is not None:
            steps = torch.arange(x.shape[1], device=x.device)
            mask = (steps[None, :] < lengths.to(x.device)[:, None]).unsqueeze(-1)  # (N, L, 1)
        return self._pool(local, h_n, mask, pool), local

    def _pool(self, local: Tensor, h_n: Tensor, mask: Tensor | None, pool: str) -> Tensor | None:
        if pool == "none":
            return None
        if pool == "last":  # top layer's final state of each direction (last valid step)
            D = 2 if self.config.bidirectional else 1
            return torch.cat(list(h_n[-D:]), dim=1)  # (N, D*H)
        if pool == "mean":
            if mask is None:
                return local.mean(1)
            return (local * mask).sum(1) / mask.sum(1).clamp(min=1)
        if pool == "max":
            if mask is None:
                return local.amax(1)
            return local.masked_fill(~mask, float("-inf")).amax(1)
        scores = self.attn(local)  # (N, L, 1)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=1)
        return (weights * local).sum(1)  # (N, D*H)
