"""LSTM-FCN and MLSTM-FCN (Karim et al. 2018, 2019): a fully convolutional branch beside a
recurrent branch, concatenated before the classifier.

* FCN branch: three Conv1d blocks (128, 256, 128 filters, kernels 8, 5, 3, "same" padding),
  each with batch normalisation (its statistics over the valid steps only) and ReLU, padded
  steps zeroed after each block, then global average pooling over the valid steps: a series'
  output does not depend on how much padding its batch carries;
  ``squeeze_excite=True`` (MLSTM-FCN) puts a squeeze-and-excite block (reduction 16) after the
  first two blocks.
* Recurrent branch: lstmkit's LSTM stack (any cell and backend) over the *dimension-shuffled*
  input: with ``shuffle=True`` (the papers' default) the network reads the C channels as C steps
  of L features each (one step for a univariate series), which is fast and what the papers
  measured; ``shuffle=False`` reads the L steps of C channels. Dropout (0.8 in the papers) on its
  last hidden state.

* ``series_norm=True``: both branches read each series z-normalised per channel over its valid
  steps (a set whose series differ in scale by orders of magnitude, as PLAID's currents do,
  otherwise reaches the network as a few large series and many near-zero ones), and each
  series' per-channel mean and log standard deviation, batch-normalised, join the pooled
  features: the amplitude stays known to the head, in a well-scaled form.

``FCNBranches(config, rnn)`` (``rnn``: the recurrent branch's ``FeatureConfig``, input size L
when shuffled, C otherwise; pooling "last") maps x (N, L, C), lengths (N,) or None to
``(pooled, local)``: pooled (N, 128 + D*H [+ 2C]), the concatenation, and local (N, L, 128),
the last conv block's per-step maps (zeros past each length), as ``FeatureExtractor`` does for
the encoder.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lstmkit.models.features import FeatureConfig, FeatureExtractor

__all__ = ["FCN_FILTERS", "FCN_KERNELS", "FCNBranches", "FCNConfig", "MaskedBatchNorm1d"]

FCN_FILTERS = (128, 256, 128)
FCN_KERNELS = (8, 5, 3)


@dataclass(frozen=True)
class FCNConfig:
    channels: int  # C, channels per step
    length: int  # L the shuffled recurrent branch reads (longer inputs are refused, shorter padded)
    shuffle: bool = True
    squeeze_excite: bool = False
    rnn_dropout: float = 0.8  # on the recurrent branch's last state
    series_norm: bool = False  # z-normalise each series; its mean and log scale go to the head

    def __post_init__(self) -> None:
        for name in ("channels", "length"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if not 0.0 <= self.rnn_dropout < 1.0:
            raise ValueError(f"rnn_dropout must lie in [0, 1), got {self.rnn_dropout}")

    @property
    def rnn_input_size(self) -> int:
        """Features per step of the recurrent branch: L when shuffled, C otherwise."""
        return self.length if self.shuffle else self.channels

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> FCNConfig:
        return cls(**d)


class SqueezeExcite(nn.Module):
    """Channel attention (Hu et al.): scale each channel by a gate from its masked mean."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        inner = max(1, channels // reduction)
        self.gate = nn.Sequential(
            nn.Linear(channels, inner), nn.ReLU(), nn.Linear(inner, channels), nn.Sigmoid()
        )

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:  # x (N, C, L), mask (N, 1, L)
        return x * self.gate(_masked_mean(x, mask)).unsqueeze(-1)


class MaskedBatchNorm1d(nn.BatchNorm1d):
    """``nn.BatchNorm1d`` over (N, C, L) whose training statistics count only the valid steps
    (``mask`` (N, 1, L), True where a step lies within its series' length): padding would
    otherwise drag the batch mean toward the padded value, by how much depending on how long
    the batch's longest series is. Without a mask, or in eval mode (running statistics), it is
    ``nn.BatchNorm1d``; same parameters and buffers, so its state dicts are interchangeable."""

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        if mask is None or not self.training:
            return super().forward(x)
        m = mask.to(x.dtype)
        count = m.sum()
        mean = (x * m).sum((0, 2)) / count  # (C,)
        var = (((x - mean[:, None]) * m) ** 2).sum((0, 2)) / count  # biased, for normalising
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                factor = (
                    1.0 / float(self.num_batches_tracked)
                    if self.momentum is None  # cumulative average (SWA's refresh)
                    else self.momentum
                )
                unbiased = var * count / (count - 1).clamp(min=1)
                self.running_mean.lerp_(mean.detach(), factor)
                self.running_var.lerp_(unbiased.detach(), factor)
        out = (x - mean[:, None]) * torch.rsqrt(var[:, None] + self.eps)
        if self.affine:
            out = out * self.weight[:, None] + self.bias[:, None]
        return out


def _masked_mean(x: Tensor, mask: Tensor | None) -> Tensor:
    """Mean over the last axis of (N, C, L), over the valid steps when ``mask`` is given."""
    if mask is None:
        return x.mean(-1)
    return (x * mask).sum(-1) / mask.sum(-1).clamp(min=1)


SERIES_STD_FLOOR = 1e-8  # a constant series is z-normalised to zeros, its log scale -18.4


