"""Training-time augmentation of whole sequences (N, L, C), for small data sets.

* ``slice``: window slicing (Le Guennec et al. 2016): each sequence is replaced by a random
  window of ``ratio`` of its valid length, stretched back to that length by linear
  interpolation; padded steps are left as they were.
* ``mixup`` (Zhang et al. 2018): the batch is mixed with a shuffled copy of itself,
  ``lam * x + (1 - lam) * x[perm]`` with ``lam ~ Beta(alpha, alpha)``; the loss mixes the two
  targets alike (``mixup`` returns ``perm`` and ``lam`` for that). A mixed pair is valid up to
  the longer of its two lengths.

Both draw from torch's global generator, which the Trainer seeds per run and restores on resume.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["AUGMENTS", "check_augment", "mixup", "window_slice"]

AUGMENTS = ("none", "slice", "mixup")
SLICE_RATIO = 0.9
MIXUP_ALPHA = 0.4


def check_augment(augment: object) -> str:
    if augment not in AUGMENTS:
        raise ValueError(f"augment must be one of {', '.join(AUGMENTS)}, got {augment!r}")
    return augment  # type: ignore[return-value]


def window_slice(x: Tensor, lengths: Tensor | None = None, ratio: float = SLICE_RATIO) -> Tensor:
    """Each sequence of ``x`` (N, L, C) as a random window of ``ratio`` of its valid length
    stretched back over that length; steps past ``lengths`` unchanged."""
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"ratio must lie in (0, 1], got {ratio}")
    n, steps = x.shape[:2]
    valid = (
        torch.full((n,), steps, device=x.device)
        if lengths is None
        else lengths.to(x.device).clamp(min=1, max=steps)
    ).to(torch.float32)
    width = ratio * (valid - 1)  # the window spans this many steps of the original
    start = torch.rand(n, device=x.device) * (valid - 1 - width)
    t = torch.arange(steps, device=x.device, dtype=torch.float32)
    scale = torch.where(valid > 1, width / (valid - 1).clamp(min=1), torch.zeros_like(valid))
    pos = (start[:, None] + t[None, :] * scale[:, None]).clamp(0, steps - 1)  # (N, L)
    lo = pos.floor().long()
    hi = (lo + 1).clamp(max=steps - 1)
    frac = (pos - lo).unsqueeze(-1).to(x.dtype)
    channels = x.shape[2]
    a = x.gather(1, lo.unsqueeze(-1).expand(-1, -1, channels))
    b = x.gather(1, hi.unsqueeze(-1).expand(-1, -1, channels))
    out = a + (b - a) * frac
    inside = (t[None, :] < valid[:, None]).unsqueeze(-1)
    return torch.where(inside, out, x)


def mixup(
    x: Tensor, lengths: Tensor | None = None, alpha: float = MIXUP_ALPHA
) -> tuple[Tensor, Tensor | None, Tensor, float]:
    """(mixed x, their lengths, perm, lam): ``lam * x + (1 - lam) * x[perm]``."""
    lam = float(torch.distributions.Beta(alpha, alpha).sample())
    perm = torch.randperm(len(x), device=x.device)
    mixed = lam * x + (1.0 - lam) * x[perm]
    if lengths is not None:
        lengths = torch.maximum(lengths, lengths[perm])
    return mixed, lengths, perm, lam
