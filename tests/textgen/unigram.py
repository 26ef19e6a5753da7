"""The bar a character model must clear: the unigram entropy of its training text."""

from __future__ import annotations

import math
from collections import Counter


def unigram_bits(text: str) -> float:
    """Entropy in bits per character of ``text``'s character frequencies: what a model that
    learnt only how often each character occurs (no context at all) scores on such text. Lower
    than log2(vocabulary) (uniform guessing), so beating it shows the model uses context."""
    counts = Counter(text)
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in counts.values())