def series_normalise(x: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
    """x (N, C, L) z-normalised per series and channel over its valid steps (zeros past them),
    and the (N, 2C) statistics it removed: the means and the logs of the standard deviations."""
    mean = _masked_mean(x, mask)  # (N, C)
    centred = x - mean[..., None]
    if mask is not None:
        centred = centred * mask
    std = _masked_mean(centred.square(), mask).clamp(min=SERIES_STD_FLOOR**2).sqrt()
    return centred / std[..., None], torch.cat([mean, std.log()], 1)


class FCNBranches(nn.Module):
    """The two branches of LSTM-FCN / MLSTM-FCN; see the module docstring."""

    def __init__(self, config: FCNConfig, rnn: FeatureConfig) -> None:
        super().__init__()
        if rnn.input_size != config.rnn_input_size:
            raise ValueError(
                f"the recurrent branch reads {config.rnn_input_size} features per step "
                f"({'L' if config.shuffle else 'C'}), configured for {rnn.input_size}"
            )
        self.config = c = config
        self.out_features = FCN_FILTERS[-1] + rnn.out_features
        self.scale_norm = None
        if c.series_norm:
            self.scale_norm = nn.BatchNorm1d(2 * c.channels)
            self.out_features += 2 * c.channels
        convs, norms, excite = [], [], []
        width = c.channels
        for filters, kernel in zip(FCN_FILTERS, FCN_KERNELS, strict=True):
            convs.append(nn.Conv1d(width, filters, kernel))  # "same" padding in forward
            norms.append(MaskedBatchNorm1d(filters))
            width = filters
        if c.squeeze_excite:
            excite = [SqueezeExcite(f) for f in FCN_FILTERS[:2]]
        self.convs, self.norms = nn.ModuleList(convs), nn.ModuleList(norms)
        self.excite = nn.ModuleList(excite)
        self.recurrent = FeatureExtractor(rnn)
        self.rnn_dropout = nn.Dropout(c.rnn_dropout)

    @property
    def rnn(self):
        """The recurrent branch's lstmkit LSTM (what recording and inspect read)."""
        return self.recurrent.rnn

    def forward(
        self, x: Tensor, lengths: Tensor | None = None, pool: str | None = None
    ) -> tuple[Tensor | None, Tensor]:
        """``pool``: None (the concatenation) or ``"none"`` (no pooled vector); the conv branch
        pools by its global average, the recurrent one by its last state."""
        if pool not in (None, "none"):
            raise ValueError(f"an FCN model pools its own way; pool must be None or 'none', "
                             f"got {pool!r}")  # fmt: skip
        L = x.shape[1]
        mask = None
        if lengths is not None:
            steps = torch.arange(L, device=x.device)
            mask = (steps[None, :] < lengths.to(x.device)[:, None]).unsqueeze(1)  # (N, 1, L)
        h = x.transpose(1, 2)  # (N, C, L)
        scale = None
        if self.scale_norm is not None:
            h, scale = series_normalise(h, mask)
            x = h.transpose(1, 2)  # what the recurrent branch reads too
        for k, (conv, norm) in enumerate(zip(self.convs, self.norms, strict=True)):
            k_size = conv.kernel_size[0]  # "same" as Keras pads an even kernel: one more right
            h = F.relu(norm(conv(F.pad(h, ((k_size - 1) // 2, k_size // 2))), mask))
            if mask is not None:
                h = h * mask  # padded steps stay zero for the next convolution
            if k < len(self.excite):
                h = self.excite[k](h, mask)
        local = h.transpose(1, 2)  # (N, L, 128)
        if pool == "none":
            return None, local
        parts = [_masked_mean(h, mask), self.rnn_dropout(self._recur(x, lengths))]
        if scale is not None:
            parts.append(self._scale_features(scale))
        return torch.cat(parts, 1), local

    def _scale_features(self, scale: Tensor) -> Tensor:
        """The (N, 2C) series statistics batch-normalised (a batch of one series, which has no
        batch statistics, by the running ones)."""
        bn = self.scale_norm
        if not (self.training and scale.shape[0] == 1):
            return bn(scale)
        return F.batch_norm(scale, bn.running_mean, bn.running_var, bn.weight, bn.bias,
                            False, 0.0, bn.eps)  # fmt: skip

    def _recur(self, x: Tensor, lengths: Tensor | None) -> Tensor:
        if not self.config.shuffle:
            return self.recurrent(x, lengths)[0]
        L = x.shape[1]
        if L > self.config.length:
            raise ValueError(
                f"this model reads sequences of at most {self.config.length} steps (its "
                f"recurrent branch takes a whole channel as one step), got {L}"
            )
        if lengths is not None:  # padded steps read as zeros, whatever the padding held
            steps = torch.arange(L, device=x.device)
            x = x * (steps[None, :] < lengths.to(x.device)[:, None]).unsqueeze(-1).to(x.dtype)
        if L < self.config.length:
            x = F.pad(x, (0, 0, 0, self.config.length - L))  # zeros, as padded training data
        return self.recurrent(x.transpose(1, 2))[0]  # C steps of L features
